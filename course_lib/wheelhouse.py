"""Offline installs for a room: every wheel the course needs in one folder, installed with no network.

    python -m course_lib wheelhouse DIR            # on a machine like the learners' (OS, CPU, Python)
    python -m course_lib wheelhouse DIR --check    # then: a fresh venv installs from DIR alone, and imports work
    pip install --no-index --find-links DIR -r requirements.txt    # each learner, in the repository's .venv

Venue Wi-Fi often fails on ~2 GB per laptop; a USB stick or a file share does not. ``requirements.txt`` ends up
installing the course itself (``-e .``) too, so the folder also holds the build backend that install needs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from course_lib.paths import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "requirements.txt"


def third_party_requirements(requirements: Path = REQUIREMENTS) -> list[str]:
    """requirements.txt's package lines (markers kept, comments dropped), without the course itself (`-e .`)."""
    lines = []
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
        if line and not line.startswith(("#", "-e", "--editable")):
            lines.append(line)
    return lines


def build_requirements() -> list[str]:
    """What pip needs to build the course's own package (pyproject.toml's build-system), offline."""
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]


def download_command(dest: Path, platform: str | None = None, python_version: str | None = None,
                     pip_args: list[str] = ()) -> list[str]:
    """`pip download` of every requirement into dest; for another platform, wheels only (pip cannot build there)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as listing:
        listing.write("\n".join(third_party_requirements() + build_requirements()) + "\n")
    command = [sys.executable, "-m", "pip", "download", "--dest", str(dest), "-r", listing.name]
    if platform or python_version:
        command += ["--only-binary=:all:"]
        command += ["--platform", platform] if platform else []
        command += ["--python-version", python_version] if python_version else []
    return command + list(pip_args)


def download(dest: Path, platform: str | None = None, python_version: str | None = None,
             pip_args: list[str] = ()) -> dict:
    """Fill dest with wheels; returns how many files, how many bytes and how long it took."""
    dest.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run(download_command(dest, platform, python_version, pip_args), check=True)
    return {"seconds": time.perf_counter() - start, **folder_size(dest)}


def folder_size(folder: Path) -> dict:
    files = [p for p in folder.iterdir() if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def install_command(folder: Path, python: str | Path = "python") -> list[str]:
    """The learner's line, run at the top of the repository: pip finds everything in the folder, never asks an index."""
    return [str(python), "-m", "pip", "install", "--no-index", "--find-links", str(folder), "-r", REQUIREMENTS.name]


def check(folder: Path) -> dict:
    """Install from the folder alone into a new venv, as a learner would, then import what the lessons import."""
    with tempfile.TemporaryDirectory(prefix="course-wheelhouse-check-") as venv:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        python = Path(venv) / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
        start = time.perf_counter()
        # No pip configuration either: a find-links or index in pip.conf would hide a wheel missing from the folder
        alone = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": ""}
        subprocess.run(install_command(folder, python), check=True, cwd=REPO_ROOT, env=alone)
        seconds = time.perf_counter() - start
        imports = "import course_lib, torch, transformers, openai, azure.ai.inference, jupyterlab, nbclient, ipywidgets"
        subprocess.run([str(python), "-c", imports], check=True, cwd=tempfile.gettempdir())
    return {"install_seconds": seconds}
