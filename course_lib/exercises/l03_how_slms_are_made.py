"""Lesson 03's exercises: the labels of supervised fine-tuning, and the share of weights LoRA trains."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐕 masking the prompt ----------------------------------------------------------------------------------

def sft_labels(prompt_ids, answer_ids):
    return [-100] * len(prompt_ids) + list(answer_ids)


# (prompt ids, answer ids, labels), the labels written out by hand: -100 for every prompt position, then the answer.
LABEL_CASES = (([5, 6, 7], [8, 9], [-100, -100, -100, 8, 9]),
               ([1], [2, 3, 4], [-100, 2, 3, 4]),
               ([4, 4], [], [-100, -100]))


@exercise("03-label-mask", "🐕", "Write sft_labels(prompt_ids, answer_ids): mask the prompt with -100", solution=sft_labels)
def check_label_mask(fn):
    # Reference: the labels written out by hand in LABEL_CASES (the solution builds them with list arithmetic).
    for prompt, answer, want in LABEL_CASES:
        result = fn(list(prompt), list(answer))
        if result is None:
            return False, t("your function returned None: did you forget `return`?")
        got = list(result)
        if len(got) != len(want):
            return False, t("labels must be as long as prompt + answer ({want}), got {got}", want=len(want), got=len(got))
        if got[: len(prompt)] != want[: len(prompt)]:
            return False, t("every prompt position must be -100, the value cross-entropy ignores")
        if got != want:
            return False, t("the answer positions must keep their token ids: they are what the model learns")
    return True, t("only the assistant's tokens are targets, so the model learns to answer, not to ask.")


# ---- 🐢 what LoRA trains --------------------------------------------------------------------------------------

LORA_RANK = 8


def lora_share_solution():
    from peft import LoraConfig, get_peft_model

    from course_lib.models import load

    model, tok = load("tiny-phi-3.5-mini")
    lora_config = LoraConfig(r=8, lora_alpha=16, target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"])
    lora = get_peft_model(model, lora_config)
    trainable, total = lora.get_nb_trainable_parameters()
    return trainable / total


def lora_parameters_by_hand(config, rank: int) -> int:
    """LoRA adds A (rank × in) and B (out × rank) to each adapted Linear: rank × (in + out) weights, in every layer."""
    head = config.hidden_size // config.num_attention_heads
    hidden, inner = config.hidden_size, config.intermediate_size
    qkv = (config.num_attention_heads + 2 * config.num_key_value_heads) * head
    shapes = [(hidden, qkv), (config.num_attention_heads * head, hidden),  # qkv_proj, o_proj
              (hidden, 2 * inner), (inner, hidden)]  # gate_up_proj, down_proj
    return config.num_hidden_layers * sum(rank * (n_in + n_out) for n_in, n_out in shapes)


def lora_share_reference() -> float:
    from transformers import AutoConfig

    from course_lib.family import meta_model
    from course_lib.models import model_dir

    config = AutoConfig.from_pretrained(model_dir("tiny-phi-3.5-mini"))
    adapters = lora_parameters_by_hand(config, LORA_RANK)
    return adapters / (sum(p.numel() for p in meta_model(config).parameters()) + adapters)


@exercise("03-lora-share", "🐢", "What fraction of tiny-phi-3.5-mini's weights does LoRA (r=8) train?",
          solution=lora_share_solution, answer_variable="lora_share")
def check_lora_share(answer):
    # Reference: the adapters counted by hand from the config, over the meta-device count plus the adapters
    # (the solution asks peft's get_nb_trainable_parameters).
    truth = lora_share_reference()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, t("give a fraction between 0 and 1: trainable parameters / all parameters")
    if abs(answer - truth) <= 0.1 * truth:
        return True, t("LoRA trains {truth:.1%} of the weights; the rest stay frozen.", truth=truth)
    if abs(answer / 100 - truth) <= 0.1 * truth:
        return False, t("that looks like a percentage: give a fraction (divide by 100).")
    if not 0 < answer < 1:
        return False, t("give a fraction between 0 and 1: trainable parameters / all parameters")
    return False, t("use model.get_nb_trainable_parameters() on the LoRA-wrapped model: (trainable, total).")
