"""Lesson 00's exercise: read a course model's size."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t


def parameter_count_solution():
    from course_lib.models import describe

    return describe("tiny-phi-3.5-mini")["parameters"] / 1e6  # in millions


def parameters_on_meta_device(name: str) -> int:
    """The model its config describes, built on the meta device (shapes, no weights) and counted."""
    from transformers import AutoConfig

    from course_lib.family import meta_model
    from course_lib.models import model_dir

    return sum(p.numel() for p in meta_model(AutoConfig.from_pretrained(model_dir(name))).parameters())


@exercise("00-param-count", "🐢", "How many parameters does tiny-phi-3.5-mini have?",
          solution=parameter_count_solution, answer_variable="my_answer")
def check_param_count(answer):
    # Reference: the config's model counted on the meta device (the solution reads the safetensors header via describe).
    truth = parameters_on_meta_device("tiny-phi-3.5-mini") / 1e6
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, t("give a number: the parameter count in millions, e.g. 12.3")
    if abs(answer - truth) <= 0.05 * truth:
        return True, t("it has {truth:.2f} million parameters, about a thousandth of Phi-3.5-mini's 3.8 billion.", truth=truth)
    if abs(answer * 1e6 - truth) <= 0.05 * truth or abs(answer / 1e6 - truth) <= 0.05 * truth:
        return False, t("right number, wrong unit: give it in millions.")
    return False, t("read the 'M params' column of the doctor report, or call describe('tiny-phi-3.5-mini').")
