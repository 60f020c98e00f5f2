"""Lesson 08's exercises: the router's top-2 choice, and the load-balancing loss."""

from __future__ import annotations

import torch

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐢 top-2 routing -----------------------------------------------------------------------------------------------

def top2(probs):
    order = sorted(range(len(probs)), key=lambda i: probs[i], reverse=True)  # most probable first
    return order[:2]


TOP2_CASES = [[0.1, 0.5, 0.3, 0.1], [0.7, 0.05, 0.05, 0.2], [0.2, 0.3, 0.4, 0.1],
              [0.05, 0.1, 0.02, 0.03, 0.4, 0.2, 0.15, 0.05]]


@exercise("08-top2", "🐢", "Write top2(probs) -> the two experts a token goes to, best first", solution=top2)
def check_top2(fn):
    # Reference: torch.topk, as the router calls it (the solution sorts the indices in Python).
    if not callable(fn):
        return False, t("pass the function itself: check('08-top2', top2)")
    for probs in TOP2_CASES:
        got = fn(list(probs))
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        got = torch.as_tensor(got).tolist()  # a list, a tuple or a tensor will do
        want = torch.topk(torch.tensor(probs), 2).indices.tolist()
        if got == want:
            continue
        if any(isinstance(g, float) for g in got):
            return False, t("return the experts' indices (0, 1, 2, ...), not their probabilities.")
        if len(got) != 2:
            return False, t("a token goes to exactly two experts.")
        if sorted(got) == sorted(want):
            return False, t("right experts, wrong order: put the most probable one first.")
        if got == sorted(range(len(probs)), key=lambda i: probs[i])[:2]:
            return False, t("those are the two least likely experts: take the largest probabilities.")
        return False, t("for probabilities {probs} the two best experts are {want}", probs=probs, want=want)
    return True, t("that is the router's choice in every layer, for every token (torch.topk does it for a whole batch).")


# ---- 🐕 the load-balancing loss ---------------------------------------------------------------------------------------

def balance_loss(logits, top_k):
    tokens, experts = logits.shape
    probs = torch.softmax(logits, dim=-1)
    chosen = probs.topk(top_k, dim=-1).indices
    f = torch.bincount(chosen.flatten(), minlength=experts) / tokens  # times each expert was chosen, per token
    P = probs.mean(dim=0)  # each expert's mean router probability
    return experts * (f * P).sum()


def balance_loss_cases():
    gen = torch.Generator().manual_seed(0)
    for tokens, experts, top_k, scale in ((40, 4, 2, 1.0), (64, 16, 2, 3.0), (25, 8, 1, 2.0)):
        yield torch.randn(tokens, experts, generator=gen) * scale, top_k


@exercise("08-balance-loss", "🐕", "Write balance_loss(logits, top_k) -> the load-balancing loss of one layer",
          solution=balance_loss)
def check_balance_loss(fn):
    from transformers.models.phimoe.modeling_phimoe import load_balancing_loss_func

    # Reference: transformers' load_balancing_loss_func, the term PhimoeForCausalLM adds (the solution computes it by hand).
    if not callable(fn):
        return False, t("pass the function itself: check('08-balance-loss', balance_loss)")
    for logits, top_k in balance_loss_cases():
        tokens, experts = logits.shape
        got = fn(logits.clone(), top_k)
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        got, want = float(got), float(load_balancing_loss_func((logits,), experts, top_k))

        def close(value, target=want):
            return abs(value - target) <= 1e-4 * max(1.0, abs(target))

        if close(got):
            continue
        if close(got * experts):
            return False, t("multiply by the number of experts E: that makes even routing score top_k, whatever E is.")
        if close(got * top_k):
            return False, t("divide the counts by the number of tokens, not by tokens x top_k: the f_i add up to top_k.")
        if close(got / tokens):
            return False, t("f_i is a share: divide each expert's count by the number of tokens.")
        raw = torch.bincount(logits.topk(top_k, dim=-1).indices.flatten(), minlength=experts) / tokens
        if close(got, float(experts * (raw * logits.mean(0)).sum())):
            return False, t("turn the scores into probabilities first, with a softmax over the experts.")
        return False, t("for {tokens} tokens, {experts} experts and top-{top_k}, expected {want:.4f}, got {got:.4f}",
                        tokens=tokens, experts=experts, top_k=top_k, want=want, got=got)
    return True, t("that is the term PhimoeForCausalLM adds to its loss, times router_aux_loss_coef; even routing gives top_k.")
