"""Painter A: held-out pictures for the six vision tasks, rasterised with numpy.

What it draws: one shape (colour / shape tasks), one to five separated shapes (count), a vertical bar chart with
lettered bars (chart), a whole number 0-999 (reading) and a pair of one-shape pictures, one of them red (two_images).

How it differs by design: every shape is a numpy coverage mask computed from a signed distance on the pixel grid
(half-plane tests for squares and triangles, anti-aliased over one pixel), never PIL's shape drawing; text uses the
DejaVu TrueType fonts bundled with matplotlib. Triangles point up, down, left, right or at any angle, squares turn
by up to 20 degrees, shapes range from small to nearly filling the picture, sit off-centre or against the edge and
sometimes carry a darker outline. Counts may mix kinds and colours; charts vary bar colours, widths and margins, add
gridlines at times and sometimes make the tallest bar only 10-15% taller than the next; numbers range from small
text to a single digit filling most of the picture's height. Colours, backgrounds and layouts are its own.

Provenance: written apart from course_lib.vision_data by a separate author (a helper session that never read
vision_data, vision or the lesson), from the task list, questions and answer vocabulary alone; not tuned against
the model's results.
"""

import math
import os
from functools import lru_cache

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from course_lib.vision_data import COLORS, QUESTIONS, SHAPES, TASKS, VisionExample

# Hand-picked shades, each one a person names at once; a darker outline is derived from the fill.
PALETTE = {
    "red": [(214, 32, 39), (190, 22, 30), (232, 50, 44), (202, 24, 36)],
    "orange": [(247, 136, 26), (240, 118, 18), (255, 152, 36), (232, 126, 40)],
    "yellow": [(246, 212, 25), (250, 226, 58), (236, 200, 12), (255, 218, 0)],
    "green": [(46, 160, 67), (30, 132, 50), (84, 182, 62), (22, 142, 92)],
    "blue": [(35, 95, 215), (25, 70, 180), (58, 128, 232), (22, 110, 205)],
    "purple": [(136, 54, 180), (110, 40, 152), (160, 82, 205), (122, 46, 165)],
}
assert set(PALETTE) == set(COLORS)
INK = [(20, 20, 20), (45, 45, 60), (18, 32, 96), (96, 22, 22), (22, 72, 34)]  # dark text colours
FONT_DIR = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data/fonts/ttf")
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
         "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"]
SQUASH = 96  # the model sees every picture at 96x96; legibility limits below are stated at that size


@lru_cache(maxsize=512)
def _glyphs(text: str, font: str, size: int) -> np.ndarray:
    """Alpha mask of the text's ink, cropped to its ink box (so placement is exact, whatever the font's bearings)."""
    face = ImageFont.truetype(os.path.join(FONT_DIR, font), size)
    mask = Image.new("L", (size * (len(text) + 2), size * 2), 0)
    ImageDraw.Draw(mask).text((size // 2, size // 4), text, font=face, fill=255)
    return np.asarray(mask.crop(mask.getbbox()), dtype=np.float64) / 255.0


def _size(rng, lo, hi, max_aspect, landscape=False):
    """Width and height; the 96x96 squash distorts by the aspect, so shape pictures stay nearly square."""
    w, aspect = int(rng.integers(lo, hi + 1)), rng.uniform(1.0, max_aspect)
    h = int(np.clip(round(w / aspect if landscape or rng.random() < 0.5 else w * aspect), 40, 200))
    return w, h


def _canvas(rng, w, h):
    """A light, low-saturation background: flat, gradient, grain or a faint stripe/dot texture."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.full((h, w, 3), rng.uniform(228, 250) + rng.uniform(-7, 7, 3))
    style = rng.integers(4)
    if style == 1:
        a = rng.uniform(0, 2 * math.pi)
        img += (((math.cos(a) * xx + math.sin(a) * yy) / max(w, h)) * rng.uniform(-20, 20))[..., None]
    elif style == 2:
        img += rng.normal(0, rng.uniform(2, 5), (h, w, 1))
    elif style == 3:
        a, period = rng.uniform(0, math.pi), rng.uniform(5, 11)
        wave = np.sin((math.cos(a) * xx + math.sin(a) * yy) * 2 * math.pi / period)
        if rng.random() < 0.5:  # dots rather than stripes
            wave = wave * np.sin((-math.sin(a) * xx + math.cos(a) * yy) * 2 * math.pi / period)
        img -= (wave > 0.6)[..., None] * rng.uniform(5, 10)
    return np.clip(img, 205, 255), xx, yy


def _blend(img, alpha, color):
    img += alpha[..., None] * (np.asarray(color, dtype=np.float64) - img)


def _picture(img):
    return Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8), "RGB")


def _geometry(kind, k, angle):
    """Shape parameter from a nominal half-width k (so kinds look alike in size) and its vertices, if any."""
    if kind == "circle":
        return k, np.array([[-k, -k], [k, k]])
    r = 0.88 * k if kind == "square" else 1.18 * k  # square half-side / triangle circumradius
    n, reach, start = (4, r * math.sqrt(2), angle + math.pi / 4) if kind == "square" else (3, r, angle)
    a = start + 2 * math.pi * np.arange(n) / n
    return r, reach * np.stack([np.cos(a), np.sin(a)], axis=1)


def _distance(kind, xx, yy, cx, cy, r, angle):
    """Signed distance in pixels (negative inside): a disc, or the max over the polygon's edge half-planes."""
    x, y = xx - cx, yy - cy
    if kind == "circle":
        return np.hypot(x, y) - r
    n, inner = (4, r) if kind == "square" else (3, r / 2)  # inner = centre-to-edge distance
    base = angle + (0 if kind == "square" else math.pi)  # a triangle's edge normals point away from its vertices
    return np.max([math.cos(base + 2 * math.pi * i / n) * x + math.sin(base + 2 * math.pi * i / n) * y - inner
                   for i in range(n)], axis=0)


def _pose(rng, kind):
    if kind == "square":  # small turns only: at 45 degrees a square reads as a diamond
        return 0.0 if rng.random() < 0.35 else math.radians(rng.uniform(-20, 20))
    if kind == "triangle":  # apex direction; y points down, so -pi/2 is "up"
        return rng.choice([-0.5, 0.5, 0.0, 1.0]) * math.pi if rng.random() < 0.6 else rng.uniform(0, 2 * math.pi)
    return 0.0


def _paint(img, xx, yy, rng, kind, rgb, cx, cy, k, angle, outline):
    r, _ = _geometry(kind, k, angle)
    d = _distance(kind, xx, yy, cx, cy, r, angle)
    if outline:  # a darker rim, thin enough that the fill still names the colour
        _blend(img, np.clip(0.5 - d, 0, 1), tuple(0.55 * c for c in rgb))
        d = d + max(1.2, rng.uniform(0.06, 0.12) * k)
    _blend(img, np.clip(0.5 - d, 0, 1), rgb)


def _one_shape(rng, kind, color):
    """One shape anywhere from small to nearly filling the picture, possibly against the edge."""
    w, h = _size(rng, 56, 176, 1.15)
    img, xx, yy = _canvas(rng, w, h)
    m = min(w, h)
    k = m * rng.uniform(*[(0.12, 0.2), (0.2, 0.32), (0.32, 0.46)][rng.integers(3)])
    angle, margin = _pose(rng, kind), rng.uniform(1, 6)
    _, verts = _geometry(kind, k, angle)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    fit = min(1.0, 0.999 * (w - 2 * margin) / (hi[0] - lo[0]), 0.999 * (h - 2 * margin) / (hi[1] - lo[1]))
    k, lo, hi = k * fit, lo * fit, hi * fit
    cx, cy = rng.uniform(margin - lo[0], w - margin - hi[0]), rng.uniform(margin - lo[1], h - margin - hi[1])
    rgb = PALETTE[color][rng.integers(4)]
    _paint(img, xx, yy, rng, kind, rgb, cx, cy, k, angle, rng.random() < 0.3)
    return _picture(img)


def _count(rng, n):
    """n separated shapes; kinds and colours all alike, mixed colours, or mixed everything."""
    w, h = _size(rng, 72, 180, 1.15)
    img, xx, yy = _canvas(rng, w, h)
    m, mode = min(w, h), rng.integers(3)
    kind0, color0 = SHAPES[rng.integers(3)], list(PALETTE)[rng.integers(6)]
    placed, attempt = [], 0
    while len(placed) < n:  # rejection sampling; shapes shrink every 40 tries if the picture is too crowded
        k, attempt = m * rng.uniform(0.08, 0.15) * 0.8 ** (attempt // 40), attempt + 1
        placed = []
        for _ in range(n):
            cx, cy = rng.uniform(1.25 * k + 1, w - 1.25 * k - 1), rng.uniform(1.25 * k + 1, h - 1.25 * k - 1)
            if all(math.hypot(cx - px, cy - py) > 2.5 * k + 0.05 * m + 3 for px, py in placed):
                placed.append((cx, cy))
    for cx, cy in placed:
        kind = kind0 if mode < 2 else SHAPES[rng.integers(3)]
        rgb = PALETTE[color0 if mode == 0 else list(PALETTE)[rng.integers(6)]][rng.integers(4)]
        ki = k * rng.uniform(0.85, 1.0)  # bounding radius 1.18k keeps every kind inside its slot
        _paint(img, xx, yy, rng, kind, rgb, cx, cy, ki, _pose(rng, kind), rng.random() < 0.25)
    return _picture(img)


def _chart(rng):
    """Bar chart, 3-4 bars lettered below; the tallest is clearly so, sometimes by only 10-15%."""
    w, h = _size(rng, 96, 180, 1.6, landscape=True)
    img, xx, yy = _canvas(rng, w, h)
    n, font = int(rng.integers(3, 5)), FONTS[rng.integers(len(FONTS))]
    top, left, right = rng.uniform(0.05, 0.14) * h, rng.uniform(0.04, 0.14) * w, rng.uniform(0.03, 0.1) * w
    slot = (w - left - right) / n
    # Letters ~10-13 px tall after the squash, yet no wider than 70% of a bar's slot.
    size = round(min(rng.uniform(0.14, 0.18) * max(h, SQUASH), 0.7 * slot / 0.75))
    labels = [_glyphs("ABCD"[i], font, size) for i in range(n)]
    cap = max(g.shape[0] for g in labels)
    base = h - cap - int(rng.integers(4, 9))  # baseline y, leaving room for labels under it
    span = base - top
    if rng.random() < 0.5:  # faint horizontal gridlines behind the bars
        step = span / int(rng.integers(3, 6))
        for j in range(1, int(span / step) + 1):
            img[int(round(base - j * step)), int(left * 0.5):int(w - right * 0.5)] -= 22
    tall = span * rng.uniform(0.8, 1.0)
    win = int(rng.integers(n))
    close = rng.random() < 0.35
    # The next bar is 10-15% shorter, but never by less than 6 px at the 96x96 squash.
    second = min(tall / rng.uniform(1.10, 1.15), tall - 6 * h / SQUASH) if close else tall * rng.uniform(0.4, 0.78)
    heights = list(rng.uniform(0.15, 1.0, n) * second)
    heights[(win + 1 + int(rng.integers(n - 1))) % n], heights[win] = second, tall  # one runner-up, one winner
    frac = rng.uniform(0.45, 0.8)
    same = rng.random() < 0.5  # one colour for all bars, or a different colour per bar
    names = [list(PALETTE)[j] for j in rng.permutation(6)]
    shared = PALETTE[names[0]][rng.integers(4)]
    for i, bh in enumerate(heights):
        x0 = left + slot * (i + (1 - frac) / 2)
        rgb = shared if same else PALETTE[names[i]][rng.integers(4)]
        bar = np.clip(np.minimum(xx - x0 + 0.5, x0 + slot * frac - xx + 0.5), 0, 1)
        bar = bar * np.clip(np.minimum(yy - (base - bh) + 0.5, base - yy), 0, 1)
        _blend(img, bar, rgb)
        g = labels[i]
        x, y = int(round(x0 + slot * frac / 2 - g.shape[1] / 2)), base + (h - base - g.shape[0]) // 2 + 1
        _blend(img[y:y + g.shape[0], x:x + g.shape[1]], g, INK[0])
    img[int(base):int(base) + 2, int(left * 0.5):int(w - right * 0.5)] = 60  # axis baseline
    if rng.random() < 0.5:  # a y axis too
        img[int(top * 0.6):int(base) + 2, int(left * 0.5):int(left * 0.5) + 2] = 60
    return [_picture(img)], "ABCD"[win]


def _reading(rng):
    """A whole number once, small to large; a single digit may fill up to ~80% of the picture's height."""
    value = int(rng.choice([rng.integers(0, 10), rng.integers(10, 100), rng.integers(100, 1000)]))
    text, font = str(value), FONTS[rng.integers(len(FONTS))]
    w, h = _size(rng, 56, 176, 1.5)
    if len(text) == 3 and w < h:  # a three-digit number wants a wide picture
        w, h = h, w
    img, _, _ = _canvas(rng, w, h)
    lo = 12 * h / SQUASH  # ink at least ~12 px tall after the squash
    hi = 0.8 * h if len(text) == 1 else 0.5 * h
    target, margin = rng.uniform(lo, max(lo, hi)), int(rng.integers(2, 8))
    g = _glyphs(text, font, 40)
    scale = min(target / g.shape[0], (w - 2 * margin) / g.shape[1], (h - 2 * margin) / g.shape[0])
    g = _glyphs(text, font, max(8, int(40 * scale)))
    x, y = (int(rng.integers(margin, max(margin, side - margin - g.shape[i]) + 1)) for i, side in ((1, w), (0, h)))
    if rng.random() < 0.3:  # sometimes on a pale plate, like a sign
        pad = max(2, g.shape[0] // 5)
        y0, x0 = max(0, y - pad), max(0, x - pad)
        img[y0:y + g.shape[0] + pad, x0:x + g.shape[1] + pad] = rng.uniform(236, 255, 3)
    _blend(img[y:y + g.shape[0], x:x + g.shape[1]], g, INK[rng.integers(len(INK))])
    return [_picture(img)], text


def make_examples(n_per_task: int, seed: int) -> list[VisionExample]:
    """n_per_task examples of each task in TASKS, the same for the same seed."""
    rng = np.random.default_rng(seed)
    colors, out = list(PALETTE), []
    for task in TASKS:
        for _ in range(n_per_task):
            kind, color = SHAPES[rng.integers(3)], colors[rng.integers(6)]
            if task == "color":
                images, answer = [_one_shape(rng, kind, color)], color
            elif task == "shape":
                images, answer = [_one_shape(rng, kind, color)], kind
            elif task == "count":
                n = int(rng.integers(1, 6))
                images, answer = [_count(rng, n)], str(n)
            elif task in ("chart", "reading"):
                images, answer = _chart(rng) if task == "chart" else _reading(rng)
            else:
                other = [c for c in colors if c != "red"][rng.integers(5)]
                first_red = rng.random() < 0.5
                pair = ["red", other] if first_red else [other, "red"]
                images = [_one_shape(rng, SHAPES[rng.integers(3)], c) for c in pair]
                answer = "first" if first_red else "second"
            out.append(VisionExample(task=task, images=images, question=QUESTIONS[task], answer=answer))
    return out
