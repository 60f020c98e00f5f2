"""The benchmark and the roofline: measured in real worker processes, on the course model, with small settings."""

import json
import subprocess
import sys

import pytest

from course_lib.__main__ import main
from course_lib.bench import BASELINE, agreement, peak_rss_bytes, rate
from course_lib.roofline import bytes_per_token, decode_ceiling, parameters_read_per_token, read_bandwidth


def test_agreement_counts_identical_replies_and_matching_positions():
    assert agreement([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 6, 7]]) == {"identical_replies": 0.5,
                                                                    "token_agreement": 4 / 6}


def test_roofline_arithmetic():
    assert bytes_per_token(3.8e9, "int4") == 1.9e9
    assert decode_ceiling(100e9, 3.8e9, "fp16") == pytest.approx(100e9 / 7.6e9)


def test_parameters_read_per_token_skip_the_embedding_unless_tied():
    from transformers import Phi3Config

    from course_lib.family import meta_model

    shape = dict(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                 num_key_value_heads=2, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    cfg, tied = Phi3Config(**shape, tie_word_embeddings=False), Phi3Config(**shape, tie_word_embeddings=True)

    total = sum(p.numel() for p in meta_model(cfg).parameters())
    assert parameters_read_per_token(cfg) == total - 100 * 16
    assert parameters_read_per_token(tied) == sum(p.numel() for p in meta_model(tied).parameters())
    # counted by hand: one layer of qkv 16 x 48 + o 16 x 16 + gate_up 16 x 64 + down 32 x 16 + two norms 2 x 16 = 2,592,
    # the final norm 16 and the output head 100 x 16 = 1,600: 4,208 either way (a tied head is the embedding itself)
    assert parameters_read_per_token(cfg) == parameters_read_per_token(tied) == 4_208


def test_bandwidth_is_a_plausible_number():
    assert 0.5e9 < read_bandwidth(64, repeats=2) < 2e12


def test_bandwidth_is_bytes_over_the_best_time(monkeypatch):
    """With a clock that says the three timed sums took 4, 2 and 3 ms: 64 MiB in 2 ms."""
    from types import SimpleNamespace

    import course_lib.roofline

    ticks = iter([10.0, 10.004, 20.0, 20.002, 30.0, 30.003])
    monkeypatch.setattr(course_lib.roofline, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    assert read_bandwidth(64, repeats=3) == pytest.approx(64 * 2**20 / 0.002, rel=1e-6)


def test_peak_rss_and_rate_formatting():
    assert 10e6 < peak_rss_bytes() < 20e9
    assert rate(9901.4) == "9,901" and rate(32.34) == "32.3" and rate(0.01706) == "0.0171"


PEAK_CHILD = """
import os
from course_lib.bench import peak_rss_bytes
resident = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = peak_rss_bytes()
block = b"x" * (256 * 2**20)  # written, so resident
during = peak_rss_bytes()
del block  # given back to the system: the resident size falls, the peak stays
print(resident, before, during, peak_rss_bytes())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_peak_rss_is_this_process_peak():
    """In a fresh process started by this (much larger) one: at least what is resident, up by a written block, and
    still up once the block is freed."""
    child = subprocess.run([sys.executable, "-c", PEAK_CHILD], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    resident, before, during, after = map(int, child.stdout.split())
    assert resident <= before < 200e6  # the child's own peak, not its parent's
    assert during - before >= 0.95 * 256 * 2**20 and after - before >= 0.95 * 256 * 2**20


def test_bench_cli_writes_the_ratio_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--json", str(out), "--new-tokens", "8", "--repeats", "1", "--no-real-width",
                 "--runtimes", f"{BASELINE},onnxruntime-genai int4"])  # the slice runs in lesson 10
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert code == 0 and "ort_int4_vs_transformers_decode" in printed
    assert result["ratios"]["ort_int4_vs_transformers_decode"] > 1
    assert [r["runtime"] for r in result["rows"]] == [BASELINE, "onnxruntime-genai int4"]
    for row in result["rows"]:
        assert row["decode_tok_s"] > 0 and row["ttft_ms"] > 0 and row["peak_rss_bytes"] > 0
        assert 1 < row["perplexity"] < 10 and row["token_agreement"] > 0.5
    assert result["bandwidth_bytes_per_s"] > 0 and len(result["roofline"]) == 12


def test_bench_cli_rejects_an_unknown_runtime(capsys):
    assert main(["bench", "--runtimes", "llama.cpp q4"]) == 2
    assert "Choose from" in capsys.readouterr().err


def test_real_width_slice_has_phi3_minis_shape_and_reads_its_weight_bytes():
    """The slice's config is Phi-3-mini's, cut to a few layers; weight_bytes splits an export's files by part (here
    on a tiny export of the same class: the course model's int4 folder from lesson 09's exporter)."""
    from course_lib.family import phi35_mini_config
    from course_lib.onnx_runtime import export
    from course_lib.real_width import slice_config, weight_bytes

    cut, real = slice_config(2), phi35_mini_config()
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads"):
        assert getattr(cut, key) == getattr(real, key), key
    assert cut.num_hidden_layers == 2 and cut.architectures == ["Phi3ForCausalLM"]
    folder = export("tiny-phi-3.5-mini", "int4")
    parts = weight_bytes(folder)
    data = (folder / "model.onnx.data").stat().st_size
    assert all(v > 0 for v in parts.values()) and sum(parts.values()) <= data
    assert parts["embedding"] == len_vocab_times_hidden_fp32(folder)


def len_vocab_times_hidden_fp32(folder):
    config = json.loads((folder / "genai_config.json").read_text())["model"]
    return config["vocab_size"] * config["decoder"]["hidden_size"] * 4  # the builder keeps the embedding in fp32


def test_the_real_width_slice_exports_to_int4_once_and_is_reused():
    """The builder's int4 export of the Phi-3-mini-wide slice: its embedding stays fp32 (looked up, one row a token),
    its layers are int4; a second call reuses the folder (lesson 10 and the bench then measure without exporting)."""
    import time

    from course_lib.real_width import PHI3_MINI_SHAPE, export_slice, weight_bytes

    folder = export_slice(2)
    parts = weight_bytes(folder)
    assert parts["embedding"] == PHI3_MINI_SHAPE["vocab_size"] * PHI3_MINI_SHAPE["hidden_size"] * 4
    assert 0 < parts["layers"] < parts["embedding"] and parts["output head"] > 0
    start = time.perf_counter()
    assert export_slice(2) == folder and time.perf_counter() - start < 5
