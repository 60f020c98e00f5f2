"""The places a lesson can send a chat request, and how each one is configured.

This module only *describes* backends (their variables, endpoints and status)
and checks whether each is configured and reachable. It never returns or
prints a key: only whether it is set.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass(frozen=True)
class Backend:
    name: str
    secret_vars: tuple[str, ...]  # variables holding keys: reported only as "set"/"not set"
    endpoint_var: str | None  # variable that holds or overrides the endpoint
    default_endpoint: str | None
    sdk: str
    note: str


BACKENDS = {
    b.name: b
    for b in [
        Backend("local", (), None, None, "openai, azure-ai-inference",
                "the course models behind `transformers serve` on 127.0.0.1; needs nothing"),
        Backend("foundry", ("AZURE_INFERENCE_CREDENTIAL",), "AZURE_INFERENCE_ENDPOINT", None, "azure-ai-inference, openai",
                "Microsoft Foundry Models, the successor of GitHub Models"),
        Backend("github", ("GITHUB_TOKEN",), "COURSE_GITHUB_ENDPOINT", "https://models.github.ai/inference",
                "azure-ai-inference, openai", "GitHub Models: retired on 2026-07-30, answers HTTP 410"),
        Backend("nim", ("NVIDIA_API_KEY",), "COURSE_NIM_BASE_URL", "https://integrate.api.nvidia.com/v1", "openai",
                "NVIDIA NIM API catalog, OpenAI-compatible"),
        Backend("ollama", (), "OLLAMA_HOST", "http://localhost:11434", "openai",
                "a local Ollama server (`ollama run phi3.5`)"),
        Backend("openai-compatible", ("COURSE_API_KEY",), "COURSE_BASE_URL", None, "openai",
                "an instructor's vLLM or `transformers serve`"),
    ]
}


def load_env_file() -> bool:
    """Read the course's `.env` (git-ignored) into the environment; variables already set win."""
    from dotenv import load_dotenv

    from course_lib.paths import REPO_ROOT

    return load_dotenv(REPO_ROOT / ".env", override=False)


def endpoint(backend: Backend) -> str | None:
    """The endpoint in use: the variable if set, else the default."""
    value = os.environ.get(backend.endpoint_var, "") if backend.endpoint_var else ""
    value = value.strip() or backend.default_endpoint
    if value and "://" not in value:  # OLLAMA_HOST is often written as host:port
        value = "http://" + value
    return value


def is_configured(backend: Backend) -> bool:
    """Local needs nothing; Ollama needs a server (checked by reachability); the others need their variables."""
    if backend.name in ("local", "ollama"):
        return True
    needed = list(backend.secret_vars) + ([backend.endpoint_var] if backend.default_endpoint is None else [])
    return all(os.environ.get(v, "").strip() for v in needed)


def is_reachable(url: str | None, timeout: float = 1.5) -> bool:
    """Whether a TCP connection to the endpoint's host and port opens (no request is sent, no key is used)."""
    if not url:
        return False
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def backend_status() -> list[dict]:
    """One row per backend: configured, reachable, and which secret variables are set. Never the values."""
    load_env_file()
    def row(backend: Backend) -> dict:
        out = row_without_network(backend)
        if backend.name == "local":
            out["endpoint"] = "127.0.0.1 (started on demand)"
        elif out["configured"]:
            out["reachable"] = is_reachable(out["endpoint"])
        if backend.name == "ollama":
            out["configured"] = bool(out["reachable"])  # no key: Ollama is usable exactly when its server answers
        return out

    # Checked in parallel; a slow DNS lookup cannot hold the report for long (the pool is not waited for).
    pool = ThreadPoolExecutor(max_workers=len(BACKENDS))
    futures = {name: pool.submit(row, b) for name, b in BACKENDS.items()}
    rows = []
    for name, future in futures.items():
        try:
            rows.append(future.result(timeout=5))
        except TimeoutError:
            rows.append({**row_without_network(BACKENDS[name]), "reachable": False})
    pool.shutdown(wait=False)
    return rows


def row_without_network(backend: Backend) -> dict:
    return {
        "backend": backend.name, "configured": is_configured(backend), "reachable": None,
        "secrets": {v: ("set" if os.environ.get(v, "").strip() else "not set") for v in backend.secret_vars},
        "endpoint": endpoint(backend), "note": backend.note,
    }
