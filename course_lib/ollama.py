"""Find a running Ollama server and list its models; chatting goes through its OpenAI-compatible /v1 endpoint.

Ollama listens on ``OLLAMA_HOST`` (default ``localhost:11434``). Its native API lists models at ``/api/tags``;
its OpenAI-compatible API at ``/v1/models``. Any OpenAI-compatible server at that address is accepted, so the
same lesson code also works against the course's own local server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from course_lib.backends import BACKENDS, endpoint, load_env_file

HOW_TO_GET_ONE = (
    "No Ollama server answers at {host}. To get one: install Ollama from https://ollama.com/download, then run "
    "`ollama run phi3.5` (a 2.2 GB download, once) and re-run this cell. If it runs elsewhere, set OLLAMA_HOST "
    "(e.g. OLLAMA_HOST=192.168.1.20:11434) in .env."
)


def ollama_host() -> str:
    load_env_file()
    return endpoint(BACKENDS["ollama"]).rstrip("/")


def _get_json(url: str, timeout: float):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (a local, user-configured host)
        return json.loads(response.read().decode("utf-8"))


def ollama_status(timeout: float = 2.0) -> dict:
    """{"host", "running", "api", "models": [{"name", "size_bytes", "quantization"}], "message"}. Never raises."""
    host = ollama_host()
    status = {"host": host, "running": False, "api": None, "models": [], "message": HOW_TO_GET_ONE.format(host=host)}
    try:  # Ollama's own API says more: size on disk and quantization level
        tags = _get_json(f"{host}/api/tags", timeout)
        status["api"] = "ollama"
        status["models"] = [{"name": m["name"], "size_bytes": m.get("size"),
                             "quantization": (m.get("details") or {}).get("quantization_level")}
                            for m in tags.get("models", [])]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        try:  # not Ollama's API: maybe another OpenAI-compatible server at that address
            listing = _get_json(f"{host}/v1/models", timeout)
            status["api"] = "openai-compatible"
            status["models"] = [{"name": m["id"], "size_bytes": None, "quantization": None}
                                for m in listing.get("data", [])]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return status
    status["running"] = True
    names = ", ".join(m["name"] for m in status["models"]) or "none yet (run `ollama pull phi3.5`)"
    status["message"] = f"A server answers at {host} ({status['api']} API). Models: {names}."
    return status


def pick_phi_model(status: dict) -> str | None:
    """The Phi model to chat with: phi3.5, else phi3, else any model whose name mentions phi; None if none."""
    names = [m["name"] for m in status["models"]]
    for wanted in ("phi3.5", "phi3"):
        for name in names:
            if name.split(":")[0] == wanted:
                return name
    return next((n for n in names if "phi" in n.lower()), None)
