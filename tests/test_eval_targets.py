"""The shipped course models meet the course's targets on held-out questions and new pictures (python -m course_lib eval),
scored by the one strict scorer (course_lib.scoring). The painters' pictures are measured by `eval` for the README
(results/eval.json); here only the course's own pictures, to keep the suite fast."""

import json
import subprocess
import sys

import pytest

VISION = "tiny-phi-3.5-vision"


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval.json"
    result = subprocess.run([sys.executable, "-m", "course_lib", "eval", "--images", "25", "--picture-sets", "course",
                             "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "tiny-phi-3.5-mini" in result.stdout
    assert (out.parent / "eval_answers.jsonl").exists()
    figures = json.loads(out.read_text())
    return figures["text"] | {VISION: {task: by_set["course"] for task, by_set in figures["vision"].items()}}


def test_multilingual_model_answers_most_heldout_questions_in_both_languages(figures):
    for lang in ("en", "zh"):
        assert figures["tiny-phi-3.5-mini"][lang]["accuracy"] >= 0.70, lang


def test_english_only_model_is_clearly_worse_in_chinese(figures):
    assert figures["tiny-phi-3-mini"]["zh"]["accuracy"] <= 0.10  # it answers Chinese questions in English
    gap = figures["tiny-phi-3.5-mini"]["zh"]["accuracy"] - figures["tiny-phi-3-mini"]["zh"]["accuracy"]
    assert gap >= 0.5
    assert figures["tiny-phi-3-mini"]["zh"]["perplexity"] > 10 * figures["tiny-phi-3.5-mini"]["zh"]["perplexity"]


def test_moe_answers_about_as_well_as_the_dense_model_of_its_active_size(figures):
    for lang in ("en", "zh"):
        moe, dense = figures["tiny-phi-3.5-moe"][lang]["accuracy"], figures["tiny-phi-3.5-mini"][lang]["accuracy"]
        assert moe >= 0.70 and moe >= dense - 0.10, lang


def test_eval_fails_clearly_for_an_unknown_model():
    result = subprocess.run([sys.executable, "-m", "course_lib", "eval", "tiny-phi-9"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "unknown model tiny-phi-9" in result.stderr and "tiny-phi-3.5-mini" in result.stderr  # says which exist


def test_vision_model_meets_its_targets_on_new_pictures(figures):
    from course_lib.vision import TARGETS

    below = {task: acc for task, acc in figures[VISION].items() if acc < TARGETS[task]}
    assert not below, below
