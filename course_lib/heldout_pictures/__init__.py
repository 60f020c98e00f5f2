"""Held-out pictures for the vision model, drawn by code written apart from the course's own generator.

Each painter module exposes ``make_examples(n_per_task, seed) -> list[VisionExample]``, with the same six tasks,
questions and answer vocabulary as ``course_lib.vision_data``, but its own drawing code, colours, layouts and sizes.
"""

from __future__ import annotations

import importlib

# name -> module with make_examples(n_per_task, seed); "course" is the generator the model was trained on
PICTURE_SETS = {
    "course": "course_lib.vision_data",
    "painter-a": "course_lib.heldout_pictures.painter_a",
    "painter-b": "course_lib.heldout_pictures.painter_b",
}


def make_examples(picture_set: str, n_per_task: int, seed: int) -> list:
    """n_per_task pictures of each vision task from one picture set, the same for the same seed."""
    if picture_set not in PICTURE_SETS:
        raise ValueError(f"unknown picture set {picture_set!r}; choose one of: {', '.join(PICTURE_SETS)}")
    return importlib.import_module(PICTURE_SETS[picture_set]).make_examples(n_per_task, seed)
