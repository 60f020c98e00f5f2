"""``python -m course_lib site``: execute every lesson and publish it as a static web site.

Each notebook is executed with nbclient (so every figure and number on the
page comes from that run), exported with nbconvert's lab template, and linked
from a home page that carries the syllabus. The site goes to ``_site/``
(git-ignored): executed copies are build artefacts, never commits.

The test suite already executes every lesson (nbmake); tests/conftest.py keeps each successful execution in
``build/executed/``, stamped with a fingerprint of the notebook and of course_lib. The site reuses a kept
execution whose fingerprint still matches, so CI does not run every lesson twice; anything else is executed here.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from pathlib import Path

from course_lib.paths import LESSONS_DIR, REPO_ROOT

SITE_DIR = REPO_ROOT / "_site"
EXECUTED_DIR = REPO_ROOT / "build" / "executed"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; }
th { background: #f3f3f3; } .note { color: #555; }
"""


def lessons() -> list[Path]:
    return sorted(LESSONS_DIR.glob("[0-9][0-9]_*.ipynb"))


def title_and_objectives(nb) -> tuple[str, list[str]]:
    """The lesson's '# ' heading and its numbered learning objectives (markdown marks removed), from its first cell."""
    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    title = re.search(r"^# (.+)$", first, re.M)
    objectives = [re.sub(r"[`*]", "", o).rstrip(";.") for o in re.findall(r"^\d\. (.+)$", first, re.M)]
    return (title.group(1) if title else "Lesson"), objectives


def static_outputs(nb) -> None:
    """Widgets need a live kernel: keep their text or HTML fallback (quizzes have one) and drop the widget view."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_MIME in data and len(data) > 1:
                del data[WIDGET_MIME]


def fingerprint(path: Path) -> str:
    """What an execution depends on that can change under it: the notebook and the course_lib code."""
    digest = hashlib.sha256(Path(path).read_bytes())
    for module in sorted((REPO_ROOT / "course_lib").rglob("*.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()


def keep_execution(path: Path, nb) -> Path:
    """Store an executed notebook for the site, stamped with the fingerprint of what produced it."""
    import nbformat

    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    nb.metadata["course_site"] = {"fingerprint": fingerprint(path)}
    out = EXECUTED_DIR / Path(path).name
    nbformat.write(nb, out)
    return out


def kept_execution(path: Path):
    """The kept execution of a lesson if it still matches the notebook and course_lib, else None."""
    import nbformat

    kept = EXECUTED_DIR / Path(path).name
    if not kept.exists():
        return None
    nb = nbformat.read(kept, as_version=4)
    return nb if nb.metadata.get("course_site", {}).get("fingerprint") == fingerprint(path) else None


def execute(path: Path, timeout: int = 600):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def export_page(nb, title: str) -> str:
    from nbconvert import HTMLExporter

    static_outputs(nb)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def index_page(rows: list[tuple[str, str, list[str]]]) -> str:
    def bullets(objectives):
        return "<ul>" + "".join(f"<li>{html.escape(o)}</li>" for o in objectives) + "</ul>"

    items = "".join(f"<tr><td><a href='{html.escape(page)}'>{html.escape(title)}</a></td><td>{bullets(objectives)}</td></tr>"
                    for page, title, objectives in rows)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Small Language Models with Phi</title>"
            f"<style>{PAGE_STYLE}</style></head><body><h1>Small Language Models with Phi-3 and Phi-3.5</h1>"
            "<p>A hands-on course. Every page below was executed offline, on a CPU, with the course's own tiny Phi "
            "models; every figure and number on it comes from that run.</p>"
            f"<h2>Syllabus</h2><table><tr><th>lesson</th><th>you will learn to</th></tr>{items}</table>"
            "<p class='note'>Run it yourself: see README.md in the repository.</p></body></html>")


def build_site(out_dir: Path = SITE_DIR, timeout: int = 600, reuse: bool = True) -> list[Path]:
    """Execute every lesson (or reuse a matching kept execution), write one page per lesson and the home page;
    returns the pages written."""
    from tqdm.auto import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    rows, pages = [], []
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # for the lesson kernels: a progress bar is a live widget, noise on a page
    try:
        for path in tqdm(lessons(), desc="lessons"):
            nb = (kept_execution(path) if reuse else None) or execute(path, timeout)
            title, objectives = title_and_objectives(nb)
            page = out_dir / f"{path.stem}.html"
            page.write_text(export_page(nb, title), encoding="utf-8")
            rows.append((page.name, title, objectives))
            pages.append(page)
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before
    index = out_dir / "index.html"
    index.write_text(index_page(rows), encoding="utf-8")
    return [index, *pages]
