"""The Chinese edition: code identical to the English, prose translated and current, messages and quizzes in
Chinese when the lesson is, figures that draw Chinese characters."""

import json
import os
import re
import subprocess
import sys
import warnings

import nbformat
import pytest

from course_lib import i18n, i18n_sync
from course_lib.paths import DATA_DIR, LESSONS_DIR, REPO_ROOT

LANG = "zh-CN"
LESSONS = i18n_sync.english_lessons()


def read(path):
    return nbformat.read(path, as_version=4)


@pytest.fixture()
def chinese(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", LANG)


@pytest.mark.parametrize("english", LESSONS, ids=lambda p: p.stem)
def test_code_cells_and_ids_are_the_english_ones(english):
    translated = read(i18n_sync.translated_path(english, LANG))
    en, zh = read(english), translated
    assert [c.id for c in zh.cells] == [c.id for c in en.cells], "cell ids or order differ: run python -m course_lib i18n sync"
    for a, b in zip(en.cells, zh.cells, strict=True):
        assert a.cell_type == b.cell_type, a.id
        if a.cell_type == "code":
            assert b.source == a.source, f"{english.stem} cell {a.id}: code differs from the English"
            assert b.metadata == a.metadata, f"{english.stem} cell {a.id}: code cell metadata differs"


@pytest.mark.parametrize("english", LESSONS, ids=lambda p: p.stem)
def test_sync_leaves_no_diff(english):
    path = i18n_sync.translated_path(english, LANG)
    expected = nbformat.writes(i18n_sync.synced(read(english), read(path))) + "\n"
    assert path.read_text(encoding="utf-8") == expected, f"run: python -m course_lib i18n sync {LANG}"


def test_nothing_is_stale_or_untranslated():
    problems = i18n_sync.status(LANG)
    assert not problems, "\n".join(map(str, problems))


def prose_share(text: str) -> float:
    """Chinese characters / (Chinese characters + Latin letters), code spans, code blocks and URLs left out."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`|https?://\S+|\$[^$]*\$", "", text)
    cjk, latin = len(re.findall(r"[\u3400-\u9fff]", text)), len(re.findall(r"[A-Za-z]", text))
    return cjk / max(cjk + latin, 1)


def test_prose_share_counts_what_it_should():
    assert prose_share("小语言模型 `print('hello world')` https://example.com/abc") == 1.0
    assert prose_share("small language model") == 0.0
    assert prose_share("词元（token）") == 2 / 7  # per character: 2 Chinese, 5 Latin


@pytest.mark.parametrize("english", LESSONS, ids=lambda p: p.stem)
def test_chinese_is_most_of_the_prose(english):
    nb = read(i18n_sync.translated_path(english, LANG))
    share = prose_share("\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    assert share >= 0.6, f"{english.stem}: only {share:.0%} of the prose is Chinese"


def test_the_first_cell_keeps_the_title_and_objectives_the_site_reads():
    from course_lib.site import title_and_objectives

    for english in LESSONS:
        title, objectives = title_and_objectives(read(i18n_sync.translated_path(english, LANG)))
        en_title, en_objectives = title_and_objectives(read(english))
        assert title.split(" ")[0] == en_title.split(" ")[0] and re.search(r"[\u4e00-\u9fff]", title), title
        assert len(objectives) == len(en_objectives), english.stem


def test_every_message_the_code_shows_is_in_the_catalogue():
    problems = i18n_sync.message_problems(LANG)
    assert not problems, "\n".join(problems[:20])


def test_message_extraction_finds_calls_titles_and_deferred_marks():
    found = i18n_sync.code_messages()
    assert "Pick an option first." in found  # t("...")
    assert "GitHub Models: retired on 2026-07-30, answers HTTP 410" in found  # N_("...")
    assert "How many parameters does tiny-phi-3.5-mini have?" in found  # @exercise(..., title)
    assert i18n_sync.placeholders("{n:.2f} of {name!r}") == {"n:.2f", "name!r:"}


def test_quizzes_are_translated_with_the_same_answers():
    english = json.loads((DATA_DIR / "quizzes.json").read_text(encoding="utf-8"))
    chinese = json.loads((DATA_DIR / "i18n" / LANG / "quizzes.json").read_text(encoding="utf-8"))
    assert list(chinese) == list(english)
    for lesson, questions in english.items():
        if lesson == "_about":
            continue
        assert len(chinese[lesson]) == len(questions), lesson
        for en, zh in zip(questions, chinese[lesson], strict=True):
            assert zh["answer"] == en["answer"] and len(zh["options"]) == len(en["options"]), en["prompt"]
            for field in (zh["prompt"], zh["explanation"], *zh["options"]):
                # Left as in English only when it is a name or code ("Phi-3-medium", 'dtype=torch.float16, …'): no
                # two English words in a row.
                same = field in (en["prompt"], en["explanation"], *en["options"])
                assert field.strip() and not (same and re.search(r"[A-Za-z]{2,} [a-z]{3,} ", field + " ")), (
                    f"{lesson}: untranslated {field!r}")
            assert re.search(r"[\u4e00-\u9fff]", zh["prompt"] + zh["explanation"]), en["prompt"]


def test_language_follows_course_lang_then_the_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_LANG", raising=False)
    monkeypatch.chdir(LESSONS_DIR / LANG)
    assert i18n.language() == LANG
    monkeypatch.chdir(LESSONS_DIR)
    assert i18n.language() == "en"
    for value, expected in [("zh", LANG), ("zh_CN", LANG), ("EN", "en")]:
        monkeypatch.setenv("COURSE_LANG", value)
        assert i18n.language() == expected
    monkeypatch.setenv("COURSE_LANG", "fr")
    with pytest.warns(UserWarning, match="COURSE_LANG=zh-CN"):
        assert i18n.language() == "en"


def test_errors_quizzes_and_exercises_speak_chinese(chinese, monkeypatch):
    from course_lib.checks import grade
    from course_lib.clients import connect
    from course_lib.errors import MissingKeyError
    from course_lib.quiz import load_quiz

    for name in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_INFERENCE_CREDENTIAL", "AZURE_INFERENCE_ENDPOINT"):
        monkeypatch.setenv(name, "")
    with pytest.raises(MissingKeyError) as err:
        connect("foundry")
    assert "AZURE_OPENAI_ENDPOINT" in str(err.value) and re.search(r"[\u4e00-\u9fff]{4}", str(err.value))

    quiz = load_quiz("01_what_is_an_slm")
    assert re.search(r"[\u4e00-\u9fff]", quiz.title + quiz.questions[0].prompt)
    wrong = next(i for i in range(len(quiz.questions[0].options)) if i != quiz.questions[0].answer)
    feedback = quiz.answer(0, wrong)
    assert feedback.startswith("❌") and quiz.questions[0].explanation.split("。")[0] in feedback

    verdict = str(grade("00-param-count", 1e9))
    assert re.search(r"[\u4e00-\u9fff]{4}", verdict), verdict


def test_the_doctor_speaks_chinese_from_the_cli():
    env = {**os.environ, "COURSE_LANG": LANG}
    out = subprocess.run([sys.executable, "-m", "course_lib", "doctor"], capture_output=True, text=True, env=env,
                         cwd=REPO_ROOT, timeout=120).stdout
    assert i18n.catalogue(LANG)["Course doctor"] in out and "Course doctor" not in out


def test_i18n_status_is_clean_and_says_so():
    done = subprocess.run([sys.executable, "-m", "course_lib", "i18n", "status"], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_status_flags_a_changed_english_cell_and_an_untranslated_one():
    english = read(LESSONS[1])
    translated = i18n_sync.synced(english, read(i18n_sync.translated_path(LESSONS[1], LANG)))
    markdown = next(c for c in english.cells if c.cell_type == "markdown")
    markdown.source += "\n\nA new English sentence."
    english.cells.append(nbformat.v4.new_markdown_cell("A brand-new English cell.", id="brandnew"))
    again = i18n_sync.synced(english, translated)
    new = again.cells[-1]
    assert new.source == "A brand-new English cell." and new.metadata["i18n"]["untranslated"]
    old = next(c for c in again.cells if c.id == markdown.id)
    assert old.metadata["i18n"]["en_sha"] != i18n_sync.source_hash(markdown.source)  # stale: the English moved on


def test_figures_draw_chinese_with_a_cjk_font():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.fonts import installed_cjk_font, use_cjk_font

    if installed_cjk_font() is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs fonts-noto-cjk (.ci/run): no CJK font was found")
        pytest.skip("no CJK font installed here (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk)")
    import matplotlib.pyplot as plt

    assert use_cjk_font()
    fig, ax = plt.subplots()
    ax.set_title("小语言模型的词元")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" when it draws a box
        fig.canvas.draw()
    plt.close(fig)


def test_without_a_cjk_font_the_learner_is_told_what_to_install(monkeypatch):
    from course_lib import fonts

    monkeypatch.setattr(fonts, "installed_cjk_font", lambda: None)
    fonts.use_cjk_font.cache_clear()
    try:
        with pytest.warns(UserWarning, match="fonts-noto-cjk"):
            assert fonts.use_cjk_font() is None
    finally:
        fonts.use_cjk_font.cache_clear()
