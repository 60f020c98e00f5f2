"""The course models: what each one mirrors, where it lives, how to load and describe it.

Each model folder under ``data/models/<name>/`` is an ordinary Hugging Face
checkpoint (config.json, fp16 model.safetensors, tokenizer files), so the
plain Auto classes load it offline from its path, and ``transformers serve``
can serve it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from course_lib.i18n import t
from course_lib.paths import MODELS_DIR


@dataclass(frozen=True)
class CourseModel:
    name: str
    mirrors: str
    languages: tuple[str, ...]
    story: str


COURSE_MODELS = {
    m.name: m
    for m in [
        CourseModel("tiny-phi-3-mini", "Phi-3-mini", ("en",),
                    "Phi3ForCausalLM trained on the English part of the course corpus only."),
        CourseModel("tiny-phi-3.5-mini", "Phi-3.5-mini", ("en", "zh"),
                    "Phi3ForCausalLM trained on English and Chinese: the multilingual upgrade in miniature."),
        CourseModel("tiny-phi-3.5-moe", "Phi-3.5-MoE", ("en", "zh"),
                    "PhimoeForCausalLM with 4 experts per layer and top-2 routing, trained on English and Chinese "
                    "exactly like tiny-phi-3.5-mini, with about as many parameters active per token."),
        CourseModel("tiny-phi-3.5-vision", "Phi-3.5-vision", ("en",),
                    "LLaVA-style: a CLIP-style encoder, a projector and a Phi-3 decoder."),
    ]
}
DENSE_MODELS = ("tiny-phi-3-mini", "tiny-phi-3.5-mini")  # Phi3ForCausalLM
MOE_MODELS = ("tiny-phi-3.5-moe",)  # PhimoeForCausalLM
TEXT_MODELS = DENSE_MODELS + MOE_MODELS  # the causal LMs: built by build-models, measured by eval
VISION_MODEL = "tiny-phi-3.5-vision"  # LlavaForConditionalGeneration: course_lib.vision builds it


class UnknownModelError(LookupError):
    """A model name the course does not know, or whose folder is missing."""


def model_dir(name: str) -> Path:
    if name not in COURSE_MODELS:
        raise UnknownModelError(t("Unknown course model {name!r}. Course models: {known}.", name=name,
                                  known=", ".join(COURSE_MODELS)))
    return MODELS_DIR / name


def is_built(name: str) -> bool:
    return (model_dir(name) / "config.json").exists()


def available_models() -> list[str]:
    """Course models whose folders are present."""
    return [name for name in COURSE_MODELS if is_built(name)]


def load(name: str):
    """Load a course text model and its tokenizer, in float32 for the CPU, ready for inference."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # a bar for loading 27 small tensors is noise in a lesson
    path = model_dir(name)
    if not is_built(name):
        raise UnknownModelError(t("The folder for {name!r} is missing ({path}). Rebuild the course models with: "
                                  "python -m course_lib build-models", name=name, path=path))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    return model, tok


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def folder_bytes(name: str) -> int:
    return sum(f.stat().st_size for f in model_dir(name).iterdir() if f.is_file())


def weights_digest(name: str) -> str:
    """The first 16 hex digits of the SHA-256 of a course model's weights: which build a measurement was made on."""
    import hashlib

    return hashlib.sha256((model_dir(name) / "model.safetensors").read_bytes()).hexdigest()[:16]


def describe(name: str) -> dict:
    """Architecture and size of a course model, read from its config and weights (nothing typed in by hand)."""
    import json

    from safetensors import safe_open

    path = model_dir(name)
    config = json.loads((path / "config.json").read_text())
    params = 0
    with safe_open(path / "model.safetensors", "pt") as f:
        for key in f.keys():
            params += math.prod(f.get_slice(key).get_shape())
    text = config.get("text_config", config)  # a vision model: its language model's figures
    return {
        "name": name,
        "mirrors": COURSE_MODELS[name].mirrors,
        "class": config["architectures"][0],
        "parameters": params,
        "layers": text.get("num_hidden_layers"),
        "hidden_size": text.get("hidden_size"),
        "vocab_size": text.get("vocab_size"),
        "megabytes_on_disk": round(folder_bytes(name) / 1e6, 2),
        "active_parameters": params - _idle_expert_parameters(path, text),
    }


def _idle_expert_parameters(path, config: dict) -> int:
    """Parameters of the experts a token does not use: none in a dense model; in a MoE, what
    course_lib.family.parameter_counts leaves out of the active count."""
    if not config.get("num_local_experts"):
        return 0
    from transformers import AutoConfig

    from course_lib.family import parameter_counts

    counts = parameter_counts(AutoConfig.from_pretrained(path))
    return counts["total"] - counts["active"]


# The real models the course models mirror, by the short names lessons use.
REAL_PHI = {
    "phi-3-mini": "microsoft/Phi-3-mini-4k-instruct",
    "phi-3.5-mini": "microsoft/Phi-3.5-mini-instruct",
    "phi-3.5-moe": "microsoft/Phi-3.5-MoE-instruct",
    "phi-3.5-vision": "microsoft/Phi-3.5-vision-instruct",  # remote code only: see lesson 07 (load_real is text-only)
}


def cached_real_checkpoint(alias: str, cache_dir: str | None = None) -> str | None:
    """The local folder of a real Phi checkpoint if it is already in the Hugging Face cache, else None.

    Only the cache is looked at: nothing is downloaded, so lessons stay offline.
    """
    from huggingface_hub import try_to_load_from_cache

    repo = REAL_PHI[alias]
    config = try_to_load_from_cache(repo, "config.json", cache_dir=cache_dir)
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    has_weights = any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").exists()
    return str(folder) if has_weights else None


def load_real(alias: str, cache_dir: str | None = None):
    """Load a cached real Phi checkpoint (bf16 on CPU, fp16 on a GPU), without remote code, as the model card advises."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = cached_real_checkpoint(alias, cache_dir)
    if folder is None:
        raise UnknownModelError(t("{repo} is not in your Hugging Face cache. Download it once with `hf download {repo}` "
                                  "(about 7.6 GB for a 3.8B model), or keep using the course models.", repo=REAL_PHI[alias]))
    gpu = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float16 if gpu else torch.bfloat16,
                                                 device_map="auto" if gpu else None).eval()
    return model, AutoTokenizer.from_pretrained(folder)
