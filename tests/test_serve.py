"""The local server: the real `transformers serve` on loopback, called with the real openai and azure-ai-inference SDKs."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed

import openai
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import AssistantMessage, SystemMessage, UserMessage
from azure.core.credentials import AzureKeyCredential

from course_lib.models import TEXT_MODELS
from course_lib.serve import LocalServer

MODEL = "tiny-phi-3.5-mini"
QUESTION = [{"role": "user", "content": "What is a small language model?"}]


@pytest.fixture(scope="module")
def server():
    with LocalServer() as running:
        yield running


@pytest.fixture(scope="module")
def openai_client(server):
    # No retries: a failure shows at once instead of after the SDK's backoff.
    return openai.OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def azure_client(server):
    with ChatCompletionsClient(endpoint=server.base_url, credential=AzureKeyCredential("not-needed"),
                               retry_total=0) as client:
        yield client


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
    client = openai.OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=60)
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="no-such-model", messages=QUESTION, max_tokens=4)


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
