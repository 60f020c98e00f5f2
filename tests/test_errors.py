"""Every failure a learner can meet, against a real HTTP server on loopback, through the real SDKs.

pytest-httpserver answers the status under test; the course's clients talk to
it exactly as they would talk to Foundry, GitHub Models, NIM, Ollama or a
workshop server (each backend's endpoint variable points at it). Nothing is
patched. Every message must say what to do and must not contain the key.
"""

import re
import subprocess
import sys
import time

import pytest
from werkzeug import Response

from course_lib import clients
from course_lib.errors import (
    AuthError,
    BackendUnreachableError,
    CourseError,
    EmptyMessagesError,
    MissingKeyError,
    ModelNotFoundError,
    PromptTooLongError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ServiceRetiredError,
)

KEY = "course-test-key-" + "7" * 12  # fake, and built at run time
CHAT = re.compile(r".*/chat/completions$")
BACKEND_ENV = {  # backend -> variables that point it at the test server (URL filled in per test)
    "foundry": {"AZURE_INFERENCE_ENDPOINT": "{url}/models", "AZURE_INFERENCE_CREDENTIAL": KEY},
    "github": {"COURSE_GITHUB_ENDPOINT": "{url}/inference", "GITHUB_TOKEN": KEY},
    "nim": {"COURSE_NIM_BASE_URL": "{url}/v1", "NVIDIA_API_KEY": KEY},
    "ollama": {"OLLAMA_HOST": "{url}"},
    "openai-compatible": {"COURSE_BASE_URL": "{url}/v1", "COURSE_API_KEY": KEY},
}
ALL_VARS = {v for env in BACKEND_ENV.values() for v in env} | {"COURSE_BACKEND", "COURSE_TIMEOUT"}


def ok_body(text="Hello from the test server."):
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@pytest.fixture
def point(monkeypatch, httpserver, tmp_path):
    """Point one backend at the test server; returns a function taking the backend name."""
    monkeypatch.chdir(tmp_path)
    for var in ALL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("course_lib.backends.load_env_file", lambda: False)  # the developer's own .env stays out
    monkeypatch.setattr("course_lib.clients.load_env_file", lambda: False)
    monkeypatch.setenv("COURSE_TIMEOUT", "5")
    url = httpserver.url_for("").rstrip("/")

    def setup(backend):
        for var, value in BACKEND_ENV[backend].items():
            monkeypatch.setenv(var, value.format(url=url))
        return backend
    return setup


def ask(backend, sdk="openai", **kw):
    return clients.chat("hi", backend=backend, sdk=sdk, **kw)


STATUS_CASES = [(401, AuthError, "key"), (403, AuthError, "key"), (404, ModelNotFoundError, "phi-3.5-mini"),
                (410, ServiceRetiredError, "2026-07-30"), (500, ServerError, "try again"), (503, ServerError, "try again")]


@pytest.mark.parametrize("backend", list(BACKEND_ENV))
@pytest.mark.parametrize(("status", "error", "advice"), STATUS_CASES, ids=[str(c[0]) for c in STATUS_CASES])
def test_each_status_on_each_backend_gives_its_error(point, httpserver, backend, status, error, advice):
    point(backend)
    httpserver.expect_request(CHAT).respond_with_json({"error": {"message": f"echo {KEY}"}}, status=status)
    with pytest.raises(error) as info:
        ask(backend)
    message = str(info.value)
    assert advice.lower() in message.lower()
    assert KEY not in message


@pytest.mark.parametrize("backend", ["foundry", "github"])
@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (404, ModelNotFoundError), (410, ServiceRetiredError),
                                               (500, ServerError)])
def test_azure_sdk_errors_are_translated_too(point, httpserver, backend, status, error):
    point(backend)
    httpserver.expect_request(CHAT).respond_with_json({"error": {"message": "nope"}}, status=status)
    with pytest.raises(error) as info:
        ask(backend, sdk="azure")
    assert KEY not in str(info.value)


def test_404_lists_the_models_that_exist(point, httpserver):
    point("openai-compatible")
    httpserver.expect_request("/v1/models").respond_with_json(
        {"object": "list", "data": [{"id": "tiny-phi-3.5-mini", "object": "model", "created": 0, "owned_by": "local"}]})
    httpserver.expect_request(CHAT).respond_with_json({"error": {"message": "no such model"}}, status=404)
    with pytest.raises(ModelNotFoundError, match="tiny-phi-3.5-mini"):
        ask("openai-compatible", model="no-such-model")


def test_429_honours_retry_after_then_succeeds(point, httpserver):
    point("nim")
    httpserver.expect_ordered_request(CHAT).respond_with_response(Response("slow down", 429, {"Retry-After": "1"}))
    httpserver.expect_ordered_request(CHAT).respond_with_json(ok_body())
    start = time.perf_counter()
    reply = ask("nim")
    assert str(reply) == "Hello from the test server."
    assert time.perf_counter() - start >= 0.9  # it waited as the server asked
    assert reply.backend.startswith("nim") and reply.model == "microsoft/phi-3.5-mini-instruct"


def test_429_retries_are_bounded(point, httpserver):
    point("openai-compatible")
    httpserver.expect_request(CHAT).respond_with_response(Response("slow down", 429, {"Retry-After": "0"}))
    with pytest.raises(RateLimitError, match="rate limited"):
        ask("openai-compatible")
    assert len(httpserver.log) == clients.MAX_RETRIES + 1


def test_a_long_retry_after_is_reported_not_waited_for(point, httpserver):
    point("openai-compatible")
    httpserver.expect_request(CHAT).respond_with_response(Response("slow down", 429, {"Retry-After": "3600"}))
    with pytest.raises(RateLimitError):
        ask("openai-compatible")
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("sdk", ["openai", "azure"])
def test_timeout(point, httpserver, monkeypatch, sdk):
    point("foundry")
    monkeypatch.setenv("COURSE_TIMEOUT", "0.5")

    def stall(request):
        time.sleep(1.5)
        return Response("late", 200)
    httpserver.expect_request(CHAT).respond_with_handler(stall)
    with pytest.raises(RequestTimeoutError, match="COURSE_TIMEOUT"):
        ask("foundry", sdk=sdk)


@pytest.mark.parametrize("sdk", ["openai", "azure"])
def test_connection_refused(point, monkeypatch, sdk):
    point("github")
    monkeypatch.setenv("COURSE_GITHUB_ENDPOINT", "http://127.0.0.1:9/inference")  # nothing listens on port 9
    with pytest.raises(BackendUnreachableError, match="Could not connect"):
        ask("github", sdk=sdk)


@pytest.mark.parametrize("backend", ["foundry", "github", "nim", "openai-compatible"])
def test_missing_key_names_the_variable(point, monkeypatch, backend):
    point(backend)
    removed = [var for var in BACKEND_ENV[backend] if var.endswith(("CREDENTIAL", "TOKEN", "KEY"))]
    for var in removed:
        monkeypatch.delenv(var)
    with pytest.raises(MissingKeyError, match=r"\.env") as info:
        ask(backend)
    assert removed and all(var in str(info.value) for var in removed), str(info.value)


def test_empty_messages(point):
    point("openai-compatible")
    with pytest.raises(EmptyMessagesError):
        clients.chat([], backend="openai-compatible")
    with pytest.raises(EmptyMessagesError):
        clients.chat("   ", backend="openai-compatible")


def test_prompt_longer_than_the_context_window(point, httpserver):
    point("openai-compatible")
    with pytest.raises(PromptTooLongError, match="512"):
        clients.chat("Tell me about Phi. " * 400, backend="openai-compatible")
    assert len(httpserver.log) == 0  # refused before anything was sent


def test_success_reports_backend_and_model(point, httpserver):
    point("foundry")
    httpserver.expect_request(CHAT).respond_with_json(ok_body())
    for sdk in ("openai", "azure"):
        reply = ask("foundry", sdk=sdk)
        assert reply.model == "Phi-3.5-mini-instruct" and reply.backend == f"foundry via {sdk}"
        assert "foundry" in repr(reply)


def test_unknown_backend_is_a_course_error():
    with pytest.raises(CourseError, match="Choose one of"):
        clients.choose_backend("bogus")


def test_connection_repr_hides_the_key():
    assert KEY not in repr(clients.Connection("nim", "http://x", KEY))


def test_cli_chat_on_retired_github_exits_with_one_clear_message(httpserver, tmp_path):
    import os

    httpserver.expect_request(CHAT).respond_with_json({"error": {"message": "gone"}}, status=410)
    env = {k: v for k, v in os.environ.items() if k not in ALL_VARS}
    env.update(GITHUB_TOKEN=KEY, COURSE_GITHUB_ENDPOINT=httpserver.url_for("/inference"))
    result = subprocess.run([sys.executable, "-m", "course_lib", "chat", "--backend", "github", "hi"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "retired on 2026-07-30" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert KEY not in result.stderr + result.stdout
