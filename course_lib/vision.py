"""tiny-phi-3.5-vision: the Phi-3-vision design in miniature, trained on the synthetic images of vision_data.

Phi-3-vision = a CLIP ViT-L/14-336 image encoder + a projector + Phi-3-mini. Each 336×336 crop becomes 144
image tokens that sit in the prompt where the image was. The course model is the same design, built from the
transformers classes (``LlavaForConditionalGeneration``): a small CLIP-style ViT reads a 96×96 picture in 8×8
patches (144 image tokens, as many as one Phi-3-vision crop), a two-layer projector maps them into the decoder's
space, and the decoder is
tiny-phi-3.5-mini, with the course tokenizer and chat format. It loads with ``AutoProcessor`` and
``AutoModelForImageTextToText``, and ``transformers serve`` serves it.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import torch

from course_lib.images import check_image_count, open_image
from course_lib.models import VISION_MODEL as NAME
from course_lib.train import IGNORE, TrainConfig, optimizer_step, pad_batch

IMAGE_SIZE, PATCH_SIZE = 96, 8  # a 12×12 grid of patches: 144 image tokens per image, like one Phi-3-vision crop
IMAGE_TOKEN = "<image>"
# Stage 1 is long because a ViT learns digit shapes from scratch slowly (lesson 07 tells the story); the model's
# build.json records how long each stage took where it was built.
ENCODER_TRAIN = TrainConfig(steps=12000, batch_size=64, lr=2e-3, warmup_steps=50, seed=0)  # stage 1: the encoder alone
TRAIN = TrainConfig(steps=4000, batch_size=32, lr=1e-3, warmup_steps=100, seed=0)  # stage 2: projector + decoder
# Harder skills get more practice: colours are learned in a few hundred steps, reading digits takes thousands.
TASK_WEIGHTS = {"color": 1, "shape": 1.5, "count": 2, "chart": 1.5, "reading": 3, "two_images": 1}
# What the course asks of the vision model on every picture set, the painters' included (pictures drawn by code
# written apart from the course's generator).
TARGETS = {"color": 0.95, "shape": 0.95, "count": 0.95, "chart": 0.9, "reading": 0.9, "two_images": 0.95}
DECODER_LR_SCALE = 0.3  # the decoder already speaks; the encoder and projector start from scratch
# On 2 CPU cores the build takes hours: it saves its progress every CHECKPOINT_EVERY steps, and the same command run
# again carries on from there (build/, git-ignored; deleted once the model is saved).
CHECKPOINT_EVERY = 500
CHECKPOINT = Path(__file__).resolve().parent.parent / "build" / f"{NAME}.checkpoint.pt"

# Content parts become the prompt: every image first, as one <image> placeholder each (the processor expands it to
# 144 tokens), then the text, as Phi-3-vision puts <|image_1|> before the question. The order of the parts in a
# request does not matter.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{%- set content = message['content'] -%}"
    "{%- else -%}{%- set ns = namespace(images=[], texts=[]) -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{%- set ns.images = ns.images + ['<image>'] -%}"
    "{%- elif part['type'] == 'text' -%}{%- set ns.texts = ns.texts + [part['text']] -%}{%- endif -%}"
    "{%- endfor -%}{%- set content = (ns.images + ns.texts) | join('\\n') -%}{%- endif -%}"
    "{{ '<|' + message['role'] + '|>\\n' + content + '<|end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}"
)


# ---- the model ------------------------------------------------------------------------------------------

def vision_config(text_config, image_token_id: int):
    from transformers import CLIPVisionConfig, LlavaConfig

    encoder = CLIPVisionConfig(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                               image_size=IMAGE_SIZE, patch_size=PATCH_SIZE, projection_dim=128)
    return LlavaConfig(vision_config=encoder, text_config=text_config, image_token_index=image_token_id,
                       vision_feature_select_strategy="default",  # drop the CLS token: one token per patch
                       vision_feature_layer=-1, image_seq_length=(IMAGE_SIZE // PATCH_SIZE) ** 2,
                       projector_hidden_act="gelu")


def make_processor(tok):
    from transformers import LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    images = CLIPImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, do_center_crop=False,
                                   do_convert_rgb=True)  # any size in, squashed to 96×96, CLIP's normalisation
    tok.chat_template = CHAT_TEMPLATE
    return LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=PATCH_SIZE, image_token=IMAGE_TOKEN,
                          vision_feature_select_strategy="default", num_additional_image_tokens=1,
                          chat_template=CHAT_TEMPLATE)


def new_model(seed: int = 0):
    """The untrained vision model: a fresh encoder and projector, and the trained tiny-phi-3.5-mini as decoder."""
    from transformers import AutoModelForCausalLM, LlavaForConditionalGeneration

    from course_lib.build import shipped_tokenizer
    from course_lib.models import model_dir

    tok = shipped_tokenizer()
    decoder = AutoModelForCausalLM.from_pretrained(model_dir("tiny-phi-3.5-mini"), dtype=torch.float32)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(vision_config(decoder.config, tok.convert_tokens_to_ids(IMAGE_TOKEN)))
    model.model.language_model.load_state_dict(decoder.model.state_dict())
    model.lm_head.load_state_dict(decoder.lm_head.state_dict())
    return model, make_processor(tok)


def messages_for(n_images: int, question: str, answer: str | None = None) -> list[dict]:
    content = [{"type": "image"}] * n_images + [{"type": "text", "text": question}]
    messages = [{"role": "user", "content": content}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def training_batch(processor, examples) -> dict:
    """Prompts with their images; only the answer tokens are learned."""
    tok, rows, images = processor.tokenizer, [], []
    for ex in examples:
        prompt = processor.apply_chat_template(messages_for(len(ex.images), ex.question), add_generation_prompt=True)
        prompt_ids = processor(text=prompt, images=ex.images, return_tensors=None)["input_ids"][0]
        answer_ids = tok(ex.reply + "<|end|>", add_special_tokens=False)["input_ids"]
        rows.append((list(prompt_ids) + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids))
        images += ex.images
    batch = pad_batch(rows, tok.pad_token_id)
    batch["pixel_values"] = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    return batch


# ---- training data: a fresh batch every step ------------------------------------------------------------

class Batches(torch.utils.data.Dataset):
    """Batch `step` of a training stage, drawn from a generator seeded by the step alone: the same batches whether
    they are drawn here or in worker processes (a GPU trains faster than one core can draw pictures)."""

    def __init__(self, make, processor, cfg: TrainConfig, start: int = 0):
        self.make, self.processor, self.cfg, self.start = make, processor, cfg, start

    def __len__(self) -> int:
        return self.cfg.steps - self.start

    def __getitem__(self, i: int) -> dict:
        step = self.start + i  # a resumed stage starts part-way, with the batches it would have had
        rng = random.Random(f"{self.make.__name__} {self.cfg.seed} {step}")
        return self.make(rng, self.processor, self.cfg.batch_size)


def batches(make, processor, cfg: TrainConfig, workers: int = 0, start: int = 0):
    return torch.utils.data.DataLoader(Batches(make, processor, cfg, start), batch_size=None, num_workers=workers,
                                       prefetch_factor=8 if workers else None)


# ---- stage 1: the encoder learns to see, on its own -------------------------------------------------------
# Phi-3-vision's encoder is CLIP, trained on its own on image-caption pairs before it was ever connected to a
# language model. Ours is trained on its own too, on the pictures' labels: attention pooling reads one slot per
# label from the patch tokens (the tokens the language model will later read), and a linear head classifies it.
# Digits also get a label per patch (which digit covers it): read through three pooled slots alone, they were
# learned slowly.

SLOTS = {"color": 6, "shape": 3, "count": 5, "chart": 4, "digit 1": 11, "digit 2": 11, "digit 3": 11}


NO_DIGIT = 10  # the patch label of a patch with no digit centred in it


class EncoderProbe(torch.nn.Module):
    """Labels read from the patch tokens: one learned query per slot, then one linear classifier per slot; and,
    for every patch, which digit is centred in it (if any)."""

    def __init__(self, width: int):
        super().__init__()
        self.queries = torch.nn.Parameter(torch.randn(len(SLOTS), width) * 0.02)
        self.heads = torch.nn.ModuleList(torch.nn.Linear(width, n) for n in SLOTS.values())
        self.patch_head = torch.nn.Linear(width, NO_DIGIT + 1)

    def forward(self, patches: torch.Tensor) -> list[torch.Tensor]:
        weights = torch.softmax(self.queries @ patches.transpose(1, 2) / patches.shape[-1] ** 0.5, dim=-1)
        pooled = weights @ patches  # [batch, slots, width]
        return [head(pooled[:, i]) for i, head in enumerate(self.heads)]


def patch_digit_labels(example, centres_only: bool = False) -> torch.Tensor:
    """One label per patch of a number picture, as the encoder sees it (squashed to IMAGE_SIZE): the digit that
    covers the patch, else NO_DIGIT. A patch holds only a piece of a digit, so every covered patch is labelled:
    more to learn from per picture. With `centres_only`, only the patch at each digit's centre keeps its digit
    (the rest of the digit is IGNORE): reading those left to right reads the number."""
    grid = IMAGE_SIZE // PATCH_SIZE
    width, height = example.images[0].size
    labels = torch.full((grid, grid), NO_DIGIT)
    scale_x, scale_y = IMAGE_SIZE / width / PATCH_SIZE, IMAGE_SIZE / height / PATCH_SIZE  # pixels → patches
    for digit, (x0, y0, x1, y1) in example.digit_boxes:
        labels[int(y0 * scale_y):int(y1 * scale_y) + 1, int(x0 * scale_x):int(x1 * scale_x) + 1] = (
            IGNORE if centres_only else digit)
    if centres_only:
        for digit, (x0, y0, x1, y1) in example.digit_boxes:
            row, col = int((y0 + y1) / 2 * scale_y), int((x0 + x1) / 2 * scale_x)
            labels[min(row, grid - 1), min(col, grid - 1)] = digit
    return labels.flatten()


def encoder_labels(example) -> dict[str, int]:
    """The slots a single-image example labels: its task's answer; a number fills the three digit slots."""
    from course_lib.vision_data import COLORS, SHAPES

    if example.task == "color":
        return {"color": list(COLORS).index(example.answer)}
    if example.task == "shape":
        return {"shape": SHAPES.index(example.answer)}
    if example.task == "count":
        return {"count": int(example.answer) - 1}
    if example.task == "chart":
        return {"chart": "ABCD".index(example.answer)}
    digits = [int(d) for d in example.answer] + [10] * (3 - len(example.answer))  # 10: no digit there
    return {f"digit {i + 1}": d for i, d in enumerate(digits)}


def encoder_batch(rng: random.Random, processor, batch_size: int) -> dict:
    """A stage-1 batch: pictures of the single-image tasks (digits most: they take longest), each slot's label
    (IGNORE where a picture says nothing about that slot) and the per-patch digit labels of the number pictures."""
    from course_lib.vision_data import make_example

    tasks = rng.choices(["color", "shape", "count", "chart", "reading"], weights=[1, 1, 2, 1, 6], k=batch_size)
    examples = [make_example(rng, t) for t in tasks]
    slots = torch.full((batch_size, len(SLOTS)), IGNORE)
    patches = torch.full((batch_size, (IMAGE_SIZE // PATCH_SIZE) ** 2), IGNORE)
    for i, ex in enumerate(examples):
        for slot, label in encoder_labels(ex).items():
            slots[i, list(SLOTS).index(slot)] = label
        if ex.digit_boxes:
            patches[i] = patch_digit_labels(ex)
    pixels = processor.image_processor([ex.images[0] for ex in examples], return_tensors="pt")["pixel_values"]
    return {"pixel_values": pixels, "slot_labels": slots, "patch_labels": patches}


def labelled_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the labelled rows; 0 when a batch labels none (a slot no picture in it has)."""
    total = torch.nn.functional.cross_entropy(logits, target, ignore_index=IGNORE, reduction="sum")
    return total / (target != IGNORE).sum().clamp(min=1)


def pretrain_encoder(model, processor, cfg: TrainConfig = ENCODER_TRAIN, progress: bool = True,
                     callback=None, workers: int = 0, resume: dict | None = None,
                     save=None) -> tuple[list[float], EncoderProbe]:
    """Stage 1: train the vision tower alone to tell colours, shapes, counts, the tallest bar and digits apart.
    Returns the losses and the probe (the slot classifiers), which `probe_accuracy` can score.
    `callback(step, probe)` runs every 500 steps, e.g. to print `probe_accuracy` while it trains.
    `save(progress)` gets this stage's progress every CHECKPOINT_EVERY steps; `resume=progress` (with the model's
    weights of that moment) carries on from it, as if the stage had never stopped."""
    from tqdm.auto import tqdm

    encoder, device = model.model.vision_tower, model.device
    torch.manual_seed(cfg.seed)
    probe = EncoderProbe(encoder.config.hidden_size).to(device)
    params = list(encoder.parameters()) + list(probe.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    losses = []
    if resume:
        probe.load_state_dict(resume["probe"])
        optimizer.load_state_dict(resume["optimizer"])
        losses = list(resume["losses"])
    encoder.train()
    data = tqdm(batches(encoder_batch, processor, cfg, workers, start=len(losses)), desc=f"{NAME}: encoder",
                initial=len(losses), total=cfg.steps, mininterval=1.0, disable=not progress)
    for step, batch in enumerate(data, start=len(losses)):
        batch = {k: v.to(device) for k, v in batch.items()}
        patches = encoder(pixel_values=batch["pixel_values"]).last_hidden_state[:, 1:]  # what the projector reads
        outputs = [probe.patch_head(patches).flatten(0, 1), *probe(patches)]
        targets = [batch["patch_labels"].flatten(), *batch["slot_labels"].T]
        loss = sum(labelled_cross_entropy(out, target) for out, target in zip(outputs, targets, strict=True))
        losses.append(optimizer_step(optimizer, params, loss, step, cfg))
        if save and (step + 1) % CHECKPOINT_EVERY == 0 and step + 1 < cfg.steps:
            save({"probe": probe.state_dict(), "optimizer": optimizer.state_dict(), "losses": losses})
        if callback and (step + 1) % 500 == 0:
            encoder.eval()
            callback(step + 1, probe)
            encoder.train()
    encoder.eval()
    return losses, probe


@torch.no_grad()
def probe_accuracy(model, processor, probe: EncoderProbe, n: int = 200, seed: int = 4321) -> dict[str, float]:
    """Per slot, how often the encoder's patch tokens give the right label on fresh pictures."""
    from course_lib.vision_data import make_example

    rng = random.Random(seed)
    examples = [make_example(rng, t) for t in ("color", "shape", "count", "chart", "reading") for _ in range(n // 5)]
    pixels = processor.image_processor([ex.images[0] for ex in examples], return_tensors="pt")["pixel_values"]
    patches = model.model.vision_tower(pixel_values=pixels.to(model.device)).last_hidden_state[:, 1:]
    logits, patch_guess = [x.cpu() for x in probe(patches)], probe.patch_head(patches).argmax(-1).cpu()
    right, seen = dict.fromkeys([*SLOTS, "digit patches"], 0), dict.fromkeys([*SLOTS, "digit patches"], 0)
    for i, ex in enumerate(examples):
        for slot, label in encoder_labels(ex).items():
            seen[slot] += 1
            right[slot] += int(logits[list(SLOTS).index(slot)][i].argmax()) == label
        if ex.digit_boxes:  # the centre patch of every digit names that digit
            labels = patch_digit_labels(ex, centres_only=True)
            centres = (labels != NO_DIGIT) & (labels != IGNORE)
            seen["digit patches"] += int(centres.sum())
            right["digit patches"] += int((patch_guess[i][centres] == labels[centres]).sum())
    return {slot: right[slot] / seen[slot] for slot in seen if seen[slot]}


def answer_loss(model, batch) -> torch.Tensor:
    """Cross-entropy on the answer tokens only. The output head runs only where a label is learned: over a
    2,503-token vocabulary, logits for every image and prompt position would be a large share of the step."""
    hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         pixel_values=batch["pixel_values"]).last_hidden_state
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE
    logits = model.lm_head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), labels[keep])


def vision_batch(rng: random.Random, processor, batch_size: int) -> dict:
    """A stage-2 batch: either single-image tasks, mixed, or only two-image examples (mixing both would pad every
    single-image prompt to the length of a two-image one)."""
    from course_lib.vision_data import TASKS, make_example

    single = [t for t in TASKS if t != "two_images"]
    if rng.random() < TASK_WEIGHTS["two_images"] / sum(TASK_WEIGHTS.values()):
        tasks = ["two_images"] * batch_size
    else:
        tasks = rng.choices(single, weights=[TASK_WEIGHTS[t] for t in single], k=batch_size)
    return training_batch(processor, [make_example(rng, task) for task in tasks])


def train_vision(model, processor, cfg: TrainConfig = TRAIN, progress: bool = True, callback=None,
                 train_encoder: bool = False, workers: int = 0, resume: dict | None = None, save=None) -> list[float]:
    """Stage 2: train on fresh synthetic examples every step (the generator never runs out).

    The encoder stays frozen unless `train_encoder` (LLaVA freezes it too): only the projector and the decoder
    learn, and no gradient has to flow back through the ViT. `save` and `resume` work as in `pretrain_encoder`.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    model.model.vision_tower.requires_grad_(train_encoder)
    decoder = {id(p) for p in model.model.language_model.parameters()} | {id(p) for p in model.lm_head.parameters()}
    trained = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trained if id(p) not in decoder], "scale": 1.0},
              {"params": [p for p in trained if id(p) in decoder], "scale": DECODER_LR_SCALE}]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    model.train()
    losses = []
    if resume:
        optimizer.load_state_dict(resume["optimizer"])
        losses = list(resume["losses"])
    bar = tqdm(batches(vision_batch, processor, cfg, workers, start=len(losses)), desc=f"{NAME}: train",
               initial=len(losses), total=cfg.steps, mininterval=1.0, disable=not progress)
    for step, batch in enumerate(bar, start=len(losses)):
        batch = {k: v.to(model.device) for k, v in batch.items()}
        losses.append(optimizer_step(optimizer, trained, answer_loss(model, batch), step, cfg))
        if save and (step + 1) % CHECKPOINT_EVERY == 0 and step + 1 < cfg.steps:
            save({"optimizer": optimizer.state_dict(), "losses": losses})
        if step % 10 == 0:
            bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
        if callback and (step + 1) % 500 == 0:  # e.g. a held-out check while it trains
            model.eval()
            callback(step + 1, model)
            model.train()
    model.eval()
    model.model.vision_tower.requires_grad_(True)
    return losses


# ---- asking it ----------------------------------------------------------------------------------------------

def load():
    """The shipped vision model and its processor, with the plain Auto classes."""
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.utils import logging

    from course_lib.models import model_dir

    logging.disable_progress_bar()  # a bar for loading 102 small tensors is noise in a lesson
    folder = model_dir(NAME)
    return (AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).eval(),
            AutoProcessor.from_pretrained(folder))


@torch.no_grad()
def ask(model, processor, images, question: str, max_new_tokens: int = 16) -> str:
    """Greedy answer to a question about one or more images (PIL images, bytes, or paths)."""
    from course_lib.tokenizer import stop_token_ids

    images = [open_image(i) for i in (images if isinstance(images, (list, tuple)) else [images])]
    check_image_count(len(images), model.config)
    prompt = processor.apply_chat_template(messages_for(len(images), question), add_generation_prompt=True)
    inputs = processor(text=prompt, images=images, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                         eos_token_id=stop_token_ids(processor.tokenizer), pad_token_id=processor.tokenizer.pad_token_id)
    return processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


@torch.no_grad()
def ask_batch(model, processor, questions, max_new_tokens: int = 16) -> list[str]:
    """Greedy answers to several (images, question) pairs in one left-padded batch: what ask() gives for each, in a
    fraction of the time (a tiny model's decoding is mostly per-step overhead, which a batch shares)."""
    from course_lib.tokenizer import stop_token_ids

    tok, prompts, pictures = processor.tokenizer, [], []
    for images, question in questions:
        images = [open_image(i) for i in (images if isinstance(images, (list, tuple)) else [images])]
        check_image_count(len(images), model.config)
        pictures += images
        prompts.append(processor.apply_chat_template(messages_for(len(images), question), add_generation_prompt=True))
    side, tok.padding_side = tok.padding_side, "left"  # generation continues at the right edge, so pad on the left
    try:
        inputs = processor(text=prompts, images=pictures, return_tensors="pt", padding=True)
    finally:
        tok.padding_side = side
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop_token_ids(tok),
                         pad_token_id=tok.pad_token_id)
    return [tok.decode(row, skip_special_tokens=True).strip() for row in out[:, inputs["input_ids"].shape[1]:]]


def evaluate(model, processor, n_per_task: int = 50, seed: int = 12345, picture_set: str = "course") -> dict[str, float]:
    """Accuracy per task on freshly drawn pictures: the course's generator with a seed training never used, or a
    painter written apart from it (course_lib.heldout_pictures), scored by course_lib.scoring."""
    from course_lib.heldout_pictures import make_examples
    from course_lib.scoring import vision_correct
    from course_lib.vision_data import TASKS

    right, examples = dict.fromkeys(TASKS, 0), make_examples(picture_set, n_per_task, seed)
    for start in range(0, len(examples), 16):
        chunk = examples[start:start + 16]
        for ex, reply in zip(chunk, ask_batch(model, processor, [(ex.images, ex.question) for ex in chunk]), strict=True):
            right[ex.task] += vision_correct(ex, reply)
    return {task: right[task] / n_per_task for task in TASKS}


TURNS = (0, 90, 180, 270)  # degrees, anticlockwise


def turned_triangles(model, processor, n: int = 20, seed: int = 11) -> dict[int, list[tuple]]:
    """Triangles pointing up, as the course's training pictures drew every one before they learned to turn shapes,
    then turned a quarter, a half and three quarters of a turn: {turn: [(image, reply, right), ...]}, the same
    pictures for every model. A model that learned *upright* triangles calls the turned ones something else."""
    from PIL import ImageDraw

    from course_lib.scoring import vision_correct
    from course_lib.vision_data import COLORS, QUESTIONS, VisionExample, canvas, draw_shape, place, shade

    rng, upright = random.Random(seed), []
    for _ in range(n):
        image = canvas(rng)
        box = place(rng, image.size, rng.uniform(0.35, 0.8) * min(image.size), [])
        draw_shape(ImageDraw.Draw(image), "triangle", box, shade(rng, rng.choice(list(COLORS))))  # angle 0: points up
        upright.append(image)
    results = {}
    for turn in TURNS:
        images = [image.rotate(turn, expand=True, fillcolor=image.getpixel((0, 0))) for image in upright]
        replies = ask_batch(model, processor, [([image], QUESTIONS["shape"]) for image in images])
        results[turn] = [(image, reply, vision_correct(VisionExample("shape", [image], QUESTIONS["shape"], "triangle"),
                                                       reply)) for image, reply in zip(images, replies, strict=True)]
    return results


STRIPS = (0, 0.15, 0.3)  # an empty strip on a chart's left, as a share of its width


def with_strip(image, share: float):
    """The same picture with an empty strip on its left, `share` of its width, in its own background colour."""
    from PIL import Image

    out = Image.new("RGB", (image.width + int(share * image.width), image.height), image.getpixel((0, 0)))
    out.paste(image, (out.width - image.width, 0))
    return out


def charts_with_strip(model, processor, n: int = 60, seed: int = 4242) -> dict[float, list[tuple]]:
    """The course's own kind of bar chart, new to the model, asked about as drawn and with an empty strip on its
    left: {share: [(image, reply, right), ...]}. The bars and their letters are unchanged, so a model that reads the
    letter under the tallest bar answers as before; one that learned where each letter's bar stands does not."""
    from course_lib.scoring import vision_correct
    from course_lib.vision_data import make_example

    rng = random.Random(seed)
    charts = [make_example(rng, "chart") for _ in range(n)]
    results = {}
    for share in STRIPS:
        images = [with_strip(ex.images[0], share) for ex in charts]
        replies = ask_batch(model, processor, [([image], ex.question) for image, ex in zip(images, charts, strict=True)])
        results[share] = [(image, reply, vision_correct(ex, reply))
                          for image, reply, ex in zip(images, replies, charts, strict=True)]
    return results


def share_right(results: dict) -> dict:
    """The share answered right under each key, from turned_triangles' or charts_with_strip's results."""
    return {key: sum(right for *_, right in rows) / len(rows) for key, rows in results.items()}


# ---- building it, in one go or across several runs ---------------------------------------------------------

def recipe_fingerprint(encoder_cfg: TrainConfig, cfg: TrainConfig) -> str:
    """What a checkpoint must have been made with to be carried on: both stages' settings, the task mix, this
    module's and the picture generator's code, and the decoder the model starts from."""
    from course_lib import vision_data
    from course_lib.models import model_dir

    digest = hashlib.sha256(json.dumps([vars(encoder_cfg), vars(cfg), TASK_WEIGHTS, DECODER_LR_SCALE],
                                       sort_keys=True).encode())
    for path in (Path(__file__), Path(vision_data.__file__), model_dir("tiny-phi-3.5-mini") / "model.safetensors"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_checkpoint(path: Path, fingerprint: str) -> dict | None:
    """The saved progress at `path`, if it was made with this recipe; else None (and it says why it starts over)."""
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        print(f"{path} was saved by another recipe (settings, code or decoder changed): starting from scratch")
        return None
    return state


def build(out_dir=None, encoder_cfg: TrainConfig = ENCODER_TRAIN, cfg: TrainConfig = TRAIN, progress: bool = True,
          callback=None, device: str | None = None, workers: int | None = None,
          checkpoint: Path | None = CHECKPOINT) -> dict:
    """Train tiny-phi-3.5-vision in two stages and save it as an ordinary HF folder; returns timings, losses and
    accuracies. `callback(stage, step, model_or_probe)` sees both stages every 500 steps.

    It trains on a GPU when there is one (then worker processes draw the pictures), else on the CPU: the same
    batches either way, so the same recipe, only faster. Every CHECKPOINT_EVERY steps it saves its progress to
    `checkpoint`; run again with the same recipe, it carries on from there (`checkpoint=None`: never saves).
    """
    import os

    from course_lib.build import card_curves, save_model
    from course_lib.models import MODELS_DIR

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if workers is None:
        workers = min(12, (os.cpu_count() or 2) - 2) if device != "cpu" else 0
    fingerprint = checkpoint and recipe_fingerprint(encoder_cfg, cfg)
    state = checkpoint and load_checkpoint(Path(checkpoint), fingerprint) or {"stage": "encoder", "seconds": 0.0,
                                                                             "runs": 0}
    start = time.perf_counter()
    model, processor = new_model(cfg.seed)
    if "model" in state:
        model.load_state_dict(state["model"])
        done = len(state["progress"]["losses"]) if state.get("progress") else 0
        print(f"carrying on from {checkpoint}: stage {state['stage']}, after step {done:,} "
              f"({state['seconds'] / 60:.0f} min of training so far)")
    model.to(device)

    def saver(stage: str, **more):
        if not checkpoint:
            return None

        def save(progress: dict | None):
            Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
            torch.save({**state, **more, "stage": stage, "progress": progress, "fingerprint": fingerprint,
                        "model": model.state_dict(), "seconds": state["seconds"] + time.perf_counter() - start,
                        "runs": state["runs"] + 1}, Path(checkpoint).with_suffix(".tmp"))
            Path(checkpoint).with_suffix(".tmp").replace(checkpoint)  # never half a file, if stopped while saving
        return save

    if state["stage"] == "encoder":
        encoder_losses, probe = pretrain_encoder(model, processor, encoder_cfg, progress,
                                                 callback and (lambda step, p: callback("encoder", step, p)), workers,
                                                 resume=state.get("progress"), save=saver("encoder"))
        probe_acc = probe_accuracy(model, processor, probe)
        encoder_seconds = round(state["seconds"] + time.perf_counter() - start, 1)
        stage_one = {"encoder_losses": encoder_losses, "probe_accuracy": probe_acc, "encoder_seconds": encoder_seconds}
        state.update(stage_one)
        if checkpoint:
            saver("train")(None)  # stage 1 done: a later run starts at stage 2
    encoder_losses, probe_acc, encoder_seconds = (state[k] for k in ("encoder_losses", "probe_accuracy",
                                                                     "encoder_seconds"))
    losses = train_vision(model, processor, cfg, progress, callback and (lambda step, m: callback("train", step, m)),
                          workers=workers, resume=state["progress"] if state["stage"] == "train" else None,
                          save=saver("train"))
    seconds = round(state["seconds"] + time.perf_counter() - start, 1)
    model.to("cpu")
    accuracy = evaluate(model, processor, n_per_task=100)
    card = {"name": NAME, "mirrors": "Phi-3.5-vision", "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE,
            "encoder_train": vars(encoder_cfg), "train": vars(cfg), "decoder_lr_scale": DECODER_LR_SCALE,
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "encoder_seconds": encoder_seconds, "train_seconds": seconds, "torch_threads": torch.get_num_threads(),
            **({"runs": state["runs"] + 1} if state["runs"] else {}),  # carried on from a checkpoint
            "encoder_probe_accuracy": {k: round(v, 3) for k, v in probe_acc.items()},
            "final_encoder_loss": round(sum(encoder_losses[-20:]) / 20, 4),
            "final_loss": round(sum(losses[-20:]) / 20, 4), "heldout_accuracy": accuracy,
            "loss_curves": card_curves({"encoder": encoder_losses, "train": losses})}
    save_model(model, processor.tokenizer, NAME, Path(out_dir or MODELS_DIR), card, processor=processor)
    if checkpoint:
        Path(checkpoint).unlink(missing_ok=True)
    return {"seconds": seconds, "encoder_losses": encoder_losses, "losses": losses, "accuracy": accuracy,
            "encoder_probe_accuracy": probe_acc}
