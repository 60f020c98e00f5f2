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


def test_chinese_readme_has_the_same_test_command_and_opens_the_chinese_lessons():
    zh = (REPO_ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.+?)\n```", zh)
    assert next(c for c in readme_commands() if "pytest" in c) in commands
    assert any(c.endswith("jupyter lab lessons/zh-CN/") and "requirements.txt" in c for c in commands)


def test_each_readme_links_to_the_other_at_the_top():
    english = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()[0]
    chinese = (REPO_ROOT / "README.zh-CN.md").read_text(encoding="utf-8").splitlines()[0]
    assert "(README.zh-CN.md)" in english and "(README.md)" in chinese


def test_chinese_readme_links_resolve():
    zh = (REPO_ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", zh):
        if "://" not in target:
            assert (REPO_ROOT / target).exists(), target
