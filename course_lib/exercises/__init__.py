"""The registry of the lessons' exercises, filled lazily: one module per lesson, imported when one of its ids is asked for.

An exercise id starts with its lesson's number, so ``find("03-lora-share")`` imports ``l03_how_slms_are_made``
and nothing else. Each lesson module registers its checkers with the ``exercise`` decorator below; a checker
takes the learner's answer and returns ``(passed, message)``, and ``course_lib.checks`` prints the verdict.
This package never imports ``course_lib.checks``: the dependency runs one way, from checks to here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    id: str
    tier: str  # 🐢 easy, 🐕 medium, 🦁 hard
    title: str
    check: Callable[[object], tuple[bool, str]]  # answer -> (passed, message)
    solution: Callable  # the solved function itself, or a function that returns the answer
    answer_variable: str | None = None  # the lesson's variable for a value answer; None: the answer is `solution` itself

    def solved_answer(self) -> object:
        """What a learner who typed the solution would pass to check()."""
        return self.solution() if self.answer_variable else self.solution


EXERCISES: dict[str, Exercise] = {}  # filled as lesson modules are imported


def exercise(id: str, tier: str, title: str, solution: Callable, answer_variable: str | None = None):
    """Register the decorated checker as exercise `id` (use `answer_variable` when the answer is a value)."""
    def register(check):
        EXERCISES[id] = Exercise(id, tier, title, check, solution, answer_variable)
        return check
    return register


def lesson_modules() -> dict[str, str]:
    """Lesson number -> the module holding its exercises, e.g. "03" -> "course_lib.exercises.l03_how_slms_are_made"."""
    return {info.name[1:3]: f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__)
            if info.name[0] == "l" and info.name[1:3].isdigit()}


def find(id: str) -> Exercise:
    """The exercise `id`, importing its lesson's module on first use."""
    if id not in EXERCISES:
        module = lesson_modules().get(id[:2])
        if module is None:
            raise KeyError(f"No exercise {id!r}: ids start with a lesson number, e.g. '01-temperature'.")
        importlib.import_module(module)
    if id not in EXERCISES:
        known = ", ".join(sorted(i for i in EXERCISES if i[:2] == id[:2]))
        raise KeyError(f"No exercise {id!r}. Lesson {id[:2]} has: {known}.")
    return EXERCISES[id]


def all_exercises() -> dict[str, Exercise]:
    """Every lesson's exercises (imports every lesson module: for the tests, not for a lesson)."""
    for module in lesson_modules().values():
        importlib.import_module(module)
    return dict(sorted(EXERCISES.items()))
