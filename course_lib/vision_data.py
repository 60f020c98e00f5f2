"""Synthetic images for the vision course model: six task families, each a picture, a question and its answer.

Every image is drawn with Pillow from a seeded ``random.Random``. Size, position, scale, colour shade and
background shade all vary, so the model must learn the concept (red, a triangle, three things, the tallest bar,
the digits) rather than one exact picture. The questions are worded exactly as the lesson asks them.
"""

from __future__ import annotations

import colorsys
import random
from dataclasses import dataclass, field

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
    """A light background: near-white, sometimes slightly tinted."""
    base = rng.randint(215, 255)
    return tuple(min(255, base + rng.randint(-12, 12)) for _ in range(3))


def canvas(rng: random.Random, low: int = 48, high: int = 128) -> Image.Image:
    width, height = rng.randint(low, high), rng.randint(low, high)
    if rng.random() < 0.5:  # many pictures are square; the rest have any aspect ratio up to 2:1
        height = width
    height = max(min(height, 2 * width), width // 2)
    return Image.new("RGB", (width, height), background(rng))


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], fill) -> None:
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)


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
    draw_shape(ImageDraw.Draw(image), shape, place(rng, image.size, side, []), shade(rng, color))
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
                draw_shape(draw, shape, box, shade(rng, color))
            return image


def chart_image(rng: random.Random) -> tuple[Image.Image, str]:
    """A bar chart of 3 or 4 bars labelled A-D; the tallest is clearly taller than the rest.

    Where the tallest bar ends varies (anywhere from 55% to 98% of the plot's height), as do the margins, the bar
    width and the label size: with its top always at one line, the model learned to find the bar that touches the
    line instead of comparing heights, and failed on charts drawn by other code.
    """
    labels = "ABCD"[:rng.choice((3, 4))]
    heights = [rng.uniform(0.2, 0.7) for _ in labels]
    tallest = rng.randrange(len(labels))
    heights[tallest] = max(heights) + rng.uniform(0.12, 0.25)
    image = canvas(rng, 72, 128)
    width, height = image.size
    font_size = max(9, int(height / rng.uniform(8, 11)))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=font_size)
    base = height - font_size - rng.uniform(2, 0.08 * height)  # the axis, with room for the labels below it
    top = base * (1 - rng.uniform(0.55, 0.98))  # where the tallest bar ends
    margin = rng.uniform(2, 0.08 * width)
    slot, bar = (width - 2 * margin) / len(labels), rng.uniform(0.45, 0.8)
    color = shade(rng, rng.choice(list(COLORS)))
    for i, (label, h) in enumerate(zip(labels, heights, strict=True)):
        x0 = margin + i * slot + slot * (1 - bar) / 2
        draw.rectangle((x0, base - h / max(heights) * (base - top), x0 + slot * bar, base), fill=color)
        draw.text((x0 + slot * bar / 2 - font.getlength(label) / 2, base + 1), label, fill=(0, 0, 0), font=font)
    if rng.random() < 0.7:
        draw.line((2, base, width - 2, base), fill=(90, 90, 90))
    return image, labels[tallest]


def number_image(rng: random.Random, number: int) -> tuple[Image.Image, list]:
    """A number in black, in Pillow's default font at a random size, somewhere in the image; and where each digit
    is (the encoder's first training stage learns from that).

    The size is relative to the picture: the model sees every picture squashed to 96×96, where text shrunk much
    below 8 pixels is no longer legible.
    """
    text = str(number)
    while True:
        image = canvas(rng)
        side = min(image.size)
        font = ImageFont.load_default(size=rng.randint(max(10, int(0.13 * side)), max(11, int(0.5 * side))))
        left, top, right, bottom = ImageDraw.Draw(image).textbbox((0, 0), text, font=font)
        if right - left + 4 < image.width and bottom - top + 4 < image.height:
            break
    x = rng.uniform(2, image.width - (right - left) - 2) - left
    y = rng.uniform(2, image.height - (bottom - top) - 2) - top
    ImageDraw.Draw(image).text((x, y), text, fill=tuple(rng.randint(0, 40) for _ in range(3)), font=font)
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

