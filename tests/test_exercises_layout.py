"""How the exercises are laid out: one lazily imported module per lesson, no import cycle, no torch for `checks`,
solutions shown as the code a lesson cell holds, and placeholders told apart from wrong answers."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import course_lib.exercises
from course_lib.checks import is_placeholder, solution_code
from course_lib.exercises import all_exercises, lesson_modules
from course_lib.paths import LESSONS_DIR

EXERCISES = all_exercises()
PACKAGE_DIR = Path(course_lib.exercises.__file__).parent
CHECK_CALL = re.compile(r'check\(\\"(\d\d-[\w-]+)\\", (\w+)\)')  # as it appears in the notebook's JSON


def run_python(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_checks_does_not_import_torch_or_transformers():
    run_python("import course_lib.checks, sys; assert 'torch' not in sys.modules and 'transformers' not in sys.modules")


def test_a_check_imports_only_its_lesson_module():
    run_python("import sys\n"
               "from course_lib.checks import check\n"
               "check('03-label-mask', lambda p, a: [-100] * len(p) + a)\n"
               "loaded = sorted(m for m in sys.modules if m.startswith('course_lib.exercises.'))\n"
               "assert loaded == ['course_lib.exercises.l03_how_slms_are_made'], loaded")


def test_no_exercise_module_imports_checks():
    for path in PACKAGE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith("course_lib.checks") for a in node.names), path.name
            elif isinstance(node, ast.ImportFrom):
                assert node.module != "course_lib.checks", path.name
                assert not (node.module == "course_lib" and any(a.name == "checks" for a in node.names)), path.name


def test_one_module_per_lesson_named_after_it():
    lessons = {p.stem for p in LESSONS_DIR.glob("[0-9][0-9]_*.ipynb")}
    assert {name.rsplit(".", 1)[1][1:] for name in lesson_modules().values()} == lessons


def test_each_exercise_lives_in_the_module_its_id_names():
    for id, ex in EXERCISES.items():
        assert ex.check.__module__ == lesson_modules()[id[:2]], id


@pytest.mark.parametrize("lesson", sorted(LESSONS_DIR.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_lesson_cells_check_known_ids_with_the_solutions_names(lesson):
    """show_solution prints a function (or a variable) with the very name the lesson's cell passes to check()."""
    calls = CHECK_CALL.findall(lesson.read_text(encoding="utf-8"))
    assert calls
    for id, name in calls:
        ex = EXERCISES[id]
        assert name == (ex.answer_variable or ex.solution.__name__), id


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_solution_is_shown_without_registry_plumbing(exercise_id):
    code = solution_code(exercise_id)
    assert "exercise(" not in code and "course_lib.exercises" not in code and "_solution" not in code
    ex = EXERCISES[exercise_id]
    if ex.answer_variable:
        assert f"{ex.answer_variable} =" in code and "return" not in code.splitlines()[-1]
    else:
        assert code.split("\n\n")[-1].startswith(f"def {ex.solution.__name__}(")


def names_used(fn) -> set[str]:
    code, names, stack = fn.__code__, set(), [fn.__code__]
    while stack:
        code = stack.pop()
        names |= set(code.co_names)
        stack += [c for c in code.co_consts if hasattr(c, "co_names")]
    return names


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_checker_does_not_take_its_truth_from_the_solution(exercise_id):
    ex = EXERCISES[exercise_id]
    used = names_used(ex.check)
    assert ex.solution.__name__ not in used and "run_solution" not in used and "solved_answer" not in used


def test_placeholders_are_told_apart_from_answers():
    def stub(logits, temperature):
        ...  # your code here

    def documented(messages):
        """Trim the chat."""
        ...

    def passes(x):
        pass

    def forgot_return(x):
        x * 2

    for placeholder in (None, ..., stub, documented, passes):
        assert is_placeholder(placeholder)
    for answer in (0, "", [], lambda x: None, forgot_return, print, 12.3):
        assert not is_placeholder(answer)
