"""The shipped course models: ordinary HF folders that load offline with the Auto classes."""

import json

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

from course_lib.models import COURSE_MODELS, MOE_MODELS, TEXT_MODELS, describe, model_dir
from course_lib.paths import MODELS_DIR

SHIPPED_BUDGET_MB = 40  # all four course models together (DESIGN.md)
MOE_BUDGET_MB = 12


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_loads_with_auto_classes_and_chat_template(name):
    path = model_dir(name)
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert type(model).__name__ == ("PhimoeForCausalLM" if name in MOE_MODELS else "Phi3ForCausalLM")
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is an SLM?"}], add_generation_prompt=True,
                                     tokenize=False)
    assert prompt == "<|user|>\nWhat is an SLM?<|end|>\n<|assistant|>\n"
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids.shape[1]


@pytest.mark.parametrize("name", list(COURSE_MODELS))
def test_weights_are_fp16_safetensors(name):
    with safe_open(model_dir(name) / "model.safetensors", "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert dtypes == {torch.float16}
    assert not list(model_dir(name).glob("*.bin"))


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_generation_stops_at_end_of_turn(name):
    cfg = json.loads((model_dir(name) / "generation_config.json").read_text())
    tok = AutoTokenizer.from_pretrained(model_dir(name))
    assert tok.convert_tokens_to_ids("<|end|>") in cfg["eos_token_id"]


def test_all_models_share_one_tokenizer():
    vocabularies = [AutoTokenizer.from_pretrained(model_dir(n)).get_vocab() for n in TEXT_MODELS]
    assert all(v == vocabularies[0] for v in vocabularies)


def test_shipped_models_fit_the_budget():
    total = sum(f.stat().st_size for f in MODELS_DIR.rglob("*") if f.is_file()) / 1e6
    assert total <= SHIPPED_BUDGET_MB
    assert {p.name for p in MODELS_DIR.iterdir() if p.is_dir()} == set(COURSE_MODELS)  # all four are shipped
    assert all(describe(n)["megabytes_on_disk"] <= MOE_BUDGET_MB for n in MOE_MODELS)
