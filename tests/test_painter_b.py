"""Painter B (matplotlib held-out pictures): deterministic, complete, and inside the model's picture limits."""

import pytest

from course_lib.heldout_pictures.painter_b import make_examples
from course_lib.vision_data import COLORS, QUESTIONS, SHAPES, TASKS

N = 3
VOCAB = {
    "color": set(COLORS),
    "shape": set(SHAPES),
    "count": {str(k) for k in range(1, 6)},
    "chart": set("ABCD"),
    "reading": {str(k) for k in range(1000)},
    "two_images": {"first", "second"},
}


@pytest.fixture(scope="module")
def examples():
    return make_examples(N, seed=11)


def _fingerprint(examples):
    return [(e.task, e.answer, [(im.size, im.tobytes()) for im in e.images]) for e in examples]


def test_same_seed_same_pictures(examples):
    assert _fingerprint(make_examples(N, seed=11)) == _fingerprint(examples)
    assert _fingerprint(make_examples(N, seed=12)) != _fingerprint(examples)


def test_every_task_n_times_with_its_question_and_vocabulary(examples):
    assert [e.task for e in examples] == [t for t in TASKS for _ in range(N)]
    for e in examples:
        assert e.question == QUESTIONS[e.task]
        assert e.answer in VOCAB[e.task], (e.task, e.answer)
        assert e.reply == "" and e.digit_boxes == []


def test_pictures_fit_the_model(examples):
    for e in examples:
        assert len(e.images) == (2 if e.task == "two_images" else 1)
        for im in e.images:
            assert im.mode == "RGB"
            assert 40 <= min(im.size) and max(im.size) <= 200, im.size
            assert max(im.size) / min(im.size) <= 2, im.size
            assert len(set(im.getdata())) > 1  # something is drawn on the background
