"""A local OpenAI-compatible server for the course models: the real ``transformers serve``, on 127.0.0.1.

Lessons call it with the real ``openai`` and ``azure-ai-inference`` SDKs, by the course names::

    with LocalServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="not-needed")
        client.chat.completions.create(model="tiny-phi-3.5-mini", messages=[{"role": "user", "content": "Hi"}])

Notebook cells share one server with ``local_server()``; ``python -m course_lib serve`` runs one in a terminal.

How a course name resolves: ``transformers serve`` takes a model name that is an existing path as that local
checkpoint, so the server runs in ``data/models/``, where "tiny-phi-3.5-mini" is the folder of that name.

Only the learner routes are open (``course_lib.server_process`` has the gate): ``transformers serve``'s
unauthenticated ``/reset`` and ``/load_model`` answer 404. For a room, ``LocalServer(host="0.0.0.0", api_key=KEY)``
also asks every request for the key; a server reachable from other machines must have one.
"""

from __future__ import annotations

import atexit
import ipaddress
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
# Continuous batching sizes its KV cache from free memory when not told: about 3 GB per course model on CPU
# (measured, four models: 12 GB). 64 pages of 256 tokens hold 30 learners with full 512-token contexts.
CONTINUOUS_BATCHING = ["--continuous-batching", "--cb-num-blocks", "64"]
KEY_ENV = "COURSE_SERVE_API_KEY"  # the room key for `python -m course_lib serve`; never passed on a command line
STARTUP_TIMEOUT_S = 120.0
STOP_GRACE_S = 5.0
PORT_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it: then try another
# The server leads its own process group (a session on POSIX): stop() signals it and anything it started, at once.
OWN_PROCESS_GROUP = {"start_new_session": True} if os.name == "posix" else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


class ServerStartError(CourseError):
    """The local server exited or did not become healthy in time. The message ends with the tail of its log."""


class ServerConfigError(CourseError):
    """The server was asked for something unsafe, such as another machine's reach without a key."""


class LocalServer:
    """``transformers serve`` for the course models, in its own process group, stopped with its context."""

    def __init__(self, port: int | None = None, models: list[str] | None = None, startup_timeout: float = STARTUP_TIMEOUT_S,
                 host: str = HOST, api_key: str | None = None, continuous_batching: bool = False):
        if not api_key and not is_loopback(host):
            raise ServerConfigError(t(
                "Refusing to serve on {host} without a key: every machine that reaches it could use the models. "
                "Make up a key, set it in the {variable} environment variable (or pass --api-key KEY), and give it "
                "to your learners as COURSE_API_KEY. On your own machine alone, leave --host out (127.0.0.1).",
                host=host, variable=KEY_ENV))
        self.requested_port = port
        self.models = list(models) if models is not None else available_models()
        self.startup_timeout = startup_timeout
        self.host = host
        self._api_key = api_key or None  # kept out of repr, logs, messages and the server's command line
        self.continuous_batching = continuous_batching
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("The local server is not started: call start() or use `with LocalServer() as server:`.")
        return f"http://{self._connect_host}:{self.port}/v1"

    @property
    def _connect_host(self) -> str:
        """Where this machine reaches the server: a server on every address (0.0.0.0, ::) is on loopback too."""
        if self.host in ("0.0.0.0", "::", ""):
            return HOST
        return f"[{self.host}]" if ":" in self.host else self.host

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
            self._launch_until_healthy()  # the models load before /health answers
            self._check_gate()
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
            # course_lib.server_process watches this process, then runs `transformers serve` with the gate.
            command = [sys.executable, "-m", "course_lib.server_process", str(os.getpid()), ",".join(self.models),
                       "--host", self.host, "--port", str(port),
                       "--device", "cpu",  # the course default: same answers on every laptop, and the GPU stays free
                       "--dtype", "float32",  # as models.load(): fp16 weights, computed in float32 on the CPU
                       "--model-timeout=-1",  # the course models are small: keep them loaded, and listed
                       "--log-level", "error",
                       *(CONTINUOUS_BATCHING if self.continuous_batching else [])]
            self.process = subprocess.Popen(command, cwd=MODELS_DIR, env=_server_environment(self._api_key),
                                            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, **OWN_PROCESS_GROUP)
        atexit.register(self.stop)

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise ServerStartError(t("The local server exited during startup (code {code}). Its log ends with:\n{log}",
                                         code=self.process.returncode, log=self.log_tail()))
            try:
                if self._request("/health", timeout=2) == 200:
                    return
            except OSError:  # urllib's URLError included
                pass  # not listening yet
            time.sleep(0.25)
        raise ServerStartError(t("The local server did not answer /health within {seconds:.0f} s. Its log ends with:\n{log}",
                                 seconds=self.startup_timeout, log=self.log_tail()))

    def _request(self, path: str, method: str = "GET", timeout: float = 5) -> int:
        """The HTTP status of one request to the server, with the key when it has one."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        request = urllib.request.Request(f"http://{self._connect_host}:{self.port}{path}", method=method, headers=headers,
                                         data=b"{}" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def _check_gate(self) -> None:
        """Fail closed: if a transformers upgrade bypassed the gate, refuse to run rather than serve /reset openly."""
        status = self._request("/reset", method="POST")
        if status != 404:
            raise ServerStartError(t("The local server's admin routes are open (POST /reset answered {status}), so it "
                                     "was stopped. Install the transformers version in requirements.txt.", status=status))


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


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine reaches it."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any address


def _server_environment(api_key: str | None) -> dict[str, str]:
    from course_lib.server_process import KEY_VARIABLE

    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    inherited = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, KEY_VARIABLE)}  # a room key never leaks in
    return {
        **inherited,
        **({KEY_VARIABLE: api_key} if api_key else {}),
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
