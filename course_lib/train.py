"""Pretraining and supervised fine-tuning, in one readable loop.

Read it top to bottom, like nanoGPT's train.py: seed, data, optimizer,
a loop with a progress bar, loss history. Two kinds of data feed the loop:

* pretraining: the corpus tokenised and packed into equal blocks; every token
  is a target (next-token prediction);
* supervised fine-tuning (SFT): chat examples in the Phi-3 format; only the
  assistant's tokens are targets, so the model learns to answer, not to ask.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

IGNORE = -100  # label value that cross-entropy skips

SYSTEM_PROMPTS = {
    "en": ["You are a helpful assistant.", "You are a tutor for a course on small language models. Answer briefly."],
    "zh": ["你是一个乐于助人的助手。", "你是小语言模型课程的助教，请简短回答。"],
}


@dataclass
class TrainConfig:
    """Everything one training run needs: one object, no flags spread around."""

    steps: int = 600
    batch_size: int = 32
    block_size: int = 128  # pretraining block length, in tokens
    lr: float = 3e-3
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 30
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0


def pack_blocks(tok, texts: list[str], block_size: int) -> torch.Tensor:
    """Tokenise texts, join them with <|endoftext|>, and cut the stream into [n_blocks, block_size]."""
    stream: list[int] = []
    for ids in tok(list(texts), add_special_tokens=False)["input_ids"]:
        stream += ids + [tok.eos_token_id]
    n = len(stream) // block_size
    return torch.tensor(stream[: n * block_size]).view(n, block_size)


def chat_examples(tok, chats: list[list[dict]]) -> list[tuple[list[int], list[int]]]:
    """Token ids and labels for each chat: the prompt is masked, the last assistant turn is learned.
    The chats are tokenised together: tens of thousands, one call at a time, took about half a millisecond each."""
    prompts = [tok.apply_chat_template(m[:-1], add_generation_prompt=True, tokenize=False) for m in chats]
    prompt_ids = tok(prompts, add_special_tokens=False)["input_ids"] if chats else []
    answer_ids = tok([m[-1]["content"] + "<|end|>" for m in chats], add_special_tokens=False)["input_ids"] if chats else []
    return [(p + a, [IGNORE] * len(p) + a) for p, a in zip(prompt_ids, answer_ids, strict=True)]


def chat_example(tok, messages: list[dict]) -> tuple[list[int], list[int]]:
    """Token ids and labels for one chat (see chat_examples)."""
    return chat_examples(tok, [messages])[0]


def qa_messages(question: str, answer: str, lang: str, rng: random.Random) -> list[dict]:
    """A QA pair as a chat; a third of them get a system prompt, so models learn to accept one."""
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    if rng.random() < 1 / 3:
        messages.insert(0, {"role": "system", "content": rng.choice(SYSTEM_PROMPTS[lang])})
    return messages


def pad_batch(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of (ids, labels) to one batch; padding is masked out of attention and loss."""
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), IGNORE)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to lr * min_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def optimizer_step(optimizer, parameters, loss: torch.Tensor, step: int, cfg: TrainConfig) -> float:
    """One update: the scheduled learning rate (times a group's "scale", if it has one), backward, clipping the
    gradient norm of `parameters`, step. Returns the loss as a number."""
    for group in optimizer.param_groups:
        group["lr"] = lr_at(step, cfg) * group.get("scale", 1.0)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, cfg.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def train(model, data, cfg: TrainConfig, pad_id: int = 0, desc: str = "training", loss_fn=None) -> list[float]:
    """Train `model` in place and return the loss of every step.

    `data` is either a [n, block] tensor of packed blocks (pretraining) or a
    list of (ids, labels) pairs (fine-tuning). `loss_fn(model, batch)` replaces the
    model's own next-token loss (distillation uses it: course_lib.distill).
    """
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.95),
    )
    if not isinstance(data, torch.Tensor):
        # Chats vary in length: batch neighbours in length order, so little compute is spent on padding.
        # Ties are broken at random, and every example sits in exactly one batch-sized group.
        by_length = sorted(data, key=lambda example: (len(example[0]), rng.random()))
        groups = [by_length[i:i + cfg.batch_size] for i in range(0, len(by_length), cfg.batch_size)]
    model.train()
    losses = []
    bar = tqdm(range(cfg.steps), desc=desc, mininterval=1.0)
    for step in bar:
        if isinstance(data, torch.Tensor):
            rows = torch.tensor([rng.randrange(len(data)) for _ in range(cfg.batch_size)])
            batch = {"input_ids": data[rows], "labels": data[rows]}
        else:
            batch = pad_batch(rng.choice(groups), pad_id)
        loss = loss_fn(model, batch) if loss_fn else model(**batch).loss
        losses.append(optimizer_step(optimizer, model.parameters(), loss, step, cfg))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
    model.eval()
    return losses
