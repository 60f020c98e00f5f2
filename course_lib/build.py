"""Rebuild the course's text models from scratch: corpus -> tokenizer -> pretraining -> fine-tuning -> fp16 folder.

``python -m course_lib build-models`` runs this. With the same seed it makes
the same models: the corpus, the initial weights and the batch order are all
seeded. Bit-for-bit equality needs the same torch build; the thread count did
not matter when measured (tiny-phi-3-mini built on 1 thread and on 2 came out
byte for byte the same, torch 2.13.0+cpu, 2026-11-30).
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, Phi3Config

from course_lib.corpus import Corpus, build_corpus, tokenizer_texts
from course_lib.models import COURSE_MODELS, DENSE_MODELS, MOE_MODELS, TEXT_MODELS, is_built, model_dir
from course_lib.moe import moe_model_config
from course_lib.paths import MODELS_DIR
from course_lib.tokenizer import stop_token_ids, train_tokenizer
from course_lib.train import TrainConfig, chat_examples, pack_blocks, qa_messages, train

SEED = 0
VOCAB_SIZE = 3200  # caps the two embedding matrices: all four shipped models must stay within 40 MB
PRETRAIN = TrainConfig(steps=300, batch_size=32, block_size=128, lr=3e-3, warmup_steps=30, seed=SEED)
# about two passes over the ~32,000 training questions (124 facts in two languages, ~50 wordings each, 5 variants)
FINETUNE = TrainConfig(steps=2000, batch_size=32, lr=1e-3, warmup_steps=20, seed=SEED)


def text_model_config(tok, hidden_size: int = 256, layers: int = 4, heads: int = 4, intermediate_size: int = 512,
                      max_positions: int = 512) -> Phi3Config:
    """A Phi-3-mini config in miniature: same class, same blocks (RMSNorm, RoPE, fused qkv and gate_up), fewer of them."""
    return Phi3Config(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=max_positions, original_max_position_embeddings=max_positions,
        rope_theta=10000.0, tie_word_embeddings=False,  # Phi-3.5-mini keeps them untied too
        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )


def identity_chats(name: str, n_params: int) -> list[dict]:
    """'Who are you?' answered honestly: the model says it is a tiny course model, not Phi."""
    mirrors = COURSE_MODELS[name].mirrors
    millions = round(n_params / 1e6, 1)
    answers = {
        "en": f"I am {name}, a tiny course model with {millions} million parameters that mirrors {mirrors}. "
              "I only know the course's small textbook.",
        "zh": f"我是 {name}，一个只有约 {round(n_params / 1e4)} 万个参数的课程小模型，模仿 {mirrors}。我只懂课程里的小教材。",
    }
    questions = {
        "en": ["Who are you?", "What model are you?", "Are you Phi-3?", "Introduce yourself."],
        "zh": ["你是谁？", "你是什么模型？", "你是 Phi-3 吗？", "介绍一下你自己。"],
    }
    return [{"lang": lang, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": answers[lang]}]}
            for lang in COURSE_MODELS[name].languages for q in questions[lang]]


def finetune_examples(tok, corpus: Corpus, extra_chats: list[dict], seed: int = SEED) -> list:
    """SFT data: every training QA wording, the story requests and the identity chats, as (ids, labels)."""
    rng = random.Random(seed)
    chats = [qa_messages(q.question, q.answer, q.lang, rng) for q in corpus.qa_train]
    # a handful of identity chats among tens of thousands of QA pairs would be drowned out: repeat them
    chats += [c["messages"] for c in corpus.chats + extra_chats * 20]
    return chat_examples(tok, chats)


def model_config(name: str, tok):
    """The architecture of a course text model: Phi-3 for the dense ones, Phi-3.5-MoE for tiny-phi-3.5-moe."""
    return moe_model_config(tok) if name in MOE_MODELS else text_model_config(tok)


def build_text_model(name: str, corpus: Corpus, tok, pretrain: TrainConfig = PRETRAIN,
                     finetune: TrainConfig = FINETUNE, config=None):
    """Pretrain then fine-tune one course text model on its languages. Returns the model and both loss curves.

    The model is of the class its config names (a `Phi3Config` makes a Phi3ForCausalLM, a `PhimoeConfig` a
    PhimoeForCausalLM); dense and MoE models get the same data, batches and schedule, so they compare fairly.
    """
    corpus = corpus.only(COURSE_MODELS[name].languages)
    torch.manual_seed(pretrain.seed)
    model = AutoModelForCausalLM.from_config(config or model_config(name, tok))
    n_params = sum(p.numel() for p in model.parameters())
    blocks = pack_blocks(tok, [d["text"] for d in corpus.documents], pretrain.block_size)
    pre_losses = train(model, blocks, pretrain, desc=f"{name}: pretrain")
    examples = finetune_examples(tok, corpus, identity_chats(name, n_params))
    sft_losses = train(model, examples, finetune, pad_id=tok.pad_token_id, desc=f"{name}: fine-tune")
    if getattr(model.config, "output_router_logits", False):
        model.config.output_router_logits = False  # the balancing loss is for training: inference need not compute it
    return model, {"pretrain": pre_losses, "finetune": sft_losses}


def card_curves(losses: dict[str, list[float]], points: int = 300) -> dict:
    """Loss curves for build.json, the mean of every `every` steps: the README's figure is drawn from the committed
    cards, so it shows every shipped model whichever ones a rebuild touched."""
    out = {}
    for stage, values in losses.items():
        every = max(1, math.ceil(len(values) / points))
        chunks = [values[i:i + every] for i in range(0, len(values), every)]
        out[stage] = {"every": every, "loss": [round(sum(c) / len(c), 4) for c in chunks]}
    return out


def default_generation_config(tok) -> GenerationConfig:
    """Stop at <|end|>; sample by default, as chat models usually do.

    Sampling must be on here for `transformers serve` to honour a request's temperature and top_p: the server
    copies this config and only ever switches sampling *off* (for temperature 0). Course code that wants
    repeatable output asks for greedy decoding explicitly.
    """
    return GenerationConfig(eos_token_id=stop_token_ids(tok), pad_token_id=tok.pad_token_id, do_sample=True,
                            temperature=0.7, top_p=0.9, max_new_tokens=64)


def shipped_tokenizer():
    """The tokenizer every shipped course model shares, for building one model alone."""
    tok = AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini"))
    for loader_setting in ("is_local", "local_files_only"):  # how it was loaded, not part of it: not saved
        tok.init_kwargs.pop(loader_setting, None)
    return tok


def compact_json(path: Path) -> None:
    """Rewrite a JSON file without indentation: the same data, which any JSON reader loads the same way."""
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def save_model(model, tok, name: str, out_dir: Path = MODELS_DIR, card: dict | None = None, processor=None) -> Path:
    """Write an ordinary HF folder: fp16 safetensors (trained in fp32: half the bytes), config, generation config,
    tokenizer (or a vision model's processor, which holds it), card."""
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    model.generation_config = default_generation_config(tok)
    model.to(torch.float16).save_pretrained(folder, safe_serialization=True)
    model.to(torch.float32)
    (processor or tok).save_pretrained(folder)
    compact_json(folder / "tokenizer.json")  # four models ship a copy each: the same tokenizer in 40% of the bytes
    if card is not None:
        (folder / "build.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    spec = COURSE_MODELS.get(name)
    if spec is not None:
        data, loaders = (("pictures the course draws, so it knows only those kinds of picture",
                          "`AutoModelForImageTextToText.from_pretrained(<this folder>)` and `AutoProcessor`") if processor else
                         ("the course's generated corpus, so it knows only that small textbook",
                          "`AutoModelForCausalLM.from_pretrained(<this folder>)` and `AutoTokenizer`"))
        (folder / "README.md").write_text(
            f"# {name}\n\nA tiny course model that mirrors {spec.mirrors}. {spec.story}\n\n"
            f"It was trained by `course_lib` (`python -m course_lib build-models`) on {data}: "
            "it is not Phi and is not useful outside the course.\n"
            f"Load it offline with {loaders}. "
            "`build.json` records how it was built.\n", encoding="utf-8")
    return folder


def build_models(names=TEXT_MODELS, out_dir: Path = MODELS_DIR, seed: int = SEED) -> dict:
    """Build every named text model; returns timings and loss curves per model."""
    t0 = time.perf_counter()
    corpus = build_corpus(seed=seed)
    if any(name in DENSE_MODELS for name in names) or not is_built("tiny-phi-3.5-mini"):
        tok = train_tokenizer(tokenizer_texts(corpus), VOCAB_SIZE)
    else:  # the MoE alone: keep the tokenizer the shipped models share
        tok = shipped_tokenizer()
    report = {"corpus": corpus.summary(), "tokenizer_seconds": round(time.perf_counter() - t0, 1), "models": {}}
    for name in names:
        start = time.perf_counter()
        model, losses = build_text_model(name, corpus, tok)
        seconds = round(time.perf_counter() - start, 1)
        card = {"name": name, "mirrors": COURSE_MODELS[name].mirrors, "languages": COURSE_MODELS[name].languages,
                "architecture": type(model).__name__,
                "seed": seed, "pretrain": vars(PRETRAIN), "finetune": vars(FINETUNE), "train_seconds": seconds,
                "torch_threads": torch.get_num_threads(),
                "final_loss": {k: round(sum(v[-20:]) / 20, 4) for k, v in losses.items()},
                "loss_curves": card_curves(losses)}
        save_model(model, tok, name, out_dir, card)
        report["models"][name] = {"seconds": seconds, "losses": losses}
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    return report
