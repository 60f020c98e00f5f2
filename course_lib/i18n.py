"""The learner's language: which one, and every message course_lib shows, in it.

English is written once, in the code, as the message itself: ``t("Pick an option first.")``. Each other language
has one catalogue, ``data/i18n/<lang>/messages.json``, that maps an English message to its translation; placeholders
are named (``t("{n} experts", n=4)``) and the translation keeps the same names. A message missing from a catalogue
shows in English (tests/test_i18n.py fails on it, so none ships missing).

The language is ``COURSE_LANG`` when it is set (``en`` or ``zh-CN``), else Chinese when the notebook runs from
``lessons/zh-CN/``, else English.
"""

from __future__ import annotations

import json
import os
import warnings
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from course_lib.paths import DATA_DIR

LANGUAGES = ("en", "zh-CN")
ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "english": "en",
           "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "chinese": "zh-CN"}
I18N_DIR = DATA_DIR / "i18n"


def language() -> str:
    """The language learner-facing text is shown in now: "en" or "zh-CN"."""
    asked = os.environ.get("COURSE_LANG", "").strip()
    if asked:
        lang = ALIASES.get(asked.lower().replace("_", "-"))
        if lang:
            return lang
        _warn_unknown(asked)
    return "zh-CN" if "zh-CN" in Path.cwd().parts else "en"


@cache
def _warn_unknown(asked: str) -> None:
    # Said in both languages: the learner who set it may read either.
    warnings.warn(f"COURSE_LANG={asked!r} is not a course language; showing English. Use COURSE_LANG=en or "
                  f"COURSE_LANG=zh-CN. / COURSE_LANG={asked!r} 不是本课程支持的语言，将显示英文。"
                  "请设置 COURSE_LANG=en 或 COURSE_LANG=zh-CN。", stacklevel=4)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """English message -> translation, for one language (English itself has none: the code is its catalogue)."""
    if lang == "en":
        return {}
    return json.loads((I18N_DIR / lang / "messages.json").read_text(encoding="utf-8"))


def t(message: str, /, **values) -> str:
    """`message` in the learner's language, with its {named} placeholders filled from `values`."""
    text = catalogue(language()).get(message, message)
    return text.format(**values) if values else text


def N_(message: str) -> str:
    """Mark a message for the catalogue where it is defined; `t()` translates it where it is shown."""
    return message


@contextmanager
def language_set(lang: str):
    """Show messages in `lang` inside the block (the site builds each language's pages this way)."""
    before = os.environ.get("COURSE_LANG")
    os.environ["COURSE_LANG"] = lang
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COURSE_LANG", None)
        else:
            os.environ["COURSE_LANG"] = before


def data_file(name: str) -> Path:
    """A data file in the learner's language: data/i18n/<lang>/<name> when it exists, else data/<name>."""
    translated = I18N_DIR / language() / name
    return translated if language() != "en" and translated.exists() else DATA_DIR / name
