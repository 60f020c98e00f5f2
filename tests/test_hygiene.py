"""Notebooks are stored clean, nothing looks like a secret, and the two dependency lists agree."""

import json
import re
import subprocess

import pytest

from course_lib.paths import LESSONS_DIR, REPO_ROOT

NOTEBOOKS = sorted(LESSONS_DIR.rglob("*.ipynb"))  # both languages
SECRET = re.compile(r"(ghp_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9]{32,}|nvapi-[A-Za-z0-9_-]{20,})")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(LESSONS_DIR).as_posix())
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: strip outputs (pre-commit run nbstripout --all-files)"
            assert cell["execution_count"] is None, f"{path.name}: strip execution counts"
    assert "widgets" not in nb["metadata"], f"{path.name}: strip widget state"
    assert nb["metadata"]["kernelspec"]["language"] == "python"


def test_nothing_tracked_looks_like_a_secret():
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split()
    assert "README.md" in files and "course_lib/__init__.py" in files  # the listing worked: the loop has files to read
    for shape in ["ghp_" + "a1" * 18, "github_pat_" + "B_" * 20, "sk-" + "c3" * 24, "nvapi-" + "d-" * 30]:
        assert SECRET.search(f"token = '{shape}'"), shape  # and the pattern knows each kind of key
    for name in files:
        path = REPO_ROOT / name
        if path.suffix in {".safetensors", ".png", ".jpg"} or not path.is_file():
            continue
        assert not SECRET.search(path.read_text(encoding="utf-8", errors="ignore")), name


def _requirement_lines(text):
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_environment_yml_lists_the_same_packages_as_requirements():
    requirements = _requirement_lines((REPO_ROOT / "requirements.txt").read_text())
    env = (REPO_ROOT / "environment.yml").read_text()
    pip_section = [line.strip()[2:].strip() for line in env.split("- pip:")[1].splitlines() if line.strip().startswith("- ")]
    assert [r for r in requirements] == [p.split("#")[0].strip() for p in pip_section]


def test_env_file_is_ignored_and_example_has_no_values():
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            assert value in ("", "auto", "60"), name


def test_ruff_is_clean():
    import sys

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "course_lib", "tests", "lessons"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.search(r"(\d+)\.(\d+)", version).groups()
    return int(major), int(minor)


def test_python_versions_agree():
    """pyproject's requires-python is what README and requirements.txt promise, and every pinned environment meets it
    (onnxruntime-genai, lessons 09 and 10, has no wheel for Python 3.10)."""
    import tomllib

    required = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = _minor(required)
    assert required.startswith(">=")
    promised = f"Python {minimum[0]}.{minimum[1]} or newer"
    assert promised in (REPO_ROOT / "README.md").read_text(), promised
    assert promised in (REPO_ROOT / "requirements.txt").read_text(), promised
    pinned = {".python-version": (REPO_ROOT / ".python-version").read_text(),
              "environment.yml": re.search(r"python=(\S+)", (REPO_ROOT / "environment.yml").read_text()).group(1),
              "devcontainer": re.search(r"python:\d+-(\d+\.\d+)",
                                        (REPO_ROOT / ".devcontainer/devcontainer.json").read_text()).group(1)}
    for where, version in pinned.items():
        assert _minor(version) >= minimum, where


def test_cell_ids_are_stable():
    """Translations are keyed by cell id: ids must survive stripping (nbstripout --keep-id), not be renumbered 0, 1, 2."""
    assert "--keep-id" in (REPO_ROOT / ".pre-commit-config.yaml").read_text()
    for path in NOTEBOOKS:
        ids = [cell.get("id") for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]
        assert all(ids) and len(set(ids)) == len(ids), path.name
        renumbered = [i for i in ids if i.isdigit() and len(i) < 8]  # nbstripout without --keep-id writes 0, 1, 2, ...
        assert not renumbered, f"{path.name}: cell ids were renumbered; restore them from git"
