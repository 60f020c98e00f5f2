"""Lesson 04's exercises: Phi-3.5-mini's size at int4, and the parameters a mixture of experts uses per token."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐢 int4 gigabytes --------------------------------------------------------------------------------------------

def int4_gb_solution():
    from course_lib.family import memory_gb, parameter_counts, phi35_mini_config

    return memory_gb(parameter_counts(phi35_mini_config())["total"], "int4")  # in GB (1e9 bytes)


def phi3_parameters_by_hand(config) -> int:
    """Every weight matrix of a Phi-3 decoder, from the config's sizes (no biases; RMSNorms have one vector each)."""
    hidden, inner, heads, kv_heads = (config.hidden_size, config.intermediate_size, config.num_attention_heads,
                                      config.num_key_value_heads)
    head = hidden // heads
    attention = hidden * (heads + 2 * kv_heads) * head + heads * head * hidden  # qkv_proj, o_proj
    mlp = hidden * 2 * inner + inner * hidden  # gate_up_proj, down_proj
    layer = attention + mlp + 2 * hidden  # and the two RMSNorms
    embeddings = config.vocab_size * hidden * (1 if config.tie_word_embeddings else 2)  # input table and lm_head
    return embeddings + config.num_hidden_layers * layer + hidden  # and the final norm


@exercise("04-int4-gb", "🐢", "How many GB do Phi-3.5-mini's weights take at int4?",
          solution=int4_gb_solution, answer_variable="int4_gb")
def check_int4_gb(answer):
    from course_lib.family import phi35_mini_config

    # Reference: the weights counted by hand from the config (the solution counts them on the meta device).
    params = phi3_parameters_by_hand(phi35_mini_config())
    truth = params * 0.5 / 1e9
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, t("give a number of gigabytes, e.g. 2.5: parameters × bytes per parameter ÷ 1e9.")

    def near(value):
        return abs(answer - value) <= 0.03 * value

    if near(truth) or near(params * 0.5 / 2**30):
        return True, t("{params:,} parameters × half a byte = {truth:.2f} GB ({gib:.2f} GiB): "
                       "small enough for a phone. Real int4 files are a little larger: they also store scales.",
                       params=params, truth=truth, gib=params * 0.5 / 2**30)
    if near(params * 0.5):
        return False, t("right amount, wrong unit: that is bytes; give gigabytes (divide by 1e9).")
    if near(params * 2 / 1e9):
        return False, t("that is fp16 (2 bytes per parameter); int4 stores 4 bits, half a byte, per parameter.")
    if near(params * 4 / 1e9):
        return False, t("that is fp32, or 4 bits counted as 4 bytes: int4 is half a byte per parameter.")
    return False, t("multiply the parameter count you counted above by 0.5 byte and divide by 1e9 (or call memory_gb).")


# ---- 🐕 active parameters of a MoE ----------------------------------------------------------------------------------

def moe_active(config, total):
    per_expert = 3 * config.hidden_size * config.intermediate_size   # gate, up and down projections
    unused = config.num_local_experts - config.num_experts_per_tok   # experts the router did not pick
    return total - config.num_hidden_layers * unused * per_expert


def moe_cases() -> dict:
    from transformers import PhimoeConfig

    from course_lib.family import phi35_moe_config

    tiny = dict(vocab_size=50, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return {"Phi-3.5-MoE": phi35_moe_config(),
            t("a 2-layer model with 4 experts, top-1"): PhimoeConfig(hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                                                                     num_local_experts=4, num_experts_per_tok=1, **tiny),
            t("a 3-layer model with 8 experts, top-2"): PhimoeConfig(hidden_size=32, intermediate_size=40, num_hidden_layers=3,
                                                                     num_local_experts=8, num_experts_per_tok=2, **tiny)}


@exercise("04-moe-active", "🐕", "Write moe_active(config, total): the parameters one token uses", solution=moe_active)
def check_moe_active(fn):
    from course_lib.family import parameter_counts

    # Reference: parameter_counts, which sums the experts' tensors of the model built on the meta device
    # (the solution computes the experts' size from the config).
    if not callable(fn):
        return False, t("pass the function itself: check('04-moe-active', moe_active)")
    cases = moe_cases()
    for name, cfg in cases.items():
        counts = parameter_counts(cfg)
        total, want = counts["total"], counts["active"]
        got = fn(cfg, total)
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        if not isinstance(got, (int, float)):
            return False, t("return a number of parameters, not a {kind}", kind=type(got).__name__)
        layers, experts, k = cfg.num_hidden_layers, cfg.num_local_experts, cfg.num_experts_per_tok
        expert = 3 * cfg.hidden_size * cfg.intermediate_size
        if round(got) == want:
            continue
        if round(got) == total:
            return False, t("a token uses only num_experts_per_tok experts per layer: subtract the others' weights.")
        if round(got) == total - layers * experts * expert:
            return False, t("you removed every expert: the num_experts_per_tok chosen experts are active too.")
        if round(got) == total * k // experts:
            return False, t("only the experts are shared out: attention, embeddings and the router serve every token.")
        if round(got) == total - layers * (experts - k) * 2 * cfg.hidden_size * cfg.intermediate_size:
            return False, t("each expert has three hidden × intermediate matrices: gate, up and down.")
        if round(got) == total - (experts - k) * expert:
            return False, t("every layer has its own experts: multiply by num_hidden_layers.")
        return False, t("for {name} the meta-device count gives {want:,} active parameters, yours gives {got:,}.",
                        name=name, want=want, got=round(got))
    real = parameter_counts(cases["Phi-3.5-MoE"])
    return True, t("Phi-3.5-MoE uses {active:,} of its {total:,} parameters per token "
                   "({share:.0%}): memory pays for the total, compute for the active.",
                   active=real["active"], total=real["total"], share=real["active"] / real["total"])
