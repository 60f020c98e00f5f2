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


GUIDES = ("README.md", "README.zh-CN.md", "INSTRUCTOR.md", "INSTRUCTOR.zh-CN.md")
COURSE_COMMAND = re.compile(r"python -m course_lib ([^`\n|]+)")


def course_commands(name: str) -> set[str]:
    """Every `python -m course_lib …` a guide tells someone to type, from its code spans and blocks."""
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r"```\w*\n(.*?)```", text, re.S)
    return {m.group(1).split("#")[0].split(">")[0].strip().rstrip("\\ ") for span in spans
            for m in COURSE_COMMAND.finditer(span)}


def test_every_course_command_in_the_guides_is_one_the_command_line_accepts():
    import shlex

    from course_lib.__main__ import build_parser

    parser = build_parser()
    for name in GUIDES:
        for command in course_commands(name):
            # placeholders as the guides write them (DIR, KEY, <...>, [optional parts]) become plain words
            words = [w for w in shlex.split(re.sub(r"\[[^\]]*\]|<[^>]*>|\.\.\.|…", "", command)) if w != "\\"]
            try:
                parser.parse_args(words)
            except SystemExit:
                raise AssertionError(f"{name}: `python -m course_lib {command}` is not a valid command") from None


def test_the_instructor_guides_link_each_other_and_give_the_same_commands():
    english = (REPO_ROOT / "INSTRUCTOR.md").read_text(encoding="utf-8")
    chinese = (REPO_ROOT / "INSTRUCTOR.zh-CN.md").read_text(encoding="utf-8")
    assert "(INSTRUCTOR.zh-CN.md)" in english.splitlines()[0] and "(INSTRUCTOR.md)" in chinese.splitlines()[0]
    assert course_commands("INSTRUCTOR.md") == course_commands("INSTRUCTOR.zh-CN.md")
    block = re.compile(r"<!-- begin report:([\w-]+) -->")
    assert block.findall(english) == block.findall(chinese)


def test_no_guide_tells_anyone_to_expose_transformers_serve_itself():
    for name in GUIDES:
        for line in (REPO_ROOT / name).read_text(encoding="utf-8").splitlines():
            if "transformers serve --host" in line:
                assert re.search(r"[Nn]ever|不要|决不|切勿", line), f"{name}: {line}"


def test_the_instructor_guides_count_the_exercises_there_are():
    from course_lib.exercises import all_exercises

    n = len(all_exercises())
    assert f"| {n} in all," in (REPO_ROOT / "INSTRUCTOR.md").read_text(encoding="utf-8")
    assert f"共 {n} 道" in (REPO_ROOT / "INSTRUCTOR.zh-CN.md").read_text(encoding="utf-8")
