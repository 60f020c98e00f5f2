"""The course's figures: losses, next-token bars, runtimes, the roofline, MoE routing. Each takes measured data."""

from __future__ import annotations

import matplotlib.pyplot as plt

from course_lib.fonts import use_cjk_font
from course_lib.i18n import N_, t

use_cjk_font()  # tokens, answers and labels in Chinese must not show as boxes


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
    ax.set(xlabel=t("step"), ylabel=t("cross-entropy loss"), title=title, yscale="log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_build_curves(cards: dict[str, dict], title: str):
    """The loss curves the build cards record (build.json "loss_curves"), one line per model and stage, log-scaled."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, card in cards.items():
        for stage, curve in card.get("loss_curves", {}).items():
            every = curve["every"]
            ax.plot([every * (i + 0.5) for i in range(len(curve["loss"]))], curve["loss"], label=f"{name}: {stage}")
    ax.set(xlabel=t("step"), ylabel=t("cross-entropy loss"), title=title, yscale="log")
    ax.legend(fontsize=7)
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
    ax.set(xlim=(0, 1.1), xlabel=t("probability"), title=title)
    fig.tight_layout()
    return fig


def plot_runtimes(rows: list[dict]):
    """Lesson 10: decode tokens/s, time to first token, and memory of each runtime, side by side."""
    rows = [r for r in rows if "error" not in r]
    names = [r["runtime"].replace("onnxruntime-genai", "ORT GenAI") for r in rows]
    colors = ["tab:orange" if "ORT" in n else "tab:blue" for n in names]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    panels = [(t("decode tokens/s (higher is better)"), [r["decode_tok_s"] for r in rows], "{:,.0f}"),
              (t("time to first token, ms"), [r["ttft_ms"] for r in rows], "{:.1f}"),
              (t("peak RSS of the process, MB"), [r["peak_rss_bytes"] / 1e6 for r in rows], "{:,.0f}")]
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
    ax.set(xscale="log", xlabel=t("data read, MB (log scale)"), ylabel=t("read bandwidth, GB/s"),
           title=t("Small data is read from the CPU caches, large data from DRAM"))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_roofline(ceilings: dict[str, float], anchors: list[dict], bandwidth_gb_s: float):
    """Lesson 10: the decode ceiling of each model at this machine's bandwidth, beside published speeds (log scale)."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    labels = list(ceilings) + [a["name"] for a in anchors]
    ax.barh(range(len(ceilings)), list(ceilings.values()), color="tab:gray",
            label=t("ceiling at {bandwidth:.0f} GB/s", bandwidth=bandwidth_gb_s))
    for i, v in enumerate(ceilings.values()):
        ax.text(v, i, f"  {v:,.3g}", va="center", fontsize=8)
    for i, a in enumerate(anchors, start=len(ceilings)):
        low, high = a["tokens_per_s"]
        label = t("published (cited)") if i == len(ceilings) else None
        if low == high:
            ax.plot([low], [i], "o", color="tab:red", label=label)
        else:
            ax.plot([low, high], [i, i], color="tab:red", linewidth=6, solid_capstyle="butt", label=label)
        ax.text(high * 1.15, i, f"{low:g}" if low == high else f"{low:g}–{high:g}", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel=t("decode tokens/s at batch 1 (log scale)"))
    ax.set_xlim(right=ax.get_xlim()[1] * 10)  # room for the labels of the fastest
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_routing_heatmap(tokens: list[str], probs, chosen, title: str = "Router probabilities per token"):
    """Lesson 08: per layer, experts (rows) x tokens (columns), coloured by router probability; dots mark the chosen."""
    layers, n_tokens, experts = probs.shape
    fig, axes = plt.subplots(layers, 1, figsize=(min(16, 1.2 + 0.42 * n_tokens), 0.2 + 0.75 * experts * layers / 2),
                             sharex=True, squeeze=False)
    for layer, ax in enumerate(axes[:, 0]):
        image = ax.imshow(probs[layer].T, aspect="auto", cmap="Blues", vmin=0, vmax=1)
        for slot, marker in enumerate(("o", ".")):
            ax.scatter(range(n_tokens), chosen[layer, :, slot], marker=marker, s=28 if slot == 0 else 18, color="tab:red",
                       label=[t("1st choice"), t("2nd choice")][slot] if layer == 0 else None)
        ax.set_yticks(range(experts), [t("expert {e}", e=e) for e in range(experts)], fontsize=7)
        ax.set_ylabel(t("layer {layer}", layer=layer), fontsize=8)
    axes[-1, 0].set_xticks(range(n_tokens), [repr(t)[1:-1].replace(" ", "␣") for t in tokens], rotation=90, fontsize=8)
    axes[0, 0].set_title(title, fontsize=10, loc="left")
    axes[0, 0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=7, frameon=False)
    fig.colorbar(image, ax=axes[:, 0], fraction=0.02, pad=0.01, label=t("router probability"))
    return fig


def plot_expert_load(load, title: str = "Expert load", even: float | None = None):
    """Lesson 08: each expert's share of the routing slots, one group of bars per layer; `even` draws a line."""
    layers, experts = load.shape
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / experts
    for e in range(experts):
        ax.bar([layer + (e - (experts - 1) / 2) * width for layer in range(layers)], load[:, e], width,
               label=t("expert {e}", e=e))
    if even is not None:
        ax.axhline(even, color="gray", linestyle="--", linewidth=0.8, label=t("perfectly even"))
    ax.set_xticks(range(layers), [t("layer {layer}", layer=layer) for layer in range(layers)])
    ax.set(ylabel=t("share of routing slots"), title=title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_language_routing(result: dict):
    """Lesson 08: per layer, expert shares of English vs Chinese tokens, with the distance and its shuffled baseline."""
    layers, experts = result["en"].shape
    fig, axes = plt.subplots(1, layers, figsize=(2.6 * layers, 3.0), sharey=True, squeeze=False)
    for layer, ax in enumerate(axes[0]):
        x = range(experts)
        ax.bar([i - 0.2 for i in x], result["en"][layer], 0.4, label=t("English tokens"), color="tab:blue")
        ax.bar([i + 0.2 for i in x], result["zh"][layer], 0.4, label=t("Chinese tokens"), color="tab:orange")
        baseline = float(result["null_tv"][:, layer].quantile(0.95))
        ax.set_title(t("layer {layer}\nTV {tv:.2f} (shuffled: ≤{baseline:.2f})", layer=layer, tv=float(result["tv"][layer]),
                       baseline=baseline), fontsize=9)
        ax.set_xticks(list(x), [f"E{i}" for i in x])
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].set_ylabel(t("share of routing slots"))
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(t("Which experts English and Chinese tokens go to (TV: total variation distance; "
                   "shuffled: 95th percentile with the language labels shuffled)"), fontsize=9)
    fig.tight_layout()
    return fig


LANGUAGE_NAMES = {"en": N_("English"), "zh": N_("Chinese")}


def plot_dense_vs_moe(rows: list[dict]):
    """Lesson 08: parameters (total and active), held-out perplexity per language and decode speed, side by side."""
    names = [r["name"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    panels = [(t("parameters, millions"), {t("total"): [r["total"] / 1e6 for r in rows],
                                           t("active per token"): [r["active"] / 1e6 for r in rows]}, "{:.2f}"),
              (t("held-out perplexity (lower is better)"),
               {t(LANGUAGE_NAMES.get(lang, lang)): [r["perplexity"][lang] for r in rows] for lang in rows[0]["perplexity"]},
               "{:.3f}"),
              (t("decode tokens/s (higher is better)"), {"tokens/s": [r["tokens_per_second"] for r in rows]}, "{:,.0f}")]
    for ax, (title, series, fmt) in zip(axes, panels, strict=True):
        width = 0.8 / len(series)
        for i, (label, values) in enumerate(series.items()):
            xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
            bars = ax.bar(xs, values, width, label=label)
            ax.bar_label(bars, [fmt.format(v) for v in values], fontsize=7)
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.3)  # room above the bars for the values and the legend
        if len(series) > 1:
            ax.legend(fontsize=7, loc="upper center", ncol=len(series), frameon=False)
    fig.tight_layout()
    return fig


def attention_mask(n: int, window: int | None = None):
    """Which earlier tokens each token may attend to: causal (a decoder), or causal within a sliding window."""
    import torch

    i = torch.arange(n)
    allowed = i[None, :] <= i[:, None]
    if window is not None:
        allowed &= i[:, None] - i[None, :] < window
    return allowed


def plot_attention_masks(n: int = 12, window: int = 4):
    """Side by side: full causal attention (GPT, Phi) and sliding-window attention (Mistral 7B), one row per token."""
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 4.2))
    for ax, (title, w) in zip(axes, [(t("decoder-only, causal (GPT, Phi)"), None),
                                    (t("sliding window of {window} (Mistral 7B)", window=window), window)], strict=True):
        mask = attention_mask(n, w)
        ax.imshow(mask.numpy(), cmap="Blues", vmin=0, vmax=1.4)
        ax.set(title=title, xlabel=t("attends to token"), ylabel=t("token"), xticks=range(n), yticks=range(n))
        ax.tick_params(labelsize=7)
        for row in range(n):
            ax.text(n - 0.4, row, f" {int(mask[row].sum())}", va="center", fontsize=7)
    fig.suptitle(t("Which earlier tokens each token sees (the count on the right)"), fontsize=10)
    fig.tight_layout()
    return fig
