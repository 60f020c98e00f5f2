import random

import pytest

from course_lib.train import (
    IGNORE,
    TrainConfig,
    chat_example,
    chat_examples,
    lr_at,
    pack_blocks,
    pad_batch,
    qa_messages,
    train,
)


def test_pretraining_lowers_the_loss(tiny_model, tok, small_corpus):
    blocks = pack_blocks(tok, [d["text"] for d in small_corpus.documents], block_size=32)
    losses = train(tiny_model, blocks, TrainConfig(steps=60, batch_size=8, lr=1e-2, warmup_steps=5))
    assert len(losses) == 60
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_training_is_seeded(tok, small_corpus, tiny_model):
    import copy

    blocks = pack_blocks(tok, [d["text"] for d in small_corpus.documents], block_size=32)
    cfg = TrainConfig(steps=5, batch_size=4, lr=1e-2, warmup_steps=1)
    a, b, c = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    losses = train(a, blocks, cfg)
    assert losses == train(b, blocks, cfg)
    # the seed is what decides: another seed draws other batches, so other losses
    assert train(c, blocks, TrainConfig(steps=5, batch_size=4, lr=1e-2, warmup_steps=1, seed=1)) != losses


def test_sft_masks_the_prompt(tok):
    messages = [{"role": "user", "content": "What is an SLM?"}, {"role": "assistant", "content": "A small model."}]
    ids, labels = chat_example(tok, messages)
    learned = [t for t in labels if t != IGNORE]
    assert tok.decode(learned) == "A small model.<|end|>"
    assert labels[: len(ids) - len(learned)] == [IGNORE] * (len(ids) - len(learned))
    prompt = tok.apply_chat_template(messages[:1], add_generation_prompt=True, tokenize=False)
    assert tok.decode(ids[: len(ids) - len(learned)]) == prompt


def test_chats_tokenised_together_are_tokenised_as_one_by_one(tok, small_corpus):
    rng = random.Random(0)
    chats = [qa_messages(q.question, q.answer, q.lang, rng) for q in small_corpus.qa_train[::97]]  # both languages,
    assert {q.lang for q in small_corpus.qa_train[::97]} == {"en", "zh"} and any(len(c) == 3 for c in chats)  # system
    assert chat_examples(tok, chats) == [chat_example(tok, c) for c in chats]
    assert chat_examples(tok, []) == []


def test_fine_tuning_runs_on_chat_examples(tiny_model, tok, small_corpus):
    rng = random.Random(0)
    examples = [chat_example(tok, qa_messages(q.question, q.answer, q.lang, rng)) for q in small_corpus.qa_train[:64]]
    losses = train(tiny_model, examples, TrainConfig(steps=20, batch_size=8, lr=1e-2, warmup_steps=2),
                   pad_id=tok.pad_token_id)
    assert losses[-1] < losses[0]


def test_pad_batch_masks_padding():
    batch = pad_batch([([1, 2, 3], [IGNORE, 2, 3]), ([4], [4])], pad_id=0)
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 2, 3], [4, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) < lr_at(9, cfg) == 1.0
    assert abs(lr_at(99, cfg) - 0.1) < 0.01
    # worked by hand: warm-up is linear, lr * (step + 1) / warmup_steps
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(4, cfg) == pytest.approx(0.5)
    # then cosine from lr to lr * min_lr_ratio over the remaining 90 steps: 0.1 + 0.9 * (1 + cos(pi * progress)) / 2
    assert lr_at(10, cfg) == pytest.approx(1.0)  # progress 0
    assert lr_at(55, cfg) == pytest.approx(0.55)  # progress 1/2: cos = 0, halfway between 1.0 and 0.1
    assert lr_at(50, cfg) == pytest.approx(0.628142, abs=1e-6)  # progress 4/9: cos(80°) = 0.173648
    assert lr_at(99, cfg) == pytest.approx(0.100274, abs=1e-6)  # progress 89/90: cos(178°) = -0.999391
    after_warmup = [lr_at(step, cfg) for step in range(10, 100)]
    assert after_warmup == sorted(after_warmup, reverse=True)


def test_build_cards_keep_curves_the_readme_figure_is_drawn_from():
    from course_lib.build import card_curves
    from course_lib.plots import plot_build_curves

    curves = card_curves({"pretrain": [float(i) for i in range(10)], "finetune": [1.0] * 1000}, points=4)
    assert curves["pretrain"] == {"every": 3, "loss": [1.0, 4.0, 7.0, 9.0]}  # means of 3 steps; the last chunk is short
    assert curves["finetune"]["every"] == 250 and curves["finetune"]["loss"] == [1.0] * 4
    fig = plot_build_curves({"m": {"loss_curves": curves}, "old": {}}, "t")
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["m: pretrain", "m: finetune"]
    assert list(lines[0].get_xdata()) == [1.5, 4.5, 7.5, 10.5]  # each point sits mid-chunk, in steps
