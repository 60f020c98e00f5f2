"""``python -m course_lib i18n sync|status|done``: keep a translated edition of the lessons in step with the English.

A translated lesson (``lessons/zh-CN/03_how_slms_are_made.ipynb``) has the English lesson's cells, by id and in its
order. Its code cells are the English ones, copied byte for byte: the code is never translated, so it cannot
drift. Its markdown cells are the translation, and each one remembers, in ``metadata.i18n.en_sha``, a hash of the
English text it translates. When the English cell changes, the hashes differ and the cell is *stale*; an English
cell the translation lacks arrives in English, marked *untranslated*. Once a translator has updated such a cell,
``done`` records the current English hash.

    python -m course_lib i18n sync zh-CN      # copy code, add new cells, drop removed ones; never touches prose
    python -m course_lib i18n status          # lists stale and untranslated cells; exits 1 if there are any
    python -m course_lib i18n done zh-CN 03_how_slms_are_made 1a2b3c4d   # this cell's translation is current
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from course_lib.paths import LESSONS_DIR

TRANSLATIONS = ("zh-CN",)


def english_lessons() -> list[Path]:
    return sorted(LESSONS_DIR.glob("[0-9][0-9]_*.ipynb"))


def translated_path(english: Path, lang: str) -> Path:
    return LESSONS_DIR / lang / english.name


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def _read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def _write(nb, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def synced(english, translated=None):
    """The translated notebook the English one implies: its code, its cell order, and the translation's prose."""
    import copy

    import nbformat

    old = {c.id: c for c in translated.cells} if translated is not None else {}
    cells = []
    for cell in english.cells:
        if cell.cell_type != "markdown":
            cells.append(copy.deepcopy(cell))
            continue
        kept = old.get(cell.id)
        if kept is not None and kept.cell_type == "markdown" and "i18n" in kept.metadata:
            cells.append(copy.deepcopy(kept))
        else:  # new in English (or not yet a translation): the English text, marked for the translator
            new = nbformat.v4.new_markdown_cell(cell.source, id=cell.id)
            new.metadata["i18n"] = {"en_sha": source_hash(cell.source), "untranslated": True}
            cells.append(new)
    nb = copy.deepcopy(english)
    nb.cells = cells
    return nb


def sync(lang: str) -> list[Path]:
    """Bring every translated lesson of `lang` in step with the English; returns the files that changed."""
    import nbformat

    changed = []
    for english_path in english_lessons():
        path = translated_path(english_path, lang)
        before = path.read_text(encoding="utf-8") if path.exists() else None
        nb = synced(_read(english_path), _read(path) if before is not None else None)
        if nbformat.writes(nb) + "\n" != before:
            _write(nb, path)
            changed.append(path)
    return changed


@dataclass(frozen=True)
class Problem:
    lesson: str
    cell: str
    kind: str  # "stale", "untranslated", "missing lesson", "code differs", "order differs"

    def __str__(self) -> str:
        return f"{self.lesson} {self.cell}: {self.kind}"


def status(lang: str) -> list[Problem]:
    """Everything in `lang`'s edition that is not a current translation of the English."""
    problems = []
    for english_path in english_lessons():
        path, lesson = translated_path(english_path, lang), english_path.stem
        if not path.exists():
            problems.append(Problem(lesson, "-", "missing lesson"))
            continue
        english, translated = _read(english_path), _read(path)
        if [c.id for c in english.cells] != [c.id for c in translated.cells]:
            problems.append(Problem(lesson, "-", "order differs (run: python -m course_lib i18n sync " + lang + ")"))
        by_id = {c.id: c for c in translated.cells}
        for cell in english.cells:
            mine = by_id.get(cell.id)
            if cell.cell_type != "markdown":
                if mine is None or mine.source != cell.source or mine.cell_type != cell.cell_type:
                    problems.append(Problem(lesson, cell.id, "code differs (run: python -m course_lib i18n sync " + lang + ")"))
                continue
            meta = (mine.metadata.get("i18n") or {}) if mine is not None else {}
            if mine is None or meta.get("untranslated"):
                problems.append(Problem(lesson, cell.id, "untranslated"))
            elif meta.get("en_sha") != source_hash(cell.source):
                problems.append(Problem(lesson, cell.id, "stale: the English changed since it was translated"))
    return problems


def mark_done(lang: str, lesson: str, cell_ids: list[str]) -> None:
    """Record that these cells' translations match the current English."""
    english_path = LESSONS_DIR / f"{lesson.removesuffix('.ipynb')}.ipynb"
    english = {c.id: c for c in _read(english_path).cells}
    path = translated_path(english_path, lang)
    nb = _read(path)
    for cell in nb.cells:
        if cell.id in cell_ids:
            if cell.id not in english or cell.cell_type != "markdown":
                raise ValueError(f"{lesson} has no English markdown cell {cell.id!r}")
            cell.metadata["i18n"] = {"en_sha": source_hash(english[cell.id].source)}
    missing = set(cell_ids) - {c.id for c in nb.cells}
    if missing:
        raise ValueError(f"{path.name} has no cell {', '.join(sorted(missing))}; "
                         f"run `python -m course_lib i18n sync {lang}` first")
    _write(nb, path)


def code_messages() -> dict[str, str]:
    """Every message course_lib shows through the catalogue -> where it is: the literal first argument of each
    `t(...)` and `N_(...)` call, and each exercise's title."""
    import ast

    from course_lib.paths import REPO_ROOT

    found = {}
    for path in sorted((REPO_ROOT / "course_lib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id in ("t", "N_"):
                literal = node.args[0] if node.args else None
            elif node.func.id == "exercise" and len(node.args) >= 3:
                literal = node.args[2]
            else:
                continue
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                found.setdefault(literal.value, f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    return found


def placeholders(message: str) -> set[str]:
    """The {named} fields of a message, with their format specs ({n:.2f} and {n} differ)."""
    import string

    return {f"{name}{'!' + conv if conv else ''}:{spec}" for _, name, spec, conv in string.Formatter().parse(message)
            if name is not None}


def message_problems(lang: str) -> list[str]:
    """Messages the code shows that `lang`'s catalogue lacks, translations that lost a placeholder, and stale entries."""
    from course_lib.i18n import I18N_DIR

    path = I18N_DIR / lang / "messages.json"
    catalogue = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    used = code_messages()
    problems = [f"missing: {message!r} ({where})" for message, where in used.items() if message not in catalogue]
    problems += [f"placeholders differ: {message!r}" for message, text in catalogue.items()
                 if message in used and placeholders(message) != placeholders(text)]
    problems += [f"no longer used: {message!r}" for message in catalogue if message not in used]
    return problems
