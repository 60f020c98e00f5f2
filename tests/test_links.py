"""Every relative link and every repository path the course cites resolves, and nothing cites the team's notes."""

import json
import re
import subprocess

import pytest

from course_lib.paths import LESSONS_DIR, REPO_ROOT

TOP = ("course_lib/", "data/", "lessons/", "tests/", "images/", "results/", "deploy/", ".ci/", ".devcontainer/")
TOP_FILES = ("README.md", "README.zh-CN.md", "INSTRUCTOR.md", "requirements.txt", "pyproject.toml", "environment.yml",
             ".env.example", ".pre-commit-config.yaml", ".python-version")
GENERATED = ("build/", "_site/", ".venv/")  # made by the course's own commands, git-ignored
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\s]+)`")
QUOTED = re.compile(r"[\"'`]((?:" + "|".join(re.escape(t) for t in TOP) + r")[\w./-]*)[\"'`]")


def cited_paths(text: str, markdown: bool = True) -> set[str]:
    """Relative markdown links, and `code` spans or quoted strings that name a file or folder of the repository."""
    links = MARKDOWN_LINK.findall(text) if markdown else []
    paths = {link.split("#")[0] for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("#")}
    for span in CODE_SPAN.findall(text) + QUOTED.findall(text):
        span = span.rstrip(".,:;)")
        if span.startswith(TOP) or span in TOP_FILES:
            paths.add(span)
    return {p for p in paths if p and "<" not in p and "*" not in p and "{" not in p and not p.startswith(GENERATED)}


def markdown_of(notebook) -> str:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def documents():
    for readme in ("README.md", "README.zh-CN.md"):
        yield REPO_ROOT / readme, (REPO_ROOT / readme).read_text(encoding="utf-8")
    yield REPO_ROOT / "data" / "sources.md", (REPO_ROOT / "data" / "sources.md").read_text(encoding="utf-8")
    for notebook in sorted(LESSONS_DIR.rglob("*.ipynb")):
        yield notebook, markdown_of(notebook)
    for module in sorted((REPO_ROOT / "course_lib").rglob("*.py")):
        yield module, module.read_text(encoding="utf-8")  # docstrings and comments


def _name(x):
    return str(x.relative_to(REPO_ROOT)) if hasattr(x, "relative_to") else ""


@pytest.mark.parametrize("path, text", list(documents()), ids=_name)
def test_cited_paths_resolve(path, text):
    missing = []
    for cited in sorted(cited_paths(text, markdown=path.suffix != ".py")):
        # a markdown link is relative to its file; a path in prose or code is relative to the repository
        candidates = [(path.parent / cited), (REPO_ROOT / cited)]
        if not any(c.exists() for c in candidates):
            missing.append(cited)
    assert not missing, f"{path.relative_to(REPO_ROOT)} cites paths that do not exist: {missing}"


def test_the_checker_sees_a_broken_link():
    assert cited_paths("see [the data](data/nowhere.md), `course_lib/scoring.py` and https://example.com") == {
        "data/nowhere.md", "course_lib/scoring.py"}


def test_nothing_cites_the_teams_shared_notes():
    """Learners don't have ../shared/: facts cite data/sources.md and their original sources."""
    tracked = subprocess.run(["git", "grep", "-nI", "shared/", "--", "lessons", "course_lib", "data", "README*.md",
                              "INSTRUCTOR*.md", ":!data/models"], cwd=REPO_ROOT, capture_output=True, text=True).stdout
    assert not tracked.strip(), tracked


def test_fact_tables_cite_data_sources():
    for name in ("corpus/facts.json", "corpus/relations.json", "phi_family.json"):
        about = json.loads((REPO_ROOT / "data" / name).read_text(encoding="utf-8"))["_about"]
        assert "sources.md" in about, name
