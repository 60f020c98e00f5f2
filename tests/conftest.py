import pytest
import torch
from transformers import Phi3Config, Phi3ForCausalLM

from course_lib.corpus import build_corpus, tokenizer_texts
from course_lib.tokenizer import train_tokenizer


@pytest.fixture(scope="session")
def small_corpus():
    return build_corpus(seed=1, n_stories=40, n_heldout_stories=4, textbook_copies=1)


@pytest.fixture(scope="session")
def tok(small_corpus):
    return train_tokenizer(tokenizer_texts(small_corpus), vocab_size=600)  # as the build does


@pytest.fixture()
def tiny_model(tok):
    """A 2-layer, 32-dim random-init Phi-3: the real class at toy size."""
    torch.manual_seed(0)
    cfg = Phi3Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                     original_max_position_embeddings=256, pad_token_id=tok.pad_token_id,
                     eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)
    return Phi3ForCausalLM(cfg).eval()
