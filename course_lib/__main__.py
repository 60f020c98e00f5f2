"""Command line: python -m course_lib doctor | build-models | eval | serve | chat | site | bench | report | i18n"""

from __future__ import annotations

import argparse
import json
import sys

from course_lib.models import VISION_MODEL as VISION


def cmd_doctor(args) -> int:
    from course_lib.doctor import main

    return main()


def cmd_build_models(args) -> int:
    from course_lib.build import build_models
    from course_lib.models import COURSE_MODELS, TEXT_MODELS
    from course_lib.paths import IMAGES_DIR, REPO_ROOT
    from course_lib.plots import plot_losses

    names = args.models or list(COURSE_MODELS)
    text = [n for n in names if n in TEXT_MODELS]
    curves, total = {}, 0.0
    if text:
        report = build_models(text)
        for name, info in report["models"].items():
            print(f"{name}: trained in {info['seconds']:.0f} s")
            curves.update({f"{name}: {stage}": losses for stage, losses in info["losses"].items()})
        total += report["total_seconds"]
    if VISION in names:  # last: its decoder starts from the tiny-phi-3.5-mini just built
        from course_lib import vision

        info = vision.build()
        print(f"{VISION}: trained in {info['seconds']:.0f} s; held-out accuracy per task: "
              + ", ".join(f"{task} {acc:.0%}" for task, acc in info["accuracy"].items()))
        curves.update({f"{VISION}: encoder": info["encoder_losses"], f"{VISION}: train": info["losses"]})
        total += info["seconds"]
    # the README's figure shows every course model; a partial rebuild draws its curves in build/ instead
    figure = (IMAGES_DIR if set(names) == set(COURSE_MODELS) else REPO_ROOT / "build") / "course_model_training.png"
    figure.parent.mkdir(exist_ok=True)
    plot_losses(curves, title="Course models: training loss (python -m course_lib build-models)").savefig(figure, dpi=110)
    print(f"loss curves: {figure}")
    print(f"total: {total:.0f} s. Check them with: python -m course_lib eval")
    return 0


def cmd_eval(args) -> int:
    from course_lib.models import COURSE_MODELS, available_models

    names = args.models or list(COURSE_MODELS)
    missing = [n for n in names if n not in available_models()]
    if missing:
        print(f"Course model folder missing: {', '.join(missing)}. Rebuild with: python -m course_lib build-models",
              file=sys.stderr)
        return 1
    from course_lib.evaluate import evaluate_course_models
    from course_lib.heldout_pictures import PICTURE_SETS

    picture_sets = [s.strip() for s in args.picture_sets.split(",")]
    unknown = [s for s in picture_sets if s not in PICTURE_SETS]
    if unknown:
        print(f"Unknown picture set {', '.join(unknown)}. Choose from: {', '.join(PICTURE_SETS)}.", file=sys.stderr)
        return 2
    results = evaluate_course_models(names, args.images, picture_sets)
    if args.json:
        from pathlib import Path

        from course_lib.report import run_meta, write_json

        answers = results.pop("answers")
        command = " ".join(["python -m course_lib eval", *args.models, f"--images {args.images}",
                            f"--picture-sets {','.join(picture_sets)}", f"--json {args.json}"])
        results["meta"] = run_meta(command) | {"settings": {"images_per_task": args.images,
                                                                    "picture_sets": picture_sets}}
        write_json(args.json, results)
        lines = Path(args.json).with_name(Path(args.json).stem + "_answers.jsonl")
        lines.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers), encoding="utf-8")
        print(f"\nWrote {args.json} and {lines} (every text reply, with why a wrong one is wrong).")
    return 0


def cmd_serve(args) -> int:
    from course_lib.serve import LocalServer, ServerStartError

    try:
        with LocalServer(port=args.port) as server:
            print(f"Serving {', '.join(server.models)} at {server.base_url}")
            print(f'Point a client at it: openai.OpenAI(base_url="{server.base_url}", api_key="not-needed")')
            print("Press Ctrl-C to stop.", flush=True)
            server.process.wait()
            print(f"The server stopped on its own. Its log ends with:\n{server.log_tail()}", file=sys.stderr)
            return 1
    except ServerStartError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the with block has already stopped the server
        print("Stopped.")
        return 0


def cmd_chat(args) -> int:
    from course_lib import clients
    from course_lib.errors import CourseError

    try:
        if args.stream:
            conn = clients.connect(args.backend)
            print(f"[{conn.backend} · {clients.resolve_model(args.model, conn.backend)}]", file=sys.stderr, flush=True)
            for piece in clients.chat(args.prompt, backend=conn.backend, model=args.model, stream=True):
                print(piece, end="", flush=True)
            print()
        else:
            reply = clients.chat(args.prompt, backend=args.backend, model=args.model)
            print(reply.label, file=sys.stderr)
            print(reply)
    except CourseError as error:  # one clear message, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_site(args) -> int:
    from pathlib import Path

    from course_lib.site import SITE_DIR, build_site

    pages = build_site(Path(args.out) if args.out else SITE_DIR, reuse=not args.fresh)
    print(f"{sum(map(len, pages.values()))} pages written. Open {pages['en'][0]} in a browser "
          f"(简体中文: {pages['zh-CN'][0]}).")
    return 0


def cmd_bench(args) -> int:

    from course_lib.bench import RUNTIMES, table
    from course_lib.bench import run as run_bench

    runtimes = [r.strip() for r in args.runtimes.split(",")] if args.runtimes else RUNTIMES
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown:
        print(f"Unknown runtime {', '.join(unknown)}. Choose from: {', '.join(RUNTIMES)}.", file=sys.stderr)
        return 2
    result = run_bench(args.model, runtimes, new_tokens=args.new_tokens, repeats=args.repeats,
                       real_width=not args.no_real_width)
    print(table(result))
    if args.json:
        from course_lib.report import run_meta, write_json

        command = f"python -m course_lib bench --model {args.model} --json {args.json}"
        write_json(args.json, result | {"meta": run_meta(command)})
        print(f"\nWrote {args.json} (key 'ratios' holds ort_int4_vs_transformers_decode).")
    return 0 if all("error" not in row for row in result["rows"]) else 1


def cmd_report(args) -> int:
    from course_lib import report

    if args.durations:
        print(f"Wrote {report.publish_durations(args.durations)}")
    current = report.README.read_text(encoding="utf-8")
    fresh = report.render(current, report.load_results())
    if fresh == current:
        print("README.md agrees with results/*.json.")
        return 0
    if args.check:
        print("README.md is out of date with results/*.json: run python -m course_lib report", file=sys.stderr)
        return 1
    report.README.write_text(fresh, encoding="utf-8")
    print("README.md: tables regenerated from results/*.json.")
    return 0


def cmd_i18n(args) -> int:
    from course_lib import i18n_sync

    langs = [args.lang] if args.lang else list(i18n_sync.TRANSLATIONS)
    if args.action == "sync":
        for lang in langs:
            changed = i18n_sync.sync(lang)
            print(f"{lang}: {len(changed)} lesson(s) updated" + "".join(f"\n  {p.name}" for p in changed))
        return 0
    if args.action == "done":
        if len(args.lang_args) < 2:
            print("usage: python -m course_lib i18n done LANG LESSON CELL_ID [CELL_ID ...]", file=sys.stderr)
            return 2
        i18n_sync.mark_done(args.lang, args.lang_args[0], args.lang_args[1:])
        print(f"{args.lang}/{args.lang_args[0]}: marked current: {', '.join(args.lang_args[1:])}")
        return 0
    problems = [(lang, p) for lang in langs for p in [*i18n_sync.status(lang), *i18n_sync.message_problems(lang)]]
    for lang, problem in problems:
        print(f"{lang}/{problem}")
    print(f"{len(problems)} cell(s) need work" if problems else f"{', '.join(langs)}: every lesson in step with the English")
    return 1 if problems else 0


def main(argv=None) -> int:
    from course_lib.models import COURSE_MODELS
    from course_lib.report import DURATIONS_LOG

    parser = argparse.ArgumentParser(prog="python -m course_lib", description="Helpers for the SLM course.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="versions, device, course models and backends (keys shown only as set/not set)")
    build = sub.add_parser("build-models", help="rebuild the course models from the seeded corpus and pictures")
    build.add_argument("models", nargs="*", help="model names (default: all four)")
    ev = sub.add_parser("eval", help="held-out perplexity and question accuracy; the vision model's task accuracies")
    ev.add_argument("models", nargs="*", help="model names (default: all four)")
    ev.add_argument("--images", type=int, default=100, help="fresh pictures per vision task (default: 100)")
    ev.add_argument("--picture-sets", default="course,painter-a,painter-b",
                    help="whose pictures: course (the training generator, new seed), painter-a, painter-b (written apart)")
    ev.add_argument("--json", help="also write the figures to this file (results/eval.json is the published one), and "
                    "every text reply to FILE_answers.jsonl")
    serve = sub.add_parser("serve", help="the course models behind an OpenAI-compatible server on 127.0.0.1")
    serve.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    chat = sub.add_parser("chat", help="ask a model on any backend; prints the answer and which backend/model wrote it")
    chat.add_argument("prompt")
    chat.add_argument("--backend", help="auto (default), local, foundry, foundry-local, github, nim, ollama, openai-compatible")
    chat.add_argument("--model", default="phi-3.5-mini", help="short name (phi-3-mini, phi-3.5-mini, ...) or a backend id")
    chat.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    site = sub.add_parser("site", help="execute every lesson and build a static HTML course site (default: _site/)")
    site.add_argument("--out", help="output folder (default: _site/)")
    site.add_argument("--fresh", action="store_true",
                      help="execute every lesson now, even those the last test run executed with the same code")
    bench = sub.add_parser("bench", help="speed, memory and quality of every local runtime, side by side; the roofline")
    bench.add_argument("--json", help="also write the results to this file")
    bench.add_argument("--model", default="tiny-phi-3.5-mini", help="a course text model (default: tiny-phi-3.5-mini)")
    bench.add_argument("--new-tokens", type=int, default=64, help="tokens generated per timed run (default: 64)")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs per runtime; the median is reported")
    bench.add_argument("--runtimes", help="comma-separated subset, e.g. 'transformers fp32,onnxruntime-genai int4'")
    bench.add_argument("--no-real-width", action="store_true",
                       help="skip the Phi-3-mini-wide slice (about a minute, up to 4 GB of memory)")
    rep = sub.add_parser("report", help="regenerate the README's tables from results/*.json")
    rep.add_argument("--check", action="store_true", help="only say whether the README is out of date (exit 1 if so)")
    rep.add_argument("--durations", nargs="?", const=str(DURATIONS_LOG), metavar="FILE",
                     help="first publish the lesson run times the test suite noted (default: build/notebook_durations.json)")
    i18n = sub.add_parser("i18n", help="translated lessons: sync code from English, list stale or untranslated prose")
    i18n.add_argument("action", choices=["sync", "status", "done"])
    i18n.add_argument("lang", nargs="?", choices=["zh-CN"], help="the edition (default: every one)")
    i18n.add_argument("lang_args", nargs="*", help="for done: LESSON CELL_ID [CELL_ID ...]")
    args = parser.parse_args(argv)
    unknown = [m for m in getattr(args, "models", None) or [] if m not in COURSE_MODELS]
    if unknown:  # checked here, not with argparse choices, which reject an empty list on Python 3.11
        parser.error(f"unknown model {', '.join(unknown)}; course models: {', '.join(COURSE_MODELS)}")
    handlers = {"doctor": cmd_doctor, "build-models": cmd_build_models, "eval": cmd_eval, "serve": cmd_serve,
                "chat": cmd_chat, "site": cmd_site, "bench": cmd_bench, "report": cmd_report, "i18n": cmd_i18n}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
