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

from course_lib.i18n import LANGUAGES, language_set, t
from course_lib.paths import DATA_DIR, LESSONS_DIR, REPO_ROOT

SITE_DIR = REPO_ROOT / "_site"
EXECUTED_DIR = REPO_ROOT / "build" / "executed"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; }
th { background: #f3f3f3; } .note { color: #555; }
nav.course-languages { text-align: right; margin: .5rem 1rem; }
"""
# Chinese pages name CJK fonts first: Noto Sans CJK on Linux, Microsoft YaHei on Windows, PingFang on macOS.
CJK_STYLE = """
:root { --jp-content-font-family: system-ui, "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
        "Hiragino Sans GB", sans-serif; --jp-ui-font-family: var(--jp-content-font-family); }
body { font-family: var(--jp-content-font-family); }
"""
LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文"}


def lessons(lang: str = "en") -> list[Path]:
    folder = LESSONS_DIR if lang == "en" else LESSONS_DIR / lang
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def page_dir(out_dir: Path, lang: str) -> Path:
    """English pages at the top of the site, each translation in a folder named after its language."""
    return out_dir if lang == "en" else out_dir / lang


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
    """What an execution depends on that can change under it: the notebook, the course_lib code, the quizzes and the
    message catalogues."""
    digest = hashlib.sha256(Path(path).read_bytes())
    for source in [*sorted((REPO_ROOT / "course_lib").rglob("*.py")), *sorted(DATA_DIR.glob("quizzes.json")),
                   *sorted((DATA_DIR / "i18n").rglob("*.json"))]:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def kept_path(path: Path) -> Path:
    """build/executed/<lesson>.ipynb for English, build/executed/zh-CN/<lesson>.ipynb for the translation."""
    path = Path(path).resolve()
    return EXECUTED_DIR / (path.relative_to(LESSONS_DIR) if path.is_relative_to(LESSONS_DIR) else path.name)


def keep_execution(path: Path, nb) -> Path:
    """Store an executed notebook for the site, stamped with the fingerprint of what produced it."""
    import nbformat

    out = kept_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nb.metadata["course_site"] = {"fingerprint": fingerprint(path)}
    nbformat.write(nb, out)
    return out


def kept_execution(path: Path):
    """The kept execution of a lesson if it still matches the notebook and course_lib, else None."""
    import nbformat

    kept = kept_path(path)
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


def language_switch(lang: str, name: str) -> str:
    """Links to the same page in every language (`name`: the page's file name)."""
    links = []
    for other in LANGUAGES:
        if other == lang:
            links.append(f"<b>{LANGUAGE_NAMES[other]}</b>")
        else:
            up = "" if lang == "en" else "../"
            href = up + ("" if other == "en" else f"{other}/") + name
            links.append(f"<a href='{html.escape(href)}' hreflang='{other}'>{LANGUAGE_NAMES[other]}</a>")
    return "<nav class='course-languages'>" + " · ".join(links) + "</nav>"


def localize(page: str, lang: str, name: str) -> str:
    """Set the page's language (so the browser picks fonts for it), add CJK fonts where needed, and the switch."""
    page = re.sub(r"<html[^>]*>", f"<html lang='{lang}'>", page, count=1)
    style = (CJK_STYLE if lang != "en" else "") + "nav.course-languages { text-align: right; margin: .5rem 1rem; }"
    page = page.replace("</head>", f"<style>{style}</style></head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + language_switch(lang, name), page, count=1)


def export_page(nb, title: str) -> str:
    from nbconvert import HTMLExporter

    static_outputs(nb)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def index_page(rows: list[tuple[str, str, list[str]]], lang: str = "en") -> str:
    def bullets(objectives):
        return "<ul>" + "".join(f"<li>{html.escape(o)}</li>" for o in objectives) + "</ul>"

    items = "".join(f"<tr><td><a href='{html.escape(page)}'>{html.escape(title)}</a></td><td>{bullets(objectives)}</td></tr>"
                    for page, title, objectives in rows)
    with language_set(lang):
        name, heading = t("Small Language Models with Phi"), t("Small Language Models with Phi-3 and Phi-3.5")
        intro = t("A hands-on course. Every page below was executed offline, on a CPU, with the course's own tiny Phi "
                  "models; every figure and number on it comes from that run.")
        syllabus, lesson, learn = t("Syllabus"), t("lesson"), t("you will learn to")
        run_it = t("Run it yourself: see README.md in the repository.")
    e = html.escape
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{e(name)}</title>"
            f"<style>{PAGE_STYLE}{CJK_STYLE if lang != 'en' else ''}</style></head><body>"
            f"{language_switch(lang, 'index.html')}<h1>{e(heading)}</h1><p>{e(intro)}</p>"
            f"<h2>{e(syllabus)}</h2><table><tr><th>{e(lesson)}</th><th>{e(learn)}</th></tr>{items}</table>"
            f"<p class='note'>{e(run_it)}</p></body></html>")


def build_site(out_dir: Path = SITE_DIR, timeout: int = 600, reuse: bool = True,
               langs: tuple[str, ...] = LANGUAGES) -> dict[str, list[Path]]:
    """Execute every lesson in every language (or reuse a matching kept execution), write one page per lesson and a
    home page per language; returns {language: [home page, lesson pages...]}."""
    from tqdm.auto import tqdm

    written = {}
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # for the lesson kernels: a progress bar is a live widget, noise on a page
    try:
        for lang in langs:
            folder = page_dir(Path(out_dir), lang)
            folder.mkdir(parents=True, exist_ok=True)
            rows, pages = [], []
            for path in tqdm(lessons(lang), desc=f"lessons ({lang})"):
                nb = (kept_execution(path) if reuse else None) or execute(path, timeout)
                title, objectives = title_and_objectives(nb)
                page = folder / f"{path.stem}.html"
                page.write_text(localize(export_page(nb, title), lang, page.name), encoding="utf-8")
                rows.append((page.name, title, objectives))
                pages.append(page)
            index = folder / "index.html"
            index.write_text(index_page(rows, lang), encoding="utf-8")
            written[lang] = [index, *pages]
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before
    return written
