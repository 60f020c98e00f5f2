"""Distillation's loss and loop, on tiny random-init models (course_lib.distill)."""

import torch
import torch.nn.functional as F
from transformers import Phi3Config

from course_lib.distill import kd_loss, train_student
from course_lib.train import IGNORE, TrainConfig

SHAPE = dict(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
             num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def test_kd_loss_is_zero_for_the_teachers_own_logits_and_positive_otherwise():
    torch.manual_seed(0)
    teacher = torch.randn(2, 6, 50)
    labels = torch.tensor([[IGNORE, IGNORE, 5, 6, 7, 8], [IGNORE, 3, 4, IGNORE, IGNORE, IGNORE]])
    assert kd_loss(teacher, teacher, labels).item() < 1e-6
    assert kd_loss(torch.randn(2, 6, 50), teacher, labels).item() > 0.1


def test_kd_loss_counts_only_positions_that_have_a_label():
    torch.manual_seed(0)
    teacher, student = torch.randn(1, 5, 50), torch.randn(1, 5, 50)
    labels = torch.tensor([[IGNORE, IGNORE, 7, 8, IGNORE]])  # logits at 1 and 2 predict tokens 2 and 3
    changed = student.clone()
    changed[0, [0, 3, 4]] += torch.randn(3, 50)  # positions that predict unlabelled tokens (or none)
    assert torch.isclose(kd_loss(student, teacher, labels), kd_loss(changed, teacher, labels))


def test_with_a_certain_teacher_kd_loss_is_the_cross_entropy_of_its_choice():
    """A teacher sure of one token (a one-hot distribution) gives back ordinary training on that token."""
    torch.manual_seed(0)
    student = torch.randn(1, 4, 50)
    labels = torch.tensor([[IGNORE, 9, 10, 11]])
    teacher = torch.full((1, 4, 50), -1e4)
    for position, token in enumerate([9, 10, 11]):
        teacher[0, position, token] = 0.0
    ce = F.cross_entropy(student[0, :3], torch.tensor([9, 10, 11]))
    assert torch.isclose(kd_loss(student, teacher, labels), ce, atol=1e-4)


def test_temperature_scales_by_t_squared_and_flattens():
    torch.manual_seed(0)
    teacher, student = torch.randn(1, 4, 50) * 5, torch.randn(1, 4, 50) * 5
    labels = torch.tensor([[IGNORE, 1, 2, 3]])
    assert kd_loss(student, teacher, labels, 2.0) != kd_loss(student, teacher, labels, 1.0)


def test_students_start_from_the_same_weights_and_the_distilled_one_moves_towards_its_teacher():
    torch.set_num_threads(1)
    config = Phi3Config(**SHAPE)
    torch.manual_seed(1)
    from transformers import AutoModelForCausalLM

    teacher = AutoModelForCausalLM.from_config(config)
    examples = [([1, 5 + i, 6 + i, 7 + i, 2], [IGNORE, IGNORE, 6 + i, 7 + i, 2]) for i in range(8)]
    cfg = TrainConfig(steps=30, batch_size=4, lr=1e-2, warmup_steps=2)
    torch.manual_seed(cfg.seed)
    untrained = AutoModelForCausalLM.from_config(config)  # what train_student starts from
    student, losses, seconds = train_student(config, examples, cfg, pad_id=0, teacher=teacher)
    plain, _, _ = train_student(config, examples, cfg, pad_id=0)
    assert seconds > 0 and len(losses) == 30 and losses[-1] < losses[0]

    def distance(model):
        ids = torch.tensor([e[0] for e in examples])
        labels = torch.tensor([e[1] for e in examples])
        with torch.no_grad():
            return kd_loss(model(ids).logits, teacher(ids).logits, labels).item()
    assert distance(student) < distance(untrained) and distance(student) < distance(plain)
