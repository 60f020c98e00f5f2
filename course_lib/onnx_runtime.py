"""Run a course model with ONNX Runtime GenAI: export it with the package's model builder, then generate.

    folder = export("tiny-phi-3.5-mini", "int4")   # python -m onnxruntime_genai.models.builder ... -e cpu
    bot = OrtChat(folder)
    for piece in bot.stream("What is an SLM?"):     # og.Model, og.Tokenizer, GeneratorParams, append_tokens,
        print(piece, end="")                        # generate_next_token, a TokenizerStream

This is the API since onnxruntime-genai 0.6 (``compute_logits`` and ``params.input_ids`` are gone). An exported
folder holds ``model.onnx`` (+ ``.data``), ``genai_config.json`` and the tokenizer; ``og.Model`` takes the folder.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from course_lib.errors import CourseError, PromptTooLongError
from course_lib.i18n import t
from course_lib.messages import Reply, as_messages
from course_lib.paths import REPO_ROOT

EXPORT_DIR = REPO_ROOT / "build" / "onnx"  # git-ignored: exports are rebuilt from the shipped safetensors
PRECISIONS = ("fp32", "int4")


# Microsoft's own ONNX exports of the real models: the CPU int4 folder of each repository.
REAL_ONNX = {
    "phi-3.5-mini": ("microsoft/Phi-3.5-mini-instruct-onnx", "cpu_and_mobile/cpu-int4-awq-block-128-acc-level-4"),
    "phi-3-mini": ("microsoft/Phi-3-mini-4k-instruct-onnx", "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4"),
}


def cached_real_onnx(alias: str = "phi-3.5-mini", cache_dir: str | None = None) -> Path | None:
    """The folder of Microsoft's CPU int4 ONNX export of a real Phi model, if it is in the Hugging Face cache.

    Only the cache is looked at; to get it once: hf download REPO --include "FOLDER/*" (about 2.7 GB).
    """
    from huggingface_hub import try_to_load_from_cache

    repo, folder = REAL_ONNX[alias]
    config = try_to_load_from_cache(repo, f"{folder}/genai_config.json", cache_dir=cache_dir)
    if not isinstance(config, str):
        return None
    path = Path(config).parent
    return path if any(path.glob("*.onnx")) else None


def genai():
    """The onnxruntime_genai module, or a clear error saying how to install it."""
    try:
        import onnxruntime_genai
    except ImportError:
        raise CourseError(t("onnxruntime-genai is not installed. Run: pip install -r requirements.txt (it lists "
                            "onnxruntime-genai and onnx-ir, which its model builder needs). It has wheels for Windows, "
                            "Linux and Apple-silicon Macs, Python 3.11+, but none for Intel Macs.")) from None
    return onnxruntime_genai


def builder_command(source: Path, out: Path, precision: str, cache: Path) -> list[str]:
    """The model builder's command line, exactly as a learner would type it."""
    return [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(out),
            "-p", precision, "-e", "cpu", "-c", str(cache)]


def export(model: str = "tiny-phi-3.5-mini", precision: str = "int4", force: bool = False) -> Path:
    """Export a course model to ONNX for the CPU; returns the folder. A current export is reused unless `force`."""
    from course_lib.models import model_dir

    if precision not in PRECISIONS:
        raise CourseError(t("Precision {precision!r} is not one the course exports: choose one of {known}.",
                            precision=precision, known=", ".join(PRECISIONS)))
    source = model_dir(model)
    weights = source / "model.safetensors"
    if not weights.exists():
        raise CourseError(t("{model} is not built: run `python -m course_lib build-models` first.", model=model))
    out = EXPORT_DIR / f"{model}-{precision}"
    stamp = {"source_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "precision": precision,
             "onnxruntime_genai": genai().__version__}
    if not force and (out / "export.json").exists() and json.loads((out / "export.json").read_text()) == stamp:
        return out
    done = subprocess.run(builder_command(source, out, precision, EXPORT_DIR / "cache"), capture_output=True, text=True)
    if done.returncode != 0 or not (out / "model.onnx").exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise CourseError(t("The ONNX model builder failed for {model} ({precision}):", model=model, precision=precision)
                          + "\n" + "\n".join(tail))
    make_tokenizer_ort_compatible(out)
    (out / "export.json").write_text(json.dumps(stamp, indent=2))
    return out


def make_tokenizer_ort_compatible(folder: Path) -> bool:
    """Drop the course tokenizer's CJK pre-split, which ONNX Runtime's tokenizer cannot parse; returns whether it did.

    ORT GenAI's tokenizer (onnxruntime-extensions) only understands the common pre-tokenizer regexes and rejects
    ``[\\u3000-\\u303f\\u4e00-\\u9fff...]`` ("Invalid regex"). Dropping the split leaves the token ids unchanged:
    the BPE merges were learned on text split per CJK character, so no merge joins two characters (a UTF-8
    lead byte never follows a continuation byte inside one character). tests/test_onnx_runtime.py checks the
    ids on the whole course corpus.
    """
    path = folder / "tokenizer.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") != "Sequence":
        return False
    kept = [p for p in pre["pretokenizers"] if p.get("type") != "Split"]
    spec["pre_tokenizer"] = kept[0] if len(kept) == 1 else {"type": "Sequence", "pretokenizers": kept}
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return True


def folder_bytes(folder: Path, pattern: str = "model.onnx*") -> int:
    """Bytes on disk of the model files in an export (graph plus external weights)."""
    return sum(p.stat().st_size for p in Path(folder).glob(pattern))


class OrtChat:
    """An exported course model in ONNX Runtime GenAI: `ask` returns a labelled Reply, `stream` yields pieces."""

    def __init__(self, folder: Path):
        og = genai()
        self.folder = Path(folder)
        if not (self.folder / "genai_config.json").exists():
            raise CourseError(t("{folder} is not an ONNX Runtime GenAI folder (no genai_config.json). "
                                "Export one with course_lib.onnx_runtime.export(...).", folder=self.folder))
        self.model = og.Model(str(self.folder))  # the folder, not model.onnx: the config names the files
        self.tokenizer = og.Tokenizer(self.model)
        self.name = self.folder.name
        self.context = json.loads((self.folder / "genai_config.json").read_text())["model"]["context_length"]

    @property
    def label(self) -> str:
        return f"{self.name} · onnxruntime-genai"

    def prompt(self, prompt_or_messages, system: str | None = None) -> str:
        """The Phi-3 chat prompt, rendered by the chat template the export carries."""
        messages = as_messages(prompt_or_messages, system)
        return self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)

    def generator(self, input_ids, max_new_tokens: int, temperature: float = 0.0, exact: bool = False,
                  prefill: bool = True):
        """A Generator sized for the prompt plus `max_new_tokens`, with the prompt appended unless `prefill` is False.
        `exact` forces exactly max_new_tokens (for timing)."""
        og = genai()
        total = len(input_ids) + max_new_tokens
        if total > self.context:
            raise PromptTooLongError(t("The prompt is {n} tokens; with {new} new tokens that is past this model's "
                                       "{context}-token context. Shorten the prompt or ask for fewer tokens.",
                                       n=len(input_ids), new=max_new_tokens, context=self.context))
        params = og.GeneratorParams(self.model)
        search = {"max_length": total, "do_sample": temperature > 0}
        if temperature > 0:
            search.update(temperature=temperature, top_p=0.9)
        if exact:
            search["min_length"] = total  # the end token cannot stop it early
        params.set_search_options(**search)
        gen = og.Generator(self.model, params)
        if prefill:
            gen.append_tokens(input_ids)  # the prefill: the whole prompt in one pass
        return gen

    def generate_ids(self, input_ids, max_new_tokens: int = 128, temperature: float = 0.0) -> list[int]:
        gen = self.generator(input_ids, max_new_tokens, temperature)
        out = []
        while not gen.is_done():
            gen.generate_next_token()
            out.append(int(gen.get_next_tokens()[0]))
        return out

    def stream(self, prompt_or_messages, max_new_tokens: int = 128, temperature: float = 0.0,
               system: str | None = None) -> Iterator[str]:
        """Yield the reply piece by piece: a TokenizerStream turns token ids into text as soon as it is complete."""
        gen = self.generator(self.tokenizer.encode(self.prompt(prompt_or_messages, system)), max_new_tokens, temperature)
        stream = self.tokenizer.create_stream()
        while not gen.is_done():
            gen.generate_next_token()
            yield stream.decode(gen.get_next_tokens()[0])

    def ask(self, prompt_or_messages, max_new_tokens: int = 128, temperature: float = 0.0,
            system: str | None = None) -> Reply:
        text = "".join(self.stream(prompt_or_messages, max_new_tokens, temperature, system)).strip()
        return Reply(text, self.name, "onnxruntime-genai in-process", "tiny course model")

    def logits(self, input_ids):
        """The logits at every position of `input_ids` (one prefill), as numpy: for perplexity."""
        gen = self.generator(input_ids, 1)
        return gen.get_output("logits")[0]

    def timed_generation(self, input_ids, new_tokens: int) -> dict:
        """Greedy-generate exactly `new_tokens`, timing each phase: creating the generator (it allocates the KV
        cache), the prefill (`append_tokens`), the first token, and the rest."""
        start = time.perf_counter()
        gen = self.generator(input_ids, new_tokens, exact=True, prefill=False)
        setup = time.perf_counter()
        gen.append_tokens(input_ids)
        prefilled = time.perf_counter()
        gen.generate_next_token()
        ids = [int(gen.get_next_tokens()[0])]
        first = time.perf_counter()
        while not gen.is_done():
            gen.generate_next_token()
            ids.append(int(gen.get_next_tokens()[0]))
        end = time.perf_counter()
        return {"setup_s": setup - start, "prefill_s": prefilled - setup, "ttft_s": first - start,
                "decode_s": end - first, "ids": ids}
