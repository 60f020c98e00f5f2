"""Lesson 09's exercises: what int4 saves on disk, and the generation loop of ONNX Runtime GenAI."""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime_genai as og

from course_lib.exercises import exercise
from course_lib.i18n import t


def exports() -> dict[str, Path]:
    """The lesson's two exports of tiny-phi-3.5-mini (made once, then reused)."""
    from course_lib.onnx_runtime import export

    return {precision: export("tiny-phi-3.5-mini", precision) for precision in ("fp32", "int4")}


# ---- 🐢 the int4 saving -------------------------------------------------------------------------------------------------

def int4_ratio_solution():
    from course_lib.onnx_runtime import export, folder_bytes

    return folder_bytes(export("tiny-phi-3.5-mini", "fp32")) / folder_bytes(export("tiny-phi-3.5-mini", "int4"))


def weight_bytes(folder: Path) -> int:
    """The bytes of an export's weights, from the shape and type of each initializer its ONNX graph declares."""
    import math

    import onnx

    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    return sum(math.prod(init.dims) * onnx.helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
               for init in graph.initializer)


@exercise("09-int4-ratio", "🐢", "How many times smaller is the int4 export than the fp32 one?",
          solution=int4_ratio_solution, answer_variable="int4_saving")
def check_int4_ratio(answer):
    # Reference: the weights' bytes as the ONNX graphs declare them, read with onnx (the solution measures the files).
    folders = exports()
    truth = weight_bytes(folders["fp32"]) / weight_bytes(folders["int4"])
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, t("give a number: fp32 bytes divided by int4 bytes, e.g. 2.5")
    if abs(answer - truth) <= 0.05 * truth:
        return True, t("{truth:.1f}x, not 8x: the fp32 embedding table is a large share of so small a model. "
                       "For Phi-3-mini int4 comes close to 8x.", truth=truth)
    if answer and abs(1 / answer - truth) <= 0.05 * truth:
        return False, t("upside down: divide the fp32 bytes by the int4 bytes.")
    if answer == 8:
        return False, t("8x is the theory for the matrices; measure the folders with folder_bytes().")
    return False, t("use course_lib.onnx_runtime.folder_bytes on both export folders and divide.")


# ---- 🐕 the generation loop ---------------------------------------------------------------------------------------------

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


def greedy_with_onnxruntime(folder: Path, prompt_ids, max_new_tokens: int) -> list[int]:
    """Greedy decoding of an export with plain onnxruntime: run the graph, take the argmax, feed the KV cache back."""
    import numpy as np
    import onnxruntime

    config = json.loads((folder / "genai_config.json").read_text())["model"]
    decoder = config["decoder"]
    session = onnxruntime.InferenceSession(str(folder / decoder["filename"]), providers=["CPUExecutionProvider"])
    cache_names = [f"{i}.{kind}" for i in range(decoder["num_hidden_layers"]) for kind in ("key", "value")]
    empty = np.zeros((1, decoder["num_key_value_heads"], 0, decoder["head_size"]), dtype=np.float32)
    cache = {name: empty for name in cache_names}
    ids, step, new = list(prompt_ids), list(prompt_ids), []
    while len(new) < max_new_tokens:
        feeds = {"input_ids": np.array([step], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
                 **{f"past_key_values.{name}": cache[name] for name in cache_names}}
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True))
        token = int(outputs["logits"][0, -1].argmax())
        new.append(token)
        ids.append(token)
        step = [token]  # from now on only the new token goes in: the cache holds the rest
        cache = {name: outputs[f"present.{name}"] for name in cache_names}
        if token in config["eos_token_id"]:
            break
    return new


@exercise("09-greedy-loop", "🐕", "Write greedy_ids(model, tokenizer, prompt_ids, max_new_tokens) with the generator API",
          solution=greedy_ids)
def check_greedy_loop(fn):
    from course_lib.onnx_runtime import OrtChat

    # Reference: the same export decoded greedily with plain onnxruntime (the solution uses onnxruntime-genai's Generator).
    if not callable(fn):
        return False, t("pass the function itself: check('09-greedy-loop', greedy_ids)")
    folder = exports()["int4"]
    bot = OrtChat(folder)
    for question, limit in (("What is an SLM?", 48), ("Tell me a story about a fox.", 12)):
        prompt_ids = bot.tokenizer.encode(bot.prompt(question))
        want = greedy_with_onnxruntime(folder, prompt_ids, limit)
        got = fn(bot.model, bot.tokenizer, prompt_ids, limit)
        if got is None:
            return False, t("your function returned None: did you forget `return`?")
        got = [int(token) for token in got]
        if got == want:
            continue
        if len(got) > len(want) and got[:len(want)] == want:
            return False, t("too many tokens: max_length counts the prompt too, and the loop ends when is_done() says so.")
        if got[:len(prompt_ids)] == list(prompt_ids):
            return False, t("return only the new tokens, not the prompt.")
        if len(got) < len(want) and want[:len(got)] == got:
            return False, t("too few tokens ({got} of {want}): set max_length to the prompt length plus "
                            "max_new_tokens, and loop while not generator.is_done().", got=len(got), want=len(want))
        return False, t("different tokens: use do_sample=False (greedy) and append the prompt with append_tokens.")
    return True, t("that is the whole loop. OrtChat.stream is the same loop with a TokenizerStream.")
