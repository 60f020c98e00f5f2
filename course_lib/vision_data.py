"""Synthetic images for the vision course model: six task families, each a picture, a question and its answer.

Every image is drawn with Pillow from a seeded ``random.Random``. Size, position, scale, turn, colour shade,
background, typeface and the gap between bars all vary, so the model must learn the concept (red, a triangle,
three things, the tallest bar, the digits) rather than one exact picture: the first model, trained on upright
shapes, large-gap charts and one typeface, called turned triangles circles and misread numbers drawn by other code.
The questions are worded exactly as the lesson asks them.
"""

from __future__ import annotations

import colorsys
import math
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLORS = {"red": 0, "orange": 32, "yellow": 56, "green": 120, "blue": 228, "purple": 288}  # hue in degrees
SHAPES = ("circle", "square", "triangle")
QUESTIONS = {
    "color": "What color is the shape?",
    "shape": "What shape is in the image?",
    "count": "How many shapes are there?",
    "chart": "Which bar is the tallest?",
    "reading": "What number is shown?",
    "two_images": "Which image shows a red shape, the first or the second?",
}
TASKS = tuple(QUESTIONS)


@dataclass
class VisionExample:
    task: str
    images: list[Image.Image]
    question: str
    answer: str  # the key: "red", "circle", "3", "B", "407", "first"
    reply: str = field(default="")  # the full training reply, e.g. "The shape is red."
    digit_boxes: list = field(default_factory=list)  # reading: (digit, (x0, y0, x1, y1)) per digit, in pixels


def shade(rng: random.Random, color: str) -> tuple[int, int, int]:
    """A random shade of a named colour: hue within ±10°, strong saturation, a value that keeps it recognisable."""
    hue = (COLORS[color] + rng.uniform(-10, 10)) % 360 / 360
    low_value = {"yellow": 0.8, "orange": 0.8, "red": 0.6}.get(color, 0.45)  # dark yellow is olive, dark red maroon
    r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.7, 1.0), rng.uniform(low_value, 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def background(rng: random.Random) -> tuple[int, int, int]:
    """A light background, far from any shape's colour: near-white, a pale tint of any hue, or light grey."""
    kind = rng.random()
    if kind < 0.5:
        base = rng.randint(215, 255)
        return tuple(min(255, base + rng.randint(-12, 12)) for _ in range(3))
    if kind < 0.8:  # pastel: any hue, little saturation, bright
        r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.05, 0.25), rng.uniform(0.88, 1.0))
        return int(r * 255), int(g * 255), int(b * 255)
    grey = rng.randint(170, 215)
    return grey, grey, grey


def canvas(rng: random.Random, low: int = 48, high: int = 128) -> Image.Image:
    width, height = rng.randint(low, high), rng.randint(low, high)
    if rng.random() < 0.5:  # many pictures are square; the rest have any aspect ratio up to 2:1
        height = width
    height = max(min(height, 2 * width), width // 2)
    return Image.new("RGB", (width, height), background(rng))


OUTLINES = {"square": [(-1, -1), (1, -1), (1, 1), (-1, 1)], "triangle": [(0, -1), (1, 1), (-1, 1)]}


def turn(rng: random.Random) -> float:
    """How far a shape is turned, in degrees: upright a third of the time, otherwise any way at all."""
    return 0.0 if rng.random() < 1 / 3 else rng.uniform(0, 360)


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], fill,
               angle: float = 0.0) -> None:
    """A circle, or a square or triangle turned by `angle` degrees and scaled to fill the box (upright, a triangle
    points up)."""
    if shape == "circle":
        draw.ellipse(box, fill=fill)
        return
    x0, y0, x1, y1 = box
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    points = [(x * cos - y * sin, x * sin + y * cos) for x, y in OUTLINES[shape]]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    scale = (x1 - x0) / max(max(xs) - min(xs), max(ys) - min(ys))
    cx, cy = (x0 + x1) / 2 - (max(xs) + min(xs)) / 2 * scale, (y0 + y1) / 2 - (max(ys) + min(ys)) / 2 * scale
    draw.polygon([(cx + x * scale, cy + y * scale) for x, y in points], fill=fill)


def place(rng: random.Random, size: tuple[int, int], side: float, taken: list) -> tuple | None:
    """A free square box of `side` pixels inside the image, not overlapping earlier boxes (None if none found)."""
    width, height = size
    for _ in range(50):
        x, y = rng.uniform(2, width - side - 2), rng.uniform(2, height - side - 2)
        box = (x, y, x + side, y + side)
        if all(box[2] + 2 < b[0] or b[2] + 2 < box[0] or box[3] + 2 < b[1] or b[3] + 2 < box[1] for b in taken):
            taken.append(box)
            return box
    return None


def one_shape(rng: random.Random, shape: str, color: str) -> Image.Image:
    image = canvas(rng)
    side = rng.uniform(0.35, 0.8) * min(image.size)
    draw_shape(ImageDraw.Draw(image), shape, place(rng, image.size, side, []), shade(rng, color), turn(rng))
    return image


def count_image(rng: random.Random, n: int) -> Image.Image:
    """n shapes of one kind and colour, apart from each other (the canvas is redrawn until all fit)."""
    shape, color = rng.choice(SHAPES), rng.choice(list(COLORS))
    while True:
        image = canvas(rng, 64, 128)
        side, taken = rng.uniform(0.14, 0.26) * min(image.size), []
        boxes = [place(rng, image.size, side, taken) for _ in range(n)]
        if all(boxes):
            draw = ImageDraw.Draw(image)
            for box in boxes:
                draw_shape(draw, shape, box, shade(rng, color), turn(rng))
            return image


MIN_GAP = 0.06  # the tallest bar is at least 6% taller than the next: 3 pixels or more at 96×96, still visible


def chart_image(rng: random.Random) -> tuple[Image.Image, str]:
    """A bar chart of 3 or 4 bars labelled A-D; the tallest is taller than the rest by MIN_GAP or more.

    Where the tallest bar ends varies (anywhere from 55% to 98% of the plot's height), as do the margins, the bar
    width, the label size and the colours: with its top always at one line, the model learned to find the bar that
    touches the line instead of comparing heights, and failed on charts drawn by other code. Half the charts have a
    runner-up within 6-15% of the tallest, which the first model, trained on gaps of 15% or more, misread.
    """
    labels = "ABCD"[:rng.choice((3, 4))]
    heights = [rng.uniform(0.2, 1.0) for _ in labels]
    tallest = rng.randrange(len(labels))
    runner_up = max(h for i, h in enumerate(heights) if i != tallest)
    heights[tallest] = runner_up * (1 + (rng.uniform(MIN_GAP, 0.15) if rng.random() < 0.5 else rng.uniform(0.15, 0.6)))
    image = canvas(rng, 72, 128)
    width, height = image.size
    font_size = max(9, int(height / rng.uniform(8, 11)))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=font_size)
    base = height - font_size - rng.uniform(2, 0.08 * height)  # the axis, with room for the labels below it
    top = base * (1 - rng.uniform(0.55, 0.98))  # where the tallest bar ends
    margin = rng.uniform(2, 0.08 * width)
    slot, bar = (width - 2 * margin) / len(labels), rng.uniform(0.45, 0.8)
    if rng.random() < 0.3:  # light grid lines behind the bars
        for k in range(1, rng.randint(3, 5)):
            y = base - k * (base - top) / 4
            draw.line((margin, y, width - margin, y), fill=(200, 200, 200))
    one_colour = shade(rng, rng.choice(list(COLORS)))
    for i, (label, h) in enumerate(zip(labels, heights, strict=True)):
        color = one_colour if rng.random() < 0.6 else shade(rng, rng.choice(list(COLORS)))
        x0 = margin + i * slot + slot * (1 - bar) / 2
        draw.rectangle((x0, base - h / max(heights) * (base - top), x0 + slot * bar, base), fill=color)
        draw.text((x0 + slot * bar / 2 - font.getlength(label) / 2, base + 1), label, fill=(0, 0, 0), font=font)
    if rng.random() < 0.7:
        draw.line((2, base, width - 2, base), fill=(90, 90, 90))
    return image, labels[tallest]


# Typefaces for numbers: Pillow's own and some matplotlib ships (installed with it everywhere, so offline too).
# Not DejaVu: painter A writes in DejaVu and painter B through matplotlib, whose default it is, so reading on the
# painters' pictures keeps measuring typefaces training never saw.
TYPEFACES = ("STIXGeneral.ttf", "STIXGeneralBol.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf")


@cache
def _typeface_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def typeface(rng: random.Random, size: int) -> ImageFont.FreeTypeFont:
    """Pillow's default font a third of the time, otherwise one of TYPEFACES, at `size` pixels."""
    name = rng.choice((None, None, None) + TYPEFACES)
    return ImageFont.load_default(size=size) if name is None else ImageFont.truetype(str(_typeface_dir() / name), size)


def ink(rng: random.Random) -> tuple[int, int, int]:
    """A dark colour to write with: near-black, or a dark shade of any hue."""
    if rng.random() < 0.6:
        return tuple(rng.randint(0, 40) for _ in range(3))
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.15, 0.45))
    return int(r * 255), int(g * 255), int(b * 255)


def number_image(rng: random.Random, number: int) -> tuple[Image.Image, list]:
    """A number in a dark ink and one of seven typefaces, from small up to filling the picture, somewhere in
    the image; and where each digit is (the encoder's first training stage learns from that).

    The size is relative to the picture: the model sees every picture squashed to 96×96, where text shrunk much
    below 8 pixels is no longer legible. The largest numbers fill nearly the whole picture (the first model, which
    never saw digits above half the picture's height, read large single digits poorly).
    """
    text = str(number)
    while True:
        image = canvas(rng)
        side = min(image.size)
        font = typeface(rng, rng.randint(max(10, int(0.13 * side)), max(11, int(1.1 * side))))
        left, top, right, bottom = ImageDraw.Draw(image).textbbox((0, 0), text, font=font)
        if right - left + 4 < image.width and bottom - top + 4 < image.height:
            break
    x = rng.uniform(2, image.width - (right - left) - 2) - left
    y = rng.uniform(2, image.height - (bottom - top) - 2) - top
    ImageDraw.Draw(image).text((x, y), text, fill=ink(rng), font=font)
    boxes = [(int(digit), (x + font.getlength(text[:i]), y + top, x + font.getbbox(text[:i + 1])[2], y + bottom))
             for i, digit in enumerate(text)]
    return image, boxes


def make_example(rng: random.Random, task: str) -> VisionExample:
    """One example of a task family, with its question, its answer key and a short reply to train on."""
    question = QUESTIONS[task]
    if task == "color":
        color = rng.choice(list(COLORS))
        return VisionExample(task, [one_shape(rng, rng.choice(SHAPES), color)], question, color, f"The shape is {color}.")
    if task == "shape":
        shape = rng.choice(SHAPES)
        return VisionExample(task, [one_shape(rng, shape, rng.choice(list(COLORS)))], question, shape, f"It is a {shape}.")
    if task == "count":
        n = rng.randint(1, 5)
        return VisionExample(task, [count_image(rng, n)], question, str(n),
                             "There is 1 shape." if n == 1 else f"There are {n} shapes.")
    if task == "chart":
        image, letter = chart_image(rng)
        return VisionExample(task, [image], question, letter, f"Bar {letter} is the tallest.")
    if task == "reading":
        digits = rng.choice((1, 2, 3))
        number = rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits - 1)
        image, boxes = number_image(rng, number)
        return VisionExample(task, [image], question, str(number), f"The number is {number}.", boxes)
    if task == "two_images":
        other = rng.choice([c for c in COLORS if c != "red"])
        red_first = rng.random() < 0.5
        red, not_red = (one_shape(rng, rng.choice(SHAPES), c) for c in ("red", other))
        which = "first" if red_first else "second"
        return VisionExample(task, [red, not_red] if red_first else [not_red, red], question, which,
                             f"The {which} image shows a red shape.")
    raise ValueError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def make_examples(n_per_task: int, seed: int, tasks=TASKS) -> list[VisionExample]:
    rng = random.Random(seed)
    return [make_example(rng, task) for _ in range(n_per_task) for task in tasks]

