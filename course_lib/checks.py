"""Exercises: each has a tier (🐢 easy, 🐕 medium, 🦁 hard), a check with hints, and a solution hidden until asked for.

In a lesson::

    from course_lib.checks import check, show_solution
    check("01-temperature", apply_temperature)   # ✅, ❌ with a hint, or ✏️ while it is still the placeholder
    show_solution("01-temperature")              # when stuck

`check` prints its verdict and returns None, so a lesson cell shows the verdict and nothing else; `grade` returns
the verdict instead (for the tests). The exercises live in ``course_lib.exercises``, one module per lesson,
imported only when one of their ids is checked.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from dataclasses import dataclass

from course_lib.exercises import Exercise, find
from course_lib.i18n import t


def _stub(): ...


def _documented_stub():
    """A docstring changes the constants, not what the function does."""
    ...


STUB_BYTECODE = {_stub.__code__.co_code, _documented_stub.__code__.co_code}


def is_placeholder(answer) -> bool:
    """Whether the answer is still what the lesson cell starts with: None, `...`, or a `def` whose body is only `...`.

    A function counts as the stub when its bytecode is an empty function's (arguments and docstring do not change
    it). A lambda never does: the lessons' stubs are `def`s, so `lambda x: None` is the learner's and gets a hint.
    """
    if answer is None or answer is Ellipsis:
        return True
    code = getattr(answer, "__code__", None)
    return code is not None and code.co_name != "<lambda>" and code.co_code in STUB_BYTECODE


@dataclass(frozen=True)
class Verdict:
    exercise: Exercise
    passed: bool | None  # None: the answer is still the lesson's placeholder
    message: str

    def __str__(self) -> str:
        ex, title = self.exercise, t(self.exercise.title)
        if self.passed is None:
            return t("✏️ {tier} {title}: your turn — replace the placeholder and run this cell again.", tier=ex.tier, title=title)
        if self.passed:
            return f"✅ {ex.tier} {title}: {self.message}"
        return t("❌ {tier} {title}: {message}\n   Stuck? Run show_solution({id!r}).", tier=ex.tier, title=title,
                 message=self.message, id=ex.id)


def grade(id: str, answer) -> Verdict:
    """Check an answer to exercise `id` without printing anything."""
    ex = find(id)
    if is_placeholder(answer):
        return Verdict(ex, None, "")
    try:
        passed, message = ex.check(answer)
    except Exception as err:  # the learner's code raised: say so plainly, that is the feedback
        passed, message = False, t("your answer raised {error}: {detail}", error=type(err).__name__, detail=err)
    return Verdict(ex, passed, message)


def check(id: str, answer) -> None:
    """Check an answer to exercise `id` and print the verdict, with a hint when it is wrong.

    It returns None on purpose: a lesson cell ends with check(...), and a returned value would show under the verdict.
    """
    print(grade(id, answer))


def solution_code(id: str) -> str:
    """The solution as a learner would type it in the lesson cell: the imports it needs, then the code."""
    ex = find(id)
    if ex.answer_variable:
        code = value_solution_code(ex.solution, ex.answer_variable)
    else:
        code = textwrap.dedent(inspect.getsource(ex.solution))
    imports = "\n".join(imports_used_by(ex.solution))
    return (imports + "\n\n" if imports else "") + code.strip() + "\n"


HIDE_SOLUTIONS_ENV = "COURSE_HIDE_SOLUTIONS"  # a facilitator's switch for a room; self-paced learners leave it unset


def solutions_hidden() -> bool:
    """Whether a facilitator hid the solutions: COURSE_HIDE_SOLUTIONS=1 in the environment or in .env."""
    from course_lib.backends import load_env_file

    load_env_file()
    return os.environ.get(HIDE_SOLUTIONS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def show_solution(id: str) -> None:
    ex = find(id)
    if solutions_hidden():
        print(t("🔒 {tier} {title}: solutions are hidden in this session ({variable}=1). Ask your facilitator for a "
                "hint; check() still tells you when your answer is right.", tier=ex.tier, title=t(ex.title),
                variable=HIDE_SOLUTIONS_ENV))
        return
    print(t("Solution to {tier} {title}:", tier=ex.tier, title=t(ex.title)) + f"\n\n{solution_code(id)}")


def run_solution(id: str) -> object:
    """The answer the solution gives: the solved function, or the value it returns (used by the tests)."""
    return find(id).solved_answer()


def value_solution_code(fn, variable: str) -> str:
    """The body of a solution function, its final `return X` written as `variable = X`, as in the lesson's cell."""
    lines = textwrap.dedent(inspect.getsource(fn)).splitlines()
    body = ast.parse("\n".join(lines)).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring is for the course's readers, not part of the answer
    last = body[-1]
    if not isinstance(last, ast.Return):
        raise ValueError(f"{fn.__name__} must end with `return <answer>`")
    row, col = last.lineno - 1, last.col_offset
    lines[row] = lines[row][:col] + f"{variable} =" + lines[row][col + len("return"):]
    return textwrap.dedent("\n".join(lines[body[0].lineno - 1:]))


def imports_used_by(fn) -> list[str]:
    """The module-level imports of `fn`'s module that `fn` uses, e.g. ["import torch"], so the code shown runs as is."""
    used = {node.id for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(fn)))) if isinstance(node, ast.Name)}
    lines = []
    for node in ast.parse(inspect.getsource(inspect.getmodule(fn))).body:
        if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "module", None) != "__future__":
            names = [alias for alias in node.names if (alias.asname or alias.name.split(".")[0]) in used]
            if names:
                kept = ast.Import(names) if isinstance(node, ast.Import) else ast.ImportFrom(node.module, names, node.level)
                lines.append(ast.unparse(kept))
    return lines
