"""Lesson 05's exercises: a cloud backend's model id, and the request of a multi-turn chat."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐢 NIM's model id ------------------------------------------------------------------------------------------

def nim_model_solution():
    from course_lib.clients import resolve_model

    return resolve_model("phi-3.5-mini", "nim")


NIM_PHI35_MINI = "microsoft/phi-3.5-mini-instruct"  # as NVIDIA's API catalog (build.nvidia.com) names the model
LOCAL_PHI35_MINI = "tiny-phi-3.5-mini"  # the course model that the local backend serves instead


@exercise("05-nim-model", "🐢", "Which model id does the nim backend use for phi-3.5-mini?",
          solution=nim_model_solution, answer_variable="nim_model")
def check_nim_model(answer):
    # Reference: the id NVIDIA publishes, written out above (the solution looks it up with resolve_model).
    if answer == NIM_PHI35_MINI:
        return True, t("NIM names models by publisher and lower-case id: {model}.", model=NIM_PHI35_MINI)
    if answer == LOCAL_PHI35_MINI:
        return False, t("that is the local course model; ask for the nim backend's id.")
    return False, t("call course_lib.clients.resolve_model with the short name and the backend name.")


# ---- 🐕 the next request of a chat --------------------------------------------------------------------------------

def next_request(history, user_text):
    return history + [{"role": "user", "content": user_text}]


@exercise("05-next-request", "🐕", "Write next_request(history, user_text) for a multi-turn chat", solution=next_request)
def check_next_request(fn):
    # Reference: the request written out message by message (the solution concatenates lists).
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "Hello!"}]
    before = [dict(m) for m in history]  # a copy, to see whether the function changed `history`
    result = fn(history, "What is an SLM?")
    if result is None:
        return False, t("your function returned None: did you forget `return`?")
    if history != before:
        return False, t("you changed `history` in place: build a new list (history + [...]).")
    if list(result[:-1]) != before:
        return False, t("the request must start with the whole history, in order: the API keeps no memory.")
    if result[-1] != {"role": "user", "content": "What is an SLM?"}:
        return False, t("the last message must be {'role': 'user', 'content': user_text}.")
    return True, t("the API is stateless, so every call carries the whole conversation.")
