"""Painter A's held-out pictures: deterministic, well-formed, and each answer checked again from the pixels."""

import colorsys

import numpy as np
import pytest

from course_lib.heldout_pictures.painter_a import make_examples
from course_lib.vision_data import COLORS, QUESTIONS, SHAPES, TASKS

N = 8
VOCAB = {"color": set(COLORS), "shape": set(SHAPES), "count": {"1", "2", "3", "4", "5"}, "chart": set("ABCD"),
         "two_images": {"first", "second"}}
HUES = {"red": (340, 12), "orange": (18, 36), "yellow": (42, 62), "green": (90, 170), "blue": (200, 235),
        "purple": (260, 300)}  # hue ranges in degrees a person names by these words


@pytest.fixture(scope="module")
def examples():
    return make_examples(N, seed=7)


def _ink(image):
    """Pixels that are not the light background: every fill, outline and text is dark in at least one channel."""
    return np.asarray(image).min(axis=2) < 150


def _components(mask):
    """Number of 8-connected blobs, by propagating the smallest label to neighbours until nothing changes."""
    big, (h, w) = mask.size + 1, mask.shape
    lab = np.where(mask, np.arange(mask.size).reshape(mask.shape), big)
    while True:
        p = np.pad(lab, 1, constant_values=big)
        near = [p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        new = np.where(mask, np.minimum.reduce(near), big)
        if (new == lab).all():
            return len(np.unique(lab[mask]))
        lab = new


def _hue(image):
    rgb = np.asarray(image)[_ink(image)].astype(float) / 255
    sat = rgb.max(axis=1) - rgb.min(axis=1)
    r, g, b = np.median(rgb[sat > 0.2], axis=0)  # the fill's colour; thin dark outlines are the minority
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def _in(hue, name):
    lo, hi = HUES[name]
    return lo <= hue <= hi if lo < hi else hue >= lo or hue <= hi


def test_same_seed_same_pictures_and_other_seed_differs(examples):
    again, other = make_examples(N, seed=7), make_examples(N, seed=8)
    assert [e.answer for e in again] == [e.answer for e in examples]
    assert [im.tobytes() for e in again for im in e.images] == [im.tobytes() for e in examples for im in e.images]
    assert [im.tobytes() for e in other for im in e.images] != [im.tobytes() for e in examples for im in e.images]


def test_tasks_questions_answers_and_picture_sizes(examples):
    assert [e.task for e in examples].count("color") == N and {e.task for e in examples} == set(TASKS)
    for e in examples:
        assert sum(x.task == e.task for x in examples) == N
        assert e.question == QUESTIONS[e.task] and e.reply == "" and list(e.digit_boxes) == []
        if e.task == "reading":
            assert e.answer.isdigit() and str(int(e.answer)) == e.answer and 0 <= int(e.answer) <= 999
        else:
            assert e.answer in VOCAB[e.task]
        assert len(e.images) == (2 if e.task == "two_images" else 1)
        for im in e.images:
            w, h = im.size
            assert im.mode == "RGB" and 40 <= w <= 200 and 40 <= h <= 200 and max(w, h) <= 2 * min(w, h)


def test_count_matches_the_separate_blobs(examples):
    for e in examples:
        if e.task == "count":
            assert _components(_ink(e.images[0])) == int(e.answer)
        if e.task in ("color", "shape"):
            assert _components(_ink(e.images[0])) == 1


def test_colour_reads_as_its_name_and_red_is_in_the_right_picture(examples):
    for e in examples:
        if e.task == "color":
            assert _in(_hue(e.images[0]), e.answer), (e.answer, _hue(e.images[0]))
        if e.task == "two_images":
            red = [_in(_hue(im), "red") for im in e.images]
            assert red == ([True, False] if e.answer == "first" else [False, True])


def test_shape_fills_its_circumscribed_circle_as_its_kind_should(examples):
    # Area over the disc through the farthest pixel: circle ~1, square 2/pi ~0.64, triangle ~0.41, at any turn.
    for e in examples:
        if e.task == "shape":
            ys, xs = np.nonzero(_ink(e.images[0]))
            rmax = np.hypot(xs - xs.mean(), ys - ys.mean()).max() + 0.5
            fill = len(xs) / (np.pi * rmax**2)
            expected = {"circle": (0.85, 1.1), "square": (0.52, 0.74), "triangle": (0.3, 0.5)}[e.answer]
            assert expected[0] < fill < expected[1], (e.answer, fill)


def test_tallest_bar_and_number_size(examples):
    for e in examples:
        a = np.asarray(e.images[0]).astype(int)
        if e.task == "chart":  # bars are the saturated columns; labels, axes and gridlines are grey
            tall = ((a.max(axis=2) - a.min(axis=2)) > 90).sum(axis=0)
            runs = np.split(tall, np.flatnonzero(np.diff(tall > 0)) + 1)
            bars = sorted((r.max(), i) for i, r in enumerate(r for r in runs if r.max() > 0))
            assert len(bars) in (3, 4) and "ABCD"[bars[-1][1]] == e.answer
            assert bars[-1][0] >= 1.08 * bars[-2][0] and (bars[-1][0] - bars[-2][0]) * 96 / a.shape[0] >= 5
        if e.task == "reading":  # the number's ink is at least ~10 px tall once squashed to 96x96
            ys = np.nonzero((a.max(axis=2) < 150).any(axis=1))[0]
            assert (ys.max() - ys.min() + 1) * 96 / a.shape[0] >= 10
