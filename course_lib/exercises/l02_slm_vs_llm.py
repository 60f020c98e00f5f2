"""Lesson 02's exercises: what an LLM's weights take in GPUs, and in bytes."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐢 GPUs for GPT-4 ----------------------------------------------------------------------------------------

def llm_gpus_solution():
    import math

    parameters = 1.76e12  # GPT-4: a reported estimate
    gigabytes = parameters * 2 / 1e9  # fp16: 2 bytes per weight
    return math.ceil(gigabytes / 80)  # whole GPUs


# Reference, worked out by hand: 1.76 trillion weights × 2 bytes = 3,520 GB, and 3,520 GB / 80 GB = 44 GPUs exactly.
GPT4_FP16_GIGABYTES = 3_520
GPT4_FP16_GPUS = 44
GPUS_AT_OTHER_PRECISIONS = {88: ("fp32", 4), 22: ("int8", 1), 11: ("int4", 0.5)}  # 7,040, 1,760 and 880 GB over 80 GB


@exercise("02-llm-gpus", "🐢", "How many 80 GB GPUs does it take just to hold GPT-4's estimated weights at fp16?",
          solution=llm_gpus_solution, answer_variable="gpus")
def check_llm_gpus(answer):
    # Reference: the arithmetic done by hand above (the solution computes it with math.ceil).
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, t("give a number of GPUs, e.g. 12")
    if answer == GPT4_FP16_GPUS:
        return True, t("{gigabytes:,} GB of weights need {gpus} GPUs of 80 GB, before the KV cache "
                       "and activations. Phi-3-mini at int4 (1.9 GB) fits in a phone.",
                       gigabytes=GPT4_FP16_GIGABYTES, gpus=GPT4_FP16_GPUS)
    if abs(answer - GPT4_FP16_GIGABYTES) <= 0.02 * GPT4_FP16_GIGABYTES:
        return False, t("that is the memory in GB; now divide by 80 GB per GPU.")
    if answer in GPUS_AT_OTHER_PRECISIONS:
        precision, bytes_per_weight = GPUS_AT_OTHER_PRECISIONS[answer]
        return False, t("that is the count at {precision} ({bytes_per_weight} bytes per weight); fp16 takes 2 bytes.",
                        precision=precision, bytes_per_weight=bytes_per_weight)
    return False, t("memory = parameters × 2 bytes (fp16) ÷ 10**9 = GB; then divide by 80 and round up.")


# ---- 🐕 bytes for any precision ----------------------------------------------------------------------------------

def bytes_needed(parameters, bits):
    return parameters * bits / 8


# (parameters, bits, bytes), the bytes worked out by hand: e.g. 3.8 billion weights at 4 bits, half a byte each, take 1.9 GB.
BYTES_NEEDED_CASES = ((3_800_000_000, 4, 1_900_000_000), (3_800_000_000, 16, 7_600_000_000),
                      (7_300_000_000, 32, 29_200_000_000), (1_000, 8, 1_000), (3, 4, 1.5))


@exercise("02-bytes-needed", "🐕", "Write bytes_needed(parameters, bits): the memory the weights take", solution=bytes_needed)
def check_bytes_needed(fn):
    # Reference: the byte counts written out by hand in BYTES_NEEDED_CASES (the solution computes parameters × bits / 8).
    if not callable(fn):
        return False, t("pass the function itself: check('02-bytes-needed', bytes_needed)")

    def close(value, target):
        return abs(value - target) <= 1e-9 * abs(target)

    for parameters, bits, want in BYTES_NEEDED_CASES:
        result = fn(parameters, bits)
        if result is None:
            return False, t("your function returned None: did you forget `return`?")
        got = float(result)
        if close(got, want):
            continue
        if close(got, want * 8):
            return False, t("that is the number of bits: divide by 8, the bits in a byte.")
        if close(got, want / 1e9) or close(got, want / 2**30):
            return False, t("return bytes, not gigabytes: leave the unit conversion to the caller.")
        if got == parameters * bits // 8:
            return False, t("use / rather than //: {parameters} weights at {bits} bits take {want} bytes.",
                            parameters=parameters, bits=bits, want=want)
        return False, t("{parameters:,} weights at {bits} bits take {want:,.1f} bytes; yours says {got:,.1f}.",
                        parameters=parameters, bits=bits, want=want, got=got)
    return True, t("memory = parameters × bits ÷ 8: 3.8B weights take 15.2 GB at fp32, 7.6 GB at fp16 and 1.9 GB at int4.")
