"""Every failure a learner can meet, against a real HTTP server on loopback, through the real SDKs.

pytest-httpserver answers the status under test; the course's clients talk to
it exactly as they would talk to Foundry, GitHub Models, NIM, Ollama or a
workshop server (each backend's endpoint variable points at it). Nothing is
patched. Every message must say what to do and must not contain the key.
"""

import json
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
    # Foundry: the current path (openai on <endpoint>/openai/v1/) and the deprecated one (azure-ai-inference on /models)
    "foundry": {"AZURE_OPENAI_ENDPOINT": "{url}", "AZURE_OPENAI_API_KEY": KEY,
                "AZURE_INFERENCE_ENDPOINT": "{url}/models", "AZURE_INFERENCE_CREDENTIAL": KEY},
    "foundry-local": {"FOUNDRY_LOCAL_ENDPOINT": "{url}/v1"},
    "github": {"COURSE_GITHUB_ENDPOINT": "{url}/inference", "GITHUB_TOKEN": KEY},
    "nim": {"COURSE_NIM_BASE_URL": "{url}/v1", "NVIDIA_API_KEY": KEY},
    "ollama": {"OLLAMA_HOST": "{url}"},
    "openai-compatible": {"COURSE_BASE_URL": "{url}/v1", "COURSE_API_KEY": KEY},
}
ALL_VARS = {v for env in BACKEND_ENV.values() for v in env} | {"COURSE_BACKEND", "COURSE_TIMEOUT"}
FOUNDRY_LOCAL_ID = "Phi-3.5-mini-instruct-generic-cpu:1"  # how Foundry Local names a loaded build of phi-3.5-mini


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
        if backend == "foundry-local":  # the service lists what it has loaded; the client picks the build by alias
            httpserver.expect_request("/v1/models").respond_with_json(
                {"object": "list", "data": [{"id": FOUNDRY_LOCAL_ID, "object": "model", "owned_by": "Microsoft"}]})
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
@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (403, AuthError), (404, ModelNotFoundError),
                                               (410, ServiceRetiredError), (429, RateLimitError), (500, ServerError)])
def test_azure_sdk_errors_are_translated_too(point, httpserver, backend, status, error):
    point(backend)
    httpserver.expect_request(CHAT).respond_with_response(Response('{"error": {"message": "nope"}}', status,
                                                                   {"Retry-After": "0", "Content-Type": "application/json"}))
    with pytest.raises(error) as info:
        ask(backend, sdk="azure")
    assert KEY not in str(info.value)


def test_foundry_current_path_is_the_openai_v1_endpoint(point, httpserver):
    point("foundry")
    httpserver.expect_request("/openai/v1/chat/completions").respond_with_json(ok_body())
    httpserver.expect_request("/models/chat/completions").respond_with_json(ok_body("legacy"))
    reply = ask("foundry")
    assert str(reply) == "Hello from the test server." and reply.backend == "foundry via openai"
    request = httpserver.log[-1][0]
    assert request.path == "/openai/v1/chat/completions" and "api-version" not in request.query_string.decode()
    assert request.headers["Authorization"] == f"Bearer {KEY}"  # the resource key, as Microsoft's v1 samples send it
    assert request.get_json()["model"] == "Phi-3.5-mini-instruct"  # the deployment name
    assert str(ask("foundry", sdk="azure")) == "legacy"  # the deprecated SDK keeps its own variables and endpoint
    assert httpserver.log[-1][0].path == "/models/chat/completions"


@pytest.mark.parametrize("given", ["https://r.openai.azure.com", "https://r.openai.azure.com/",
                                   "https://r.openai.azure.com/openai/v1/", "https://r.openai.azure.com/openai",
                                   "https://r.openai.azure.com/models"])
def test_foundry_endpoint_forms_all_become_the_v1_base_url(given):
    from course_lib.backends import foundry_v1_base_url

    assert foundry_v1_base_url(given) == "https://r.openai.azure.com/openai/v1/"


def test_404_lists_the_models_that_exist(point, httpserver):
    point("openai-compatible")
    httpserver.expect_request("/v1/models").respond_with_json(
        {"object": "list", "data": [{"id": "tiny-phi-3.5-mini", "object": "model", "created": 0, "owned_by": "local"}]})
    httpserver.expect_request(CHAT).respond_with_json({"error": {"message": "no such model"}}, status=404)
    with pytest.raises(ModelNotFoundError, match="tiny-phi-3.5-mini"):
        ask("openai-compatible", model="no-such-model")


def test_a_room_server_answering_with_a_real_phi_is_labelled_as_it(point, httpserver):
    """A GPU host's vLLM serves the real model under the course name too (`--served-model-name
    microsoft/Phi-3.5-mini-instruct tiny-phi-3.5-mini`) and names the real one in its answers: the learner's settings
    stay as they are, and the label says which model wrote the answer, with no 'tiny course model' note."""
    point("openai-compatible")
    real = ok_body("Phi-3.5-mini is a 3.8B-parameter model.") | {"model": "microsoft/Phi-3.5-mini-instruct"}
    httpserver.expect_request(CHAT).respond_with_json(real)
    reply = clients.chat("hi", backend="openai-compatible", model="phi-3.5-mini", max_tokens=8)
    assert json.loads(httpserver.log[-1][0].data)["model"] == "tiny-phi-3.5-mini"  # the learner's request, unchanged
    assert reply.model == "microsoft/Phi-3.5-mini-instruct" and "tiny" not in reply.label


def test_429_honours_retry_after_then_succeeds(point, httpserver):
    point("nim")
    httpserver.expect_ordered_request(CHAT).respond_with_response(Response("slow down", 429, {"Retry-After": "1"}))
    httpserver.expect_ordered_request(CHAT).respond_with_json(ok_body())
    start = time.perf_counter()
    reply = ask("nim")
    assert str(reply) == "Hello from the test server."
    assert time.perf_counter() - start >= 0.9  # it waited as the server asked
    assert reply.backend.startswith("nim") and reply.model == "microsoft/phi-3.5-mini-instruct"


@pytest.mark.parametrize(("backend", "sdk"), [("openai-compatible", "openai"), ("foundry", "openai"), ("foundry", "azure"),
                                            ("foundry-local", "openai")])
def test_429_retries_are_bounded(point, httpserver, backend, sdk):
    point(backend)
    httpserver.expect_request(CHAT).respond_with_response(Response("slow down", 429, {"Retry-After": "0"}))
    with pytest.raises(RateLimitError, match="rate limited"):
        ask(backend, sdk=sdk)
    assert sum(r.path.endswith("/chat/completions") for r, _ in httpserver.log) == clients.MAX_RETRIES + 1


def test_a_long_retry_after_is_reported_not_waited_for(point, httpserver):
    point("openai-compatible")
    httpserver.expect_request(CHAT).respond_with_response(Response("slow down", 429, {"Retry-After": "3600"}))
    with pytest.raises(RateLimitError):
        ask("openai-compatible")
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(("backend", "sdk"), [("foundry", "openai"), ("foundry", "azure"), ("foundry-local", "openai")])
def test_timeout(point, httpserver, monkeypatch, backend, sdk):
    point(backend)
    monkeypatch.setenv("COURSE_TIMEOUT", "0.5")

    def stall(request):
        time.sleep(1.5)
        return Response("late", 200)
    httpserver.expect_request(CHAT).respond_with_handler(stall)
    with pytest.raises(RequestTimeoutError, match="COURSE_TIMEOUT"):
        ask(backend, sdk=sdk)
    time.sleep(1.5)  # the test server answers one request at a time: let the stalled one finish before the next test


NOTHING_LISTENS = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.mark.parametrize(("backend", "sdk", "var", "value"), [
    ("github", "openai", "COURSE_GITHUB_ENDPOINT", NOTHING_LISTENS + "/inference"),
    ("github", "azure", "COURSE_GITHUB_ENDPOINT", NOTHING_LISTENS + "/inference"),
    ("foundry", "openai", "AZURE_OPENAI_ENDPOINT", NOTHING_LISTENS),
    ("foundry", "azure", "AZURE_INFERENCE_ENDPOINT", NOTHING_LISTENS + "/models"),
    ("foundry-local", "openai", "FOUNDRY_LOCAL_ENDPOINT", NOTHING_LISTENS + "/v1"),
])
def test_connection_refused(point, monkeypatch, backend, sdk, var, value):
    point(backend)
    monkeypatch.setenv(var, value)
    with pytest.raises(BackendUnreachableError, match="(Could not connect|Could not reach)"):
        ask(backend, sdk=sdk)


@pytest.mark.parametrize(("backend", "sdk", "removed"), [
    ("foundry", "openai", ["AZURE_OPENAI_API_KEY"]), ("foundry", "openai", ["AZURE_OPENAI_ENDPOINT"]),
    ("foundry", "azure", ["AZURE_INFERENCE_CREDENTIAL"]), ("github", "openai", ["GITHUB_TOKEN"]),
    ("nim", "openai", ["NVIDIA_API_KEY"]), ("openai-compatible", "openai", ["COURSE_API_KEY"])])
def test_missing_key_names_the_variable(point, monkeypatch, backend, sdk, removed):
    point(backend)
    for var in removed:
        monkeypatch.delenv(var)
    with pytest.raises(MissingKeyError, match=r"\.env") as info:
        ask(backend, sdk=sdk)
    assert all(var in str(info.value) for var in removed), str(info.value)


def test_legacy_foundry_variables_alone_explain_the_new_names(point, monkeypatch):
    point("foundry")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    with pytest.raises(MissingKeyError) as info:
        ask("foundry")
    message = str(info.value)
    assert "AZURE_OPENAI_ENDPOINT" in message and "deprecated" in message and "2026-08-26" in message
    assert KEY not in message


def test_foundry_local_picks_the_loaded_build_of_the_alias(point, httpserver):
    point("foundry-local")
    httpserver.expect_request(CHAT).respond_with_json(ok_body())
    reply = ask("foundry-local")
    assert reply.model == FOUNDRY_LOCAL_ID and reply.backend == "foundry-local via openai"
    assert httpserver.log[-1][0].get_json()["model"] == FOUNDRY_LOCAL_ID


def test_foundry_local_alias_matching():
    from course_lib.foundry_local import matches

    assert matches("phi-4-mini", "Phi-4-mini-instruct-generic-cpu:5")
    assert matches("phi-4-mini", "phi-4-mini-instruct-vitis-npu:2")
    assert matches("phi-4", "Phi-4-generic-gpu:1")
    assert not matches("phi-4-mini", "Phi-4-mini-reasoning-generic-cpu:1")
    assert not matches("phi-4", "Phi-4-mini-instruct-generic-cpu:5")
    assert not matches("phi-3.5-mini", "Phi-3-mini-4k-instruct-generic-cpu:1")


@pytest.mark.parametrize(("cached", "advice"), [([], "foundry model run phi-3.5-mini"),
                                                ([FOUNDRY_LOCAL_ID], "foundry model load phi-3.5-mini")])
def test_foundry_local_says_when_the_model_is_not_loaded_or_not_downloaded(point, httpserver, monkeypatch, cached,
                                                                         advice):
    monkeypatch.setenv("FOUNDRY_LOCAL_ENDPOINT", httpserver.url_for("/v1"))
    for var in ALL_VARS - {"FOUNDRY_LOCAL_ENDPOINT", "COURSE_TIMEOUT"}:
        monkeypatch.delenv(var, raising=False)
    httpserver.expect_request("/v1/models").respond_with_json(
        {"object": "list", "data": [{"id": "qwen2.5-0.5b-instruct-generic-cpu:3", "object": "model"}]})
    httpserver.expect_request("/openai/models").respond_with_json(cached)
    with pytest.raises(ModelNotFoundError) as info:
        ask("foundry-local")
    assert advice in str(info.value) and "qwen2.5-0.5b" in str(info.value)
    assert not any(r.path.endswith("/chat/completions") for r, _ in httpserver.log)  # refused before sending


FAKE_CLI = """#!/bin/sh
# A stand-in for Foundry Local's CLI: prints what `foundry server status` prints, from FAKE_FOUNDRY_STATUS.
[ "$1 $2" = "server status" ] || exit 2
echo "$FAKE_FOUNDRY_STATUS"
[ -n "$FAKE_FOUNDRY_RUNNING" ]
"""


@pytest.fixture
def foundry_cli(point, monkeypatch, tmp_path):
    """A `foundry` command on PATH that answers `server status` like the real CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "foundry").write_text(FAKE_CLI)
    (bin_dir / "foundry").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    point("foundry-local")
    monkeypatch.delenv("FOUNDRY_LOCAL_ENDPOINT")


def test_foundry_local_found_through_its_cli(foundry_cli, httpserver, monkeypatch):
    monkeypatch.setenv("FAKE_FOUNDRY_STATUS", f"🟢 Model management service is running on {httpserver.url_for('/')}")
    monkeypatch.setenv("FAKE_FOUNDRY_RUNNING", "1")
    httpserver.expect_request(CHAT).respond_with_json(ok_body())
    assert str(ask("foundry-local")) == "Hello from the test server."


def test_foundry_local_installed_but_not_running(foundry_cli, monkeypatch):
    monkeypatch.setenv("FAKE_FOUNDRY_STATUS", "🔴 Model management service is not running!")
    with pytest.raises(BackendUnreachableError, match="not running.*foundry server start"):
        ask("foundry-local")


def test_foundry_local_absent(point, monkeypatch, tmp_path):
    point("foundry-local")
    monkeypatch.delenv("FOUNDRY_LOCAL_ENDPOINT")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `foundry` anywhere
    with pytest.raises(BackendUnreachableError, match="not installed.*winget install Microsoft.FoundryLocal"):
        ask("foundry-local")


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
    point("foundry")  # both paths: openai on /openai/v1/, azure-ai-inference on /models
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
