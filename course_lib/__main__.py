"""Command line: python -m course_lib doctor | build-models | eval | serve | loadtest | wheelhouse | solutions | chat |
site | bench | report | i18n"""

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

    names = args.models or list(COURSE_MODELS)
    text = [n for n in names if n in TEXT_MODELS]
    total = 0.0
    if text:
        report = build_models(text)
        for name, info in report["models"].items():
            print(f"{name}: trained in {info['seconds']:.0f} s")
        total += report["total_seconds"]
    if VISION in names:  # last: its decoder starts from the tiny-phi-3.5-mini just built
        import torch

        from course_lib import vision

        if not torch.cuda.is_available():
            print(f"{VISION}: no GPU here, so this takes hours; it saves its progress every {vision.CHECKPOINT_EVERY} "
                  f"steps, and if it stops, the same command carries on from there ({vision.CHECKPOINT})")
        info = vision.build()
        print(f"{VISION}: trained in {info['seconds']:.0f} s; held-out accuracy per task: "
              + ", ".join(f"{task} {acc:.0%}" for task, acc in info["accuracy"].items()))
        total += info["seconds"]
    print(f"loss curves: {draw_training_figure()}")
    print(f"total: {total:.0f} s. Check them with: python -m course_lib eval")
    return 0


def draw_training_figure():
    """images/course_model_training.png from the loss curves in every shipped model's build.json."""
    from course_lib.models import COURSE_MODELS, model_dir
    from course_lib.paths import IMAGES_DIR
    from course_lib.plots import plot_build_curves

    cards = {name: json.loads((model_dir(name) / "build.json").read_text(encoding="utf-8")) for name in COURSE_MODELS
             if (model_dir(name) / "build.json").exists()}
    missing = [name for name, card in cards.items() if "loss_curves" not in card]
    title = "Course models: training loss (python -m course_lib build-models)"
    if missing:  # built before build.json kept its curves
        title += "\nno curve recorded for " + ", ".join(missing)
    figure = IMAGES_DIR / "course_model_training.png"
    plot_build_curves(cards, title).savefig(figure, dpi=110)
    return figure


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
    from course_lib.question_sets import QUESTION_SETS

    question_sets = [s.strip() for s in args.question_sets.split(",")]
    unknown = [s for s in question_sets if s not in QUESTION_SETS]
    if unknown:
        print(f"Unknown question set {', '.join(unknown)}. Choose from: {', '.join(QUESTION_SETS)}.", file=sys.stderr)
        return 2
    results = evaluate_course_models(names, args.images, picture_sets, question_sets)
    if args.json:
        from pathlib import Path

        from course_lib.report import run_meta, write_json

        answers = results.pop("answers")
        command = " ".join(["python -m course_lib eval", *args.models, f"--images {args.images}",
                            f"--picture-sets {','.join(picture_sets)}", f"--question-sets {','.join(question_sets)}",
                            f"--json {args.json}"])
        from course_lib.models import weights_digest

        results["meta"] = run_meta(command) | {"settings": {"images_per_task": args.images, "picture_sets": picture_sets,
                                                            "question_sets": question_sets},
                                               "weights": {name: weights_digest(name) for name in names}}
        write_json(args.json, results)
        if not answers:  # the vision model alone: its figures are all in the JSON
            print(f"\nWrote {args.json}.")
            return 0
        lines = Path(args.json).with_name(Path(args.json).stem + "_answers.jsonl")
        lines.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers), encoding="utf-8")
        print(f"\nWrote {args.json} and {lines} (every text reply, with why a wrong one is wrong).")
    return 0


def cmd_serve(args) -> int:
    import os

    from course_lib.errors import CourseError
    from course_lib.i18n import t
    from course_lib.serve import KEY_ENV, LocalServer, is_loopback

    key = args.api_key or os.environ.get(KEY_ENV, "").strip() or None
    try:
        server = LocalServer(port=args.port, host=args.host, api_key=key, continuous_batching=args.continuous_batching)
        with server:
            print(t("Serving {models} at {url}", models=", ".join(server.models), url=server.base_url))
            if not is_loopback(args.host):
                print(t("Learners reach it at http://<this machine's address>:{port}/v1 (e.g. from `hostname -I` or "
                        "`ipconfig`).", port=server.port))
            if key:
                print(t("Every request needs the key: learners set COURSE_BACKEND=openai-compatible, COURSE_BASE_URL "
                        "to that address and COURSE_API_KEY to the key you chose (it is not shown here)."))
            else:
                print(t('Point a client at it: openai.OpenAI(base_url="{url}", api_key="not-needed")', url=server.base_url))
            print(t("Press Ctrl-C to stop."), flush=True)
            server.process.wait()
            print(t("The server stopped on its own. Its log ends with:\n{log}", log=server.log_tail()), file=sys.stderr)
            return 1
    except CourseError as error:  # ServerStartError, or a refused configuration
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the with block has already stopped the server
        print(t("Stopped."))
        return 0


def cmd_loadtest(args) -> int:
    import os

    from course_lib import loadtest
    from course_lib.errors import CourseError

    try:
        if args.compare:
            result = loadtest.compare(users=args.users, requests=args.requests, model=args.model,
                                      max_tokens=args.max_tokens)
        else:
            if not args.base_url:
                print("loadtest: give --base-url http://127.0.0.1:PORT/v1, or --compare to start the servers itself",
                      file=sys.stderr)
                return 2
            key = os.environ.get(args.api_key_env, "").strip() or None
            result = loadtest.run(args.base_url, key, model=args.model, users=args.users, requests=args.requests,
                                  max_tokens=args.max_tokens, deadline_s=args.deadline)
            print(loadtest.describe(result))
            result = {"runs": {"server": result}}
    except CourseError as error:
        print(error, file=sys.stderr)
        return 2
    if args.json:
        from course_lib.report import run_meta, write_json

        command = (f"python -m course_lib loadtest {'--compare' if args.compare else '--base-url ' + args.base_url} "
                   f"--users {args.users} --requests {args.requests} --max-tokens {args.max_tokens} --json {args.json}")
        write_json(args.json, result | {"meta": run_meta(command)})
        print(f"Wrote {args.json}")
    return 0 if all(not run["errors"] for run in result["runs"].values()) else 1


def cmd_wheelhouse(args) -> int:
    from pathlib import Path

    from course_lib import wheelhouse

    folder, figures = Path(args.dir), {}
    if not args.check_only:
        figures["download"] = info = wheelhouse.download(folder, args.platform, args.python_version, args.pip_args)
        print(f"{folder}: {info['files']} files, {info['bytes'] / 1e6:.0f} MB, downloaded in {info['seconds']:.0f} s.")
    if args.check or args.check_only:
        figures["check"] = info = wheelhouse.check(folder)
        print(f"Checked: a fresh venv installed everything from {folder} alone (no index, no pip configuration) in "
              f"{info['install_seconds']:.0f} s, and the lessons' packages import.")
    if args.json:
        from course_lib.report import run_meta, write_json

        figures |= {"platform": args.platform, "python_version": args.python_version}
        write_json(args.json, figures | {"meta": run_meta(f"python -m course_lib wheelhouse DIR --check --json {args.json}")})
        print(f"Wrote {args.json}")
    print("Each learner, in the course folder:\n  python3 -m venv .venv\n  "
          + " ".join(wheelhouse.install_command(folder, ".venv/bin/python")))
    return 0


def cmd_solutions(args) -> int:
    """The answer key for a facilitator: every solution, whatever COURSE_HIDE_SOLUTIONS says."""
    from course_lib.checks import solution_code
    from course_lib.exercises import all_exercises
    from course_lib.i18n import t

    shown = [ex for id, ex in all_exercises().items() if not args.lessons or id[:2] in args.lessons]
    if not shown:
        print(f"No exercises for lesson(s) {', '.join(args.lessons)}.", file=sys.stderr)
        return 2
    for ex in shown:
        print(f"## {ex.id}  {ex.tier} {t(ex.title)}\n\n{solution_code(ex.id)}")
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
    stale = report.stale_files(report.load_results())
    names = ", ".join(path.name for path in stale)
    if not stale:
        print("README.md and INSTRUCTOR*.md agree with results/*.json.")
        return 0
    if args.check:
        print(f"{names}: out of date with results/*.json: run python -m course_lib report", file=sys.stderr)
        return 1
    for path, fresh in stale.items():
        path.write_text(fresh, encoding="utf-8")
    print(f"{names}: tables regenerated from results/*.json.")
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


def build_parser() -> argparse.ArgumentParser:
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
    ev.add_argument("--question-sets", default="course,learners-a",
                    help="which questions: course (held-out wordings of the corpus), learners-a (written apart), "
                    "learners-b, learners-c, learners-d (written apart and kept aside: each used once, at the end of a rebuild)")
    ev.add_argument("--json", help="also write the figures to this file (results/eval.json is the published one), and "
                    "every text reply to FILE_answers.jsonl")
    serve = sub.add_parser("serve", help="the course models behind an OpenAI-compatible server (transformers serve); "
                           "127.0.0.1 unless --host, and then only with a key")
    serve.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1); 0.0.0.0 serves a room and needs a key")
    serve.add_argument("--api-key", help="the key every request must carry (Authorization: Bearer KEY); better: "
                       "the COURSE_SERVE_API_KEY environment variable, which stays out of the process list")
    serve.add_argument("--continuous-batching", action="store_true",
                       help="decode requests that arrive together in one batch: far faster for a room, but the first "
                       "request's sampling settings and stop sequences then apply to every request (transformers 5.24)")
    load = sub.add_parser("loadtest", help="a room of streaming learners against a server on this machine: errors, "
                          "p50/p95 time to first token and total time")
    load.add_argument("--base-url", help="the server to test, on this machine only, e.g. http://127.0.0.1:8000/v1")
    load.add_argument("--api-key-env", default="COURSE_SERVE_API_KEY",
                      help="the environment variable holding the server's key (default: COURSE_SERVE_API_KEY)")
    load.add_argument("--compare", action="store_true",
                      help="start transformers serve twice here, default and continuous batching, and test both")
    load.add_argument("--users", type=int, default=30, help="learners at once (default 30, at most 100)")
    load.add_argument("--requests", type=int, default=2, help="streamed chats per learner, one after another (default 2)")
    load.add_argument("--max-tokens", type=int, default=64, help="longest reply (default 64, as the lessons)")
    load.add_argument("--model", default="tiny-phi-3.5-mini", help="model name on the server")
    load.add_argument("--deadline", type=float, default=600, help="seconds before unfinished requests count as errors")
    load.add_argument("--json", help="also write the figures to this file (results/loadtest.json is the published one)")
    wh = sub.add_parser("wheelhouse", help="download every wheel the course needs into DIR, for installs with no network")
    wh.add_argument("dir")
    wh.add_argument("--platform", help="a pip platform tag for other machines, e.g. win_amd64, macosx_11_0_arm64")
    wh.add_argument("--python-version", help="the learners' Python for --platform, e.g. 3.12")
    wh.add_argument("--check", action="store_true", help="then install from DIR alone into a fresh venv, as a learner would")
    wh.add_argument("--check-only", action="store_true", help="only that check, on a DIR made before")
    wh.add_argument("--json", help="also write the figures to this file (results/wheelhouse.json is the published one)")
    wh.add_argument("pip_args", nargs="*", help="after --: more pip download options, e.g. -- --extra-index-url URL")
    sol = sub.add_parser("solutions", help="the answer key for facilitators: every exercise's solution")
    sol.add_argument("lessons", nargs="*", help="lesson numbers, e.g. 03 11 (default: all)")
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
    return parser


def main(argv=None) -> int:
    from course_lib.models import COURSE_MODELS

    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [m for m in getattr(args, "models", None) or [] if m not in COURSE_MODELS]
    if unknown:  # checked here, not with argparse choices, which reject an empty list on Python 3.11
        parser.error(f"unknown model {', '.join(unknown)}; course models: {', '.join(COURSE_MODELS)}")
    handlers = {"doctor": cmd_doctor, "build-models": cmd_build_models, "eval": cmd_eval, "serve": cmd_serve,
                "loadtest": cmd_loadtest, "wheelhouse": cmd_wheelhouse, "solutions": cmd_solutions, "chat": cmd_chat,
                "site": cmd_site, "bench": cmd_bench, "report": cmd_report, "i18n": cmd_i18n}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
