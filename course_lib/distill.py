"""Knowledge distillation: a small student learns from a larger teacher's soft targets.

Training on labels tells the student only which token came next. A teacher's output is a whole probability
distribution over the vocabulary (its *soft targets*): where the next token is uncertain (which animal, which
name) it says how uncertain, and which alternatives are close. Distillation (Hinton, Vinyals and Dean, arXiv
1503.02531) trains the student to match that distribution:

    loss = T² · KL( softmax(teacher_logits / T) ‖ softmax(student_logits / T) )

on the same positions that labels would train. Lesson 03 trains the same student twice, on the same data, steps
and seed: once on the labels, once on the shipped course model's soft targets, and compares them.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from course_lib.train import IGNORE, TrainConfig, train


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            temperature: float = 1.0) -> torch.Tensor:
    """Mean KL(teacher ‖ student) per labelled position (the label itself is not used, only where it is), × T²."""
    keep = labels[:, 1:] != IGNORE  # logits at position i predict the token at i + 1
    student = F.log_softmax(student_logits[:, :-1][keep] / temperature, dim=-1)
    teacher = F.log_softmax(teacher_logits[:, :-1][keep] / temperature, dim=-1)
    return F.kl_div(student, teacher, log_target=True, reduction="batchmean") * temperature**2


def train_student(config, examples, cfg: TrainConfig, pad_id: int, teacher=None, temperature: float = 1.0,
                  desc: str = "student"):
    """A fresh student from `config` (seeded, so both runs start from the same weights), trained on `examples`
    with labels (teacher=None) or with the teacher's soft targets. Returns the model, its losses and seconds."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(cfg.seed)
    student = AutoModelForCausalLM.from_config(config)
    loss_fn = None
    if teacher is not None:
        teacher.eval()

        def loss_fn(model, batch):
            inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
            with torch.no_grad():
                teacher_logits = teacher(**inputs).logits
            return kd_loss(model(**inputs).logits, teacher_logits, batch["labels"], temperature)
    start = time.perf_counter()
    losses = train(student, examples, cfg, pad_id=pad_id, desc=desc, loss_fn=loss_fn)
    return student, losses, time.perf_counter() - start
