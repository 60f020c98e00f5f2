"""The course's mixture of experts: the tiny-phi-3.5-moe config, and what its router does with each token.

``PhimoeForCausalLM`` (Phi-3.5-MoE's class in transformers) replaces each layer's MLP with ``num_local_experts``
smaller MLPs, the *experts*, and a *router*: one linear layer that scores every expert for every token. Each token
goes through its ``num_experts_per_tok`` best-scoring experts only. Everything here reads the router through the
model's own ``output_router_logits=True`` output, so the figures of lesson 08 show what the real class computes:

* ``route``: per token and per layer, the router's probabilities, the chosen experts and the weights applied;
* ``expert_load``: the share of routing slots each expert got over a text;
* ``aux_loss``: the load-balancing loss the model adds to its training loss;
* ``routing_counts`` and ``compare_languages``: do Chinese and English tokens prefer different experts?
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from transformers import PhimoeConfig
from transformers.models.phimoe.modeling_phimoe import load_balancing_loss_func, sparsemixer

# Switch Transformer's value (arXiv 2101.03961), ten times Phi-3.5-MoE's 0.001: a run of under two thousand steps with
# 4 experts has little time to recover from a router that starts to favour a few experts, so balance is pushed harder.
AUX_LOSS_COEF = 0.01
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
LATIN = re.compile(r"[A-Za-z]")


def moe_model_config(tok, hidden_size: int = 256, layers: int = 4, heads: int = 4, experts: int = 4, top_k: int = 2,
                     expert_size: int = 256, max_positions: int = 512) -> PhimoeConfig:
    """tiny-phi-3.5-moe: tiny-phi-3.5-mini's shape with its 512-wide MLP split into experts of 256.

    Two active experts of 256 do the work of one 512-wide MLP, so a token uses as many parameters as in the dense
    model, while the model holds twice the MLP weights.
    """
    return PhimoeConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=expert_size,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=max_positions, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False,  # as the dense course models and Phi-3.5-MoE
        num_local_experts=experts, num_experts_per_tok=top_k,
        output_router_logits=True,  # so training adds router_aux_loss_coef x the load-balancing loss (build.py saves False)
        router_aux_loss_coef=AUX_LOSS_COEF,
        # Not noise: SparseMixer's epsilon. In training, experts scoring within 2 x 0.01 (relative) of the best are
        # sampled among; at inference it only decides which gates share weight. transformers' default, kept.
        router_jitter_noise=0.01,
        input_jitter_noise=0.0,  # no multiplicative noise on the router's input: a short run needs no extra noise
        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )


@dataclass
class Routing:
    """What the router did with one text. Tensors are [layers, tokens, ...]."""

    tokens: list[str]
    probs: torch.Tensor  # [layers, tokens, experts]: softmax of the router's scores over all experts
    chosen: torch.Tensor  # [layers, tokens, top_k]: the experts each token went through, best first
    weights: torch.Tensor  # [layers, tokens, top_k]: what each chosen expert's output was multiplied by


def _router_logits(model, batch: dict) -> torch.Tensor:
    """[layers, batch * sequence, experts]: the router scores of every token, from the model's own output."""
    out = model(**{k: v.to(model.device) for k, v in batch.items()}, output_router_logits=True, use_cache=False)
    return torch.stack(out.router_logits).float().cpu()


@torch.no_grad()
def route(model, tok, text: str) -> Routing:
    """Run `text` through the model once and read its router, layer by layer."""
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    logits = _router_logits(model, {"input_ids": ids})
    cfg = model.config
    # the model's own selection at inference: SparseMixer's top-2 (best, then best of the rest) and its multipliers
    mixed = [sparsemixer(layer, jitter_eps=cfg.router_jitter_noise, training=False, top_k=cfg.num_experts_per_tok)
             for layer in logits]
    return Routing(tokens=[tok.decode([i]) for i in ids[0].tolist()], probs=logits.softmax(-1),
                   chosen=torch.stack([c for _, c in mixed]), weights=torch.stack([w for w, _ in mixed]))


def expert_load(chosen: torch.Tensor, experts: int) -> torch.Tensor:
    """[layers, experts]: each expert's share of the routing slots (tokens x top_k) in each layer; rows sum to 1."""
    counts = torch.nn.functional.one_hot(chosen, experts).sum(dim=(1, 2)).float()
    return counts / counts.sum(-1, keepdim=True)


@torch.no_grad()
def aux_loss(model, tok, texts: list[str], per_layer: bool = False):
    """The load-balancing loss (Switch Transformer's) that training adds, x router_aux_loss_coef, to the loss.

    It is num_experts x sum_i(f_i x P_i): f_i is how often expert i is chosen per token, P_i its mean router
    probability. Perfectly even routing gives top_k; everything on the same top_k experts gives num_experts.
    The model pools all layers' tokens before multiplying; `per_layer=True` gives each layer's own value instead.
    """
    side, tok.padding_side = tok.padding_side, "right"
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    tok.padding_side = side
    batch = {k: v.to(model.device) for k, v in batch.items()}
    out = model(**batch, output_router_logits=True, use_cache=False)
    if not per_layer:
        return float(out.aux_loss)
    cfg = model.config
    return [float(load_balancing_loss_func((layer,), cfg.num_local_experts, cfg.num_experts_per_tok,
                                           batch["attention_mask"])) for layer in out.router_logits]


def token_script(token: str) -> str | None:
    """'zh' for a token with a Chinese character, 'en' for one with a Latin letter, None for digits, spaces, marks."""
    return "zh" if CJK.search(token) else "en" if LATIN.search(token) else None


@torch.no_grad()
def routing_counts(model, tok, docs: list[dict], batch_size: int = 16) -> torch.Tensor:
    """[docs, layers, experts]: how often each expert was chosen for the tokens of each doc's own script.

    `docs` are {"text", "lang"} dicts; an English doc counts its Latin-letter tokens, a Chinese doc its Chinese
    ones, so numbers, spaces and punctuation (shared by both languages) are left out.
    """
    cfg = model.config
    rows = []
    for start in range(0, len(docs), batch_size):
        chunk = docs[start:start + batch_size]
        side, tok.padding_side = tok.padding_side, "right"
        batch = tok([d["text"] for d in chunk], return_tensors="pt", padding=True, truncation=True, max_length=256,
                    add_special_tokens=False)
        tok.padding_side = side
        logits = _router_logits(model, batch)  # [layers, batch * seq, experts]
        chosen = logits.topk(cfg.num_experts_per_tok, dim=-1).indices  # SparseMixer's choice at inference
        chosen = chosen.view(cfg.num_hidden_layers, len(chunk), -1, cfg.num_experts_per_tok)
        for i, doc in enumerate(chunk):
            keep = [j for j, t in enumerate(batch["input_ids"][i].tolist())
                    if batch["attention_mask"][i, j] and token_script(tok.decode([t])) == doc["lang"]]
            hits = torch.nn.functional.one_hot(chosen[:, i, keep], cfg.num_local_experts)
            rows.append(hits.sum(dim=(1, 2)).float())
    return torch.stack(rows)


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Half the summed absolute difference of two distributions (last dim): 0 = same, 1 = no overlap."""
    return 0.5 * (p - q).abs().sum(-1)


def compare_languages(counts: torch.Tensor, langs: list[str], shuffles: int = 500, seed: int = 0) -> dict:
    """Per layer: expert shares of English and Chinese tokens, their total variation distance (TV), and how large
    TV gets when the language labels are shuffled among the documents (the 'no preference' baseline).

    Returns {"en", "zh": [layers, experts] shares; "tv": [layers]; "null_tv": [shuffles, layers]; "p_value": [layers]}.
    """
    is_zh = torch.tensor([lang == "zh" for lang in langs])

    def shares(mask):
        pooled = counts[mask].sum(0)
        return pooled / pooled.sum(-1, keepdim=True)

    tv = total_variation(shares(~is_zh), shares(is_zh))
    gen = torch.Generator().manual_seed(seed)
    null = torch.stack([total_variation(shares(~m), shares(m))
                        for m in (is_zh[torch.randperm(len(langs), generator=gen)] for _ in range(shuffles))])
    p_value = ((null >= tv).sum(0) + 1) / (shuffles + 1)  # the +1s: the observed labelling is one of the orderings
    return {"en": shares(~is_zh), "zh": shares(is_zh), "tv": tv, "null_tv": null, "p_value": p_value}
