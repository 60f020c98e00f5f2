"""Lesson 07's exercises: what images cost in tokens."""

from __future__ import annotations

from course_lib.exercises import exercise
from course_lib.i18n import t

# ---- 🐢 the tokens of a two-image question ---------------------------------------------------------------------------

def two_image_tokens_solution():
    from course_lib.vision import load, messages_for
    from course_lib.vision_data import QUESTIONS

    model, processor = load()
    prompt = processor.apply_chat_template(messages_for(2, QUESTIONS["two_images"]), add_generation_prompt=True)
    return len(processor.tokenizer(prompt, add_special_tokens=False)["input_ids"]) - 2 + 2 * model.config.image_seq_length


@exercise("07-two-image-tokens", "🐢", "How many tokens is the two-image question, image tokens included?",
          solution=two_image_tokens_solution, answer_variable="two_image_tokens")
def check_two_image_tokens(answer):
    from PIL import Image
    from transformers import AutoConfig, AutoProcessor

    from course_lib.models import VISION_MODEL, model_dir
    from course_lib.vision import messages_for
    from course_lib.vision_data import QUESTIONS

    # Reference: the processor run on the prompt and two images, which expands each <image> into its patch tokens
    # (the solution counts the text tokens and adds image_seq_length per image by hand).
    processor = AutoProcessor.from_pretrained(model_dir(VISION_MODEL))  # the shipped one, as the learner's
    per_image = AutoConfig.from_pretrained(model_dir(VISION_MODEL)).image_seq_length
    prompt = processor.apply_chat_template(messages_for(2, QUESTIONS["two_images"]), add_generation_prompt=True)
    images = [Image.new("RGB", (50, 40), "white")] * 2
    truth = len(processor(text=prompt, images=images)["input_ids"][0])
    if not isinstance(answer, int):
        return False, t("give a whole number: the length of the processor's input_ids for that question and two images.")
    if answer == truth:
        return True, t("{truth} tokens, of which {image_tokens} are image tokens: pictures are expensive context.",
                       truth=truth, image_tokens=2 * per_image)
    if answer == truth - 2 * per_image + 2:
        return False, t("that counts each <image> placeholder once: the processor repeats it once per patch.")
    if answer == truth - per_image:
        return False, t("that is one image's worth of image tokens: the question has two images.")
    return False, t("call processor(text=prompt, images=two.images) and take len(...['input_ids'][0]).")


# ---- 🐕 patch tokens ----------------------------------------------------------------------------------------------

def image_tokens(image_size, patch_size):
    return (image_size // patch_size) ** 2


def patches_by_unfold(image_size: int, patch_size: int) -> int:
    """Cut a blank square image into patches with torch's unfold, the patchify step of a ViT, and count them."""
    import torch

    image = torch.zeros(1, 1, image_size, image_size)
    return torch.nn.functional.unfold(image, kernel_size=patch_size, stride=patch_size).shape[-1]


@exercise("07-image-tokens", "🐕", "Write image_tokens(image_size, patch_size) -> patch tokens of a square image",
          solution=image_tokens)
def check_image_tokens(fn):
    # Reference: the patches torch's unfold cuts from a blank image (the solution squares the patches per side).
    if not callable(fn):
        return False, t("pass the function itself: check('07-image-tokens', image_tokens)")
    for size, patch in ((336, 14), (96, 12), (224, 16), (224, 32)):
        got, want = fn(size, patch), patches_by_unfold(size, patch)
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        if got == want:
            continue
        if got == want + 1:
            return False, t("no class token here: count the patches only.")
        if got == size // patch:
            return False, t("that is one row of patches: the image is square, so square it.")
        return False, t("a {size}×{size} image in {patch}×{patch} patches has {want} of them, not {got}.",
                        size=size, patch=patch, want=want, got=got)
    return True, t("336/14 = 24 patches a side, 576 in all: Phi-3-vision then spends 144 tokens per crop.")
