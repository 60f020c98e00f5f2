"""The README's tables are the committed results, regenerated: `python -m course_lib report` leaves no diff."""

import copy
import json

import pytest

from course_lib import report
from course_lib.models import COURSE_MODELS, TEXT_MODELS
from course_lib.question_sets import KEPT_ASIDE, QUESTION_SETS
from course_lib.vision_data import TASKS


@pytest.fixture(scope="module")
def results():
    return report.load_results()


def test_published_tables_equal_the_committed_results(results):
    stale = report.stale_files(results)
    assert not stale, f"{', '.join(p.name for p in stale)} out of date: run python -m course_lib report"


def test_every_block_is_filled_somewhere(results):
    texts = [path.read_text(encoding="utf-8") for path in report.PUBLISHED if path.exists()]
    names = [m.group("name") for text in texts for m in report.BLOCK.finditer(text)]
    assert set(names) == set(report.BLOCKS), names
    assert all(m.group("body").strip() for text in texts for m in report.BLOCK.finditer(text))


def test_the_room_sizing_follows_the_load_test(results):
    changed = copy.deepcopy(results)
    changed["loadtest"]["runs"]["continuous batching"]["ttft_s"]["p95"] += 7.0
    for lang in ("en", "zh-CN"):
        assert report.loadtest_block(changed) != report.loadtest_block(results)
        block = report.render("<!-- begin report:loadtest -->\n<!-- end report:loadtest -->", changed, lang)
        assert ("学员" in block) == (lang == "zh-CN")


def test_a_changed_result_changes_the_readme(results):
    readme = report.README.read_text(encoding="utf-8")
    changed = copy.deepcopy(results)
    changed["eval"]["text"]["tiny-phi-3-mini"]["zh"]["sets"]["learners-a"]["accuracy"] += 0.5
    assert report.render(readme, changed) != readme


def test_results_say_where_when_and_with_what(results):
    for name in ("eval", "bench", "durations", "loadtest", "wheelhouse"):
        meta = results[name]["meta"]
        assert meta["date"] and meta["command"].startswith("python -m")
        assert {"torch", "transformers", "python"} <= set(meta["versions"]) and meta["machine"]["cpus"]


def test_eval_results_have_the_published_shape(results):
    ev = results["eval"]
    assert set(ev["text"]) == set(TEXT_MODELS)
    for by_lang in ev["text"].values():
        assert set(by_lang) == {"en", "zh"}
        for r in by_lang.values():  # the held-out wordings and every set written apart but the one still kept aside
            assert r["perplexity"] > 0 and set(r["sets"]) == set(QUESTION_SETS) - set(KEPT_ASIDE)
            assert all({"accuracy", "questions", "same_language"} == set(f) for f in r["sets"].values())
    assert set(ev["vision"]) == set(TASKS)
    assert all(set(by_set) == {"course", "painter-a", "painter-b"} for by_set in ev["vision"].values())
    assert len(results["eval_answers"]) == sum(f["questions"] for by in ev["text"].values() for r in by.values()
                                               for f in r["sets"].values())


def test_bench_results_hold_the_real_width_roofline(results):
    """The benchmark measured a Phi-3-mini-wide slice: its fields, and arithmetic that must agree with itself."""
    w = results["bench"]["real_width"]
    assert {"layers", "decode_tok_s", "bytes_per_token", "bandwidth_gbs", "fraction_of_roofline"} <= set(w)
    assert w["achieved_gbs"] * 1e9 == pytest.approx(w["decode_tok_s"] * w["bytes_per_token"])
    assert w["fraction_of_roofline"] == pytest.approx(w["achieved_gbs"] / w["bandwidth_gbs"])
    assert 0 < w["fraction_of_roofline"] < 1.05 and w["bound"] in ("bandwidth", "compute")
    assert w["peak_builder_rss_bytes"] < 4e9  # the memory budget


def test_the_english_only_model_scores_near_zero_in_chinese(results):
    """It answers Chinese questions in English: not an answer, however right the number in it."""
    for figures in results["eval"]["text"]["tiny-phi-3-mini"]["zh"]["sets"].values():
        assert figures["accuracy"] <= 0.10


def test_durations_cover_every_lesson(results):
    from course_lib.site import lessons

    notebooks = set(results["durations"]["notebooks"])
    assert {p.name for p in lessons()} <= notebooks
    assert {f"zh-CN/{p.name}" for p in lessons("zh-CN")} <= notebooks  # the Chinese edition, run by .ci/run's site step


def test_record_duration_notes_each_lesson_and_whether_it_ran_alone(tmp_path):
    log = tmp_path / "durations.json"
    report.record_duration(report.LESSONS_DIR / "00_setup.ipynb", 12.34, log, alone=False)
    report.record_duration(report.LESSONS_DIR / "10_performance.ipynb", 5, log)
    report.record_duration(report.LESSONS_DIR / "zh-CN" / "10_performance.ipynb", 6, log)
    assert json.loads(log.read_text()) == {"00_setup.ipynb": 12.3, "10_performance.ipynb": 5, "zh-CN/10_performance.ipynb": 6,
                                           "_alone": ["10_performance.ipynb", "zh-CN/10_performance.ipynb"]}


def test_build_block_reads_every_model_card():
    block = report.build_block({})
    assert all(f"`{name}`" in block for name in COURSE_MODELS)
