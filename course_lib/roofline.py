"""The decode roofline: at batch 1, each new token reads every weight once, so tokens/s <= bandwidth / weight bytes.

`read_bandwidth` measures how fast this machine reads memory (a large tensor summed, so the data cannot sit in
a cache); `bandwidth_sweep` shows that small working sets are read much faster, from the CPU caches, which is
why a few-MB course model can beat the DRAM ceiling while a multi-GB Phi cannot.
"""

from __future__ import annotations

import time

import torch

from course_lib.family import BYTES_PER_PARAMETER


def read_bandwidth(megabytes: int = 512, repeats: int = 5) -> float:
    """Bytes per second read by summing a float32 tensor of `megabytes` (best of `repeats`, after a warm-up)."""
    data = torch.ones(megabytes * 2**20 // 4, dtype=torch.float32)
    data.sum()  # warm-up: pages are touched, threads started
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return data.numel() * 4 / best


def bandwidth_sweep(sizes_mb=(1, 4, 16, 64, 256, 512), repeats: int = 5) -> dict[float, float]:
    """Read bandwidth (bytes/s) for each working-set size in MB: high while it fits in cache, then DRAM speed."""
    return {size: read_bandwidth(size, repeats if size >= 16 else repeats * 4) for size in sizes_mb}


def bytes_per_token(parameters_read: float, precision: str) -> float:
    """Bytes of weights one decode step reads at a precision (ignoring the small KV cache of a short chat)."""
    return parameters_read * BYTES_PER_PARAMETER[precision]


def decode_ceiling(bandwidth: float, parameters_read: float, precision: str) -> float:
    """The roofline: the most tokens per second a memory bandwidth allows at batch 1."""
    return bandwidth / bytes_per_token(parameters_read, precision)


def parameters_read_per_token(config) -> int:
    """Weights a decode step reads for a Phi-3 config: every layer plus the output head, but only one embedding row."""
    from course_lib.family import meta_model

    model = meta_model(config)
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    tied = getattr(config, "tie_word_embeddings", False)
    return total - (0 if tied else embedding)
