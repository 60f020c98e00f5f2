"""Measure what a model costs to run: seconds per training step, and generated tokens per second.

Both are wall-clock timings on this machine, so they vary from run to run and from laptop to laptop. Compare
numbers measured side by side in one run; don't quote them as absolutes. Generation speed is the median of
a few repetitions after one untimed warm-up, with greedy decoding and a fixed number of new tokens, so
every model does exactly the same amount of work per repetition; models compared with each other take turns.
"""

from __future__ import annotations

import statistics
import time

import torch

from course_lib.models import count_parameters
from course_lib.train import TrainConfig, train


def training_speed(model, data, cfg: TrainConfig, pad_id: int = 0, desc: str = "training") -> dict:
    """Train `model` in place with course_lib.train and time it.

    Returns {"parameters", "steps", "seconds", "seconds_per_step", "tokens_per_second", "losses"}. Tokens per
    second is counted for packed pretraining blocks (batch_size x block_size per step); for chat examples it is
    the average number of tokens per batch.
    """
    if isinstance(data, torch.Tensor):
        tokens_per_step = cfg.batch_size * data.shape[1]
    else:
        tokens_per_step = cfg.batch_size * sum(len(ids) for ids, _ in data) / len(data)
    start = time.perf_counter()
    losses = train(model, data, cfg, pad_id=pad_id, desc=desc)
    seconds = time.perf_counter() - start
    return {"parameters": count_parameters(model), "steps": cfg.steps, "seconds": seconds,
            "seconds_per_step": seconds / cfg.steps, "tokens_per_second": tokens_per_step * cfg.steps / seconds,
            "losses": losses}


@torch.no_grad()
def generation_speeds(models: dict, tok, prompt: str = "Once upon a time, there was a", new_tokens: int = 32,
                      repeats: int = 3, use_cache: bool = True) -> dict:
    """Time several models side by side: greedy-generate exactly `new_tokens` tokens, `repeats` rounds (after one
    warm-up each), every round timing each model once, in turn.

    Taking turns means a burst of other work on the machine slows all the models of one round, not one model's
    every run, so their ratios hold better than timing one model after another. Returns {label: {"parameters",
    "tokens_per_second" (median of the rounds), "runs" (each round's tokens/s)}}. The end-of-text token is not
    allowed to stop generation early, so an untrained model does the same work as a trained one.
    `use_cache=False` recomputes every earlier token at each step: what the KV cache saves.
    """
    settings = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False,
                "pad_token_id": tok.pad_token_id, "use_cache": use_cache}
    inputs, runs = {}, {label: [] for label in models}
    for label, model in models.items():
        model.eval()
        inputs[label] = tok(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        model.generate(**inputs[label], **{**settings, "max_new_tokens": 2, "min_new_tokens": 2})  # warm-up, not timed
    for _ in range(repeats):
        for label, model in models.items():
            start = time.perf_counter()
            out = model.generate(**inputs[label], **settings)
            seconds = time.perf_counter() - start
            runs[label].append((out.shape[1] - inputs[label]["input_ids"].shape[1]) / seconds)
    return {label: {"parameters": count_parameters(model), "tokens_per_second": statistics.median(runs[label]),
                    "runs": runs[label]} for label, model in models.items()}


def generation_speed(model, tok, prompt: str = "Once upon a time, there was a", new_tokens: int = 32,
                     repeats: int = 3, use_cache: bool = True) -> dict:
    """One model's generation speed: generation_speeds() with a single model."""
    return generation_speeds({"model": model}, tok, prompt, new_tokens, repeats, use_cache)["model"]
