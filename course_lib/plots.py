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


def plot_runtimes(rows: list[dict]):
    """Lesson 10: decode tokens/s, time to first token, and memory of each runtime, side by side."""
    rows = [r for r in rows if "error" not in r]
    names = [r["runtime"].replace("onnxruntime-genai", "ORT GenAI") for r in rows]
    colors = ["tab:orange" if "ORT" in n else "tab:blue" for n in names]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    panels = [("decode tokens/s (higher is better)", [r["decode_tok_s"] for r in rows], "{:,.0f}"),
              ("time to first token, ms", [r["ttft_ms"] for r in rows], "{:.1f}"),
              ("peak RSS of the process, MB", [r["peak_rss_bytes"] / 1e6 for r in rows], "{:,.0f}")]
    for ax, (title, values, fmt) in zip(axes, panels, strict=True):
        ax.barh(names[::-1], values[::-1], color=colors[::-1])
        for y, v in enumerate(values[::-1]):
            ax.text(v, y, " " + fmt.format(v), va="center", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, max(values) * 1.3)
    for ax in axes[1:]:
        ax.set_yticklabels([])
    fig.tight_layout()
    return fig


def plot_bandwidth_sweep(sweep: dict[float, float], marks: dict[str, float]):
    """Lesson 10: read bandwidth against working-set size, with the weight sizes of some models marked."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sizes = list(sweep)
    ax.plot(sizes, [sweep[s] / 1e9 for s in sizes], "o-")
    for label, megabytes in marks.items():
        ax.axvline(megabytes, color="gray", linestyle="--", linewidth=0.8)
        ax.text(megabytes, ax.get_ylim()[1] * 0.95, " " + label, rotation=90, va="top", fontsize=8)
    ax.set(xscale="log", xlabel="data read, MB (log scale)", ylabel="read bandwidth, GB/s",
           title="Small data is read from the CPU caches, large data from DRAM")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_roofline(ceilings: dict[str, float], anchors: list[dict], bandwidth_gb_s: float):
    """Lesson 10: the decode ceiling of each model at this machine's bandwidth, beside published speeds (log scale)."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    labels = list(ceilings) + [a["name"] for a in anchors]
    ax.barh(range(len(ceilings)), list(ceilings.values()), color="tab:gray", label=f"ceiling at {bandwidth_gb_s:.0f} GB/s")
    for i, v in enumerate(ceilings.values()):
        ax.text(v, i, f"  {v:,.3g}", va="center", fontsize=8)
    for i, a in enumerate(anchors, start=len(ceilings)):
        low, high = a["tokens_per_s"]
        label = "published (cited)" if i == len(ceilings) else None
        if low == high:
            ax.plot([low], [i], "o", color="tab:red", label=label)
        else:
            ax.plot([low, high], [i, i], color="tab:red", linewidth=6, solid_capstyle="butt", label=label)
        ax.text(high * 1.15, i, f"{low:g}" if low == high else f"{low:g}–{high:g}", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel="decode tokens/s at batch 1 (log scale)")
    ax.set_xlim(right=ax.get_xlim()[1] * 10)  # room for the labels of the fastest
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig
