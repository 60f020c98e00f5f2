"""The decode roofline measured on a model as wide as Phi-3-mini: a slice of it, with random weights.

The course models are a few MB and sit in the CPU's caches, so they cannot show the limit that governs a real
Phi: reading gigabytes of weights from DRAM for every token. This module builds a Phi-3-mini-shaped slice
(hidden size 3072, MLP 8192, vocabulary 32,064, the same layer; just `layers` of its 32), exports it to int4 with
ONNX Runtime GenAI's model builder, and times its decoding. Speed does not depend on the weights' values, so
random ones do: nothing is downloaded. From the export's own files we know the bytes a token reads, and with the
machine's measured bandwidth, how close decoding gets to the roofline; then the arithmetic for all 32 layers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from course_lib.errors import CourseError
from course_lib.paths import REPO_ROOT

PHI3_MINI_SHAPE = dict(vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_attention_heads=32,
                       num_key_value_heads=32)  # Phi-3-mini / Phi-3.5-mini (data/sources.md: their config.json)
PHI3_MINI_LAYERS = 32
SLICE_LAYERS = 2
EXPORT_ROOT = REPO_ROOT / "build" / "onnx"  # git-ignored, like lesson 09's exports
NEW_TOKENS = 48
PROMPT_TOKENS = 16


def slice_config(layers: int = SLICE_LAYERS):
    """Phi-3-mini's config with only `layers` of its 32 layers."""
    from transformers import Phi3Config

    config = Phi3Config(**PHI3_MINI_SHAPE, num_hidden_layers=layers, max_position_embeddings=4096,
                        original_max_position_embeddings=4096, tie_word_embeddings=False, bos_token_id=1,
                        eos_token_id=32000, pad_token_id=32000)
    config.architectures = ["Phi3ForCausalLM"]  # the model builder picks its exporter by this name
    return config


def write_random_checkpoint(folder: Path, layers: int = SLICE_LAYERS, seed: int = 0) -> int:
    """An ordinary HF folder (fp16 safetensors, config, a tokenizer the builder can copy) with random weights.

    Tensors are made one at a time from their shapes on the meta device, so memory holds the fp16 weights only.
    Returns the number of parameters."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    from course_lib.models import model_dir

    config = slice_config(layers)
    with torch.device("meta"):
        shapes = {name: p.shape for name, p in AutoModelForCausalLM.from_config(config).state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    weights = {name: torch.ones(shape, dtype=torch.float16) if "norm" in name
               else torch.randn(shape, generator=generator, dtype=torch.float16) * 0.02 for name, shape in shapes.items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):  # the builder saves a tokenizer
        source = model_dir("tiny-phi-3.5-mini") / name
        if source.exists():
            shutil.copy(source, folder / name)
    return sum(w.numel() for w in weights.values())


def export_slice(layers: int = SLICE_LAYERS, force: bool = False) -> Path:
    """The slice exported to int4 for the CPU (reused while the recipe and onnxruntime-genai are unchanged)."""
    from course_lib.onnx_runtime import builder_command, genai

    out = EXPORT_ROOT / f"phi3-mini-slice-{layers}-int4"
    stamp = {"shape": PHI3_MINI_SHAPE, "layers": layers, "precision": "int4", "seed": 0,
             "onnxruntime_genai": genai().__version__,
             "recipe": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}
    if not force and (out / "slice.json").exists() and json.loads((out / "slice.json").read_text()) == stamp:
        return out
    source = EXPORT_ROOT / f"phi3-mini-slice-{layers}-hf"
    write_random_checkpoint(source, layers)
    done = subprocess.run(builder_command(source, out, "int4", EXPORT_ROOT / "cache"), capture_output=True, text=True)
    if done.returncode != 0 or not (out / "model.onnx").exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise CourseError("The ONNX model builder failed on the Phi-3-mini slice:\n" + "\n".join(tail))
    shutil.rmtree(source)  # 0.8 GB of fp16 weights: the int4 export is all the measurement needs
    (out / "slice.json").write_text(json.dumps(stamp, indent=2))
    return out


def weight_bytes(folder: Path) -> dict[str, int]:
    """Bytes of each part of the exported weights, read from the ONNX graph's initializers (external data)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    graph = onnx.load(folder / "model.onnx", load_external_data=False).graph
    parts = {"embedding": 0, "layers": 0, "output head": 0}
    for tensor in graph.initializer:
        size = ExternalDataInfo(tensor).length if uses_external_data(tensor) else len(tensor.raw_data)
        name = tensor.name
        part = "embedding" if "embed_tokens" in name else "layers" if ".layers." in name else "output head"
        parts[part] += size
    return parts


def set_threads(folder: Path, threads: int) -> None:
    """ONNX Runtime's intra-op threads for this export (its genai_config.json session options)."""
    path = folder / "genai_config.json"
    config = json.loads(path.read_text())
    config["model"]["decoder"].setdefault("session_options", {})["intra_op_num_threads"] = threads
    path.write_text(json.dumps(config, indent=2))


def decode_speed(folder: Path, threads: int, repeats: int = 3) -> float:
    """Median decode tokens/s at batch 1, greedy, after a warm-up; in a fresh process with `threads` threads."""
    set_threads(folder, threads)
    done = subprocess.run([sys.executable, "-m", "course_lib.real_width", str(folder), str(repeats)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise CourseError("Timing the Phi-3-mini slice failed: " + (done.stderr.strip().splitlines() or ["?"])[-1])
    return float(done.stdout.strip().splitlines()[-1])


def _time_decode(folder: str, repeats: int) -> float:
    import onnxruntime_genai as og

    model = og.Model(folder)
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=PROMPT_TOKENS + NEW_TOKENS + 1, do_sample=False)

    def one_run() -> float:
        generator = og.Generator(model, params)
        generator.append_tokens([list(range(100, 100 + PROMPT_TOKENS))])
        generator.generate_next_token()  # the first token comes with the prefill: not part of decode
        start = time.perf_counter()
        for _ in range(NEW_TOKENS - 1):
            generator.generate_next_token()
        return (NEW_TOKENS - 1) / (time.perf_counter() - start)

    one_run()  # warm-up
    return statistics.median(one_run() for _ in range(repeats))


def measure(bandwidth_bytes_per_s: float, layers: int = SLICE_LAYERS) -> dict:
    """The real-width roofline: decode speed on 1 and on all threads, bytes per token, and the share of the
    measured bandwidth it reaches; then the same arithmetic for Phi-3-mini's 32 layers."""
    import torch

    start = time.perf_counter()
    folder = export_slice(layers)
    export_s = time.perf_counter() - start
    parts = weight_bytes(folder)
    per_token = parts["layers"] + parts["output head"]  # the embedding table is only looked up: one row a token
    threads = torch.get_num_threads()
    speed = {1: decode_speed(folder, 1)} | ({threads: decode_speed(folder, threads)} if threads > 1 else {})
    tok_s = speed[threads]
    achieved = tok_s * per_token
    full = parts["output head"] + parts["layers"] / layers * PHI3_MINI_LAYERS
    fraction = achieved / bandwidth_bytes_per_s
    return {"layers": layers, "decode_tok_s": tok_s, "decode_tok_s_1_thread": speed[1], "threads": threads,
            "bytes_per_token": per_token, "bytes": parts, "bandwidth_gbs": bandwidth_bytes_per_s / 1e9,
            "achieved_gbs": achieved / 1e9, "fraction_of_roofline": fraction,
            "thread_speedup": tok_s / speed[1],
            # bandwidth-bound: near the roofline, or a second core barely helps (the memory system is the limit)
            "bound": "bandwidth" if fraction >= 0.7 or tok_s / speed[1] < 1.25 else "compute",
            "peak_builder_rss_bytes": _peak_child_rss(),
            "full_32_layers": {"bytes_per_token": full, "roofline_tok_s": bandwidth_bytes_per_s / full,
                               "at_achieved_rate_tok_s": achieved / full},
            "export_s": export_s}


def _peak_child_rss() -> int:
    """The largest resident memory of any finished child process (the model builder is the big one)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


if __name__ == "__main__":  # the timing worker: python -m course_lib.real_width FOLDER REPEATS
    print(_time_decode(sys.argv[1], int(sys.argv[2])))
