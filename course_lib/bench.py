"""python -m course_lib bench: the course model in every local runtime, measured side by side in one run.

For each runtime (transformers fp32 / bf16 / dynamic int8, ONNX Runtime GenAI fp32 / int4) a fresh Python process
loads the same course model and measures, on the same prompts:

* time to first token (what a user waits, setup included), the setup part of it, and prefill tokens/s (prompt
  tokens / time of the pass over the prompt, on a long prompt);
* decode tokens/s: exactly `new_tokens` greedy tokens, the end token may not stop them, median of `repeats`;
* model bytes and the process's peak RSS (a fresh process per runtime, so one runtime's memory is not another's);
* quality: held-out perplexity, accuracy on held-out questions (scored by course_lib.scoring), and agreement
  with transformers fp32's greedy replies.

Then it measures this machine's memory bandwidth and the decode roofline (course_lib.roofline). Absolute
numbers vary between machines and runs; the ratios, measured together, are what to quote.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNTIMES = ("transformers fp32", "transformers bf16", "transformers int8", "onnxruntime-genai fp32",
            "onnxruntime-genai int4")
BASELINE = "transformers fp32"


# ---- one runtime, in its own process ------------------------------------------------------------------------

class _Clock:
    """A generate() streamer that only notes when each piece arrives: the first put() is the prompt."""

    def __init__(self):
        self.times = []

    def put(self, value):
        self.times.append(time.perf_counter())

    def end(self):
        pass


class TransformersRuntime:
    def __init__(self, model: str, precision: str):
        import io
        import warnings

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging

        from course_lib.models import model_dir

        logging.disable_progress_bar()
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(model_dir(model))
        net = AutoModelForCausalLM.from_pretrained(model_dir(model), dtype=torch.float32, attn_implementation="eager")
        if precision == "bf16":
            net = net.to(torch.bfloat16)
        elif precision == "int8":
            with warnings.catch_warnings():  # torch.ao is deprecated in favour of torchao, but still ships in 2.13
                warnings.simplefilter("ignore")
                net = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8)
        self.net = net.eval()
        buffer = io.BytesIO()
        torch.save(self.net.state_dict(), buffer)  # int8 weights are packed: count what is really stored
        self.model_bytes = buffer.tell()

    def encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def timed_generation(self, ids: list[int], new_tokens: int) -> dict:
        """generate() with a clock as streamer: its first put() comes when the prompt is about to be read."""
        clock = _Clock()
        x = self.torch.tensor([ids])
        with self.torch.no_grad():
            start = time.perf_counter()
            out = self.net.generate(input_ids=x, attention_mask=self.torch.ones_like(x), max_new_tokens=new_tokens,
                                    min_new_tokens=new_tokens, do_sample=False, streamer=clock,
                                    pad_token_id=self.tok.pad_token_id)
        return {"setup_s": clock.times[0] - start, "prefill_s": clock.times[1] - clock.times[0],
                "ttft_s": clock.times[1] - start, "decode_s": clock.times[-1] - clock.times[1],
                "ids": out[0, len(ids):].tolist()}

    def negative_log_likelihood(self, ids: list[int]) -> float:
        with self.torch.no_grad():
            x = self.torch.tensor([ids])
            return float(self.net(input_ids=x, labels=x).loss) * (len(ids) - 1)

    def reply_ids(self, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
        from course_lib.tokenizer import stop_token_ids

        x = self.torch.tensor([prompt_ids])
        with self.torch.no_grad():
            out = self.net.generate(input_ids=x, attention_mask=self.torch.ones_like(x), max_new_tokens=max_new_tokens,
                                    do_sample=False, eos_token_id=stop_token_ids(self.tok),
                                    pad_token_id=self.tok.pad_token_id)
        return out[0, len(prompt_ids):].tolist()

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True).strip()


class OrtRuntime:
    def __init__(self, model: str, precision: str):
        import numpy

        from course_lib.onnx_runtime import OrtChat, export, folder_bytes

        self.np = numpy
        folder = export(model, precision)
        self.bot = OrtChat(folder)
        self.model_bytes = folder_bytes(folder)

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self.bot.tokenizer.encode(text)]

    def timed_generation(self, ids: list[int], new_tokens: int) -> dict:
        return self.bot.timed_generation(ids, new_tokens)

    def negative_log_likelihood(self, ids: list[int]) -> float:
        logits = self.np.asarray(self.bot.logits(ids), dtype=self.np.float64)[:-1]
        logits -= logits.max(axis=-1, keepdims=True)
        log_probs = logits - self.np.log(self.np.exp(logits).sum(axis=-1, keepdims=True))
        return float(-log_probs[self.np.arange(len(ids) - 1), ids[1:]].sum())

    def reply_ids(self, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
        return self.bot.generate_ids(prompt_ids, max_new_tokens)

    def decode(self, ids: list[int]) -> str:
        return self.bot.tokenizer.decode(ids).strip()


def load_runtime(name: str, model: str):
    engine, precision = name.split()
    return (TransformersRuntime if engine == "transformers" else OrtRuntime)(model, precision)


def peak_rss_bytes() -> int:
    """This process's peak resident memory. On Linux, VmHWM: getrusage's maxrss would include the parent's peak,
    because Linux carries it across fork and exec."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, others kilobytes


def measure(name: str, task: dict) -> dict:
    """Everything the benchmark reports for one runtime (run in a fresh process by `run`)."""
    start = time.perf_counter()
    rt = load_runtime(name, task["model"])
    row = {"runtime": name, "load_s": time.perf_counter() - start, "model_bytes": rt.model_bytes}
    short, long = rt.encode(task["chat_prompt"]), rt.encode(task["long_prompt"])
    rt.timed_generation(short, 4)  # warm-up, not timed
    runs = [rt.timed_generation(short, task["new_tokens"]) for _ in range(task["repeats"])]
    n = task["new_tokens"]
    row["ttft_ms"] = statistics.median(r["ttft_s"] for r in runs) * 1000
    row["setup_ms"] = statistics.median(r["setup_s"] for r in runs) * 1000
    row["decode_tok_s"] = statistics.median((n - 1) / r["decode_s"] for r in runs)
    row["prefill_tok_s"] = statistics.median(len(long) / rt.timed_generation(long, 2)["prefill_s"]
                                             for _ in range(task["repeats"]))
    row["prompt_tokens"] = {"short": len(short), "long": len(long)}
    nll = sum(rt.negative_log_likelihood(rt.encode(text)) for text in task["stories"])
    row["perplexity"] = math.exp(nll / sum(len(rt.encode(text)) - 1 for text in task["stories"]))
    replies = [rt.reply_ids(rt.encode(p), task["answer_tokens"]) for p in task["question_prompts"]]
    row["reply_ids"] = replies
    row["replies"] = [rt.decode(ids) for ids in replies]
    row["peak_rss_bytes"] = peak_rss_bytes()
    return row


# ---- the whole benchmark ------------------------------------------------------------------------------------

def workload(model: str, n_questions: int, n_stories: int, new_tokens: int, repeats: int) -> dict:
    """The prompts and texts every runtime sees: held-out questions and stories in both languages."""
    from transformers import AutoTokenizer

    from course_lib.corpus import build_corpus
    from course_lib.models import model_dir

    corpus = build_corpus()
    tok = AutoTokenizer.from_pretrained(model_dir(model))
    def alternate(items):  # English, Chinese, English, ...: both languages whatever the count
        en, zh = [i for i in items if i[0] == "en"], [i for i in items if i[0] == "zh"]
        return [item for pair in zip(en, zh, strict=False) for item in pair]

    questions = [q for _, q in alternate([(q.lang, q) for q in corpus.qa_heldout])][:n_questions]
    stories = [text for _, text in alternate([(d["lang"], d["text"]) for d in corpus.heldout_documents])][:n_stories]

    def prompt(text):
        return tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False)

    long_story = " ".join(d["text"] for d in corpus.heldout_documents if d["lang"] == "en")
    long_story = tok.decode(tok(long_story, add_special_tokens=False, verbose=False)["input_ids"][:300])
    return {"model": model, "new_tokens": new_tokens, "repeats": repeats, "answer_tokens": 48,
            "chat_prompt": prompt("Tell me a story about a fox."),
            "long_prompt": prompt(f"Read this and tell me who it is about. {long_story}"),
            "question_prompts": [prompt(q.question) for q in questions],
            "questions": [dataclasses.asdict(q) for q in questions], "stories": stories}


def run_worker(name: str, task_file: Path, timeout: float = 300) -> dict:
    done = subprocess.run([sys.executable, "-m", "course_lib.bench", name, str(task_file)],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return {"runtime": name, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(reference: list[list[int]], other: list[list[int]]) -> dict:
    """How often a runtime's greedy replies equal the baseline's: whole replies, and tokens position by position."""
    same = sum(a == b for a, b in zip(reference, other, strict=True))
    matching = sum(sum(x == y for x, y in zip(a, b, strict=False)) for a, b in zip(reference, other, strict=True))
    total = sum(max(len(a), len(b)) for a, b in zip(reference, other, strict=True))
    return {"identical_replies": same / len(reference), "token_agreement": matching / total}


def roofline_rows(bandwidth: float, course_model: str) -> list[dict]:
    """Decode ceilings at this machine's bandwidth: the course model, real Phi models, and GPT-4's estimate."""
    from transformers import AutoConfig

    from course_lib.family import find, load_family, parameter_counts, phi35_mini_config, phi35_moe_config
    from course_lib.models import model_dir
    from course_lib.roofline import decode_ceiling, parameters_read_per_token

    family = load_family()
    moe = phi35_moe_config()
    embedding = moe.vocab_size * moe.hidden_size
    models = {
        course_model: parameters_read_per_token(AutoConfig.from_pretrained(model_dir(course_model))),
        "Phi-3-mini (3.8B)": parameters_read_per_token(phi35_mini_config()),
        "Phi-3.5-MoE (active)": parameter_counts(moe)["active"] - embedding,
        "GPT-4 class (1.76T estimate, if read whole)": find(family, "GPT-4 (reported estimate)")["params_b"] * 1e9,
    }
    return [{"model": name, "parameters_read": params, "precision": precision,
             "ceiling_tok_s": decode_ceiling(bandwidth, params, precision)}
            for name, params in models.items() for precision in ("fp32", "fp16", "int4")]


def run(model: str = "tiny-phi-3.5-mini", runtimes=RUNTIMES, new_tokens: int = 64, repeats: int = 3,
        n_questions: int = 16, n_stories: int = 16, progress: bool = True, real_width: bool = True) -> dict:
    """Measure every runtime in its own process, one after another, then the bandwidth and the roofline, and
    (unless real_width=False) the roofline measured on a Phi-3-mini-wide slice (course_lib.real_width)."""
    import platform

    import torch
    from tqdm.auto import tqdm

    from course_lib.corpus import QA
    from course_lib.onnx_runtime import export, genai
    from course_lib.roofline import read_bandwidth
    from course_lib.scoring import qa_correct

    task = workload(model, n_questions, n_stories, new_tokens, repeats)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        task_file = Path(tmp) / "task.json"
        task_file.write_text(json.dumps(task, ensure_ascii=False))
        steps = tqdm(list(runtimes) + ["memory bandwidth"] + (["real-width slice"] if real_width else []), desc="bench",
                     disable=not progress)
        for name in steps:
            steps.set_description(name)
            if name.startswith("onnxruntime-genai"):
                export(model, name.split()[1])  # outside the timed process: the export is not part of the runtime
            if name == "memory bandwidth":
                bandwidth = read_bandwidth()
            elif name == "real-width slice":
                from course_lib import real_width as slice_bench

                wide = slice_bench.measure(bandwidth)
            else:
                rows.append(run_worker(name, task_file))
    by_name = {r["runtime"]: r for r in rows if "error" not in r}
    base = by_name.get(BASELINE)
    for row in by_name.values():
        row["accuracy"] = sum(qa_correct(QA(**q), reply) for q, reply
                              in zip(task["questions"], row["replies"], strict=True)) / len(task["questions"])
        if base:
            row.update(agreement(base["reply_ids"], row["reply_ids"]))

    def ratio(a, b):
        return by_name[a]["decode_tok_s"] / by_name[b]["decode_tok_s"] if a in by_name and b in by_name else None

    ratios = {
        "ort_int4_vs_transformers_decode": ratio("onnxruntime-genai int4", BASELINE),
        "ort_fp32_vs_transformers_decode": ratio("onnxruntime-genai fp32", BASELINE),
        "ort_int4_vs_ort_fp32_decode": ratio("onnxruntime-genai int4", "onnxruntime-genai fp32"),
        "transformers_int8_vs_fp32_decode": ratio("transformers int8", BASELINE),
        "transformers_bf16_vs_fp32_decode": ratio("transformers bf16", BASELINE),
    }
    return {
        "model": model, "rows": rows, "ratios": ratios, "bandwidth_bytes_per_s": bandwidth,
        "roofline": roofline_rows(bandwidth, model),
        **({"real_width": wide} if real_width else {}),
        "settings": {k: task[k] for k in ("new_tokens", "repeats", "answer_tokens")}
        | {"questions": len(task["question_prompts"]), "stories": len(task["stories"])},
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__,
                    "onnxruntime_genai": genai().__version__},
    }


def rate(tokens_per_s: float) -> str:
    """Tokens/s for people: 9,901 / 32.3 / 0.0171."""
    return f"{tokens_per_s:,.0f}" if tokens_per_s >= 100 else f"{tokens_per_s:.3g}"


def table(result: dict) -> str:
    """The benchmark as a text table, then the ratios and the roofline."""
    lines = [f"{'runtime':24} {'TTFT ms':>8} {'setup ms':>9} {'prefill tok/s':>14} {'decode tok/s':>13} {'model MB':>9} "
             f"{'peak RSS MB':>12} {'ppl':>6} {'acc':>5} {'same as fp32':>13}"]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"{r['runtime']:24} failed: {r['error']}")
            continue
        same = f"{r['identical_replies']:.0%}" if "identical_replies" in r else "-"
        lines.append(f"{r['runtime']:24} {r['ttft_ms']:8.1f} {r['setup_ms']:9.1f} {r['prefill_tok_s']:14,.0f} "
                     f"{r['decode_tok_s']:13,.0f} "
                     f"{r['model_bytes'] / 1e6:9.1f} {r['peak_rss_bytes'] / 1e6:12,.0f} {r['perplexity']:6.3f} "
                     f"{r['accuracy']:5.0%} {same:>13}")
    lines.append("")
    for key, value in result["ratios"].items():
        lines.append(f"{key}: {value:.1f}x" if value else f"{key}: not measured")
    lines.append(f"\nmemory bandwidth (read, {result['machine']['threads']} threads): "
                 f"{result['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s -> decode ceilings at batch 1:")
    for r in result["roofline"]:
        lines.append(f"  {r['model']:44} {r['precision']:5} {rate(r['ceiling_tok_s']):>10} tok/s")
    if "real_width" in result:
        w = result["real_width"]
        lines.append(f"\nreal width (Phi-3-mini's shape, {w['layers']} of 32 layers, int4, random weights): "
                     f"{w['decode_tok_s']:.1f} tok/s ({w['decode_tok_s_1_thread']:.1f} on 1 thread), "
                     f"{w['bytes_per_token'] / 1e6:,.0f} MB read per token = {w['achieved_gbs']:.1f} GB/s, "
                     f"{w['fraction_of_roofline']:.0%} of the roofline: {w['bound']}-bound; all 32 layers: "
                     f"{w['full_32_layers']['bytes_per_token'] / 1e9:.2f} GB per token, ceiling "
                     f"{w['full_32_layers']['roofline_tok_s']:.1f} tok/s, at the achieved rate "
                     f"{w['full_32_layers']['at_achieved_rate_tok_s']:.1f} tok/s")
    return "\n".join(lines)


if __name__ == "__main__":  # the worker: python -m course_lib.bench RUNTIME TASK_FILE
    _name, _task_file = sys.argv[1], Path(sys.argv[2])
    print(json.dumps(measure(_name, json.loads(_task_file.read_text(encoding="utf-8"))), ensure_ascii=False))
