"""course_lib.measure on a tiny random-init Phi-3: the numbers are well formed; no timing is asserted."""

import torch

from course_lib.measure import generation_speed, generation_speeds, training_speed
from course_lib.models import count_parameters
from course_lib.train import IGNORE, TrainConfig, pack_blocks


def test_generation_speed_generates_exactly_the_requested_tokens(tiny_model, tok):
    calls = []
    original = tiny_model.generate

    def counting_generate(**kwargs):
        out = original(**kwargs)
        calls.append(out.shape[1] - kwargs["input_ids"].shape[1])
        return out

    tiny_model.generate = counting_generate
    result = generation_speed(tiny_model, tok, new_tokens=6, repeats=3)
    assert calls == [2, 6, 6, 6]  # one short warm-up, then three timed runs of exactly 6 tokens
    assert result["parameters"] == count_parameters(tiny_model) == 59_040  # counted by hand in test_generation.py
    assert len(result["runs"]) == 3 and all(r > 0 for r in result["runs"])
    assert result["tokens_per_second"] == sorted(result["runs"])[1]  # the median


def test_models_compared_take_turns(tiny_model, tok):
    order = []

    class Recorded(torch.nn.Module):  # tiny_model under a label, each generate() call written down
        device = torch.device("cpu")

        def __init__(self, label):
            super().__init__()
            self.label, self.inner = label, tiny_model

        def generate(self, **kwargs):
            order.append((self.label, kwargs["max_new_tokens"]))
            return self.inner.generate(**kwargs)

    result = generation_speeds({"a": Recorded("a"), "b": Recorded("b")}, tok, new_tokens=5, repeats=2)
    assert order == [("a", 2), ("b", 2), ("a", 5), ("b", 5), ("a", 5), ("b", 5)]  # warm-ups, then rounds
    assert set(result) == {"a", "b"} and all(len(r["runs"]) == 2 for r in result.values())
    assert result["a"]["parameters"] == count_parameters(tiny_model)


def test_training_speed_on_packed_blocks(tiny_model, tok, small_corpus):
    blocks = pack_blocks(tok, [d["text"] for d in small_corpus.documents], block_size=16)
    cfg = TrainConfig(steps=4, batch_size=2, block_size=16, warmup_steps=1)
    result = training_speed(tiny_model, blocks, cfg)
    assert len(result["losses"]) == 4 and result["steps"] == 4
    assert result["seconds"] > 0
    assert abs(result["seconds_per_step"] * 4 - result["seconds"]) < 1e-9
    assert abs(result["tokens_per_second"] - 2 * 16 * 4 / result["seconds"]) < 1e-6
    assert not tiny_model.training  # train() leaves the model ready for inference


def test_training_speed_on_chat_examples_counts_average_tokens(tiny_model):
    examples = [([1, 2, 3, 4], [IGNORE, IGNORE, 3, 4]), ([5, 6], [IGNORE, 6])]
    result = training_speed(tiny_model, examples, TrainConfig(steps=2, batch_size=2, warmup_steps=1))
    assert abs(result["tokens_per_second"] - 2 * 3 * 2 / result["seconds"]) < 1e-6
    assert all(torch.isfinite(torch.tensor(result["losses"])))
