"""tiny-phi-3.5-vision: the synthetic tasks, the processor and template, the training loss, and the shipped model
in-process and through the real local server (image_url with openai, ImageContentItem with azure-ai-inference)."""

import copy
import json
import random

import pytest
import torch

from course_lib.images import data_url
from course_lib.models import is_built
from course_lib.scoring import vision_correct
from course_lib.vision import (
    IMAGE_SIZE,
    IMAGE_TOKEN,
    answer_loss,
    make_processor,
    messages_for,
    training_batch,
    vision_config,
)
from course_lib.vision_data import QUESTIONS, TASKS, make_example, make_examples

NAME = "tiny-phi-3.5-vision"
shipped = pytest.mark.skipif(not is_built(NAME), reason="tiny-phi-3.5-vision is not built")


@pytest.fixture(scope="module")
def processor():
    from transformers import AutoTokenizer

    from course_lib.models import model_dir

    return make_processor(AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini")))


@pytest.fixture()
def tiny_llava(processor):
    """The course's vision design at toy size, random weights."""
    from transformers import LlavaForConditionalGeneration, Phi3Config

    tok = processor.tokenizer
    text = Phi3Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      pad_token_id=tok.pad_token_id, bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    config = vision_config(text, tok.convert_tokens_to_ids(IMAGE_TOKEN))
    config.vision_config.update(dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2))
    torch.manual_seed(0)
    return LlavaForConditionalGeneration(config).eval()


def test_every_task_draws_a_picture_with_its_exact_question_and_a_reply_holding_the_answer():
    rng = random.Random(0)
    for task in TASKS:
        for _ in range(20):
            ex = make_example(rng, task)
            assert ex.question == QUESTIONS[task] and len(ex.images) == (2 if task == "two_images" else 1)
            assert vision_correct(ex, ex.reply), (task, ex.reply)
            assert all(16 <= side <= 128 for image in ex.images for side in image.size)


def test_examples_are_reproducible_and_vary():
    a, b = make_examples(5, seed=3), make_examples(5, seed=3)
    assert [x.answer for x in a] == [x.answer for x in b]
    assert [x.images[0].tobytes() for x in a] == [x.images[0].tobytes() for x in b]
    assert len({x.images[0].size for x in a}) > 3




def test_template_puts_every_image_first_and_the_processor_expands_each(processor):
    prompt = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "Q?"}, {"type": "image"}, {"type": "image"}]}],
        add_generation_prompt=True)
    assert prompt == "<|user|>\n<image>\n<image>\nQ?<|end|>\n<|assistant|>\n"
    ex = make_example(random.Random(2), "two_images")
    ids = processor(text=prompt, images=ex.images)["input_ids"][0]
    assert list(ids).count(processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)) == 2 * 144  # 12×12 patches each


def test_training_batch_learns_only_the_answer(processor):
    examples = [make_example(random.Random(4), task) for task in ("color", "reading")]
    batch = training_batch(processor, examples)
    assert batch["pixel_values"].shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)
    for row, ex in enumerate(examples):
        learned = batch["labels"][row][batch["labels"][row] != -100]
        assert processor.tokenizer.decode(learned) == ex.reply + "<|end|>"


def test_answer_loss_equals_the_models_own_loss(tiny_llava, processor):
    batch = training_batch(processor, make_examples(2, seed=5, tasks=("color", "count")))
    with torch.no_grad():
        assert answer_loss(tiny_llava, batch).item() == pytest.approx(tiny_llava(**batch).loss.item(), rel=1e-4)


@shipped
def test_shipped_model_loads_with_the_auto_classes_and_sees():
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from course_lib.models import model_dir
    from course_lib.vision import ask, ask_batch, evaluate

    model = AutoModelForImageTextToText.from_pretrained(model_dir(NAME))
    processor = AutoProcessor.from_pretrained(model_dir(NAME))
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    accuracy = evaluate(model.float().eval(), processor, n_per_task=10, seed=777)
    assert accuracy["color"] >= 0.8 and sum(accuracy.values()) / len(accuracy) >= 0.6, accuracy
    examples = make_examples(2, seed=8)  # every task, one and two images, prompts of different lengths
    alone = [ask(model, processor, ex.images, ex.question) for ex in examples]
    assert ask_batch(model, processor, [(ex.images, ex.question) for ex in examples]) == alone  # padding changes nothing
    assert sum(vision_correct(ex, reply) for ex, reply in zip(examples, alone, strict=True)) >= len(examples) // 2


@shipped
def test_the_local_server_answers_image_url_and_image_content_item():
    from azure.ai.inference.models import ImageContentItem, ImageUrl, TextContentItem, UserMessage

    from course_lib import clients

    examples = make_examples(4, seed=31, tasks=("color",))
    right = 0
    for ex in examples:
        content = [{"type": "image_url", "image_url": {"url": data_url(ex.images[0])}},
                   {"type": "text", "text": ex.question}]
        reply = clients.chat([{"role": "user", "content": content}], backend="local", model="phi-3.5-vision", max_tokens=12)
        right += vision_correct(ex, reply)
    assert right >= 3 and reply.model == NAME
    conn = clients.connect("local")
    with clients.azure_client(conn) as azure:
        image = ImageContentItem(image_url=ImageUrl(url=data_url(examples[0].images[0])))
        response = azure.complete(model=NAME, max_tokens=12, temperature=0, messages=[UserMessage(content=[
            TextContentItem(text=examples[0].question), image])])
    assert vision_correct(examples[0], response.choices[0].message.content)
    # text alone is fine too: the prompt-length check reads the decoder's context from the vision config
    assert isinstance(clients.chat("What is an SLM?", backend="local", model="phi-3.5-vision", max_tokens=4), str)


@shipped
@pytest.mark.parametrize("picture_set", ["painter-a", "painter-b"])
def test_the_local_server_answers_the_painters_pictures_as_eval_does(picture_set):
    """eval asks in-process, in batches; a learner asks the local server. Both must give the same reply to the same
    picture, so the published figures are what the server would score."""
    from course_lib import clients
    from course_lib.heldout_pictures import make_examples as painted
    from course_lib.vision import ask_batch, load

    model, processor = load()
    examples = painted(picture_set, 1, 2026)  # one picture (or pair) per task
    in_process = ask_batch(model, processor, [(ex.images, ex.question) for ex in examples])
    for ex, expected in zip(examples, in_process, strict=True):
        content = [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in ex.images]
        reply = clients.chat([{"role": "user", "content": content + [{"type": "text", "text": ex.question}]}],
                             backend="local", model="phi-3.5-vision", max_tokens=16)
        assert reply == expected, (ex.task, reply, expected)


def test_a_strip_leaves_the_chart_as_drawn_beside_an_empty_background():
    from course_lib.vision import with_strip

    chart = make_example(random.Random(3), "chart").images[0]
    wide = with_strip(chart, 0.3)
    assert wide.size == (chart.width + int(0.3 * chart.width), chart.height)
    assert wide.crop((wide.width - chart.width, 0, wide.width, chart.height)).tobytes() == chart.tobytes()
    strip = wide.crop((0, 0, wide.width - chart.width, chart.height))
    assert set(strip.getdata()) == {chart.getpixel((0, 0))}


def test_messages_for_builds_image_parts_then_text():
    assert messages_for(2, "Q?", "A.") == [
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Q?"}]},
        {"role": "assistant", "content": "A."}]


def test_encoder_labels_fill_the_digit_slots_left_to_right():
    from course_lib.vision import encoder_labels

    ex = make_example(random.Random(9), "reading")
    ex.answer = "47"
    assert encoder_labels(ex) == {"digit 1": 4, "digit 2": 7, "digit 3": 10}
    ex = make_example(random.Random(9), "color")
    assert list(encoder_labels(ex)) == ["color"]


def test_stage_one_encoder_pretraining_runs_and_its_probe_scores_every_slot(tiny_llava, processor):
    from course_lib.train import TrainConfig
    from course_lib.vision import NO_DIGIT, SLOTS, pretrain_encoder, probe_accuracy

    losses, probe = pretrain_encoder(tiny_llava, processor, TrainConfig(steps=3, batch_size=8, lr=1e-3, warmup_steps=1),
                                     progress=False)
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    accuracy = probe_accuracy(tiny_llava, processor, probe, n=20)
    assert set(accuracy) == {*SLOTS, "digit patches"} and all(0 <= a <= 1 for a in accuracy.values())
    # A probe that always says one class is right exactly as often as that class is the label: over three different
    # classes a slot's accuracies add up to at most 1, and to 1 for "shape", which has three. Its patch head always
    # says "no digit", which no digit centre is: 0.
    constant, totals = copy.deepcopy(probe), dict.fromkeys(SLOTS, 0.0)
    with torch.no_grad():
        for head in [*constant.heads, constant.patch_head]:
            head.weight.zero_()
        constant.patch_head.bias.copy_(torch.nn.functional.one_hot(torch.tensor(NO_DIGIT), NO_DIGIT + 1))
    for c in range(3):
        with torch.no_grad():
            for head in constant.heads:  # c shifted by (classes - 3): "shape" says c, "color" 3 + c, so heads differ
                n = head.out_features
                head.bias.copy_(torch.nn.functional.one_hot(torch.tensor((c + n - 3) % n), n))
        said_c = probe_accuracy(tiny_llava, processor, constant, n=20)
        assert said_c["digit patches"] == 0
        for slot in SLOTS:
            totals[slot] += said_c[slot]
    assert SLOTS["shape"] == 3 and totals["shape"] == pytest.approx(1.0)
    assert all(total <= 1 + 1e-9 for total in totals.values()), totals


def test_stage_two_keeps_the_encoder_frozen_and_trains_the_projector(tiny_llava, processor):
    from course_lib.train import TrainConfig
    from course_lib.vision import train_vision

    encoder = {k: v.clone() for k, v in tiny_llava.model.vision_tower.state_dict().items()}
    projector = {k: v.clone() for k, v in tiny_llava.model.multi_modal_projector.state_dict().items()}
    losses = train_vision(tiny_llava, processor, TrainConfig(steps=2, batch_size=4, lr=1e-3, warmup_steps=1),
                          progress=False)
    assert len(losses) == 2
    assert all(torch.equal(v, tiny_llava.model.vision_tower.state_dict()[k]) for k, v in encoder.items())
    assert not all(torch.equal(v, tiny_llava.model.multi_modal_projector.state_dict()[k]) for k, v in projector.items())
    assert all(p.requires_grad for p in tiny_llava.model.vision_tower.parameters())  # left as it was found


@shipped
def test_eval_command_reports_every_task_against_its_target(tmp_path, capsys):
    import json

    from course_lib.__main__ import main
    from course_lib.heldout_pictures import PICTURE_SETS
    from course_lib.vision import TARGETS

    assert main(["eval", NAME, "--images", "3", "--json", str(tmp_path / "eval.json")]) == 0
    out = capsys.readouterr().out
    assert all(task in out for task in TASKS) and "target" in out
    result = json.loads((tmp_path / "eval.json").read_text())
    accuracy = result["vision"]  # {task: {picture set: accuracy}}
    assert set(accuracy) == set(TARGETS) == set(TASKS)
    for task, by_set in accuracy.items():  # by default every picture set; 3 pictures each, so thirds
        assert set(by_set) == set(PICTURE_SETS), task
        assert all(0 <= a <= 1 and a * 3 == pytest.approx(round(a * 3)) for a in by_set.values()), (task, by_set)
    assert result["meta"]["settings"]["images_per_task"] == 3



def test_patch_labels_mark_every_digit_and_its_centre_patch_left_to_right():
    from course_lib.vision import IGNORE, NO_DIGIT, patch_digit_labels

    rng = random.Random(3)
    ex = next(ex for ex in (make_example(rng, "reading") for _ in range(100)) if len(ex.answer) == 3)
    labels = patch_digit_labels(ex, centres_only=True)
    centres = [(i, int(v)) for i, v in enumerate(labels) if v not in (NO_DIGIT, IGNORE)]
    assert "".join(str(d) for _, d in sorted(centres)) == ex.answer  # raster order reads the number
    assert (labels == NO_DIGIT).sum() > len(labels) // 2  # most of the picture is background
    covered = patch_digit_labels(ex)
    assert IGNORE not in covered and set(ex.answer) == {str(int(v)) for v in covered if v != NO_DIGIT}
    assert (covered != NO_DIGIT).sum() >= len(centres)
    assert make_example(random.Random(3), "color").digit_boxes == []


def test_a_batch_depends_on_its_step_alone_so_workers_draw_the_same_batches(processor):
    from course_lib.train import TrainConfig
    from course_lib.vision import batches, encoder_batch, vision_batch

    cfg = TrainConfig(steps=3, batch_size=4)
    for make in (encoder_batch, vision_batch):
        here, in_workers = list(batches(make, processor, cfg)), list(batches(make, processor, cfg, workers=2))
        assert len(here) == len(in_workers) == 3
        for a, b in zip(here, in_workers, strict=True):
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        assert not torch.equal(here[0]["pixel_values"], here[1]["pixel_values"])  # a fresh batch every step


def test_a_stopped_build_carries_on_from_its_checkpoint_to_the_same_model(tiny_llava, processor, tmp_path, monkeypatch):
    """A CPU build takes hours: stopped part-way through stage 2 and run again, it ends where one run would have."""
    from safetensors.torch import load_file

    from course_lib import vision
    from course_lib.train import TrainConfig

    def new_model(seed=0):  # the toy model instead of the shipped decoder, so the whole build takes seconds
        return copy.deepcopy(tiny_llava), processor

    real_evaluate, real_step, steps_taken = vision.evaluate, vision.optimizer_step, []

    def optimizer_step(*args, **kwargs):
        if len(steps_taken) == stop_at:
            raise KeyboardInterrupt  # as if the learner pressed Ctrl-C
        steps_taken.append(1)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(vision, "new_model", new_model)
    monkeypatch.setattr(vision, "evaluate", lambda model, proc, n_per_task: real_evaluate(model, proc, n_per_task=1))
    monkeypatch.setattr(vision, "optimizer_step", optimizer_step)
    monkeypatch.setattr(vision, "CHECKPOINT_EVERY", 2)
    stages = dict(encoder_cfg=TrainConfig(steps=4, batch_size=4, lr=1e-3, warmup_steps=1),
                  cfg=TrainConfig(steps=6, batch_size=4, lr=1e-3, warmup_steps=1), progress=False)

    stop_at = None
    whole = vision.build(tmp_path / "whole", checkpoint=tmp_path / "whole.pt", **stages)
    assert not (tmp_path / "whole.pt").exists()  # deleted once the model is saved

    stop_at, steps_taken[:] = 4 + 5, []  # stage 1's 4 steps, then 5 of stage 2's 6: saved after its 4th
    with pytest.raises(KeyboardInterrupt):
        vision.build(tmp_path / "stopped", checkpoint=tmp_path / "stopped.pt", **stages)
    saved = torch.load(tmp_path / "stopped.pt", weights_only=False)
    assert saved["stage"] == "train" and len(saved["progress"]["losses"]) == 4

    stop_at, steps_taken[:] = None, []
    carried_on = vision.build(tmp_path / "stopped", checkpoint=tmp_path / "stopped.pt", **stages)
    assert len(steps_taken) == 2  # only what was left
    assert carried_on["encoder_losses"] == whole["encoder_losses"] and carried_on["losses"] == whole["losses"]
    one_run, two_runs = (load_file(tmp_path / d / vision.NAME / "model.safetensors") for d in ("whole", "stopped"))
    assert one_run.keys() == two_runs.keys() and all(torch.equal(one_run[k], two_runs[k]) for k in one_run)
    card = json.loads((tmp_path / "stopped" / vision.NAME / "build.json").read_text())
    assert card["runs"] == 2 and "runs" not in json.loads((tmp_path / "whole" / vision.NAME / "build.json").read_text())


def test_a_checkpoint_of_another_recipe_is_not_carried_on(tmp_path, capsys):
    from course_lib.train import TrainConfig
    from course_lib.vision import ENCODER_TRAIN, TRAIN, load_checkpoint, recipe_fingerprint

    assert recipe_fingerprint(ENCODER_TRAIN, TRAIN) == recipe_fingerprint(ENCODER_TRAIN, TRAIN)
    assert recipe_fingerprint(ENCODER_TRAIN, TRAIN) != recipe_fingerprint(ENCODER_TRAIN, TrainConfig(steps=1))
    torch.save({"fingerprint": "old recipe", "stage": "train"}, tmp_path / "checkpoint.pt")
    assert load_checkpoint(tmp_path / "checkpoint.pt", "old recipe")["stage"] == "train"
    assert load_checkpoint(tmp_path / "checkpoint.pt", "new recipe") is None
    assert "another recipe" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "missing.pt", "new recipe") is None


def test_turned_shapes_stay_in_their_box_and_fill_it():
    from PIL import Image, ImageDraw

    from course_lib.vision_data import draw_shape

    for shape in ("square", "triangle"):
        for angle in (0, 30, 90, 135, 200, 300):
            image = Image.new("L", (100, 100), 0)
            draw_shape(ImageDraw.Draw(image), shape, (20, 20, 80, 80), 255, angle)
            x0, y0, x1, y1 = image.getbbox()
            assert 19 <= x0 and 19 <= y0 and x1 <= 81 and y1 <= 81, (shape, angle)  # inside its box,
            assert max(x1 - x0, y1 - y0) >= 58, (shape, angle)  # and as large as the box allows


def test_turned_triangles_asks_about_the_same_upright_triangles_turned(tiny_llava, processor):
    from course_lib.vision import TURNS, turned_triangles

    results = turned_triangles(tiny_llava, processor, n=3)
    assert list(results) == list(TURNS) and all(len(rows) == 3 for rows in results.values())
    upright = [image for image, _, _ in results[0]]
    assert [image.tobytes() for image, _, _ in turned_triangles(tiny_llava, processor, n=3)[0]] == [
        image.tobytes() for image in upright]  # the same pictures for every model, run after run
    for turn in TURNS:
        for (image, reply, right), original in zip(results[turn], upright, strict=True):
            assert image.tobytes() == original.rotate(turn, expand=True, fillcolor=original.getpixel((0, 0))).tobytes()
            assert isinstance(reply, str) and right in (True, False)
    apex_row = min(y for y in range(upright[0].height) if any(upright[0].getpixel((x, y)) != upright[0].getpixel((0, 0))
                                                               for x in range(upright[0].width)))
    ink = [x for x in range(upright[0].width) if upright[0].getpixel((x, apex_row)) != upright[0].getpixel((0, 0))]
    assert len(ink) <= 3  # upright: the top row of the shape is its apex, a point, not an edge
