"""The real-Phi path: found only in the local Hugging Face cache, loaded with the plain Auto classes, never downloaded.

A tiny random Phi-3 stands in for the real checkpoint, laid out exactly as the hub cache lays it out.
"""

import pytest
import torch

from course_lib.generation import chat
from course_lib.models import UnknownModelError, cached_real_checkpoint, load_real


def fake_cache(tmp_path, model, tok, repo="microsoft/Phi-3.5-mini-instruct"):
    root = tmp_path / ("models--" + repo.replace("/", "--"))
    snapshot = root / "snapshots" / ("0" * 40)
    model.save_pretrained(snapshot)
    tok.save_pretrained(snapshot)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text("0" * 40)
    return str(tmp_path)


def test_missing_checkpoint_says_how_to_get_it(tmp_path):
    assert cached_real_checkpoint("phi-3.5-mini", cache_dir=str(tmp_path)) is None
    with pytest.raises(UnknownModelError, match="hf download microsoft/Phi-3.5-mini-instruct"):
        load_real("phi-3.5-mini", cache_dir=str(tmp_path))


def test_cached_checkpoint_loads_and_chats(tmp_path, tiny_model, tok):
    cache = fake_cache(tmp_path, tiny_model, tok)
    folder = cached_real_checkpoint("phi-3.5-mini", cache_dir=cache)
    assert folder and folder.endswith("0" * 40)
    model, real_tok = load_real("phi-3.5-mini", cache_dir=cache)
    assert type(model).__name__ == "Phi3ForCausalLM"
    assert isinstance(chat(model, real_tok, "What is an SLM?", max_new_tokens=4), str)
    # it is the cached checkpoint that was loaded: its weights (in bf16 on a CPU) and its tokenizer
    assert not model.training and model.dtype == (torch.float16 if torch.cuda.is_available() else torch.bfloat16)
    saved = tiny_model.state_dict()
    loaded = model.state_dict()
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[k].cpu(), saved[k].to(loaded[k].dtype)) for k in saved)
    assert real_tok.get_vocab() == tok.get_vocab() and real_tok.chat_template == tok.chat_template


def test_config_without_weights_does_not_count(tmp_path, tiny_model, tok):
    cache = fake_cache(tmp_path, tiny_model, tok)
    for weights in (tmp_path).rglob("*.safetensors"):
        weights.unlink()
    assert cached_real_checkpoint("phi-3.5-mini", cache_dir=cache) is None
