"""A room's worth of learners against one server: many streaming chats at once, timed with the real openai SDK.

    python -m course_lib loadtest --base-url http://127.0.0.1:8000/v1 --users 30 --requests 2
    python -m course_lib loadtest --compare --json results/loadtest.json   # transformers serve: default vs
                                                                            # continuous batching, side by side

Each simulated learner sends its requests one after another, streaming, as the chat lessons do; all learners start
together. Time to first token (what a learner feels as "it's thinking") and total time are reported as medians and
95th percentiles. The run is bounded: at most MAX_USERS learners, MAX_REQUESTS each, and a deadline after which
unfinished requests count as errors. It only ever sends to this machine (loopback), never to another address.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from collections import Counter
from urllib.parse import urlparse

from course_lib.errors import CourseError
from course_lib.i18n import N_, t
from course_lib.serve import is_loopback

MAX_USERS = 100
MAX_REQUESTS = 20
DEADLINE_S = 600.0
MAX_TOKENS = 64  # as the lessons ask for
# What learners type in lessons 05, 06 and 11, in both languages: prompts of different lengths, as in a room.
PROMPTS = [
    "What is a small language model?",
    "How many parameters does Phi-3-mini have?",
    "Phi-3.5-mini 支持多少种语言？",
    "What is the difference between an SLM and an LLM?",
    "什么是混合专家模型？",
    "Can Phi-3.5-vision read charts?",
]


class LoadTestError(CourseError):
    """A load test that would leave this machine or exceed its bounds."""


def check_target(base_url: str) -> None:
    """Refuse any address that is not this machine's: a load test never leaves it."""
    host = urlparse(base_url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)} if host else set()
    except socket.gaierror:
        addresses = set()
    if not (is_loopback(host) and addresses and all(is_loopback(a) for a in addresses)):
        raise LoadTestError(t("loadtest sends only to this machine ({allowed}), not to {host!r}: run it on the server "
                              "machine, with --base-url http://127.0.0.1:PORT/v1.", allowed="127.0.0.1, ::1, localhost",
                              host=host))


def check_bounds(users: int, requests: int) -> None:
    if not (1 <= users <= MAX_USERS and 1 <= requests <= MAX_REQUESTS):
        raise LoadTestError(t("--users must be 1 to {max_users} and --requests 1 to {max_requests}.",
                              max_users=MAX_USERS, max_requests=MAX_REQUESTS))


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: a value that was measured, never an interpolation between two."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def _learner(client, model: str, user: int, requests: int, max_tokens: int, timings: list, errors: Counter):
    import openai

    for i in range(requests):
        prompt = PROMPTS[(user + i) % len(PROMPTS)]
        start = time.perf_counter()
        first, chunks = None, 0
        try:
            stream = await client.chat.completions.create(model=model, stream=True, max_tokens=max_tokens,
                                                          messages=[{"role": "user", "content": prompt}])
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    first = first or time.perf_counter()
                    chunks += 1
        except openai.APIStatusError as error:
            errors[f"HTTP {error.status_code}"] += 1
            continue
        except (openai.APIError, OSError) as error:
            errors[type(error).__name__] += 1
            continue
        if first is None:
            errors["empty reply"] += 1
            continue
        timings.append({"ttft_s": first - start, "total_s": time.perf_counter() - start, "chunks": chunks})


async def _run(base_url: str, api_key: str, model: str, users: int, requests: int, max_tokens: int, deadline_s: float):
    import httpx
    import openai

    timings, errors = [], Counter()
    # one connection per learner, as in a room; the SDK's default pool would queue the 30 at its own limit
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=deadline_s,
                                  http_client=httpx.AsyncClient(limits=limits, timeout=deadline_s)) as client:
        tasks = [asyncio.create_task(_learner(client, model, u, requests, max_tokens, timings, errors))
                 for u in range(users)]
        done, pending = await asyncio.wait(tasks, timeout=deadline_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    unfinished = users * requests - len(timings) - sum(errors.values())
    if unfinished:
        errors["past the deadline"] += unfinished
    return timings, errors


def run(base_url: str, api_key: str | None = None, model: str = "tiny-phi-3.5-mini", users: int = 30, requests: int = 2,
        max_tokens: int = MAX_TOKENS, deadline_s: float = DEADLINE_S) -> dict:
    """Start `users` streaming learners at once, `requests` chats each; the figures of what came back."""
    check_target(base_url)
    check_bounds(users, requests)
    start = time.perf_counter()
    timings, errors = asyncio.run(_run(base_url, api_key or "not-needed", model, users, requests, max_tokens,
                                       deadline_s))
    wall = time.perf_counter() - start
    ttft, total = [r["ttft_s"] for r in timings], [r["total_s"] for r in timings]

    def summary(values):
        return {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values, default=None)}

    return {"model": model, "users": users, "requests_per_user": requests, "max_tokens": max_tokens,
            "sent": users * requests, "ok": len(timings), "errors": dict(errors), "wall_s": wall,
            "ttft_s": summary(ttft), "total_s": summary(total),
            "chunks_per_s": sum(r["chunks"] for r in timings) / wall if wall else None,
            "cpus": os.cpu_count()}


def compare(users: int = 30, requests: int = 2, model: str = "tiny-phi-3.5-mini", max_tokens: int = MAX_TOKENS,
            progress=print) -> dict:
    """The same load against `transformers serve` as it comes and with --continuous-batching, one after the other
    on this machine, each server with a key (as in a room) and only `model` loaded."""
    import secrets

    from course_lib.serve import LocalServer

    key = secrets.token_urlsafe(16)  # used here and thrown away: it is never shown
    runs = {}
    for name, batching in ((N_("default"), False), (N_("continuous batching"), True)):  # names shown in the tables
        with LocalServer(models=[model], api_key=key, continuous_batching=batching) as server:
            # one request first, so neither side pays a first-call warm-up inside the measurement
            run(server.base_url, key, model, users=1, requests=1, max_tokens=4)
            runs[name] = run(server.base_url, key, model, users=users, requests=requests, max_tokens=max_tokens)
            runs[name] |= honours(server.base_url, key, model)
        progress(f"{name}: {describe(runs[name])}")
    return {"runs": runs}


def honours(base_url: str, api_key: str, model: str) -> dict:
    """Whether the server applies each request's own settings, asked after other requests (as in a room):
    `temperature=0` must give one answer whatever the seed, and a stop sequence must end the reply where it occurs
    (transformers keeps the stop word itself; OpenAI's API drops it: either passes)."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)

    def ask(**settings):  # a story: sampling would make each seed's reply differ, so greedy decoding shows
        return client.chat.completions.create(model=model, max_tokens=24, **settings, messages=[
            {"role": "user", "content": "Tell me a story about a fox."}]).choices[0].message.content

    greedy = {ask(temperature=0, seed=seed) for seed in range(3)}
    full = ask(temperature=0)
    word = full.split()[2]
    end = full.index(word, len(" ".join(full.split()[:2]))) + len(word)
    return {"honours_temperature_0": len(greedy) == 1, "honours_stop": len(ask(temperature=0, stop=[word])) <= end}


def describe(result: dict) -> str:
    """One line a person reads: errors, then p50/p95 time to first token and total time."""
    def seconds(value):
        return "-" if value is None else f"{value:.2f} s"

    errors = ", ".join(f"{n} {kind}" for kind, n in result["errors"].items()) or "0 errors"
    return (f"{result['users']} learners × {result['requests_per_user']} streamed chats ({result['max_tokens']} tokens "
            f"at most): {result['ok']}/{result['sent']} ok, {errors}; time to first token p50 "
            f"{seconds(result['ttft_s']['p50'])}, p95 {seconds(result['ttft_s']['p95'])}; total p50 "
            f"{seconds(result['total_s']['p50'])}, p95 {seconds(result['total_s']['p95'])}; in {result['wall_s']:.1f} s")
