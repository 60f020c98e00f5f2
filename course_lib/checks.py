"""Exercises: each has a tier (🐢 easy, 🐕 medium, 🦁 hard), a check with hints, and a solution hidden until asked for.

In a lesson::

    from course_lib.checks import check, show_solution
    check("01-temperature", apply_temperature)   # ✅ or ❌ with a hint
    show_solution("01-temperature")              # when stuck

Every check returns True or False and prints its verdict, so it can be used
interactively and in tests alike. The exercises themselves live in
``course_lib.exercises``, one section per lesson.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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


_cache: dict[str, object] = {}


def run_solution_cached(id: str) -> object:
    if id not in _cache:
        _cache[id] = run_solution(id)
    return _cache[id]


# Registers every lesson's exercises (they use the decorator above, so this import comes last).
from course_lib import exercises  # noqa: E402, F401
