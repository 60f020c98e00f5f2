import os
import time

import pytest
import torch
from transformers import Phi3Config, Phi3ForCausalLM

from course_lib.corpus import build_corpus
from course_lib.tokenizer import train_tokenizer


@pytest.fixture(scope="session")
def small_corpus():
    return build_corpus(seed=1, n_stories=40, n_heldout_stories=4, textbook_copies=1)


@pytest.fixture(scope="session")
def tok(small_corpus):
    texts = [d["text"] for d in small_corpus.documents] + [q.question for q in small_corpus.qa_train]
    return train_tokenizer(texts, vocab_size=600)


@pytest.fixture()
def tiny_model(tok):
    """A 2-layer, 32-dim random-init Phi-3: the real class at toy size."""
    torch.manual_seed(0)
    cfg = Phi3Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                     original_max_position_embeddings=256, pad_token_id=tok.pad_token_id,
                     eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)
    return Phi3ForCausalLM(cfg).eval()


def pytest_configure(config):
    """Keep every lesson nbmake executes successfully, so the course site can reuse it instead of running it again,
    and note how long it took (build/notebook_durations.json; `python -m course_lib report --durations` publishes it).

    It takes effect when tests/ is part of the run, as in the README's command. Progress bars are switched off in
    the lesson kernels: on a static page a bar is a frozen widget.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        from nbmake import nb_run
    except ImportError:
        return
    execute = nb_run.NotebookRun.execute
    if getattr(execute, "keeps_executions", False):
        return

    def execute_and_keep(self):
        from course_lib.report import record_duration
        from course_lib.site import keep_execution

        start = time.perf_counter()
        result = execute(self)
        if result.error is None:
            record_duration(self.filename, time.perf_counter() - start)
            keep_execution(self.filename, result.nb)
        return result

    execute_and_keep.keeps_executions = True
    nb_run.NotebookRun.execute = execute_and_keep
