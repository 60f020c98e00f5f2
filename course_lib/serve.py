"""A local OpenAI-compatible server for the course models: the real ``transformers serve``, on 127.0.0.1.

Lessons call it with the real ``openai`` and ``azure-ai-inference`` SDKs, by the course names::

    with LocalServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="not-needed")
        client.chat.completions.create(model="tiny-phi-3.5-mini", messages=[{"role": "user", "content": "Hi"}])

Notebook cells share one server with ``local_server()``; ``python -m course_lib serve`` runs one in a terminal.

How a course name resolves: ``transformers serve`` takes a model name that is an existing path as that local
checkpoint, so the server runs in ``data/models/``, where "tiny-phi-3.5-mini" is the folder of that name.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from course_lib.errors import CourseError
from course_lib.i18n import t
from course_lib.models import available_models
from course_lib.paths import MODELS_DIR, REPO_ROOT

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 120.0
STOP_GRACE_S = 5.0
PORT_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it: then try another
# The server leads its own process group (a session on POSIX): stop() signals it and anything it started, at once.
OWN_PROCESS_GROUP = {"start_new_session": True} if os.name == "posix" else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


class ServerStartError(CourseError):
    """The local server exited or did not become healthy in time. The message ends with the tail of its log."""


class LocalServer:
    """``transformers serve`` for the course models, in its own process group, stopped with its context."""

    def __init__(self, port: int | None = None, models: list[str] | None = None, startup_timeout: float = STARTUP_TIMEOUT_S):
        self.requested_port = port
        self.models = list(models) if models is not None else available_models()
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("The local server is not started: call start() or use `with LocalServer() as server:`.")
        return f"http://{HOST}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> LocalServer:
        if self.is_alive():
            return self
        missing = [name for name in self.models if name not in available_models()]
        if missing:
            raise ServerStartError(t("Course model folder missing: {missing}. Rebuild with: python -m course_lib build-models",
                                     missing=", ".join(missing)))
        try:
            self._launch_until_healthy()
            for name in self.models:  # loaded now, so /v1/models lists them and the first lesson call is not slow
                self._preload(name)
        except BaseException:  # Ctrl-C included: never leave a half-started server behind
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and everything in its process group: SIGTERM, then SIGKILL after a grace period."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is not None:
            _stop_process_group(process)
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
        self.log_path = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def log_tail(self, chars: int = 3000) -> str:
        exists = self.log_path is not None and self.log_path.exists()
        return self.log_path.read_bytes()[-chars:].decode("utf-8", errors="replace") if exists else ""

    def _launch_until_healthy(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._launch(self.requested_port or _free_port())
            try:
                self._wait_until_healthy()
                return
            except ServerStartError:
                port_taken = "address already in use" in self.log_tail().lower()
                self.stop()
                if not (port_taken and self.requested_port is None and attempt < PORT_ATTEMPTS):
                    raise

    def _launch(self, port: int) -> None:
        self.port = port
        with tempfile.NamedTemporaryFile(prefix="course-serve-", suffix=".log", delete=False) as log:
            self.log_path = Path(log.name)
            # The server runs this module's __main__, which watches this process and then runs `transformers serve`.
            command = [sys.executable, "-m", "course_lib.serve", str(os.getpid()),
                       "--host", HOST, "--port", str(port),
                       "--device", "cpu",  # the course default: same answers on every laptop, and the GPU stays free
                       "--dtype", "float32",  # as models.load(): fp16 weights, computed in float32 on the CPU
                       "--model-timeout=-1",  # the course models are small: keep them loaded, and listed
                       "--log-level", "error"]
            self.process = subprocess.Popen(command, cwd=MODELS_DIR, env=_server_environment(), stdin=subprocess.PIPE,
                                            stdout=log, stderr=subprocess.STDOUT, **OWN_PROCESS_GROUP)
        atexit.register(self.stop)

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise ServerStartError(t("The local server exited during startup (code {code}). Its log ends with:\n{log}",
                                         code=self.process.returncode, log=self.log_tail()))
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet
            time.sleep(0.25)
        raise ServerStartError(t("The local server did not answer /health within {seconds:.0f} s. Its log ends with:\n{log}",
                                 seconds=self.startup_timeout, log=self.log_tail()))

    def _preload(self, name: str) -> None:
        """Load a model through the server's /load_model, which streams progress events until the model is ready."""
        request = urllib.request.Request(f"http://{HOST}:{self.port}/load_model", data=json.dumps({"model": name}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.startup_timeout) as response:
            for line in response:
                event = json.loads(line[len(b"data: "):]) if line.startswith(b"data: ") else {}
                if event.get("status") == "error":
                    raise ServerStartError(t("The local server could not load {name!r}: {message}", name=name,
                                             message=event.get("message")))


_shared_server: LocalServer | None = None
_shared_lock = threading.Lock()


def local_server() -> LocalServer:
    """The server shared by a notebook's cells: started on first use, reused while alive, restarted if it died."""
    global _shared_server
    with _shared_lock:
        if _shared_server is None or not _shared_server.is_alive():
            if _shared_server is not None:
                _shared_server.stop()  # a dead one: clears its log file
            _shared_server = LocalServer().start()
        return _shared_server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _server_environment() -> dict[str, str]:
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "PYTHONPATH": python_path,  # so the server finds course_lib even when it is not pip-installed
        "HF_HUB_OFFLINE": "1",  # an unknown name fails at once instead of trying to download
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",  # the CLI would otherwise ask PyPI for a newer transformers
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "CUDA_VISIBLE_DEVICES": "",  # CPU only: do not even initialise CUDA
        "PYTHONUNBUFFERED": "1",  # so the log file is current when startup fails
    }


def _stop_process_group(process: subprocess.Popen) -> None:
    _signal_group(process, hard=False)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(process, hard=True)
        process.wait()
    if process.stdin is not None:
        process.stdin.close()  # closed last: its EOF would make the server's watchdog kill it without a graceful exit


def _signal_group(process: subprocess.Popen, hard: bool) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)
        else:
            process.kill() if hard else process.terminate()
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def _exit_with_parent(parent_pid: int) -> None:
    """In the server: end it when the process that started it is gone, however that process died.

    A SIGKILLed Jupyter kernel runs no atexit handler, so the server watches its parent itself. The parent holds
    the write end of our stdin, which the OS closes when the parent dies: EOF, on every platform. Being reparented
    (getppid changes) also catches a parent whose pipe end a forked child still holds. This beats PR_SET_PDEATHSIG,
    which fires when the *thread* that started us exits and is unsafe in preexec_fn with threads running.
    """

    def exit_now() -> None:
        if os.name == "posix" and os.getpgrp() == os.getpid():
            os.killpg(0, signal.SIGKILL)  # our own session: take anything we started with us
        os._exit(1)

    def on_stdin_closed() -> None:
        while os.read(0, 1024):  # the raw fd: a daemon thread blocked in sys.stdin would abort interpreter shutdown
            pass
        exit_now()

    def on_reparented() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        exit_now()

    for watch in (on_stdin_closed, on_reparented):
        threading.Thread(target=watch, name=f"course-{watch.__name__}", daemon=True).start()


if __name__ == "__main__":  # the server process: python -m course_lib.serve PARENT_PID [transformers serve options]
    _exit_with_parent(int(sys.argv[1]))
    from transformers.cli.transformers import main

    sys.argv = ["transformers", "serve", *sys.argv[2:]]
    main()
