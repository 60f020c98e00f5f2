"""Painter B: held-out pictures for the six vision tasks, drawn with matplotlib.

What it draws: single filled shapes (colour, shape, two_images), several non-overlapping shapes (count), vertical
bar charts with A-D tick labels (chart) and one whole number 0-999 (reading), on white, light grey, light tints or
light gradient backgrounds, in pictures of varied sizes (about 64-180 px a side).

How it differs by design: every picture is rendered by matplotlib's Agg backend (a ``Figure`` with its own
``FigureCanvasAgg``, never pyplot), so edges are anti-aliased the matplotlib way and text uses its bundled fonts
(DejaVu Sans, DejaVu Serif, DejaVu Sans Mono, STIXGeneral, sometimes bold). Shapes are turned: triangles point in
any direction, squares are tilted up to about 20 degrees; they come with or without edge lines, off-centre, large
or small. Counting pictures may mix kinds and colours. Charts look like matplotlib plots (spines, ticks, y grids
and y tick labels on or off, one colour or several) and a third of them have a tallest bar only 11-15% taller
than the runner-up. Reading pictures include a single large digit up to ~80% of the picture height as well as
small two- and three-digit numbers, anywhere in the picture.

Provenance: written apart from course_lib.vision_data by a separate author (a helper session that never read
vision_data, vision or the lesson), from the task list, questions and answer vocabulary alone; not tuned against
the model's results.
"""

from __future__ import annotations

import math
import random

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon
from PIL import Image

from course_lib.vision_data import COLORS, QUESTIONS, SHAPES, TASKS, VisionExample

DPI = 100  # one inch = 100 px, so figure sizes in pixels are exact

# Shades a person names without hesitation; pale or borderline tones (tomato, goldenrod, slate blue) left out.
SHADES = {
    "red": ["#d62728", "#e31a1c", "#dc143c", "#cc0000", "#b22222", "#f02020"],
    "orange": ["#ff7f0e", "#ff8c00", "#fb8500", "#f5821f", "#ff9a1f"],
    "yellow": ["#ffd700", "#ffdd00", "#f9d71c", "#ffe135", "#fce205"],
    "green": ["#2ca02c", "#228b22", "#3cb44b", "#32cd32", "#2e8b57", "#1e9e40"],
    "blue": ["#1f77b4", "#4169e1", "#0050d0", "#1e90ff", "#0000cd", "#2353c8"],
    "purple": ["#9467bd", "#7b2cbf", "#9400d3", "#663399", "#8e44ad", "#800080"],
}
assert list(SHADES) == list(COLORS)  # only the names of COLORS are used, never its values
BACKGROUNDS = ["#ffffff", "#ffffff", "#f2f2f2", "#e6e6e6", "#eef3f9", "#f7f3ea", "#f0f5ef", "#f5eff5"]
INKS = ["#000000", "#222222", "#3a3a3a", "#0b2a5b", "#4a1010", "#123d12"]  # dark text, readable on any background
FONTS = ["DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "STIXGeneral"]
DIGIT_HEIGHT = 0.72  # height of a digit glyph as a fraction of the font size (em), about right for all four fonts


def _size(rng: random.Random, lo: int, hi: int, max_aspect: float) -> tuple[int, int]:
    w = rng.randint(lo, hi)
    h = round(w * math.exp(rng.uniform(-math.log(max_aspect), math.log(max_aspect))))
    return w, min(max(h, lo), hi)


def _figure(w: int, h: int) -> tuple[Figure, FigureCanvasAgg]:
    fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI)
    return fig, FigureCanvasAgg(fig)


def _render(fig: Figure, canvas: FigureCanvasAgg) -> Image.Image:
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB")  # a copy: the buffer goes with the figure


def _pixel_canvas(rng: random.Random, w: int, h: int) -> tuple[Figure, FigureCanvasAgg]:
    """A figure drawn on in pixel coordinates (artists with transform=None): no axes, so circles stay round and it
    renders fast. The background is a plain light colour or (one time in four) a soft gradient between two."""
    fig, canvas = _figure(w, h)
    fig.set_facecolor(rng.choice(BACKGROUNDS))
    if rng.random() < 0.25:
        a, b = (np.array(to_rgb(rng.choice(BACKGROUNDS))) for _ in range(2))
        vertical = rng.random() < 0.5
        t = np.linspace(0, 1, h if vertical else w)
        t = t[:, None, None] if vertical else t[None, :, None]
        fig.figimage(np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)), zorder=0)
    return fig, canvas


def _patch(rng: random.Random, kind: str, cx: float, cy: float, r: float, colour: str):
    """A shape that fits in the circle of radius r around (cx, cy), turned at random, with or without an edge."""
    fill = rng.choice(SHADES[colour])
    if rng.random() < 0.5:
        edge = dict(edgecolor="none", linewidth=0)
    else:  # a darker line of the same hue, or near-black: both keep the fill's colour name
        dark = tuple(c * 0.55 for c in to_rgb(fill)) if rng.random() < 0.6 else "#1a1a1a"
        edge = dict(edgecolor=dark, linewidth=rng.uniform(0.8, 2.2))
    if kind == "circle":
        return Circle((cx, cy), r, facecolor=fill, transform=None, zorder=2, **edge)
    if kind == "square":  # tilted by at most ~20 degrees: further turned, a square reads as a diamond
        turn, corners = math.radians(45 + rng.uniform(-20, 20)), 4
    else:  # an equilateral triangle pointing any way
        turn, corners = rng.uniform(0, 2 * math.pi), 3
    pts = [(cx + r * math.cos(turn + 2 * math.pi * k / corners), cy + r * math.sin(turn + 2 * math.pi * k / corners))
           for k in range(corners)]
    return Polygon(pts, closed=True, facecolor=fill, joinstyle="miter", transform=None, zorder=2, **edge)


def _one_shape(rng: random.Random, kind: str, colour: str) -> Image.Image:
    w, h = _size(rng, 64, 170, 1.08)  # near-square: the model's square squash must not turn a circle into an oval
    fig, canvas = _pixel_canvas(rng, w, h)
    side = min(w, h)
    r = side * rng.uniform(0.17, 0.44)
    margin = 0.04 * side
    cx = rng.uniform(r + margin, w - r - margin)
    cy = rng.uniform(r + margin, h - r - margin)
    fig.add_artist(_patch(rng, kind, cx, cy, r, colour))
    return _render(fig, canvas)


def _count(rng: random.Random, n: int) -> Image.Image:
    w, h = _size(rng, 90, 180, 1.3)
    fig, canvas = _pixel_canvas(rng, w, h)
    side = min(w, h)
    same = rng.random() < 0.4  # sometimes one kind and colour throughout, else a mix
    kind0, colour0 = rng.choice(SHAPES), rng.choice(list(SHADES))
    scale = rng.uniform(0.10, 0.20) if n <= 2 else rng.uniform(0.085, 0.15)
    while True:  # place by rejection; shrink and start again when the picture is too crowded
        placed: list[tuple[float, float, float]] = []
        for _ in range(400):
            r = side * scale * rng.uniform(0.8, 1.2)
            if r * 2.4 > side:
                continue
            cx, cy = rng.uniform(r + 3, w - r - 3), rng.uniform(r + 3, h - r - 3)
            gap = max(5.0, 0.05 * side)  # clear space between shapes so no two read as one
            if all(math.hypot(cx - x, cy - y) > r + q + gap for x, y, q in placed):
                placed.append((cx, cy, r))
                if len(placed) == n:
                    break
        if len(placed) == n:
            break
        scale *= 0.9
    for cx, cy, r in placed:
        kind, colour = (kind0, colour0) if same else (rng.choice(SHAPES), rng.choice(list(SHADES)))
        fig.add_artist(_patch(rng, kind, cx, cy, r, colour))
    return _render(fig, canvas)


def _chart(rng: random.Random) -> tuple[Image.Image, str]:
    n = rng.choice([3, 4])
    w, h = _size(rng, 100, 170, 1.4)
    h = min(h, round(1.1 * w))  # charts lean landscape, leaving room for four labels side by side
    top, best = rng.uniform(4, 120), rng.randrange(n)
    if rng.random() < 1 / 3:  # a close race: the runner-up is 11-15% shorter, still plain to see
        runner = rng.choice([i for i in range(n) if i != best])
        heights = [top * rng.uniform(0.2, 0.8) for _ in range(n)]
        heights[runner] = top / rng.uniform(1.11, 1.15)
    else:
        heights = [top * rng.uniform(0.15, 0.75) for _ in range(n)]
    heights[best] = top
    fig, canvas = _figure(w, h)
    fig.set_facecolor(rng.choice(BACKGROUNDS[:5]))
    # The A-D labels stay >= ~8 px tall after the 96x96 squash, and narrower than a bar's slot.
    label_px = min(h * rng.uniform(0.13, 0.16), 0.16 * w * 4 / n)
    y_labels = rng.random() < 0.5
    left = (0.17 * h + 8) / w if y_labels else 0.07 * (h / w) ** 0.5  # room for three-digit y tick labels
    bottom = 1.9 * label_px / h
    ax = fig.add_axes((left, bottom, 1 - left - 0.04, 1 - bottom - 0.05))
    ax.set_facecolor(rng.choice(["none", "#ffffff", "#f4f4f4", "#eaeaf2"]))  # "#eaeaf2": the seaborn-like panel
    if rng.random() < 0.5:
        colours = rng.choice(rng.choice(list(SHADES.values())))
    else:
        colours = [rng.choice(SHADES[c]) for c in rng.sample(list(SHADES), n)]
    edge = rng.choice([dict(), dict(edgecolor="#222222", linewidth=0.8)])
    ax.bar(range(n), heights, width=rng.uniform(0.5, 0.85), color=colours, tick_label=list("ABCD"[:n]), zorder=2, **edge)
    ax.set_ylim(0, top * rng.uniform(1.03, 1.25))
    ax.set_xlim(-0.6, n - 0.4)
    ax.tick_params(axis="x", labelsize=label_px * 72 / DPI, length=rng.choice([0, 3]), pad=2)
    ax.tick_params(axis="y", labelsize=0.075 * h * 72 / DPI, labelleft=y_labels, left=y_labels or rng.random() < 0.3)
    if rng.random() < 0.4:
        ax.grid(axis="y", color=rng.choice(["#cccccc", "#ffffff", "#dddddd"]), linewidth=0.7, zorder=0)
    style = rng.choice(["box", "open", "bottom", "none"])  # matplotlib classic, despined, baseline only, bare
    for name, spine in ax.spines.items():
        spine.set_visible(style == "box" or (style == "open" and name in ("left", "bottom"))
                          or (style == "bottom" and name == "bottom"))
    return _render(fig, canvas), "ABCD"[best]


def _reading(rng: random.Random) -> tuple[Image.Image, str]:
    digits = rng.choices([1, 2, 3], weights=[4, 3, 3])[0]
    value = rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)
    w, h = _size(rng, 64, 170, 1.6)
    fig, canvas = _pixel_canvas(rng, w, h)
    # The digits' height as a fraction of the picture: a lone digit may fill most of it, numbers stay smaller.
    frac = rng.uniform(0.35, 0.80) if digits == 1 else rng.uniform(0.20, 0.55)
    size_pt = frac * h / DIGIT_HEIGHT * 72 / DPI
    style = dict(family=rng.choice(FONTS), weight=rng.choice(["normal", "normal", "bold"]),
                 color=rng.choice(INKS + [SHADES[c][0] for c in ("red", "blue", "green", "purple")]))
    text = fig.text(0, 0, str(value), fontsize=size_pt, ha="left", va="baseline", transform=None, **style)
    width = text.get_window_extent(canvas.get_renderer()).width
    if width > 0.9 * w:  # too wide for the picture: shrink the whole number to fit
        size_pt *= 0.9 * w / width
        text.set_fontsize(size_pt)
        width = text.get_window_extent(canvas.get_renderer()).width
    glyph = DIGIT_HEIGHT * size_pt * DPI / 72
    margin = 0.06 * min(w, h)
    x, y = rng.uniform(margin, max(margin, w - margin - width)), rng.uniform(margin, max(margin, h - margin - glyph))
    text.set_position((x, y))
    return _render(fig, canvas), str(value)


def make_examples(n_per_task: int, seed: int) -> list[VisionExample]:
    """n_per_task examples of each task in TASKS, the same pictures for the same seed."""
    rng = random.Random(seed)
    colours = list(SHADES)
    out: list[VisionExample] = []
    for task in TASKS:
        for _ in range(n_per_task):
            if task == "color":
                answer = rng.choice(colours)
                images = [_one_shape(rng, rng.choice(SHAPES), answer)]
            elif task == "shape":
                answer = rng.choice(SHAPES)
                images = [_one_shape(rng, answer, rng.choice(colours))]
            elif task == "count":
                answer = str(rng.randint(1, 5))
                images = [_count(rng, int(answer))]
            elif task == "chart":
                image, answer = _chart(rng)
                images = [image]
            elif task == "reading":
                image, answer = _reading(rng)
                images = [image]
            else:
                answer = rng.choice(["first", "second"])
                red = _one_shape(rng, rng.choice(SHAPES), "red")
                other = _one_shape(rng, rng.choice(SHAPES), rng.choice([c for c in colours if c != "red"]))
                images = [red, other] if answer == "first" else [other, red]
            out.append(VisionExample(task=task, images=images, question=QUESTIONS[task], answer=answer))
    return out
