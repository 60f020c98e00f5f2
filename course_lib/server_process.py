"""The server process that ``course_lib.serve.LocalServer`` starts: ``transformers serve``'s own app, behind a gate.

``python -m course_lib.server_process PARENT_PID MODELS [transformers serve options]`` runs the real
``transformers serve`` command line, with two additions made where it builds its FastAPI app:

* **the course models are loaded first** (MODELS, comma-separated), so ``/health`` answers only once they are ready
  and ``/v1/models`` lists them;
* **a gate** (``LearnerGate``, an ASGI middleware) lets through only the routes a learner's client uses. Everything
  else, ``/reset`` and ``/load_model`` included, answers 404: ``transformers serve`` leaves those open with no
  authentication, and anyone who reaches the port (another user of a shared machine reaches 127.0.0.1) could
  unload the models or start a download. With a key (the ``_COURSE_SERVER_KEY`` variable, never the command line,
  which every user can read in the process list), each request must also carry ``Authorization: Bearer KEY``.
"""

from __future__ import annotations

import hmac
import os
import signal
import sys
import threading
import time

LEARNER_ROUTES = frozenset({"/health", "/v1/models", "/v1/chat/completions"})
KEY_VARIABLE = "_COURSE_SERVER_KEY"  # set by LocalServer for this process only


class LearnerGate:
    """ASGI middleware: a 404 for any route but ``routes``; with ``api_key``, a 401 for a request without it."""

    def __init__(self, app, api_key: str | None = None, routes: frozenset[str] = LEARNER_ROUTES):
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            if scope["type"] == "websocket" or scope["path"] not in self.routes:
                return await _error(scope, receive, send, 404, "not_found",
                                    "Not found. This server answers /v1/models and /v1/chat/completions.")
            if self.key is not None and not self._authorized(scope):
                return await _error(scope, receive, send, 401, "invalid_api_key",
                                    "Missing or wrong API key: send the room's key as 'Authorization: Bearer KEY'.",
                                    headers={"WWW-Authenticate": "Bearer"})
        await self.app(scope, receive, send)  # lifespan events, and the learner routes

    def _authorized(self, scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        # compare_digest takes as long for a near miss as for a far one: the time leaks nothing about the key
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)


async def _error(scope, receive, send, status: int, code: str, message: str, headers: dict | None = None):
    from starlette.responses import JSONResponse

    if scope["type"] == "websocket":
        return await send({"type": "websocket.close", "code": 1008})
    body = {"error": {"message": message, "type": code, "code": code}}  # the shape the openai SDK reads
    await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)


def gated_build_server(build_server, models: list[str], api_key: str | None):
    """``build_server`` as transformers defines it, plus the preload and the gate."""

    def build(model_manager, *args, **kwargs):
        for name in models:  # a local folder's name is its own canonical name
            model_manager.load_model_and_processor(model_manager.process_model_name(name))
        app = build_server(model_manager, *args, **kwargs)
        app.add_middleware(LearnerGate, api_key=api_key)
        return app

    return build


def exit_with_parent(parent_pid: int) -> None:
    """End this process when the process that started it is gone, however that process died.

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


def main(argv: list[str]) -> None:
    parent_pid, models, serve_options = int(argv[0]), [m for m in argv[1].split(",") if m], argv[2:]
    exit_with_parent(parent_pid)
    from transformers.cli.serving import server
    from transformers.cli.transformers import main as transformers_cli

    # `transformers serve` imports build_server from this module when it starts: it gets the gated one.
    server.build_server = gated_build_server(server.build_server, models, os.environ.pop(KEY_VARIABLE, None) or None)
    sys.argv = ["transformers", "serve", *serve_options]
    transformers_cli()


if __name__ == "__main__":
    main(sys.argv[1:])
