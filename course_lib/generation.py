"""Next-token prediction made visible, and chat with a model in-process.

These are the few lines every lesson needs around ``model.generate``: build a
Phi-3 chat prompt, stop at ``<|end|>``, decode only the new tokens, and look at
the probability of each candidate next token under a sampling setting.
"""

from __future__ import annotations

import torch

from course_lib.messages import Reply, as_messages  # noqa: F401  (re-exported: lessons import them from here)
from course_lib.tokenizer import stop_token_ids


def sampling_kwargs(temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0) -> dict:
    """``generate`` arguments: temperature 0 means greedy decoding."""
    if temperature <= 0:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": temperature, "top_k": top_k or None, "top_p": top_p}


@torch.no_grad()
def chat_batch(model, tok, prompts: list, max_new_tokens: int = 64, system: str | None = None,
               temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[str]:
    """Answer several prompts at once (left-padded batch); returns the decoded replies."""
    texts = [tok.apply_chat_template(as_messages(p, system), add_generation_prompt=True, tokenize=False) for p in prompts]
    side, tok.padding_side = tok.padding_side, "left"  # generation continues at the right edge, so pad on the left
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    tok.padding_side = side
    torch.manual_seed(seed)
    out = model.generate(
        **batch, max_new_tokens=max_new_tokens, eos_token_id=stop_token_ids(tok), pad_token_id=tok.pad_token_id,
        **sampling_kwargs(temperature, top_k, top_p),
    )
    new_tokens = out[:, batch["input_ids"].shape[1]:]
    return [tok.decode(row, skip_special_tokens=True).strip() for row in new_tokens]


def chat(model, tok, prompt, **kwargs) -> str:
    """Answer one prompt (a string or a list of messages)."""
    return chat_batch(model, tok, [prompt], **kwargs)[0]


def filter_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """The distribution sampling draws from: softmax(logits / T), then keep the top-k and the top-p nucleus.

    Temperature 0 is greedy: all probability on the most likely token.
    """
    if temperature <= 0:
        probs = torch.zeros_like(logits, dtype=torch.float)
        probs[logits.argmax()] = 1.0
        return probs
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_k:
        kth = torch.topk(probs, min(top_k, probs.numel())).values[-1]
        probs = torch.where(probs >= kth, probs, 0.0)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # keep the smallest set of tokens whose mass reaches top_p (the first token always stays)
        outside = (sorted_probs.cumsum(0) - sorted_probs) >= top_p * sorted_probs.sum()
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return probs / probs.sum()


@torch.no_grad()
def next_token_logits(model, tok, text: str) -> torch.Tensor:
    """The model's raw scores for the token that follows `text` (a plain continuation, no chat format)."""
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"].to(model.device)
    return model(input_ids=ids).logits[0, -1].cpu()


def top_next_tokens(model, tok, text: str, k: int = 10, temperature: float = 1.0,
                    top_k: int = 0, top_p: float = 1.0) -> list[tuple[str, float]]:
    """The k most likely next tokens and their probabilities under a sampling setting."""
    probs = filter_probs(next_token_logits(model, tok, text), temperature, top_k, top_p)
    values, ids = torch.topk(probs, k)
    # tokens that the setting rules out (probability 0) are left off the list
    return [(tok.decode([int(i)]), float(v)) for v, i in zip(values, ids, strict=True) if v > 0]


class LocalChat:
    """A course model loaded in this process: `bot.ask("...")` returns a labelled Reply."""

    def __init__(self, name: str, model, tok):
        self.name, self.model, self.tok = name, model, tok
        self.parameters = sum(p.numel() for p in model.parameters())

    @classmethod
    def load(cls, name: str) -> LocalChat:
        from course_lib.models import load

        return cls(name, *load(name))

    @classmethod
    def load_real(cls, alias: str) -> LocalChat:
        """The real Phi model behind an alias such as "phi-3.5-mini", if it is in the Hugging Face cache."""
        from course_lib.models import REAL_PHI, load_real

        return cls(REAL_PHI[alias].split("/")[-1], *load_real(alias))

    @property
    def note(self) -> str:
        return model_note(self.model)

    def ask(self, prompt, **kwargs) -> Reply:
        return Reply(chat(self.model, self.tok, prompt, **kwargs), self.name, "transformers in-process", self.note)

    def ask_many(self, prompts: list, **kwargs) -> list[Reply]:
        return [Reply(t, self.name, "transformers in-process", self.note)
                for t in chat_batch(self.model, self.tok, prompts, **kwargs)]


def model_note(model) -> str:
    """What a labelled answer says about its model: 'tiny course model, 3.9M params' or 'real Phi, 3.8B params'."""
    parameters = sum(p.numel() for p in model.parameters())
    from course_lib.i18n import t

    if parameters > 1e9:
        return t("real Phi, {billions:.1f}B params", billions=parameters / 1e9)
    return t("tiny course model, {millions:.1f}M params", millions=parameters / 1e6)


def count_reused_tokens(context_ids, new_ids) -> int:
    """How many generated tokens were already in the context (the prompt or earlier in the reply).

    This is exactly what ``repetition_penalty`` pushes down: transformers penalises every token id already in the
    sequence, prompt included.
    """
    seen, reused = {int(t) for t in context_ids}, 0
    for token in map(int, new_ids):
        reused += token in seen
        seen.add(token)
    return reused
