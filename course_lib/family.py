"""The Phi-3 / Phi-3.5 family: the cited fact table, and the real architectures counted on the meta device.

``data/phi_family.json`` is the single source of the family's published numbers (size, context, benchmarks),
each with its source. The architectures of Phi-3.5-mini-instruct and Phi-3.5-MoE-instruct are rebuilt from the
figures in their ``config.json`` files on the Hugging Face Hub (listed in ``data/sources.md``) and
instantiated on PyTorch's ``meta`` device: every tensor has a shape but no storage, so a 42B-parameter model is
counted in milliseconds, with no memory and no download.
"""

from __future__ import annotations

import html
import json
import textwrap

from course_lib.paths import DATA_DIR

FAMILY_FILE = DATA_DIR / "phi_family.json"
BYTES_PER_PARAMETER = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}
CONFIG_SOURCE = "config.json of microsoft/{} on the Hugging Face Hub"


def load_family() -> dict:
    """The cited fact table: {"models": [...], "others": [...]}, each entry with a "sources" dict."""
    return json.loads(FAMILY_FILE.read_text(encoding="utf-8"))


def find(family: dict, name: str) -> dict:
    """One entry of the fact table by name, e.g. find(family, "Phi-3.5-MoE")."""
    entries = family["models"] + family.get("others", [])
    for entry in entries:
        if entry["name"] == name:
            return entry
    raise KeyError(f"{name!r} is not in data/phi_family.json. Known: {', '.join(e['name'] for e in entries)}.")


def phi35_mini_config():
    """Phi-3.5-mini-instruct's architecture (LongRoPE: 4K original context stretched to 128K)."""
    from transformers import Phi3Config

    return Phi3Config(vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=131072,
                      original_max_position_embeddings=4096, tie_word_embeddings=False)


def phi35_moe_config():
    """Phi-3.5-MoE-instruct's architecture: 16 experts per layer, 2 of them used for each token."""
    from transformers import PhimoeConfig

    return PhimoeConfig(vocab_size=32064, hidden_size=4096, intermediate_size=6400, num_hidden_layers=32,
                        num_attention_heads=32, num_key_value_heads=8, num_local_experts=16, num_experts_per_tok=2,
                        max_position_embeddings=131072, router_aux_loss_coef=0.001, tie_word_embeddings=False)


def meta_model(config):
    """The model a config describes, on the meta device: real module tree and shapes, no weights, no memory."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def parameter_counts(config) -> dict[str, int]:
    """Total parameters, and the ones a token actually uses (for a MoE: all but the unchosen experts' weights)."""
    model = meta_model(config)
    total = sum(p.numel() for p in model.parameters())
    experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    n_experts = getattr(config, "num_local_experts", None) or 1
    top_k = getattr(config, "num_experts_per_tok", None) or n_experts
    unused = experts * (n_experts - top_k) // n_experts
    return {"total": total, "active": total - unused}


def memory_gb(parameters: int, precision: str) -> float:
    """Gigabytes (1e9 bytes) that the weights alone take at fp32, fp16 or int4."""
    return parameters * BYTES_PER_PARAMETER[precision] / 1e9


class Table:
    """A small table that shows as HTML in Jupyter and as aligned text anywhere else (no pandas needed)."""

    def __init__(self, header: list[str], rows: list[list]):
        self.header = [str(h) for h in header]
        self.rows = [["" if cell is None else str(cell) for cell in row] for row in rows]

    def __repr__(self) -> str:
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(len(self.header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in [self.header, ["-" * w for w in widths], *self.rows]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def plot_benchmark_vs_size(family: dict, benchmark: str = "MMLU"):
    """Cited benchmark score against cited size (log scale); a MoE shows both its active and its total size."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    points: dict[tuple[float, float], list[str]] = {}
    cited: dict[str, list[str]] = {}
    for m in family["models"]:
        if benchmark not in m["benchmarks"]:
            continue
        score, total, active = m["benchmarks"][benchmark], m["params_b"], m["active_params_b"]
        source = " and ".join(dict.fromkeys(m["sources"][key] for key in (benchmark, "params_b")))
        cited.setdefault(source, []).append(m["name"])
        if active != total:
            ax.plot([active, total], [score, score], "--", color="tab:red", alpha=0.6)
            ax.scatter([total], [score], s=60, facecolors="white", edgecolors="tab:red", zorder=3)
            ax.scatter([active], [score], s=60, color="tab:red", zorder=3)
            ax.annotate(f"{m['name']}\n{total:g}B total", (total, score), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=8)
            ax.annotate(f"{m['name']}\n{active:g}B active", (active, score), textcoords="offset points",
                        xytext=(0, 8), ha="center", fontsize=8)
        else:
            points.setdefault((total, score), []).append(m["name"])
    for (size, score), names in points.items():
        ax.scatter([size], [score], s=60, color="tab:blue", zorder=3)
        ax.annotate(" / ".join(names) + f"\n{size:g}B", (size, score), textcoords="offset points", xytext=(0, -26),
                    ha="center", fontsize=8)
    ticks = [2, 4, 8, 16, 32, 64]
    ax.set_xscale("log")
    ax.set_xticks(ticks, labels=[f"{t}B" for t in ticks])
    ax.minorticks_off()
    low = min(s for _, s in points) if points else 0
    ax.set(xlim=(2, 80), ylim=(low - 5, 84), xlabel="parameters (log scale); MoE: filled = active, hollow = total",
           ylabel=f"{benchmark} (%)", title=f"Phi-3 / Phi-3.5: {benchmark} against size, as published")
    ax.grid(alpha=0.3)
    caption = ("Sources: " + "; ".join(f"{src} ({', '.join(names)})" for src, names in cited.items())
               + ". Scores as each source reports them, not all measured under identical settings.")
    fig.text(0.01, 0.01, textwrap.fill(caption, 120), fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def phi4_configs(family: dict) -> dict:
    """A Phi3Config per Phi-4 model whose config.json values are recorded and whose class transformers has in core
    (Phi-4, Phi-4-mini): the same meta-device count as for Phi-3.5 then applies."""
    from transformers import Phi3Config

    return {m["name"]: Phi3Config(**m["config"]) for m in family["phi4_family"]
            if m["config"] and m["architecture"] == "Phi3ForCausalLM"}


def kv_cache_bytes_per_token(config, bytes_per_value: int = 2) -> int:
    """What one token adds to the KV cache: a key and a value per layer per KV head (fp16/bf16 by default).
    Grouped-query attention (fewer KV heads than heads) shrinks it."""
    head_dim = config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * bytes_per_value
