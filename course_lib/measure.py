"""Measure what a model costs to run: seconds per training step, and generated tokens per second.

Both are wall-clock timings on this machine, so they vary from run to run and from laptop to laptop. Compare
numbers measured side by side in one run; don't quote them as absolutes. Generation speed is the median of
a few repetitions after one untimed warm-up, with greedy decoding and a fixed number of new tokens, so
every model does exactly the same amount of work per repetition.
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
def generation_speed(model, tok, prompt: str = "Once upon a time, there was a", new_tokens: int = 32,
                     repeats: int = 3, use_cache: bool = True) -> dict:
    """Greedy-generate exactly `new_tokens` tokens `repeats` times (after one warm-up); report the median speed.

    Returns {"parameters", "tokens_per_second" (median), "runs" (each repetition's tokens/s)}. The end-of-text
    token is not allowed to stop generation early, so an untrained model does the same work as a trained one.
    `use_cache=False` recomputes every earlier token at each step: what the KV cache saves.
    """
    model.eval()
    inputs = tok(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    settings = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False,
                "pad_token_id": tok.pad_token_id, "use_cache": use_cache}
    model.generate(**inputs, **{**settings, "max_new_tokens": 2, "min_new_tokens": 2})  # warm-up, not timed
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = model.generate(**inputs, **settings)
        seconds = time.perf_counter() - start
        runs.append((out.shape[1] - inputs["input_ids"].shape[1]) / seconds)
    return {"parameters": count_parameters(model), "tokens_per_second": statistics.median(runs), "runs": runs}
