"""ONNX Runtime GenAI: the model builder's export, the tokenizer fix, and greedy parity with transformers."""

import json

import pytest

from course_lib.corpus import build_corpus
from course_lib.errors import CourseError
from course_lib.models import load, model_dir
from course_lib.onnx_runtime import OrtChat, export, folder_bytes, make_tokenizer_ort_compatible

MODEL = "tiny-phi-3.5-mini"


@pytest.fixture(scope="module")
def fp32():
    return OrtChat(export(MODEL, "fp32"))


@pytest.fixture(scope="module")
def int4():
    return OrtChat(export(MODEL, "int4"))


def test_export_writes_a_genai_folder_and_is_reused(fp32):
    folder = fp32.folder
    assert (folder / "model.onnx").exists() and (folder / "genai_config.json").exists()
    stamp = (folder / "export.json").stat().st_mtime
    assert export(MODEL, "fp32") == folder and (folder / "export.json").stat().st_mtime == stamp


def test_int4_is_much_smaller_than_fp32(fp32, int4):
    assert folder_bytes(int4.folder) < 0.4 * folder_bytes(fp32.folder)


def test_ort_tokenizer_gives_the_same_ids_as_the_course_tokenizer_on_the_whole_corpus(fp32):
    from tokenizers import Tokenizer

    course = Tokenizer.from_file(str(model_dir(MODEL) / "tokenizer.json"))
    corpus = build_corpus()
    texts = [d["text"] for d in corpus.documents + corpus.heldout_documents]
    texts += [q.question for q in corpus.qa_train + corpus.qa_heldout] + [q.answer for q in corpus.qa_heldout]
    texts += ["今天天气很好。", "Hello 世界! 中文 English 混合 123。", "emoji 🙂 and ünïcödé"]
    different = [t for t in texts if course.encode(t, add_special_tokens=False).ids != list(fp32.tokenizer.encode(t))]
    assert len(texts) > 10_000 and different == []


def test_tokenizer_fix_keeps_the_byte_level_step_and_is_idempotent(fp32):
    assert not make_tokenizer_ort_compatible(fp32.folder)  # already fixed by export()
    spec = json.loads((fp32.folder / "tokenizer.json").read_text(encoding="utf-8"))
    assert spec["pre_tokenizer"]["type"] == "ByteLevel"


def test_fp32_export_gives_the_same_greedy_tokens_as_transformers(fp32):
    model, tok = load(MODEL)  # fp32
    questions = [q.question for q in build_corpus().qa_heldout[::40]]
    for question in questions:
        prompt = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                         tokenize=False)
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt")
        want = model.generate(**ids, max_new_tokens=40, do_sample=False)[0, ids["input_ids"].shape[1]:].tolist()
        got = fp32.generate_ids(list(fp32.tokenizer.encode(prompt)), max_new_tokens=40)
        assert got == want, question


def test_streamed_pieces_join_to_the_whole_reply(int4):
    pieces = list(int4.stream("What is an SLM?", max_new_tokens=40))
    assert len(pieces) > 5
    reply = int4.ask("What is an SLM?", max_new_tokens=40)
    assert "".join(pieces).strip() == str(reply) and "onnxruntime-genai" in reply.label
    # ask() is built on stream(), so check both against another route: the course's chat prompt, the plain greedy
    # loop (generate_ids), and the course tokenizer's decoding of its ids
    from transformers import AutoTokenizer

    prompt = int4.prompt("What is an SLM?")
    assert prompt == "<|user|>\nWhat is an SLM?<|end|>\n<|assistant|>\n"
    ids = int4.generate_ids(list(int4.tokenizer.encode(prompt)), max_new_tokens=40)
    course_tok = AutoTokenizer.from_pretrained(model_dir(MODEL))
    assert "".join(pieces).strip() == course_tok.decode(ids, skip_special_tokens=True).strip()


def test_timed_generation_makes_exactly_the_requested_tokens(int4):
    ids = list(int4.tokenizer.encode(int4.prompt("Hi")))
    timing = int4.timed_generation(ids, 30)
    assert len(timing["ids"]) == 30 and timing["ttft_s"] > 0 and timing["decode_s"] > 0
    greedy = int4.generate_ids(ids, 30)  # the same greedy tokens, up to where the end token would have stopped them
    same = greedy if len(greedy) == 30 else greedy[:-1]  # an early stop ends on the end token, which exact=True skips
    assert same and timing["ids"][: len(same)] == same


def test_logits_cover_every_prompt_position(fp32, int4):
    import numpy as np
    import torch

    ids = list(int4.tokenizer.encode("Once upon a time, there was a fox."))
    model, _ = load(MODEL)
    assert int4.logits(ids).shape == (len(ids), model.config.vocab_size)
    # row i is the prediction after token i: the fp32 export gives transformers' logits at every position
    with torch.no_grad():
        want = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    np.testing.assert_allclose(fp32.logits(ids), want, atol=1e-4, rtol=0)
    assert int(int4.logits(ids)[-1].argmax()) == int4.generate_ids(ids, 1)[0]  # and the last row picks the next token


def test_clear_errors(tmp_path, int4):
    with pytest.raises(CourseError, match="choose one of fp32, int4"):
        export(MODEL, "int3")
    with pytest.raises(CourseError, match="not an ONNX Runtime GenAI folder"):
        OrtChat(tmp_path)
    with pytest.raises(CourseError, match="context"):
        int4.ask("Tell me about Phi. " * 200)


def test_real_onnx_export_is_found_in_the_hub_cache_and_runs(tmp_path, int4):
    import shutil

    from course_lib.onnx_runtime import REAL_ONNX, cached_real_onnx

    assert cached_real_onnx("phi-3.5-mini", cache_dir=str(tmp_path)) is None
    repo, folder = REAL_ONNX["phi-3.5-mini"]
    snapshot = tmp_path / ("models--" + repo.replace("/", "--")) / "snapshots" / ("0" * 40)
    (tmp_path / ("models--" + repo.replace("/", "--")) / "refs").mkdir(parents=True)
    (tmp_path / ("models--" + repo.replace("/", "--")) / "refs" / "main").write_text("0" * 40)
    shutil.copytree(int4.folder, snapshot / folder)  # the course export, laid out as Microsoft's repository
    found = cached_real_onnx("phi-3.5-mini", cache_dir=str(tmp_path))
    assert found == snapshot / folder
    answer = OrtChat(found).ask("What is an SLM?", max_new_tokens=10)
    assert len(answer) > 0 and str(answer) == str(int4.ask("What is an SLM?", max_new_tokens=10))  # the same export
