"""The local server: the real `transformers serve` on loopback, called with the real openai and azure-ai-inference SDKs.

The module's server is a room's (`python -m course_lib serve --host … ` with a key), so the SDK tests also show that a
keyed server works for them; the gate's refusals run against it too.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed

import openai
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import AssistantMessage, SystemMessage, UserMessage
from azure.core.credentials import AzureKeyCredential

from course_lib import clients, loadtest
from course_lib.errors import AuthError, CourseError
from course_lib.i18n import language_set
from course_lib.models import TEXT_MODELS
from course_lib.paths import REPO_ROOT
from course_lib.serve import LocalServer, ServerConfigError, _free_port, is_loopback

MODEL = "tiny-phi-3.5-mini"
QUESTION = [{"role": "user", "content": "What is a small language model?"}]
KEY = "room-key-" + "k3y" * 6  # made up at run time, like an instructor's
WRONG_KEYS = ["", "not-needed", KEY[:-1], KEY + "x", KEY.upper()]  # a near miss is as wrong as a far one


@pytest.fixture(scope="module")
def server():
    with LocalServer(api_key=KEY) as running:
        yield running


@pytest.fixture(scope="module")
def openai_client(server):
    # No retries: a failure shows at once instead of after the SDK's backoff.
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def azure_client(server):
    with ChatCompletionsClient(endpoint=server.base_url, credential=AzureKeyCredential(KEY), retry_total=0) as client:
        yield client


def status_of(server, path, method="GET", key=None, body=None):
    """The status of one raw request (no SDK in between), with `Authorization: Bearer key` when a key is given."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key is not None else {})}
    data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_course_models_are_served_by_their_course_names(server, openai_client):
    assert set(TEXT_MODELS) <= set(server.models)
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    listed = {model.id for model in openai_client.models.list()}
    assert set(server.models) <= listed  # preloaded at start, so /v1/models lists them


def test_openai_plain_chat(openai_client):
    answer = openai_client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=32)
    assert answer.model == MODEL
    assert answer.choices[0].message.content.strip()
    assert answer.usage.completion_tokens > 0


def test_openai_streaming(openai_client):
    stream = openai_client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=32, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.strip()


def test_openai_multi_turn(openai_client):
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is Phi-3?"},
        {"role": "assistant", "content": "Phi-3 is a family of small language models from Microsoft."},
        {"role": "user", "content": "What is Phi-3.5-mini?"},
    ]
    answer = openai_client.chat.completions.create(model=MODEL, messages=messages, max_tokens=32)
    assert answer.choices[0].message.content.strip()
    assert answer.usage.prompt_tokens > 30  # the whole conversation reached the model


def test_azure_plain_chat(azure_client):
    # The SDK posts to {endpoint}/chat/completions?api-version=...; the server ignores the query.
    answer = azure_client.complete(model=MODEL, max_tokens=32, messages=[
        SystemMessage("You are a helpful assistant."), UserMessage("What is a small language model?")])
    assert answer.model == MODEL
    assert answer.choices[0].message.content.strip()


def test_azure_streaming(azure_client):
    stream = azure_client.complete(model=MODEL, max_tokens=32, stream=True, messages=[
        UserMessage("What is Phi-3?"), AssistantMessage("A family of small language models."), UserMessage("Who made it?")])
    text = "".join(update.choices[0].delta.content or "" for update in stream if update.choices)
    assert text.strip()


def test_unknown_model_is_an_http_error(server):
    # A client of its own: after a 500, uvicorn closes the connection without saying so, and a pooled
    # connection reused at once fails with a reset (the SDKs' default retries hide that from lessons).
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=60)
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="no-such-model", messages=QUESTION, max_tokens=4)
    assert raised.value.status_code not in (401, 404)  # the model is unknown; the route and the key were right


CHAT_BODY = {"model": MODEL, "messages": QUESTION, "max_tokens": 4}


@pytest.mark.parametrize("wrong", WRONG_KEYS + [None], ids=["empty", "not-needed", "prefix", "longer", "case", "absent"])
def test_a_request_without_the_right_key_gets_401(server, wrong):
    for path, method in [("/v1/models", "GET"), ("/v1/chat/completions", "POST"), ("/health", "GET")]:
        assert status_of(server, path, method, key=wrong, body=CHAT_BODY) == 401, (path, wrong)
    assert status_of(server, "/v1/chat/completions", "POST", key=KEY, body=CHAT_BODY) == 200


def test_the_openai_sdk_with_a_wrong_key_gets_authentication_error(server):
    client = openai.OpenAI(base_url=server.base_url, api_key="not-the-key", max_retries=0, timeout=60)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=4)
    assert "Bearer" in raised.value.message  # the gate's message says what to send


@pytest.mark.parametrize("path", ["/reset", "/load_model", "/v1/completions", "/v1/responses", "/v1/systemone",
                                  "/v1/audio/transcriptions", "/docs", "/openapi.json", "/v1/models/../../reset",
                                  "/v1/chat/completions/", "/"])
def test_every_other_route_is_closed_even_with_the_key(server, path):
    for key in (KEY, None):
        for method in ("GET", "POST"):
            assert status_of(server, path, method, key=key, body={"model": "gpt2"}) == 404, (path, method, key)
    listed = {m.id for m in openai.OpenAI(base_url=server.base_url, api_key=KEY).models.list()}
    assert set(server.models) <= listed  # /reset did not unload anything


def test_the_course_client_reaches_a_keyed_server_and_explains_a_wrong_key(server, monkeypatch):
    monkeypatch.setattr("course_lib.clients.load_env_file", lambda: False)
    monkeypatch.setattr("course_lib.backends.load_env_file", lambda: False)
    monkeypatch.setenv("COURSE_BASE_URL", server.base_url)
    monkeypatch.setenv("COURSE_API_KEY", KEY)
    reply = clients.chat("What is Phi-3?", backend="openai-compatible", model="phi-3.5-mini", max_tokens=8)
    assert reply.strip() and reply.model == MODEL
    monkeypatch.setenv("COURSE_API_KEY", "a-learner-typo")
    with pytest.raises(AuthError) as raised:
        clients.chat("What is Phi-3?", backend="openai-compatible", max_tokens=8)
    assert "COURSE_API_KEY" in str(raised.value) and "a-learner-typo" not in str(raised.value)


def test_thirty_streaming_learners_at_once_get_no_errors(server):
    result = loadtest.run(server.base_url, KEY, MODEL, users=30, requests=1, max_tokens=16, deadline_s=240)
    assert result["errors"] == {} and result["ok"] == 30, loadtest.describe(result)
    assert 0 < result["ttft_s"]["p50"] <= result["ttft_s"]["p95"] <= result["total_s"]["max"]


def test_the_key_is_never_in_the_log_or_the_command_line(server):
    status_of(server, "/v1/models", key="wrong-" + KEY)  # a wrong key is a secret too: maybe a typo of the right one
    log = server.log_tail(10**7)
    assert "/v1/models" in log  # the log is read (uvicorn's access log), and holds neither key
    assert KEY not in log and KEY[:12] not in log
    if os.path.exists(f"/proc/{server.pid}/cmdline"):  # what any user of the machine can read with `ps`
        with open(f"/proc/{server.pid}/cmdline", "rb") as cmdline:
            assert KEY.encode() not in cmdline.read()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "my-laptop.local"])
def test_a_server_others_can_reach_needs_a_key(host, monkeypatch):
    with pytest.raises(ServerConfigError, match="COURSE_SERVE_API_KEY"):
        LocalServer(host=host)
    with language_set("zh-CN"), pytest.raises(ServerConfigError, match="COURSE_SERVE_API_KEY") as raised:
        LocalServer(host=host)
    assert "密钥" in str(raised.value)
    from course_lib.__main__ import main

    monkeypatch.delenv("COURSE_SERVE_API_KEY", raising=False)
    assert main(["serve", "--host", host]) == 1  # the command line refuses before starting anything


def test_loopback_is_told_apart_from_every_other_address():
    assert all(map(is_loopback, ["127.0.0.1", "127.5.6.7", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", "localhost.evil.com", ""]))


@pytest.mark.parametrize("url", ["http://10.1.2.3:8000/v1", "http://192.168.0.5/v1", "http://0.0.0.0:8000/v1",
                                 "http://example.com/v1", "http://localhost.example.com/v1", "not a url"])
def test_the_load_test_never_leaves_this_machine(url):
    with pytest.raises(CourseError, match="127.0.0.1"):
        loadtest.run(url, users=1, requests=1)


def test_the_load_test_is_bounded():
    for users, requests in [(0, 1), (loadtest.MAX_USERS + 1, 1), (1, 0), (1, loadtest.MAX_REQUESTS + 1)]:
        with pytest.raises(CourseError):
            loadtest.run("http://127.0.0.1:9/v1", users=users, requests=requests)


def test_percentiles_are_measured_values():
    assert loadtest.percentile([], 95) is None
    assert loadtest.percentile([3.0], 50) == 3.0
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert loadtest.percentile(values, 50) == 10.0 and loadtest.percentile(values, 95) == 19.0
    assert loadtest.percentile(list(reversed(values)), 100) == 20.0


def test_eight_concurrent_requests_all_succeed(openai_client):
    def ask(i: int) -> str:
        question = [{"role": "user", "content": f"Question {i}: what is a token?"}]
        return openai_client.chat.completions.create(model=MODEL, messages=question, max_tokens=16).choices[0].message.content

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(ask, i) for i in range(8)]
        answers = [future.result() for future in as_completed(futures, timeout=180)]
    assert len(answers) == 8 and all(answer.strip() for answer in answers)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a dead process that nobody reaped yet (a zombie) is gone too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _wait_until_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _is_running(pid)


def test_stop_leaves_no_process_group():
    server = LocalServer(models=[]).start()  # no preload: only the process matters here
    pid = server.pid
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=5) as response:
        assert json.load(response) == {"status": "ok"}
    # No key on a lesson's own server, but its admin routes are closed too: other users of the machine reach 127.0.0.1
    for path in ("/reset", "/load_model"):
        assert status_of(server, path, "POST", body={"model": "gpt2"}) == 404
    assert status_of(server, "/v1/models") == 200
    server.stop()
    assert not server.is_alive() and not _is_running(pid)
    if hasattr(os, "killpg"):
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the server led its own process group; nothing in it is left


SHARED_SERVER_CHILD = """
import os, signal
from course_lib.serve import local_server
first = local_server()
assert local_server() is first  # the next cell reuses it
os.kill(first.pid, signal.SIGKILL)
first.process.wait()
second = local_server()  # ... and gets a fresh one once it died
assert second is not first and second.is_alive()
print(second.pid, second.log_path, flush=True)
# exits without stop(): atexit must stop it
"""


def test_shared_server_is_reused_restarted_and_stopped_at_exit():
    child = subprocess.run([sys.executable, "-c", SHARED_SERVER_CHILD], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    pid, log_path = child.stdout.split()
    assert _wait_until_gone(int(pid), seconds=10)
    assert not os.path.exists(log_path)  # stop() ran (it removes the log), not just the parent-death watchdog


KILLED_PARENT_CHILD = """
import time
from course_lib.serve import LocalServer
server = LocalServer(models=[]).start()
print(server.pid, server.log_path, flush=True)
time.sleep(300)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_server_dies_when_its_parent_is_killed():
    """A Jupyter kernel killed with SIGKILL runs no atexit handler: the server must notice on its own."""
    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT_CHILD], stdout=subprocess.PIPE, text=True)
    server_pid = log_path = None
    try:
        line = parent.stdout.readline()  # bounded: LocalServer gives up after its startup timeout
        assert line.split() and line.split()[0].isdigit(), f"the child did not start a server: {line!r}"
        server_pid, log_path = int(line.split()[0]), line.split()[1]
        assert _is_running(server_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_until_gone(server_pid, seconds=10), "the server outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        if server_pid is not None and _is_running(server_pid):
            os.killpg(server_pid, signal.SIGKILL)
        if log_path is not None:  # nobody ran stop(), which would have removed it
            os.remove(log_path)


GATEWAY = REPO_ROOT / "deploy" / "room-gateway.nginx.conf"


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (Debian: apt-get install nginx-light)")
def test_the_documented_vllm_gateway_passes_only_the_learner_routes(server, tmp_path):
    """INSTRUCTOR.md's gateway for a GPU host's vLLM, on loopback, in front of this module's keyed server."""
    port = _free_port()
    block = GATEWAY.read_text(encoding="utf-8").replace("listen 8000;", f"listen 127.0.0.1:{port};")
    block = block.replace("127.0.0.1:8001", f"127.0.0.1:{server.port}")
    (tmp_path / "nginx.conf").write_text(f"worker_processes 1; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
                                         f"events {{}}\nhttp {{ access_log off;\n{block}\n}}\n", encoding="utf-8")
    subprocess.run(["nginx", "-c", str(tmp_path / "nginx.conf")], check=True, timeout=30)
    try:
        gateway = type("Gateway", (), {"port": port})()
        assert status_of(gateway, "/v1/models") == 401 and status_of(gateway, "/v1/models", key=KEY) == 200
        for path in ("/invocations", "/tokenize", "/metrics", "/reset", "/load_model", "/docs", "/v1/completions"):
            assert status_of(gateway, path, "POST", key=KEY) == 404, path
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0, timeout=120)
        stream = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=24, stream=True)
        arrivals = [time.perf_counter() for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
        assert len(arrivals) > 5 and arrivals[-1] - arrivals[0] > 0.02  # streamed piece by piece, not buffered
    finally:
        subprocess.run(["nginx", "-c", str(tmp_path / "nginx.conf"), "-s", "stop"], timeout=30)
