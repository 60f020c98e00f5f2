"""The README's two commands are what CI and learners run."""

import re

from course_lib.paths import REPO_ROOT


def readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (REPO_ROOT / "README.md").read_text())


def test_ci_runs_the_readme_test_command_as_written():
    test_command = next(c for c in readme_commands() if "pytest" in c)
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_readme_opens_jupyterlab_on_the_lessons():
    assert any("jupyter lab lessons/" in c and "requirements.txt" in c for c in readme_commands())


def test_readme_has_no_unfilled_placeholders():
    text = (REPO_ROOT / "README.md").read_text()
    assert "EVAL_TABLE" not in text and "BUILD_TIME" not in text
