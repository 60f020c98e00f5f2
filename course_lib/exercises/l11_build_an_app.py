"""Lesson 11's exercise: forget the oldest turns of a chat until it fits the model's context."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t


def trim_history(messages, fits):
    system = messages[:1] if messages and messages[0]["role"] == "system" else []
    turns, question = messages[len(system):-1], messages[-1:]
    while turns and not fits(system + turns + question):
        turns = turns[2:]  # a whole turn: the user's message and the answer to it
    return system + turns + question


def keep_newest_turns(messages, fits):
    """The other way round from the solution: start from the newest turn and add older ones while the chat still fits."""
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns, question = messages[len(system):-1], messages[-1:]
    kept: list[dict] = []
    for start in range(len(turns) - 2, -1, -2):  # whole turns, newest first
        if not fits(system + turns[start:start + 2] + kept + question):
            break
        kept = turns[start:start + 2] + kept
    return system + kept + question


def conversation(system: bool, n_turns: int) -> list[dict]:
    messages = [{"role": "system", "content": "Answer in one short sentence."}] if system else []
    for i in range(1, n_turns + 1):
        messages += [{"role": "user", "content": f"question {i} " + "word " * i},
                     {"role": "assistant", "content": f"answer {i} " + "word " * 2 * i}]
    return messages + [{"role": "user", "content": "the new question"}]


def words_at_most(budget: int):
    return lambda messages: sum(len(m["content"].split()) for m in messages) <= budget


TRIM_CASES = [(conversation(True, 4), words_at_most(1000)),  # fits already: nothing to drop
              (conversation(True, 4), words_at_most(40)),  # drop some turns
              (conversation(False, 4), words_at_most(25)),  # no system message
              (conversation(True, 3), words_at_most(3)),  # nothing fits: keep the system message and the question
              ([{"role": "user", "content": "word " * 30}, {"role": "assistant", "content": "ok"},  # a long first question
                *conversation(False, 2)], words_at_most(21))]


@exercise("11-trim-history", "🐕", "Write trim_history(messages, fits): forget the oldest turns until the chat fits",
          solution=trim_history)
def check_trim_history(fn):
    # Reference: keep_newest_turns, which grows the chat from the newest turn (the solution shrinks it from the oldest).
    if not callable(fn):
        return False, t("pass the function itself: check('11-trim-history', trim_history)")
    for messages, fits in TRIM_CASES:
        before = [dict(m) for m in messages]
        got, want = fn(messages, fits), keep_newest_turns(before, fits)
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        got = list(got)
        if messages != before:
            return False, t("you changed `messages` in place: build a new list, the app still shows the whole chat.")
        if got == want:
            continue
        if not got or got[-1] != before[-1]:
            return False, t("keep the new question as the last message: it is what the model must answer.")
        if before[0]["role"] == "system" and got[0] != before[0]:
            return False, t("keep the system message first: it says how every answer should look.")
        start = 1 if got[0]["role"] == "system" else 0
        if len(got) > start + 1 and got[start]["role"] != "user":
            return False, t("drop whole turns, a user message together with its answer: here an answer lost its question.")
        if len(got) > len(want):
            return False, t("that is still too long for fits(): drop more of the oldest turns.")
        return False, t("you dropped more than needed: keep the most recent turns, as many as fits() allows.")
    return True, t("the chatbot forgets the oldest turns first, whole turns at a time, and never the system prompt.")
