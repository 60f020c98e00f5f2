"""Published figures come from committed results: ``results/*.json`` -> the README's marked tables.

* ``python -m course_lib eval --json results/eval.json`` and ``python -m course_lib bench --json results/bench.json``
  measure, and write what they measured with the machine, the versions and the date (``run_meta``).
* The test suite notes how long each lesson took to execute in ``build/notebook_durations.json``;
  ``python -m course_lib report --durations build/notebook_durations.json`` publishes them as ``results/durations.json``.
* ``python -m course_lib report`` rewrites every README block between ``<!-- begin report:NAME -->`` and
  ``<!-- end report:NAME -->`` from those files; ``--check`` only says whether the README is out of date.
  tests/test_report.py fails when it is.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
from pathlib import Path

from course_lib.paths import LESSONS_DIR, REPO_ROOT

RESULTS_DIR = REPO_ROOT / "results"
README = REPO_ROOT / "README.md"
# Every published file with report blocks, and the language its blocks are written in
PUBLISHED = {README: "en", REPO_ROOT / "INSTRUCTOR.md": "en", REPO_ROOT / "INSTRUCTOR.zh-CN.md": "zh-CN"}
DURATIONS_LOG = REPO_ROOT / "build" / "notebook_durations.json"
BLOCK = re.compile(r"(<!-- begin report:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end report:(?P=name) -->)", re.S)
PICTURE_SET_TITLES = {"course": "course pictures", "painter-a": "painter A (numpy)", "painter-b": "painter B (matplotlib)"}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_meta(command: str) -> dict:
    """Where, when and with what a result was measured."""
    import torch
    import transformers

    versions = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__}
    try:
        import onnxruntime_genai

        versions["onnxruntime_genai"] = onnxruntime_genai.__version__
    except ImportError:
        pass
    return {"date": datetime.date.today().isoformat(), "command": command, "versions": versions,
            "machine": {"platform": platform.platform(), "cpu": cpu_name(), "cpus": os.cpu_count(),
                        "torch_threads": torch.get_num_threads()}}


def write_json(path, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_results() -> dict:
    """results/NAME.json as results[NAME]; results/NAME.jsonl (one record a line) as a list."""
    results = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(RESULTS_DIR.glob("*.json"))}
    for path in sorted(RESULTS_DIR.glob("*.jsonl")):
        results[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return results


# ---- one README block per results file -----------------------------------------------------------------------

def _measured_on(meta: dict) -> str:
    from course_lib.i18n import t

    m, v = meta["machine"], meta["versions"]
    return t("Measured on {date} with torch {torch} and transformers {transformers} on {cpus} CPU cores ({cpu}): "
             "`{command}`.", date=meta["date"], torch=v["torch"], transformers=v["transformers"], cpus=m["cpus"],
             cpu=m["cpu"], command=meta["command"])


QUESTION_SET_TITLES = {"course": "held-out wordings", "learners-a": "set A (written apart)",
                       "learners-b": "set B (written apart)", "learners-c": "set C (written apart)",
                       "learners-d": "set D (written apart, kept aside)"}


def eval_text_block(results: dict) -> str:
    ev = results["eval"]
    sets = list(next(iter(ev["text"].values()))["en"]["sets"])
    head = ["model"] + [f"{QUESTION_SET_TITLES.get(s, s)}: {lang}" for s in sets for lang in ("EN", "ZH")]
    head += ["reply in the question's language: EN", "ZH", "story perplexity: EN", "ZH"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for model, by_lang in ev["text"].items():
        cells = [f"`{model}`"] + [f"{by_lang[lang]['sets'][s]['accuracy']:.1%}" for s in sets for lang in ("en", "zh")]
        cells += [f"{min(r['same_language'] for r in by_lang[lang]['sets'].values()):.0%}" for lang in ("en", "zh")]
        cells += [f"{by_lang[lang]['perplexity']:,.2f}" for lang in ("en", "zh")]
        lines.append("| " + " | ".join(cells) + " |")
    first = next(iter(ev["text"].values()))["en"]
    counts = ", ".join(f"{first['sets'][s]['questions']} ({QUESTION_SET_TITLES.get(s, s)})" for s in sets)
    lines += ["", f"Questions per language: {counts}. Scored by `course_lib.scoring`; perplexity on "
                  f"{first['stories']} held-out stories per language. {_measured_on(ev['meta'])} Every reply, with "
                  "the reason it was scored wrong, is in `results/eval_answers.jsonl`."]
    english_only = [a for a in results.get("eval_answers", []) if a["model"] == "tiny-phi-3-mini" and a["lang"] == "zh"]
    if english_only:
        from course_lib.scoring import language_of

        in_english = sum(language_of(a["reply"]) == "en" for a in english_only)
        lines[-1] += (f" Asked its {len(english_only)} Chinese questions, `tiny-phi-3-mini` replied in English "
                      f"{in_english} times.")
    return "\n".join(lines + ["", _text_targets(ev)])


def _text_targets(ev: dict) -> str:
    """The course's targets for its text models, and which the shipped ones meet: a sentence per kind of target."""
    from course_lib.evaluate import OWN_HELDOUT_TARGET, SAME_LANGUAGE_TARGET, TEXT_TARGETS

    short, language, own = [], [], []
    for model, targets in TEXT_TARGETS.items():
        for lang, target in targets.items():
            sets = ev["text"][model][lang]["sets"]
            got = sets["learners-a"]["accuracy"]
            if got < target:
                short.append(f"`{model}` {lang.upper()} {got:.1%} (target {target:.0%})")
            same = min(f["same_language"] for f in sets.values())
            if same < SAME_LANGUAGE_TARGET:
                language.append(f"`{model}` {lang.upper()} {same:.1%}")
            if sets["course"]["accuracy"] < OWN_HELDOUT_TARGET:
                own.append(f"`{model}` {lang.upper()} {sets['course']['accuracy']:.1%}")
    wanted = "; ".join(f"`{model}` " + ", ".join(f"{lang.upper()} ≥ {target:.0%}" for lang, target in targets.items())
                       for model, targets in TEXT_TARGETS.items())
    out = [f"**Targets** on set A, written apart: {wanted}. "
           + ("All met." if not short else "Not met yet: " + ", ".join(short) + ".")]
    out.append("Every reply in the language of the question: " + (
        "met." if not language else "not met yet, in the worst question set: " + ", ".join(language) + "."))
    out.append(f"The corpus's own held-out wordings ≥ {OWN_HELDOUT_TARGET:.0%}: " + (
        "met." if not own else "not met yet: " + ", ".join(own) + "."))
    return " ".join(out)


def eval_vision_block(results: dict) -> str:
    """Accuracy per task and picture set against the targets; with results/vision_before.json (the previous build,
    measured by the same command on the same pictures), each cell reads before → now."""
    from course_lib.vision import TARGETS
    from course_lib.vision_data import QUESTIONS

    ev, before = results["eval"], results.get("vision_before")
    sets = list(next(iter(ev["vision"].values())))

    def cell(task: str, picture_set: str) -> str:
        now = f"{ev['vision'][task][picture_set]:.0%}"
        return f"{before['vision'][task][picture_set]:.0%} → {now}" if before else now

    lines = ["| task | question | " + " | ".join(PICTURE_SET_TITLES.get(s, s) for s in sets) + " | target |",
             "|---|---|" + "---|" * len(sets) + "---|"]
    for task in ev["vision"]:
        lines.append(f"| {task.replace('_', ' ')} | {QUESTIONS[task]} | " + " | ".join(cell(task, s) for s in sets)
                     + f" | {TARGETS[task]:.0%} |")
    turned = ev.get("turned_triangles")
    if turned:
        lines.append("| shape, turned | the course's upright triangles turned " + ", ".join(f"{d}°" for d in list(turned)[1:])
                     + " (worst turn) | " + " | ".join([_worst_turn(before, turned)] + [""] * (len(sets) - 1)) + " | |")
    lines += ["", f"{ev['meta']['settings']['images_per_task']} pictures per task and picture set. {_measured_on(ev['meta'])}"]
    if before:
        lines[-1] += (" Before → now: the previous build (its weights `" + before["meta"]["weights"]["tiny-phi-3.5-vision"]
                      + "`, figures in `results/vision_before.json`) on the same pictures, then this one.")
    below = [task.replace("_", " ") for task, by_set in ev["vision"].items() if min(by_set.values()) < TARGETS[task]]
    lines[-1] += (" The targets apply to every picture set, the painters' included: " + (
        "all met." if not below else f"not met yet in {len(below)} of {len(ev['vision'])} tasks ({', '.join(below)})."))
    return "\n".join(lines)


def _worst_turn(before: dict | None, turned: dict) -> str:
    worst = f"{min(list(turned.values())[1:]):.0%}"
    if before and "turned_triangles" in before:
        return f"{min(list(before['turned_triangles'].values())[1:]):.0%} → {worst}"
    return worst


def bench_block(results: dict) -> str:
    from course_lib.bench import BASELINE, rate

    b = results["bench"]
    names = {"onnxruntime-genai fp32": "ONNX Runtime GenAI fp32", "onnxruntime-genai int4": "ONNX Runtime GenAI int4",
             "transformers int8": "transformers int8 (dynamic)"}
    lines = [f"| runtime ({b['model']}) | time to first token | decode tokens/s | model MB | peak RSS MB | accuracy |",
             "|---|---|---|---|---|---|"]
    for r in b["rows"]:
        if "error" in r:
            lines.append(f"| {names.get(r['runtime'], r['runtime'])} | failed: {r['error']} | | | | |")
            continue
        lines.append(f"| {names.get(r['runtime'], r['runtime'])} | {r['ttft_ms']:.1f} ms | {rate(r['decode_tok_s'])} | "
                     f"{r['model_bytes'] / 1e6:.1f} | {r['peak_rss_bytes'] / 1e6:,.0f} | {r['accuracy']:.0%} |")
    s, m = b["settings"], b["meta"]
    lines += ["", f"{s['new_tokens']} greedy tokens, median of {s['repeats']}; accuracy on {s['questions']} held-out "
                  f"questions. {_measured_on(m)} Your numbers will differ; the ratios, measured side by side, less so."]
    fastest = max((r for r in b["rows"] if "error" not in r), key=lambda r: r["decode_tok_s"])
    base = next(r for r in b["rows"] if r["runtime"] == BASELINE and "error" not in r)
    phi = next(r for r in b["roofline"] if r["model"].startswith("Phi-3-mini") and r["precision"] == "int4")
    lines += ["", f"{names.get(fastest['runtime'], fastest['runtime'])} decodes "
                  f"{fastest['decode_tok_s'] / base['decode_tok_s']:.1f}× as fast as {BASELINE} here. For a model this "
                  "small, per-token overhead, not reading the weights, sets the pace; lesson 10 explains, and shows the "
                  f"roofline that binds real Phi models (this machine's measured {b['bandwidth_bytes_per_s'] / 1e9:.0f} GB/s "
                  f"allows at most {rate(phi['ceiling_tok_s'])} tokens/s for Phi-3-mini at int4)."]
    if "real_width" in b:
        w, full = b["real_width"], b["real_width"]["full_32_layers"]
        lines += ["", f"**Measured at real width.** A slice of Phi-3-mini ({w['layers']} of its 32 layers, its full width, "
                      f"random weights, int4 through the ONNX Runtime GenAI builder) decodes {w['decode_tok_s']:.1f} tokens/s "
                      f"on {w['threads']} threads ({w['decode_tok_s_1_thread']:.1f} on 1), reading "
                      f"{w['bytes_per_token'] / 1e6:,.0f} MB per token: {w['achieved_gbs']:.1f} GB/s, "
                      f"{w['fraction_of_roofline']:.0%} of the measured bandwidth, so this machine is {w['bound']}-bound. "
                      f"All 32 layers read {full['bytes_per_token'] / 1e9:.2f} GB per token: at most "
                      f"{full['roofline_tok_s']:.1f} tokens/s, about {full['at_achieved_rate_tok_s']:.1f} at the slice's rate "
                      "(llama.cpp's published Phi-3-mini Q4 speeds on laptop CPUs: 6–10)."]
    return "\n".join(lines)


def build_block(results: dict) -> str:
    """Each shipped model's size, read from its folder, and how long it took to build, from its build card."""
    from course_lib.models import COURSE_MODELS, describe, model_dir

    lines = ["| model | parameters | on disk | built in | on |", "|---|---|---|---|---|"]
    total = 0.0
    for name in COURSE_MODELS:
        card = json.loads((model_dir(name) / "build.json").read_text(encoding="utf-8"))
        size = describe(name)
        total += size["megabytes_on_disk"]
        params = f"{size['parameters'] / 1e6:.2f} M"
        if size["active_parameters"] != size["parameters"]:
            params += f" ({size['active_parameters'] / 1e6:.2f} M active)"
        threads = card["torch_threads"]
        where = card.get("device", "cpu")
        if where == "cpu":
            where = f"{threads} CPU thread{'s' if threads != 1 else ''}"
        if card.get("runs"):  # stopped and carried on from its checkpoint
            where += f", in {card['runs']} runs"
        if card.get("alongside"):  # other builds shared the machine, which slows each one
            where += f", {card['alongside']}"
        lines.append(f"| `{name}` | {params} | {size['megabytes_on_disk']:.1f} MB | "
                     f"{card['train_seconds'] / 60:.1f} min ({card['train_seconds']:,.0f} s) | {where} |")
    lines += ["", f"All four folders: {total:.1f} MB (the budget is 40 MB)."]
    return "\n".join(lines)


def durations_block(results: dict) -> str:
    from course_lib.i18n import N_, t

    d = results["durations"]
    by_lang = {N_("English"): {}, N_("中文"): {}}  # each edition's row, named in the reader's language
    for name, seconds in d["notebooks"].items():
        by_lang["中文" if name.startswith("zh-CN/") else "English"][Path(name).stem] = seconds
    stems = sorted(by_lang["English"])
    lines = [t("| lesson | ") + " | ".join(stem[:2] for stem in stems) + " |", "|---|" + "---|" * len(stems)]
    for lang, times in by_lang.items():
        if times:
            lines.append(t("| {lang}, seconds | ", lang=t(lang))
                         + " | ".join(f"{times[s]:.0f}" if s in times else "–" for s in stems) + " |")
    english = by_lang["English"]
    slowest = max(english, key=english.get)
    alone = d.get("alone", [])
    side_by_side = [n for n in d["notebooks"] if n not in alone]
    how = ""
    if side_by_side and alone:
        solo = ", ".join(sorted({Path(n).stem for n in alone}))
        how = t("The suite runs lessons two at a time on one thread each (pytest-xdist); {solo} ran alone, on every "
                "core, because it measures threads and memory bandwidth. A lesson you run on its own has every core. ",
                solo=solo)
    slowest_text = t("The slowest English lesson, {slowest}, took {seconds:.0f} s; the {n} add up to {total:.0f} s of "
                     "lesson time.", slowest=slowest, seconds=english[slowest], n=len(english), total=sum(english.values()))
    lines += ["", t("{sentence} {measured}", sentence=how + slowest_text, measured=_measured_on(d["meta"]))]
    return "\n".join(lines)


def loadtest_block(results: dict) -> str:
    """The room server under load: transformers serve as it comes against continuous batching, and what that means
    for sizing a room. Written through the catalogue: INSTRUCTOR.zh-CN.md shows it in Chinese."""
    from course_lib.i18n import t

    lt = results["loadtest"]
    runs = lt["runs"]
    lines = [t("| `transformers serve` | sent | errors | first token p50 / p95 | whole reply p50 / p95 | streamed "
               "chunks/s | honours each request's `temperature=0` and `stop` |"), "|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        errors = ", ".join(f"{n} {kind}" for kind, n in r["errors"].items()) or "0"
        lines.append(f"| {t(name)} | {r['sent']} | {errors} | {r['ttft_s']['p50']:.2f} s / {r['ttft_s']['p95']:.2f} s | "
                     f"{r['total_s']['p50']:.2f} s / {r['total_s']['p95']:.2f} s | {r['chunks_per_s']:.0f} | "
                     f"{t('yes') if r['honours_temperature_0'] else t('no')}, "
                     f"{t('yes') if r['honours_stop'] else t('no')} |")
    first = next(iter(runs.values()))
    meta = lt["meta"]
    lines += ["", t("{users} learners start at the same moment, each streaming {requests} chats of up to {max_tokens} "
                    "tokens one after another, on {cpus} CPU cores ({cpu}), with {model}; the servers ran one after "
                    "the other. Measured on {date}: `{command}`.", users=first["users"], requests=first["requests_per_user"],
                    max_tokens=first["max_tokens"], cpus=meta["machine"]["cpus"], cpu=meta["machine"]["cpu"],
                    model=first["model"], date=meta["date"], command=meta["command"])]
    if {"default", "continuous batching"} <= set(runs):
        plain, cb = runs["default"], runs["continuous batching"]
        cpus = meta["machine"]["cpus"]

        def rate(r):  # replies finished per second, all learners together
            return r["ok"] / r["wall_s"]

        lines += ["", t("**Room sizing, from this run.** One request at a time (the default), this machine finished "
                        "{rate:.1f} replies a second, and when all {users} pressed Enter together the first token took "
                        "{plain_p95:.1f} s at the 95th percentile; with continuous batching, {cb_rate:.1f} a second and "
                        "{cb_p95:.1f} s. If each learner sends one chat a minute, that is room for about {per_core:.0f} "
                        "learners a core with the default and {cb_per_core:.0f} with continuous batching, for replies of "
                        "up to {max_tokens} tokens from {model}: a larger model serves fewer.",
                        rate=rate(plain), users=plain["users"], plain_p95=plain["ttft_s"]["p95"], cb_rate=rate(cb),
                        cb_p95=cb["ttft_s"]["p95"], per_core=rate(plain) * 60 / cpus, cb_per_core=rate(cb) * 60 / cpus,
                        max_tokens=plain["max_tokens"], model=plain["model"])]
    return "\n".join(lines)


def wheelhouse_block(results: dict) -> str:
    """The offline install, as measured: the folder's size and how long a learner's install from it took."""
    from course_lib.i18n import t

    w = results["wheelhouse"]
    m = w["meta"]
    return t("Measured on {date} ({platform}, Python {python}): the wheelhouse held {files} files, {mb:.0f} MB, "
             "downloaded in {download:.0f} s; a fresh venv installed the whole course from it, with no index and no pip "
             "configuration, in {install:.0f} s on {cpus} CPU cores, and the lessons' packages imported.",
             date=m["date"], platform=m["machine"]["platform"],
             python=m["versions"]["python"], files=w["download"]["files"], mb=w["download"]["bytes"] / 1e6,
             download=w["download"]["seconds"], install=w["check"]["install_seconds"], cpus=m["machine"]["cpus"])


BLOCKS = {"eval-text": eval_text_block, "eval-vision": eval_vision_block, "build": build_block, "bench": bench_block,
          "durations": durations_block, "loadtest": loadtest_block,
          "wheelhouse": wheelhouse_block}


def render(readme: str, results: dict, lang: str = "en") -> str:
    """A published file with every marked block regenerated from the results, in the file's language."""
    from course_lib.i18n import language_set

    def fill(match):
        name = match.group("name")
        if name not in BLOCKS:
            raise KeyError(f"report block report:{name} has no renderer; known: {', '.join(BLOCKS)}")
        with language_set(lang):
            return match.group(1) + BLOCKS[name](results) + "\n" + match.group(4)

    return BLOCK.sub(fill, readme)


def stale_files(results: dict) -> dict[Path, str]:
    """Each published file whose blocks differ from the results, with its regenerated text."""
    stale = {}
    for path, lang in PUBLISHED.items():
        if path.exists():
            current = path.read_text(encoding="utf-8")
            fresh = render(current, results, lang)
            if fresh != current:
                stale[path] = fresh
    return stale


def publish_durations(log_path=DURATIONS_LOG) -> Path:
    """Copy the per-lesson execution times the last runs noted (both languages) into results/durations.json."""
    log = json.loads(Path(log_path).read_text(encoding="utf-8"))
    alone = sorted(log.pop("_alone", []))
    out = RESULTS_DIR / "durations.json"
    write_json(out, {"notebooks": dict(sorted(log.items())), "alone": alone,
                     "meta": run_meta("python -m pytest; python -m pytest lessons/zh-CN")})
    return out


def record_duration(notebook, seconds: float, log_path=DURATIONS_LOG, alone: bool = True) -> None:
    """Note how long one lesson took to execute (called by pytest for each lesson it runs), and whether it had the
    machine to itself (`alone`) or ran beside another lesson."""
    from filelock import FileLock  # pytest-xdist's workers finish lessons at the same time: one writer at a time

    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(log_path) + ".lock"):
        log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.exists() else {}
        path = Path(notebook).resolve()
        name = path.relative_to(LESSONS_DIR).as_posix() if path.is_relative_to(LESSONS_DIR) else path.name
        log[name] = round(seconds, 1)
        log["_alone"] = sorted(set(log.get("_alone", [])) - {name} | ({name} if alone else set()))
        write_json(log_path, log)
