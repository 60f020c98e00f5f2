"""The course's figures: loss curves and next-token probability bars. Each takes measured data and returns the figure."""

from __future__ import annotations

import matplotlib.pyplot as plt


def smooth(values: list[float], window: int = 20) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_losses(curves: dict[str, list[float]], title: str = "Training loss", window: int = 20):
    """One line per run (raw steps faint, moving average solid), log-scaled loss."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for label, losses in curves.items():
        (line,) = ax.plot(smooth(losses, window), label=label)
        ax.plot(losses, color=line.get_color(), alpha=0.2, linewidth=0.8)
    ax.set(xlabel="step", ylabel="cross-entropy loss", title=title, yscale="log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_next_tokens(candidates: list[tuple[str, float]], title: str = "Next-token probabilities", ax=None):
    """Horizontal bars of (token, probability), most likely on top; whitespace made visible."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    labels = [repr(t)[1:-1].replace(" ", "␣") or "∅" for t, _ in candidates][::-1]
    probs = [p for _, p in candidates][::-1]
    ax.barh(labels, probs, color="tab:blue")
    for y, p in enumerate(probs):
        ax.text(p, y, f" {p:.2f}", va="center", fontsize=8)
    ax.set(xlim=(0, 1.1), xlabel="probability", title=title)
    fig.tight_layout()
    return fig
