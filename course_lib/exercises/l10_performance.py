"""Lesson 10's exercises: the decode roofline, and decode speed from token arrival times."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐢 the roofline --------------------------------------------------------------------------------------------------

def ceiling(bandwidth, parameters, bits):
    return bandwidth / (parameters * bits / 8)


PRECISION_OF_BITS = {16: "fp16", 8: "int8", 4: "int4"}


@exercise("10-ceiling", "🐢", "Write ceiling(bandwidth, parameters, bits) -> the decode roofline in tokens/s", solution=ceiling)
def check_ceiling(fn):
    from course_lib.roofline import decode_ceiling

    # Reference: course_lib.roofline.decode_ceiling, lesson 10's roofline with its bytes-per-precision table
    # (the solution divides bits by 8 itself and does not call it).
    if not callable(fn):
        return False, t("pass the function itself: check('10-ceiling', ceiling)")
    for bandwidth, parameters, bits in ((100e9, 3.8e9, 16), (50e9, 3.8e9, 4), (20e9, 6.6e9, 8)):
        got = fn(bandwidth, parameters, bits)
        want = decode_ceiling(bandwidth, parameters, PRECISION_OF_BITS[bits])
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        if abs(got - want) <= 1e-6 * want:
            continue
        if abs(got - bandwidth / (parameters * bits)) <= 1e-6 * want:
            return False, t("bits are not bytes: a weight of `bits` bits takes bits / 8 bytes.")
        if abs(got * want - 1) <= 1e-6:
            return False, t("upside down: tokens/s is bandwidth divided by the bytes read per token.")
        return False, t("for {bandwidth:g} GB/s, {parameters:g}B parameters at {bits} bits expect {want:.1f} tokens/s",
                        bandwidth=bandwidth / 1e9, parameters=parameters / 1e9, bits=bits, want=want)
    return True, t("Phi-3-mini at int4 on 50 GB/s: at most about 26 tokens/s, whatever the runtime.")


# ---- 🐕 decode speed -------------------------------------------------------------------------------------------------

def decode_rate(times):
    return (len(times) - 1) / (times[-1] - times[0])


@exercise("10-decode-rate", "🐕", "Write decode_rate(times) -> decode tokens/s from token arrival times", solution=decode_rate)
def check_decode_rate(fn):
    import numpy as np

    # Reference: one over the mean gap between arrivals, with numpy (the solution counts intervals over the span).
    if not callable(fn):
        return False, t("pass the function itself: check('10-decode-rate', decode_rate)")
    cases = ([0.50, 0.52, 0.54, 0.56, 0.58], [1.0, 1.1, 1.3, 1.4], [0.2, 0.25])
    for times in cases:
        got = fn(list(times))
        want = 1 / float(np.mean(np.diff(times)))
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        if abs(got - want) <= 1e-6 * want:
            continue
        if abs(got - len(times) / (times[-1] - times[0])) <= 1e-6 * want:
            return False, t("n arrival times span n - 1 intervals: the first token's time belongs to the prefill.")
        if abs(got - len(times) / times[-1]) <= 1e-6 * want or abs(got - (len(times) - 1) / times[-1]) <= 1e-6 * want:
            return False, t("measure from the first token, not from zero: the time before it is the time to first token.")
        return False, t("for arrival times {times} expect {want:.2f} tokens/s", times=times, want=want)
    return True, t("decode speed leaves out the prefill, which lesson 10 reports as the time to first token.")
