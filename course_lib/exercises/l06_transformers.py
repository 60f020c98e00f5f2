"""Lesson 06's exercises: greedy decoding with generate(), and the Phi-3 chat prompt by hand."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t

_loaded: dict[str, tuple] = {}


def tiny_chat_model():
    """tiny-phi-3.5-mini and its tokenizer, loaded once for the 06 checks."""
    if "tiny-phi-3.5-mini" not in _loaded:
        from course_lib.models import load

        _loaded["tiny-phi-3.5-mini"] = load("tiny-phi-3.5-mini")
    return _loaded["tiny-phi-3.5-mini"]


# ---- 🐢 greedy decoding -------------------------------------------------------------------------------------------

def greedy_kwargs_solution():
    return {"do_sample": False, "max_new_tokens": 20}


def greedy_by_hand(model, input_ids, max_new_tokens: int) -> list[list[int]]:
    """Greedy decoding without generate(): append the argmax of the last logits, until a stop token or the limit."""
    import torch

    eos = model.generation_config.eos_token_id
    stop_ids = set(eos if isinstance(eos, list) else [eos])
    ids = input_ids
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_id = model(input_ids=ids).logits[0, -1].argmax()
            ids = torch.cat([ids, next_id.view(1, 1)], dim=1)
            if int(next_id) in stop_ids:
                break
    return ids.tolist()


@exercise("06-greedy-kwargs", "🐢", "Which generate() keyword arguments give greedy decoding?",
          solution=greedy_kwargs_solution, answer_variable="greedy_kwargs")
def check_greedy_kwargs(answer):
    import torch

    # Reference: greedy decoding by hand, the argmax token after token (the solution is generate()'s keywords).
    if not isinstance(answer, dict):
        return False, t("give a dict of keyword arguments, e.g. {'max_new_tokens': 20, ...}")
    if answer.get("do_sample") is True:
        return False, t("do_sample=True draws tokens at random; greedy decoding always takes the most likely one.")
    if answer.get("do_sample") is not False:
        if answer.get("temperature") == 0:
            return False, t("temperature=0 is not how Transformers asks for greedy decoding: set do_sample=False.")
        return False, t("say do_sample=False explicitly: a checkpoint's generation_config.json may switch sampling on.")
    if (answer.get("num_beams") or 1) > 1:
        return False, t("num_beams > 1 is beam search, which keeps several candidate replies; greedy keeps one.")
    model, tok = tiny_chat_model()
    inputs = tok.apply_chat_template([{"role": "user", "content": "What is a small language model?"}],
                                     add_generation_prompt=True, return_tensors="pt", return_dict=True)
    want = greedy_by_hand(model, inputs["input_ids"], 12)
    for seed in (0, 1):
        torch.manual_seed(seed)
        if model.generate(**inputs, **{**answer, "max_new_tokens": 12}).tolist() != want:
            return False, t("with these settings the reply differs from plain greedy decoding: keep do_sample=False "
                            "and drop the rest.")
    ignored = [k for k in ("temperature", "top_k", "top_p") if k in answer]
    if ignored:
        return True, t("do_sample=False takes the most likely token at every step, so the same prompt gives the same reply, "
                       "whatever the seed. ({ignored} only matter when sampling: Transformers ignores them here, and warns.)",
                       ignored=", ".join(ignored))
    return True, t("do_sample=False takes the most likely token at every step, so the same prompt gives the same reply, "
                   "whatever the seed.")


# ---- 🐕 the chat prompt by hand -------------------------------------------------------------------------------------

def phi3_prompt(messages):
    text = ""
    for message in messages:
        text += f"<|{message['role']}|>\n{message['content']}<|end|>\n"
    return text + "<|assistant|>\n"


PHI3_PROMPT_CASES = [
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is an SLM?"}],
    [{"role": "user", "content": "Tell me a story about a fox."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "What is Phi-3.5-mini?"}],
]


@exercise("06-phi3-prompt", "🐕", "Write phi3_prompt(messages): the Phi-3 chat prompt, by hand", solution=phi3_prompt)
def check_phi3_prompt(fn):
    # Reference: the tokenizer's own chat template, apply_chat_template (the solution joins the tags by hand).
    if not callable(fn):
        return False, t("pass the function itself: check('06-phi3-prompt', phi3_prompt)")
    _, tok = tiny_chat_model()
    for messages in PHI3_PROMPT_CASES:
        want = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        got = fn([dict(m) for m in messages])
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        if not isinstance(got, str):
            return False, t("return one string (the prompt), not a {kind}", kind=type(got).__name__)
        if got == want:
            continue
        if got + "<|assistant|>\n" == want:
            return False, t("end with the generation prompt '<|assistant|>\\n': it tells the model that it is its turn.")
        if "<|end|>" not in got:
            return False, t("close every turn with '<|end|>' and a newline.")
        if got.replace("\n", "") == want.replace("\n", ""):
            return False, t("the newlines matter: one after each role tag ('<|user|>\\n') and one after each '<|end|>'.")
        return False, t("for {n} message(s) the template gives {want!r}, yours gives {got!r}",
                        n=len(messages), want=want, got=got)
    return True, t("that is Phi-3.5-mini-instruct's template; once tokenised, each tag is a single special token.")
