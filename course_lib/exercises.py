"""The lessons' exercises, one section per lesson: each a check with hints and a stored solution.

A check takes the learner's answer and returns (passed, message); `course_lib.checks.check` prints the verdict.
"""

from __future__ import annotations

import torch

from course_lib.checks import exercise, run_solution_cached

# ---- 00 setup ---------------------------------------------------------------

@exercise("00-param-count", "🐢", "How many parameters does tiny-phi-3.5-mini have?", solution="""
from course_lib.models import describe
answer = describe("tiny-phi-3.5-mini")["parameters"] / 1e6   # in millions
""")
def _check_param_count(answer):
    from course_lib.models import describe

    truth = describe("tiny-phi-3.5-mini")["parameters"] / 1e6
    if not isinstance(answer, (int, float)):
        return False, "give a number: the parameter count in millions, e.g. 12.3"
    if abs(answer - truth) <= 0.05 * truth:
        return True, f"it has {truth:.2f} million parameters, about a thousandth of Phi-3.5-mini's 3.8 billion."
    if abs(answer * 1e6 - truth) <= 0.05 * truth or abs(answer / 1e6 - truth) <= 0.05 * truth:
        return False, "right number, wrong unit: give it in millions."
    return False, "read the 'M params' column of the doctor report, or call describe('tiny-phi-3.5-mini')."


# ---- 01 what is an SLM ------------------------------------------------------

@exercise("01-temperature", "🐕", "Write apply_temperature(logits, temperature) -> probabilities", solution="""
import torch
def apply_temperature(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)
answer = apply_temperature
""")
def _check_temperature(fn):
    torch.manual_seed(0)
    logits = torch.randn(50) * 3
    for t in (0.5, 1.0, 2.0):
        result = fn(logits.clone(), t)
        if result is None:
            return False, "your function returned None: did you forget `return`?"
        got = torch.as_tensor(result, dtype=torch.float)
        want = torch.softmax(logits / t, dim=-1)
        if got.shape != want.shape:
            return False, f"return one probability per token: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
        if abs(float(got.sum()) - 1) > 1e-4:
            return False, f"probabilities must sum to 1 (yours sum to {float(got.sum()):.3f}): apply softmax"
        if not torch.allclose(got, want, atol=1e-5):
            return False, f"at temperature {t} the values differ: divide the logits by the temperature before the softmax"
    return True, "dividing by T < 1 sharpens the distribution, T > 1 flattens it."


COUNT_TOKENS_TEXT = "我今天学习小语言模型。"


@exercise("01-count-tokens", "🐢", f"How many tokens is '{COUNT_TOKENS_TEXT}' for the course tokenizer?", solution="""
from transformers import AutoTokenizer
from course_lib.models import model_dir
tok = AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini"))
answer = len(tok("我今天学习小语言模型。", add_special_tokens=False)["input_ids"])
""")
def _check_count_tokens(answer):
    from transformers import AutoTokenizer

    from course_lib.models import model_dir

    tok = AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini"))
    ids = tok(COUNT_TOKENS_TEXT, add_special_tokens=False)["input_ids"]
    n_chars = len(COUNT_TOKENS_TEXT)
    if answer == len(ids):
        return True, (f"{len(ids)} tokens for {n_chars} characters: most characters are one token each, and any "
                      "character the tokenizer never saw falls back to several byte tokens.")
    if answer == n_chars:
        return False, f"{n_chars} is the number of characters; count the token ids with tok(text)['input_ids']."
    return False, "encode the sentence with the course tokenizer and count the ids."



@exercise("01-top-p", "🦁", "Write nucleus(probs, top_p): keep the smallest set of tokens whose mass reaches top_p", solution="""
import torch
def nucleus(probs, top_p):
    sorted_probs, order = torch.sort(probs, descending=True)
    mass_before = sorted_probs.cumsum(0) - sorted_probs     # probability of the tokens ranked above each one
    sorted_probs[mass_before >= top_p] = 0.0                 # the most likely token always stays
    kept = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return kept / kept.sum()
answer = nucleus
""")
def _check_top_p(fn):
    from course_lib.generation import filter_probs

    torch.manual_seed(1)
    for top_p in (0.3, 0.75, 0.95, 1.0):
        logits = torch.randn(40) * 2
        probs = torch.softmax(logits, dim=-1)
        result = fn(probs.clone(), top_p)
        if result is None:
            return False, "your function returned None: did you forget `return`?"
        got = torch.as_tensor(result, dtype=torch.float)
        want = filter_probs(logits, temperature=1.0, top_p=top_p)
        if got.shape != want.shape:
            return False, f"return one probability per token (shape {tuple(want.shape)}), in the original order"
        if abs(float(got.sum()) - 1) > 1e-4:
            return False, "renormalise what you keep so it sums to 1"
        if int((got > 0).sum()) != int((want > 0).sum()):
            return False, (f"at top_p={top_p} you keep {int((got > 0).sum())} tokens, the nucleus has {int((want > 0).sum())}: "
                           "sort by probability, and keep a token while the mass *before* it is below top_p")
        if not torch.allclose(got, want, atol=1e-5):
            return False, "the right tokens, but not the right values: put them back in vocabulary order, then renormalise"
    return True, "top-p adapts to the distribution: few tokens when the model is sure, many when it is not."

# ---- 02 SLM vs LLM ------------------------------------------------------------

@exercise("02-llm-gpus", "🐢", "How many 80 GB GPUs does it take just to hold GPT-4's estimated weights at fp16?", solution="""
import math
parameters = 1.76e12  # GPT-4: a reported estimate
gigabytes = parameters * 2 / 1e9  # fp16: 2 bytes per weight
answer = math.ceil(gigabytes / 80)  # whole GPUs
""")
def _check_llm_gpus(answer):
    import math

    gigabytes = 1.76e12 * 2 / 1e9
    truth = math.ceil(gigabytes / 80)
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, "give a number of GPUs, e.g. 12"
    if answer == truth:
        return True, (f"{gigabytes:,.0f} GB of weights need {truth} GPUs of 80 GB, before the KV cache and activations. "
                      "Phi-3-mini at int4 (1.9 GB) fits in a phone.")
    if abs(answer - gigabytes) <= 0.02 * gigabytes:
        return False, "that is the memory in GB; now divide by 80 GB per GPU."
    for precision, bytes_per_weight in (("fp32", 4), ("int8", 1), ("int4", 0.5)):
        if answer == math.ceil(1.76e12 * bytes_per_weight / 1e9 / 80):
            return False, f"that is the count at {precision} ({bytes_per_weight} bytes per weight); fp16 takes 2 bytes."
    return False, "memory = parameters × 2 bytes (fp16) ÷ 10**9 = GB; then divide by 80 and round up."


@exercise("02-bytes-needed", "🐕", "Write bytes_needed(parameters, bits): the memory the weights take", solution="""
def bytes_needed(parameters, bits):
    return parameters * bits / 8
answer = bytes_needed
""")
def _check_bytes_needed(fn):
    if not callable(fn):
        return False, "pass the function itself: check('02-bytes-needed', bytes_needed)"

    def close(value, target):
        return abs(value - target) <= 1e-9 * abs(target)

    for parameters, bits in ((3_800_000_000, 4), (3_800_000_000, 16), (7_300_000_000, 32), (1_000, 8), (3, 4)):
        result = fn(parameters, bits)
        if result is None:
            return False, "your function returned None: did you forget `return`?"
        got, want = float(result), parameters * bits / 8
        if close(got, want):
            continue
        if close(got, parameters * bits):
            return False, "that is the number of bits: divide by 8, the bits in a byte."
        if close(got, want / 1e9) or close(got, want / 2**30):
            return False, "return bytes, not gigabytes: leave the unit conversion to the caller."
        if got == parameters * bits // 8:
            return False, f"use / rather than //: {parameters} weights at {bits} bits take {want} bytes."
        return False, f"{parameters:,} weights at {bits} bits take {want:,.1f} bytes; yours says {got:,.1f}."
    return True, "memory = parameters × bits ÷ 8: 3.8B weights take 15.2 GB at fp32, 7.6 GB at fp16 and 1.9 GB at int4."


# ---- 03 how SLMs are made ---------------------------------------------------

@exercise("03-label-mask", "🐕", "Write sft_labels(prompt_ids, answer_ids): mask the prompt with -100", solution="""
def sft_labels(prompt_ids, answer_ids):
    return [-100] * len(prompt_ids) + list(answer_ids)
answer = sft_labels
""")
def _check_label_mask(fn):
    cases = [([5, 6, 7], [8, 9]), ([1], [2, 3, 4]), ([4, 4], [])]
    for prompt, ans in cases:
        result = fn(list(prompt), list(ans))
        if result is None:
            return False, "your function returned None: did you forget `return`?"
        got = list(result)
        want = [-100] * len(prompt) + ans
        if len(got) != len(want):
            return False, f"labels must be as long as prompt + answer ({len(want)}), got {len(got)}"
        if got[: len(prompt)] != want[: len(prompt)]:
            return False, "every prompt position must be -100, the value cross-entropy ignores"
        if got != want:
            return False, "the answer positions must keep their token ids: they are what the model learns"
    return True, "only the assistant's tokens are targets, so the model learns to answer, not to ask."


@exercise("03-lora-share", "🐢", "What fraction of tiny-phi-3.5-mini's weights does LoRA (r=8) train?", solution="""
from peft import LoraConfig, get_peft_model
from course_lib.models import load
model, tok = load("tiny-phi-3.5-mini")
lora = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]))
trainable, total = lora.get_nb_trainable_parameters()
answer = trainable / total
""")
def _check_lora_share(answer):
    truth = run_solution_cached("03-lora-share")
    if not isinstance(answer, float) or not 0 < answer < 1:
        return False, "give a fraction between 0 and 1: trainable parameters / all parameters"
    if abs(answer - truth) <= 0.1 * truth:
        return True, f"LoRA trains {truth:.1%} of the weights; the rest stay frozen."
    if abs(answer / 100 - truth) <= 0.1 * truth:
        return False, "that looks like a percentage: give a fraction (divide by 100)."
    return False, "use model.get_nb_trainable_parameters() on the LoRA-wrapped model: (trainable, total)."



# ---- 04 phi family ----------------------------------------------------------

@exercise("04-int4-gb", "🐢", "How many GB do Phi-3.5-mini's weights take at int4?", solution="""
from course_lib.family import memory_gb, parameter_counts, phi35_mini_config
answer = memory_gb(parameter_counts(phi35_mini_config())["total"], "int4")   # in GB (1e9 bytes)
""")
def _check_int4_gb(answer):
    from course_lib.family import parameter_counts, phi35_mini_config

    params = parameter_counts(phi35_mini_config())["total"]
    truth = params * 0.5 / 1e9
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, "give a number of gigabytes, e.g. 2.5: parameters × bytes per parameter ÷ 1e9."

    def near(value):
        return abs(answer - value) <= 0.03 * value

    if near(truth) or near(params * 0.5 / 2**30):
        return True, (f"{params:,} parameters × half a byte = {truth:.2f} GB ({params * 0.5 / 2**30:.2f} GiB): "
                      "small enough for a phone. Real int4 files are a little larger: they also store scales.")
    if near(params * 0.5):
        return False, "right amount, wrong unit: that is bytes; give gigabytes (divide by 1e9)."
    if near(params * 2 / 1e9):
        return False, "that is fp16 (2 bytes per parameter); int4 stores 4 bits, half a byte, per parameter."
    if near(params * 4 / 1e9):
        return False, "that is fp32, or 4 bits counted as 4 bytes: int4 is half a byte per parameter."
    return False, "multiply the parameter count you counted above by 0.5 byte and divide by 1e9 (or call memory_gb)."


@exercise("04-moe-active", "🐕", "Write moe_active(config, total): the parameters one token uses", solution="""
def moe_active(config, total):
    per_expert = 3 * config.hidden_size * config.intermediate_size   # gate, up and down projections
    unused = config.num_local_experts - config.num_experts_per_tok   # experts the router did not pick
    return total - config.num_hidden_layers * unused * per_expert
answer = moe_active
""")
def _check_moe_active(fn):
    from transformers import PhimoeConfig

    from course_lib.family import parameter_counts, phi35_moe_config

    if not callable(fn):
        return False, "pass the function itself: check('04-moe-active', moe_active)"
    tiny = dict(vocab_size=50, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    cases = {"Phi-3.5-MoE": phi35_moe_config(),
             "a 2-layer model with 4 experts, top-1": PhimoeConfig(hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                                                                   num_local_experts=4, num_experts_per_tok=1, **tiny),
             "a 3-layer model with 8 experts, top-2": PhimoeConfig(hidden_size=32, intermediate_size=40, num_hidden_layers=3,
                                                                   num_local_experts=8, num_experts_per_tok=2, **tiny)}
    for name, cfg in cases.items():
        counts = parameter_counts(cfg)
        total, want = counts["total"], counts["active"]
        got = fn(cfg, total)
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        if not isinstance(got, (int, float)):
            return False, f"return a number of parameters, not a {type(got).__name__}"
        layers, experts, k = cfg.num_hidden_layers, cfg.num_local_experts, cfg.num_experts_per_tok
        expert = 3 * cfg.hidden_size * cfg.intermediate_size
        if round(got) == want:
            continue
        if round(got) == total:
            return False, "a token uses only num_experts_per_tok experts per layer: subtract the others' weights."
        if round(got) == total - layers * experts * expert:
            return False, "you removed every expert: the num_experts_per_tok chosen experts are active too."
        if round(got) == total * k // experts:
            return False, "only the experts are shared out: attention, embeddings and the router serve every token."
        if round(got) == total - layers * (experts - k) * 2 * cfg.hidden_size * cfg.intermediate_size:
            return False, "each expert has three hidden × intermediate matrices: gate, up and down."
        if round(got) == total - (experts - k) * expert:
            return False, "every layer has its own experts: multiply by num_hidden_layers."
        return False, f"for {name} the meta-device count gives {want:,} active parameters, yours gives {round(got):,}."
    real = parameter_counts(phi35_moe_config())
    return True, (f"Phi-3.5-MoE uses {real['active']:,} of its {real['total']:,} parameters per token "
                  f"({real['active'] / real['total']:.0%}): memory pays for the total, compute for the active.")


# ---- 05 cloud APIs ----------------------------------------------------------

@exercise("05-nim-model", "🐢", "Which model id does the nim backend use for phi-3.5-mini?", solution="""
from course_lib.clients import resolve_model
answer = resolve_model("phi-3.5-mini", "nim")
""")
def _check_nim_model(answer):
    from course_lib.clients import resolve_model

    truth = resolve_model("phi-3.5-mini", "nim")
    if answer == truth:
        return True, f"NIM names models by publisher and lower-case id: {truth}."
    if answer == resolve_model("phi-3.5-mini", "local"):
        return False, "that is the local course model; ask for the nim backend's id."
    return False, "call course_lib.clients.resolve_model with the short name and the backend name."


@exercise("05-next-request", "🐕", "Write next_request(history, user_text) for a multi-turn chat", solution="""
def next_request(history, user_text):
    return history + [{"role": "user", "content": user_text}]
answer = next_request
""")
def _check_next_request(fn):
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "Hello!"}]
    before = [dict(m) for m in history]
    result = fn(history, "What is an SLM?")
    if result is None:
        return False, "your function returned None: did you forget `return`?"
    if history != before:
        return False, "you changed `history` in place: build a new list (history + [...])."
    if list(result[:-1]) != before:
        return False, "the request must start with the whole history, in order: the API keeps no memory."
    if result[-1] != {"role": "user", "content": "What is an SLM?"}:
        return False, "the last message must be {'role': 'user', 'content': user_text}."
    return True, "the API is stateless, so every call carries the whole conversation."


# ---- 06 transformers ----------------------------------------------------------

_loaded: dict[str, tuple] = {}


def _tiny_chat_model():
    """tiny-phi-3.5-mini and its tokenizer, loaded once for the 06 checks."""
    if "tiny-phi-3.5-mini" not in _loaded:
        from course_lib.models import load

        _loaded["tiny-phi-3.5-mini"] = load("tiny-phi-3.5-mini")
    return _loaded["tiny-phi-3.5-mini"]


@exercise("06-greedy-kwargs", "🐢", "Which generate() keyword arguments give greedy decoding?", solution="""
answer = {"do_sample": False, "max_new_tokens": 20}
""")
def _check_greedy_kwargs(answer):
    if not isinstance(answer, dict):
        return False, "give a dict of keyword arguments, e.g. {'max_new_tokens': 20, ...}"
    if answer.get("do_sample") is True:
        return False, "do_sample=True draws tokens at random; greedy decoding always takes the most likely one."
    if answer.get("do_sample") is not False:
        if answer.get("temperature") == 0:
            return False, "temperature=0 is not how Transformers asks for greedy decoding: set do_sample=False."
        return False, "say do_sample=False explicitly: a checkpoint's generation_config.json may switch sampling on."
    if (answer.get("num_beams") or 1) > 1:
        return False, "num_beams > 1 is beam search, which keeps several candidate replies; greedy keeps one."
    model, tok = _tiny_chat_model()
    inputs = tok.apply_chat_template([{"role": "user", "content": "What is a small language model?"}],
                                     add_generation_prompt=True, return_tensors="pt", return_dict=True)
    replies = []
    for seed, kwargs in ((0, answer), (1, answer), (0, {"do_sample": False})):
        torch.manual_seed(seed)
        replies.append(model.generate(**inputs, **{**kwargs, "max_new_tokens": 12}).tolist())
    if replies[0] != replies[2] or replies[1] != replies[2]:
        return False, "with these settings the reply differs from plain greedy decoding: keep do_sample=False and drop the rest."
    ignored = [k for k in ("temperature", "top_k", "top_p") if k in answer]
    note = f" ({', '.join(ignored)} only matter when sampling: Transformers ignores them here, and warns.)" if ignored else ""
    return True, ("do_sample=False takes the most likely token at every step, so the same prompt gives the same reply, "
                  "whatever the seed." + note)


PHI3_PROMPT_CASES = [
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is an SLM?"}],
    [{"role": "user", "content": "Tell me a story about a fox."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "What is Phi-3.5-mini?"}],
]


@exercise("06-phi3-prompt", "🐕", "Write phi3_prompt(messages): the Phi-3 chat prompt, by hand", solution="""
def phi3_prompt(messages):
    text = ""
    for message in messages:
        text += f"<|{message['role']}|>\\n{message['content']}<|end|>\\n"
    return text + "<|assistant|>\\n"
answer = phi3_prompt
""")
def _check_phi3_prompt(fn):
    if not callable(fn):
        return False, "pass the function itself: check('06-phi3-prompt', phi3_prompt)"
    _, tok = _tiny_chat_model()
    for messages in PHI3_PROMPT_CASES:
        want = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        got = fn([dict(m) for m in messages])
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        if not isinstance(got, str):
            return False, f"return one string (the prompt), not a {type(got).__name__}"
        if got == want:
            continue
        if got + "<|assistant|>\n" == want:
            return False, "end with the generation prompt '<|assistant|>\\n': it tells the model that it is its turn."
        if "<|end|>" not in got:
            return False, "close every turn with '<|end|>' and a newline."
        if got.replace("\n", "") == want.replace("\n", ""):
            return False, "the newlines matter: one after each role tag ('<|user|>\\n') and one after each '<|end|>'."
        return False, f"for {len(messages)} message(s) the template gives {want!r}, yours gives {got!r}"
    return True, "that is Phi-3.5-mini-instruct's template; once tokenised, each tag is a single special token."


# ---- 07 vision --------------------------------------------------------------

@exercise("07-two-image-tokens", "🐢", "How many tokens is the two-image question, image tokens included?", solution="""
from course_lib.vision import load, messages_for
from course_lib.vision_data import QUESTIONS
model, processor = load()
prompt = processor.apply_chat_template(messages_for(2, QUESTIONS["two_images"]), add_generation_prompt=True)
answer = len(processor.tokenizer(prompt, add_special_tokens=False)["input_ids"]) - 2 + 2 * model.config.image_seq_length
""")
def _check_two_image_tokens(answer):
    from PIL import Image
    from transformers import AutoConfig, AutoProcessor

    from course_lib.models import VISION_MODEL, model_dir
    from course_lib.vision import messages_for
    from course_lib.vision_data import QUESTIONS

    processor = AutoProcessor.from_pretrained(model_dir(VISION_MODEL))  # the shipped one, as the learner's
    per_image = AutoConfig.from_pretrained(model_dir(VISION_MODEL)).image_seq_length
    prompt = processor.apply_chat_template(messages_for(2, QUESTIONS["two_images"]), add_generation_prompt=True)
    images = [Image.new("RGB", (50, 40), "white")] * 2
    truth = len(processor(text=prompt, images=images)["input_ids"][0])
    if not isinstance(answer, int):
        return False, "give a whole number: the length of the processor's input_ids for that question and two images."
    if answer == truth:
        return True, f"{truth} tokens, of which {2 * per_image} are image tokens: pictures are expensive context."
    if answer == truth - 2 * per_image + 2:
        return False, "that counts each <image> placeholder once: the processor repeats it once per patch."
    if answer == truth - per_image:
        return False, "that is one image's worth of image tokens: the question has two images."
    return False, "call processor(text=prompt, images=two.images) and take len(...['input_ids'][0])."


@exercise("07-image-tokens", "🐕", "Write image_tokens(image_size, patch_size) -> patch tokens of a square image",
          solution="""
def image_tokens(image_size, patch_size):
    return (image_size // patch_size) ** 2
answer = image_tokens
""")
def _check_image_tokens(fn):
    if not callable(fn):
        return False, "pass the function itself: check('07-image-tokens', image_tokens)"
    for size, patch in ((336, 14), (96, 12), (224, 16), (224, 32)):
        got, want = fn(size, patch), (size // patch) ** 2
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        if got == want:
            continue
        if got == want + 1:
            return False, "no class token here: count the patches only."
        if got == size // patch:
            return False, "that is one row of patches: the image is square, so square it."
        return False, f"a {size}×{size} image in {patch}×{patch} patches has {want} of them, not {got}."
    return True, "336/14 = 24 patches a side, 576 in all: Phi-3-vision then spends 144 tokens per crop."


# ---- 08 MoE -------------------------------------------------------------------

TOP2_CASES = [[0.1, 0.5, 0.3, 0.1], [0.7, 0.05, 0.05, 0.2], [0.2, 0.3, 0.4, 0.1],
              [0.05, 0.1, 0.02, 0.03, 0.4, 0.2, 0.15, 0.05]]


@exercise("08-top2", "🐢", "Write top2(probs) -> the two experts a token goes to, best first", solution="""
def top2(probs):
    order = sorted(range(len(probs)), key=lambda i: probs[i], reverse=True)  # most probable first
    return order[:2]
answer = top2
""")
def _check_top2(fn):
    if not callable(fn):
        return False, "pass the function itself: check('08-top2', top2)"
    for probs in TOP2_CASES:
        got = fn(list(probs))
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        got = torch.as_tensor(got).tolist()  # a list, a tuple or a tensor will do
        want = sorted(range(len(probs)), key=lambda i: probs[i], reverse=True)[:2]
        if got == want:
            continue
        if any(isinstance(g, float) for g in got):
            return False, "return the experts' indices (0, 1, 2, ...), not their probabilities."
        if len(got) != 2:
            return False, "a token goes to exactly two experts."
        if sorted(got) == sorted(want):
            return False, "right experts, wrong order: put the most probable one first."
        if got == sorted(range(len(probs)), key=lambda i: probs[i])[:2]:
            return False, "those are the two least likely experts: take the largest probabilities."
        return False, f"for probabilities {probs} the two best experts are {want}"
    return True, "that is the router's choice in every layer, for every token (torch.topk does it for a whole batch)."


def _balance_loss_cases():
    gen = torch.Generator().manual_seed(0)
    for tokens, experts, top_k, scale in ((40, 4, 2, 1.0), (64, 16, 2, 3.0), (25, 8, 1, 2.0)):
        yield torch.randn(tokens, experts, generator=gen) * scale, top_k


@exercise("08-balance-loss", "🐕", "Write balance_loss(logits, top_k) -> the load-balancing loss of one layer", solution="""
import torch

def balance_loss(logits, top_k):
    tokens, experts = logits.shape
    probs = torch.softmax(logits, dim=-1)
    chosen = probs.topk(top_k, dim=-1).indices
    f = torch.bincount(chosen.flatten(), minlength=experts) / tokens  # times each expert was chosen, per token
    P = probs.mean(dim=0)  # each expert's mean router probability
    return experts * (f * P).sum()
answer = balance_loss
""")
def _check_balance_loss(fn):
    from transformers.models.phimoe.modeling_phimoe import load_balancing_loss_func

    if not callable(fn):
        return False, "pass the function itself: check('08-balance-loss', balance_loss)"
    for logits, top_k in _balance_loss_cases():
        tokens, experts = logits.shape
        got = fn(logits.clone(), top_k)
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        got, want = float(got), float(load_balancing_loss_func((logits,), experts, top_k))

        def close(value, target=want):
            return abs(value - target) <= 1e-4 * max(1.0, abs(target))

        if close(got):
            continue
        if close(got * experts):
            return False, "multiply by the number of experts E: that makes even routing score top_k, whatever E is."
        if close(got * top_k):
            return False, "divide the counts by the number of tokens, not by tokens x top_k: the f_i add up to top_k."
        if close(got / tokens):
            return False, "f_i is a share: divide each expert's count by the number of tokens."
        raw = torch.bincount(logits.topk(top_k, dim=-1).indices.flatten(), minlength=experts) / tokens
        if close(got, float(experts * (raw * logits.mean(0)).sum())):
            return False, "turn the scores into probabilities first, with a softmax over the experts."
        return False, f"for {tokens} tokens, {experts} experts and top-{top_k}, expected {want:.4f}, got {got:.4f}"
    return True, "that is the term PhimoeForCausalLM adds to its loss, times router_aux_loss_coef; even routing gives top_k."


# ---- 09 local runtimes ------------------------------------------------------

def _exports():
    from course_lib.onnx_runtime import export

    return {precision: export("tiny-phi-3.5-mini", precision) for precision in ("fp32", "int4")}


@exercise("09-int4-ratio", "🐢", "How many times smaller is the int4 export than the fp32 one?", solution="""
from course_lib.onnx_runtime import export, folder_bytes
answer = folder_bytes(export("tiny-phi-3.5-mini", "fp32")) / folder_bytes(export("tiny-phi-3.5-mini", "int4"))
""")
def _check_int4_ratio(answer):
    from course_lib.onnx_runtime import folder_bytes

    folders = _exports()
    truth = folder_bytes(folders["fp32"]) / folder_bytes(folders["int4"])
    if not isinstance(answer, (int, float)):
        return False, "give a number: fp32 bytes divided by int4 bytes, e.g. 2.5"
    if abs(answer - truth) <= 0.05 * truth:
        return True, (f"{truth:.1f}x, not 8x: the fp32 embedding table is a large share of so small a model. "
                      "For Phi-3-mini int4 comes close to 8x.")
    if answer and abs(1 / answer - truth) <= 0.05 * truth:
        return False, "upside down: divide the fp32 bytes by the int4 bytes."
    if answer == 8:
        return False, "8x is the theory for the matrices; measure the folders with folder_bytes()."
    return False, "use course_lib.onnx_runtime.folder_bytes on both export folders and divide."


@exercise("09-greedy-loop", "🐕", "Write greedy_ids(model, tokenizer, prompt_ids, max_new_tokens) with the generator API",
          solution="""
import onnxruntime_genai as og
def greedy_ids(model, tokenizer, prompt_ids, max_new_tokens):
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(prompt_ids) + max_new_tokens, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(prompt_ids)
    ids = []
    while not generator.is_done():
        generator.generate_next_token()
        ids.append(int(generator.get_next_tokens()[0]))
    return ids
answer = greedy_ids
""")
def _check_greedy_loop(fn):
    from course_lib.onnx_runtime import OrtChat

    if not callable(fn):
        return False, "pass the function itself: check('09-greedy-loop', greedy_ids)"
    bot = OrtChat(_exports()["int4"])
    for question, limit in (("What is an SLM?", 48), ("Tell me a story about a fox.", 12)):
        prompt_ids = bot.tokenizer.encode(bot.prompt(question))
        want = bot.generate_ids(list(prompt_ids), max_new_tokens=limit)
        got = fn(bot.model, bot.tokenizer, prompt_ids, limit)
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        got = [int(t) for t in got]
        if got == want:
            continue
        if len(got) > len(want) and got[:len(want)] == want:
            return False, "too many tokens: max_length counts the prompt too, and the loop ends when is_done() says so."
        if got[:len(prompt_ids)] == list(prompt_ids):
            return False, "return only the new tokens, not the prompt."
        if len(got) < len(want) and want[:len(got)] == got:
            return False, (f"too few tokens ({len(got)} of {len(want)}): set max_length to the prompt length plus "
                           "max_new_tokens, and loop while not generator.is_done().")
        return False, "different tokens: use do_sample=False (greedy) and append the prompt with append_tokens."
    return True, "that is the whole loop. OrtChat.stream is the same loop with a TokenizerStream."


# ---- 10 performance ---------------------------------------------------------

@exercise("10-ceiling", "🐢", "Write ceiling(bandwidth, parameters, bits) -> the decode roofline in tokens/s", solution="""
def ceiling(bandwidth, parameters, bits):
    return bandwidth / (parameters * bits / 8)
answer = ceiling
""")
def _check_ceiling(fn):
    if not callable(fn):
        return False, "pass the function itself: check('10-ceiling', ceiling)"
    for bandwidth, parameters, bits in ((100e9, 3.8e9, 16), (50e9, 3.8e9, 4), (20e9, 6.6e9, 8)):
        got = fn(bandwidth, parameters, bits)
        want = bandwidth / (parameters * bits / 8)
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        if abs(got - want) <= 1e-6 * want:
            continue
        if abs(got - bandwidth / (parameters * bits)) <= 1e-6 * want:
            return False, "bits are not bytes: a weight of `bits` bits takes bits / 8 bytes."
        if abs(got * want - 1) <= 1e-6:
            return False, "upside down: tokens/s is bandwidth divided by the bytes read per token."
        return False, f"for {bandwidth / 1e9:g} GB/s, {parameters / 1e9:g}B parameters at {bits} bits expect {want:.1f} tokens/s"
    return True, "Phi-3-mini at int4 on 50 GB/s: at most about 26 tokens/s, whatever the runtime."


@exercise("10-decode-rate", "🐕", "Write decode_rate(times) -> decode tokens/s from token arrival times", solution="""
def decode_rate(times):
    return (len(times) - 1) / (times[-1] - times[0])
answer = decode_rate
""")
def _check_decode_rate(fn):
    if not callable(fn):
        return False, "pass the function itself: check('10-decode-rate', decode_rate)"
    cases = ([0.50, 0.52, 0.54, 0.56, 0.58], [1.0, 1.1, 1.3, 1.4], [0.2, 0.25])
    for times in cases:
        got = fn(list(times))
        want = (len(times) - 1) / (times[-1] - times[0])
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        if abs(got - want) <= 1e-6 * want:
            continue
        if abs(got - len(times) / (times[-1] - times[0])) <= 1e-6 * want:
            return False, "n arrival times span n - 1 intervals: the first token's time belongs to the prefill."
        if abs(got - len(times) / times[-1]) <= 1e-6 * want or abs(got - (len(times) - 1) / times[-1]) <= 1e-6 * want:
            return False, "measure from the first token, not from zero: the time before it is the time to first token."
        return False, f"for arrival times {times} expect {want:.2f} tokens/s"
    return True, "decode speed leaves out the prefill, which lesson 10 reports as the time to first token."


# ---- 11 build an app ----------------------------------------------------------

def _trim_history_reference(messages, fits):
    system = messages[:1] if messages and messages[0]["role"] == "system" else []
    turns, question = messages[len(system):-1], messages[-1:]
    while turns and not fits(system + turns + question):
        turns = turns[2:]
    return system + turns + question


def _conversation(system: bool, n_turns: int) -> list[dict]:
    messages = [{"role": "system", "content": "Answer in one short sentence."}] if system else []
    for i in range(1, n_turns + 1):
        messages += [{"role": "user", "content": f"question {i} " + "word " * i},
                     {"role": "assistant", "content": f"answer {i} " + "word " * 2 * i}]
    return messages + [{"role": "user", "content": "the new question"}]


def _words_at_most(budget: int):
    return lambda messages: sum(len(m["content"].split()) for m in messages) <= budget


TRIM_CASES = [(_conversation(True, 4), _words_at_most(1000)),  # fits already: nothing to drop
              (_conversation(True, 4), _words_at_most(40)),  # drop some turns
              (_conversation(False, 4), _words_at_most(25)),  # no system message
              (_conversation(True, 3), _words_at_most(3)),  # nothing fits: keep the system message and the question
              ([{"role": "user", "content": "word " * 30}, {"role": "assistant", "content": "ok"},  # a long first question
                *_conversation(False, 2)], _words_at_most(21))]


@exercise("11-trim-history", "🐕", "Write trim_history(messages, fits): forget the oldest turns until the chat fits",
          solution="""
def trim_history(messages, fits):
    system = messages[:1] if messages and messages[0]["role"] == "system" else []
    turns, question = messages[len(system):-1], messages[-1:]
    while turns and not fits(system + turns + question):
        turns = turns[2:]  # a whole turn: the user's message and the answer to it
    return system + turns + question
answer = trim_history
""")
def _check_trim_history(fn):
    if not callable(fn):
        return False, "pass the function itself: check('11-trim-history', trim_history)"
    for messages, fits in TRIM_CASES:
        before = [dict(m) for m in messages]
        got, want = fn(messages, fits), _trim_history_reference(before, fits)
        if got is None:
            return False, "your function returned None: did you forget `return`?"
        got = list(got)
        if messages != before:
            return False, "you changed `messages` in place: build a new list, the app still shows the whole chat."
        if got == want:
            continue
        if not got or got[-1] != before[-1]:
            return False, "keep the new question as the last message: it is what the model must answer."
        if before[0]["role"] == "system" and got[0] != before[0]:
            return False, "keep the system message first: it says how every answer should look."
        start = 1 if got[0]["role"] == "system" else 0
        if len(got) > start + 1 and got[start]["role"] != "user":
            return False, "drop whole turns, a user message together with its answer: here an answer lost its question."
        if len(got) > len(want):
            return False, "that is still too long for fits(): drop more of the oldest turns."
        return False, "you dropped more than needed: keep the most recent turns, as many as fits() allows."
    return True, "the chatbot forgets the oldest turns first, whole turns at a time, and never the system prompt."
