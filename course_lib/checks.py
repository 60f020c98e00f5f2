"""Exercises: each has a tier (🐢 easy, 🐕 medium, 🦁 hard), a check with hints, and a solution hidden until asked for.

In a lesson::

    from course_lib.checks import check, show_solution
    check("01-temperature", apply_temperature)   # ✅ or ❌ with a hint
    show_solution("01-temperature")              # when stuck

Every check returns True or False and prints its verdict, so it can be used
interactively and in tests alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Exercise:
    id: str
    tier: str
    title: str
    check: Callable[[object], tuple[bool, str]]  # answer -> (passed, message)
    solution: str  # code that defines `answer`; shown on request, run by the tests


EXERCISES: dict[str, Exercise] = {}


def exercise(id: str, tier: str, title: str, solution: str):
    def register(fn):
        EXERCISES[id] = Exercise(id, tier, title, fn, solution.strip())
        return fn
    return register


def check(id: str, answer) -> bool:
    """Check an answer to exercise `id`, print the verdict and a hint, return whether it passed."""
    ex = EXERCISES[id]
    try:
        passed, message = ex.check(answer)
    except Exception as err:  # the learner's code raised: say so plainly, that is the feedback
        passed, message = False, f"your answer raised {type(err).__name__}: {err}"
    mark = "✅" if passed else "❌"
    print(f"{mark} {ex.tier} {ex.title}: {message}")
    if not passed:
        print(f"   Stuck? Run show_solution({id!r}).")
    return passed


def show_solution(id: str) -> None:
    ex = EXERCISES[id]
    print(f"Solution to {ex.tier} {ex.title}:\n\n{ex.solution}")


def run_solution(id: str) -> object:
    """Execute the stored solution and return its `answer` (used by the tests)."""
    namespace: dict = {}
    exec(EXERCISES[id].solution, namespace)
    return namespace["answer"]


# ---- 00 setup ---------------------------------------------------------------

@exercise("00-param-count", "🐢", "How many parameters does tiny-phi-3.5-mini have?", solution="""
from course_lib.models import describe
answer = describe("tiny-phi-3.5-mini")["parameters"] / 1e6   # in millions
""")
def _check_param_count(answer):
    from course_lib.models import describe

    truth = describe("tiny-phi-3.5-mini")["parameters"] / 1e6
    if not isinstance(answer, (int, float)):
        return False, "give a number: the parameter count in millions, e.g. 12.3"
    if abs(answer - truth) <= 0.05 * truth:
        return True, f"it has {truth:.2f} million parameters, about a thousandth of Phi-3.5-mini's 3.8 billion."
    if abs(answer * 1e6 - truth) <= 0.05 * truth or abs(answer / 1e6 - truth) <= 0.05 * truth:
        return False, "right number, wrong unit: give it in millions."
    return False, "read the 'M params' column of the doctor report, or call describe('tiny-phi-3.5-mini')."


# ---- 01 what is an SLM ------------------------------------------------------

@exercise("01-temperature", "🐕", "Write apply_temperature(logits, temperature) -> probabilities", solution="""
import torch
def apply_temperature(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)
answer = apply_temperature
""")
def _check_temperature(fn):
    torch.manual_seed(0)
    logits = torch.randn(50) * 3
    for t in (0.5, 1.0, 2.0):
        result = fn(logits.clone(), t)
        if result is None:
            return False, "your function returned None: did you forget `return`?"
        got = torch.as_tensor(result, dtype=torch.float)
        want = torch.softmax(logits / t, dim=-1)
        if got.shape != want.shape:
            return False, f"return one probability per token: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
        if abs(float(got.sum()) - 1) > 1e-4:
            return False, f"probabilities must sum to 1 (yours sum to {float(got.sum()):.3f}): apply softmax"
        if not torch.allclose(got, want, atol=1e-5):
            return False, f"at temperature {t} the values differ: divide the logits by the temperature before the softmax"
    return True, "dividing by T < 1 sharpens the distribution, T > 1 flattens it."


COUNT_TOKENS_TEXT = "我今天学习小语言模型。"


@exercise("01-count-tokens", "🐢", f"How many tokens is '{COUNT_TOKENS_TEXT}' for the course tokenizer?", solution="""
from transformers import AutoTokenizer
from course_lib.models import model_dir
tok = AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini"))
answer = len(tok("我今天学习小语言模型。", add_special_tokens=False)["input_ids"])
""")
def _check_count_tokens(answer):
    from transformers import AutoTokenizer

    from course_lib.models import model_dir

    tok = AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini"))
    ids = tok(COUNT_TOKENS_TEXT, add_special_tokens=False)["input_ids"]
    n_chars = len(COUNT_TOKENS_TEXT)
    if answer == len(ids):
        return True, (f"{len(ids)} tokens for {n_chars} characters: most characters are one token each, and any "
                      "character the tokenizer never saw falls back to several byte tokens.")
    if answer == n_chars:
        return False, f"{n_chars} is the number of characters; count the token ids with tok(text)['input_ids']."
    return False, "encode the sentence with the course tokenizer and count the ids."


# ---- 03 how SLMs are made ---------------------------------------------------

@exercise("03-label-mask", "🐕", "Write sft_labels(prompt_ids, answer_ids): mask the prompt with -100", solution="""
def sft_labels(prompt_ids, answer_ids):
    return [-100] * len(prompt_ids) + list(answer_ids)
answer = sft_labels
""")
def _check_label_mask(fn):
    cases = [([5, 6, 7], [8, 9]), ([1], [2, 3, 4]), ([4, 4], [])]
    for prompt, ans in cases:
        result = fn(list(prompt), list(ans))
        if result is None:
            return False, "your function returned None: did you forget `return`?"
        got = list(result)
        want = [-100] * len(prompt) + ans
        if len(got) != len(want):
            return False, f"labels must be as long as prompt + answer ({len(want)}), got {len(got)}"
        if got[: len(prompt)] != want[: len(prompt)]:
            return False, "every prompt position must be -100, the value cross-entropy ignores"
        if got != want:
            return False, "the answer positions must keep their token ids: they are what the model learns"
    return True, "only the assistant's tokens are targets, so the model learns to answer, not to ask."


@exercise("03-lora-share", "🐢", "What fraction of tiny-phi-3.5-mini's weights does LoRA (r=8) train?", solution="""
from peft import LoraConfig, get_peft_model
from course_lib.models import load
model, tok = load("tiny-phi-3.5-mini")
lora = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]))
trainable, total = lora.get_nb_trainable_parameters()
answer = trainable / total
""")
def _check_lora_share(answer):
    truth = run_solution_cached("03-lora-share")
    if not isinstance(answer, float) or not 0 < answer < 1:
        return False, "give a fraction between 0 and 1: trainable parameters / all parameters"
    if abs(answer - truth) <= 0.1 * truth:
        return True, f"LoRA trains {truth:.1%} of the weights; the rest stay frozen."
    if abs(answer / 100 - truth) <= 0.1 * truth:
        return False, "that looks like a percentage: give a fraction (divide by 100)."
    return False, "use model.get_nb_trainable_parameters() on the LoRA-wrapped model: (trainable, total)."


_cache: dict[str, object] = {}


def run_solution_cached(id: str) -> object:
    if id not in _cache:
        _cache[id] = run_solution(id)
    return _cache[id]
