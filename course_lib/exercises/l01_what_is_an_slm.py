"""Lesson 01's exercises: temperature, counting tokens, and the top-p nucleus."""

from __future__ import annotations

import math

import torch

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐕 temperature -----------------------------------------------------------------------------------------

def apply_temperature(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)


def softmax_by_hand(logits, temperature: float) -> torch.Tensor:
    """exp(l / T) / sum(exp(l / T)) in float64 with math.exp (the largest value subtracted first, so nothing overflows)."""
    scaled = [float(value) / temperature for value in logits]
    top = max(scaled)
    weights = [math.exp(value - top) for value in scaled]
    return torch.tensor([weight / sum(weights) for weight in weights], dtype=torch.float64)


@exercise("01-temperature", "🐕", "Write apply_temperature(logits, temperature) -> probabilities", solution=apply_temperature)
def check_temperature(fn):
    # Reference: the softmax formula by hand in float64 (the solution calls torch.softmax).
    torch.manual_seed(0)
    logits = torch.randn(50) * 3
    for temperature in (0.5, 1.0, 2.0):
        result = fn(logits.clone(), temperature)
        if result is None:
            return False, t("your function returned None: did you forget `return`?")
        got = torch.as_tensor(result, dtype=torch.float64)
        want = softmax_by_hand(logits, temperature)
        if got.shape != want.shape:
            return False, t("return one probability per token: expected shape {want}, got {got}",
                            want=tuple(want.shape), got=tuple(got.shape))
        if abs(float(got.sum()) - 1) > 1e-4:
            return False, t("probabilities must sum to 1 (yours sum to {total:.3f}): apply softmax", total=float(got.sum()))
        if not torch.allclose(got, want, atol=1e-5):
            return False, t("at temperature {temperature} the values differ: "
                            "divide the logits by the temperature before the softmax", temperature=temperature)
    return True, t("dividing by T < 1 sharpens the distribution, T > 1 flattens it.")


# ---- 🐢 counting tokens ------------------------------------------------------------------------------------

COUNT_TOKENS_TEXT = "我今天学习小语言模型。"


def count_tokens_solution():
    from transformers import AutoTokenizer

    from course_lib.models import model_dir

    tok = AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini"))
    return len(tok("我今天学习小语言模型。", add_special_tokens=False)["input_ids"])


@exercise("01-count-tokens", "🐢", "How many tokens is '我今天学习小语言模型。' for the course tokenizer?",
          solution=count_tokens_solution, answer_variable="n_tokens")
def check_count_tokens(answer):
    from tokenizers import Tokenizer

    from course_lib.models import model_dir

    # Reference: the tokenizers library reading tokenizer.json itself (the solution goes through transformers' AutoTokenizer).
    bpe = Tokenizer.from_file(str(model_dir("tiny-phi-3.5-mini") / "tokenizer.json"))
    n_tokens = len(bpe.encode(COUNT_TOKENS_TEXT, add_special_tokens=False).ids)
    n_chars = len(COUNT_TOKENS_TEXT)
    if answer == n_tokens:
        return True, t("{n_tokens} tokens for {n_chars} characters: most characters are one token each, and any "
                       "character the tokenizer never saw falls back to several byte tokens.", n_tokens=n_tokens, n_chars=n_chars)
    if answer == n_chars:
        return False, t("{n_chars} is the number of characters; count the token ids with tok(text)['input_ids'].",
                        n_chars=n_chars)
    return False, t("encode the sentence with the course tokenizer and count the ids.")


# ---- 🦁 top-p ------------------------------------------------------------------------------------------------

def nucleus(probs, top_p):
    sorted_probs, order = torch.sort(probs, descending=True)
    mass_before = sorted_probs.cumsum(0) - sorted_probs     # probability of the tokens ranked above each one
    sorted_probs[mass_before >= top_p] = 0.0                 # the most likely token always stays
    kept = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return kept / kept.sum()


def nucleus_by_transformers(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """generate()'s own top-p step: TopPLogitsWarper masks the logits outside the nucleus, a softmax renormalises."""
    from transformers import TopPLogitsWarper

    return torch.softmax(TopPLogitsWarper(top_p)(None, logits[None])[0], dim=-1)


@exercise("01-top-p", "🦁", "Write nucleus(probs, top_p): keep the smallest set of tokens whose mass reaches top_p",
          solution=nucleus)
def check_top_p(fn):
    # Reference: transformers' TopPLogitsWarper, as generate() applies it (the solution sorts and sums by hand).
    torch.manual_seed(1)
    for top_p in (0.3, 0.75, 0.95, 1.0):
        logits = torch.randn(40) * 2
        probs = torch.softmax(logits, dim=-1)
        result = fn(probs.clone(), top_p)
        if result is None:
            return False, t("your function returned None: did you forget `return`?")
        got = torch.as_tensor(result, dtype=torch.float)
        want = nucleus_by_transformers(logits, top_p)
        if got.shape != want.shape:
            return False, t("return one probability per token (shape {shape}), in the original order", shape=tuple(want.shape))
        if abs(float(got.sum()) - 1) > 1e-4:
            return False, t("renormalise what you keep so it sums to 1")
        if int((got > 0).sum()) != int((want > 0).sum()):
            return False, t("at top_p={top_p} you keep {kept} tokens, the nucleus has {nucleus}: "
                            "sort by probability, and keep a token while the mass *before* it is below top_p",
                            top_p=top_p, kept=int((got > 0).sum()), nucleus=int((want > 0).sum()))
        if not torch.allclose(got, want, atol=1e-5):
            return False, t("the right tokens, but not the right values: put them back in vocabulary order, then renormalise")
    return True, t("top-p adapts to the distribution: few tokens when the model is sure, many when it is not.")
