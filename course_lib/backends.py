"""The places a lesson can send a chat request, and how each one is configured.

This module only *describes* backends (their variables, endpoints and status)
and checks whether each is configured and reachable. It never returns or
prints a key: only whether it is set.
"""

from __future__ import annotations

import os
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass
from urllib.parse import urlparse

from course_lib.i18n import N_, t


@dataclass(frozen=True)
class Backend:
    name: str
    secret_vars: tuple[str, ...]  # variables holding keys: reported only as "set"/"not set"
    endpoint_var: str | None  # variable that holds or overrides the endpoint
    default_endpoint: str | None
    sdk: str
    note: str


# Microsoft Foundry's legacy path: the azure-ai-inference SDK, which Microsoft Learn marks deprecated. Its variables
# keep working for that SDK only (chat(..., sdk="azure")); the current path is the `foundry` backend below.
AZURE_INFERENCE_RETIREMENT = "2026-08-26"
FOUNDRY_LEGACY = Backend(
    "foundry", ("AZURE_INFERENCE_CREDENTIAL",), "AZURE_INFERENCE_ENDPOINT", None, "azure-ai-inference (deprecated)",
    N_("legacy path: azure-ai-inference, deprecated (retirement 2026-08-26, per Microsoft Learn)"))

BACKENDS = {
    b.name: b
    for b in [
        Backend("local", (), None, None, "openai, azure-ai-inference",
                N_("the course models behind `transformers serve` on 127.0.0.1; needs nothing")),
        Backend("foundry", ("AZURE_OPENAI_API_KEY",), "AZURE_OPENAI_ENDPOINT", None, "openai",
                N_("Microsoft Foundry: the openai SDK on <endpoint>/openai/v1/, model = your deployment's name")),
        Backend("github", ("GITHUB_TOKEN",), "COURSE_GITHUB_ENDPOINT", "https://models.github.ai/inference",
                "azure-ai-inference, openai", N_("GitHub Models: retired on 2026-07-30, answers HTTP 410")),
        Backend("nim", ("NVIDIA_API_KEY",), "COURSE_NIM_BASE_URL", "https://integrate.api.nvidia.com/v1", "openai",
                N_("NVIDIA NIM API catalog, OpenAI-compatible")),
        Backend("foundry-local", (), "FOUNDRY_LOCAL_ENDPOINT", None, "openai",
                N_("Foundry Local: Microsoft's on-device runtime (ONNX Runtime inside); found by FOUNDRY_LOCAL_ENDPOINT "
                   "or its `foundry` CLI")),
        Backend("ollama", (), "OLLAMA_HOST", "http://localhost:11434", "openai",
                N_("a local Ollama server (`ollama run phi3.5`)")),
        Backend("openai-compatible", ("COURSE_API_KEY",), "COURSE_BASE_URL", None, "openai",
                N_("an instructor's room server (`python -m course_lib serve --host`, with a key) or vLLM")),
    ]
}


def foundry_v1_base_url(endpoint_url: str) -> str:
    """A Foundry resource endpoint -> the base URL the openai SDK takes: `<endpoint>/openai/v1/`.

    Accepts the forms the portal shows (`https://<resource>.openai.azure.com/`, `…services.ai.azure.com/`, with or
    without `/openai/v1` or the legacy `/models` already on it)."""
    url = endpoint_url.strip().rstrip("/")
    for suffix in ("/openai/v1", "/openai", "/models"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
            break
    return url + "/openai/v1/"


def foundry_paths() -> dict[str, bool]:
    """Which Foundry paths the environment configures: the current one (openai, v1) and the deprecated one."""
    def has(spec: Backend) -> bool:
        return all(os.environ.get(v, "").strip() for v in (*spec.secret_vars, spec.endpoint_var))
    return {"current": has(BACKENDS["foundry"]), "legacy": has(FOUNDRY_LEGACY)}


def foundry_path_label() -> str:
    """One line for the doctor: which Foundry path is configured."""
    paths = foundry_paths()
    if paths["current"] and paths["legacy"]:
        return t("current path (openai on /openai/v1/) and the legacy azure-ai-inference path (deprecated, "
                 "retirement {date}): sdk='azure' uses the legacy variables", date=AZURE_INFERENCE_RETIREMENT)
    if paths["current"]:
        return t("current path: openai on <AZURE_OPENAI_ENDPOINT>/openai/v1/")
    if paths["legacy"]:
        return t("legacy path only: azure-ai-inference (deprecated, retirement {date}). "
                 "Set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY for the current openai path",
                 date=AZURE_INFERENCE_RETIREMENT)
    return t("not configured: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (see .env.example)")


def load_env_file() -> bool:
    """Read the course's `.env` (git-ignored) into the environment; variables already set win."""
    from dotenv import load_dotenv

    from course_lib.paths import REPO_ROOT

    return load_dotenv(REPO_ROOT / ".env", override=False)


def endpoint(backend: Backend) -> str | None:
    """The endpoint in use: the variable if set, else the default (Foundry Local: else what its CLI reports)."""
    value = os.environ.get(backend.endpoint_var, "") if backend.endpoint_var else ""
    if backend.name == "foundry-local" and not value.strip() and shutil.which("foundry"):
        from course_lib import foundry_local
        from course_lib.errors import CourseError

        try:
            value = foundry_local.discover()
        except CourseError:
            return None
    value = value.strip() or backend.default_endpoint
    if value and "://" not in value:  # OLLAMA_HOST is often written as host:port
        value = "http://" + value
    return value


def is_configured(backend: Backend) -> bool:
    """Local needs nothing; Ollama needs a server (checked by reachability); the others need their variables."""
    if backend.name in ("local", "ollama"):
        return True
    if backend.name == "foundry-local":  # no key: its endpoint variable, or its CLI to ask
        return bool(os.environ.get(backend.endpoint_var, "").strip() or shutil.which("foundry"))
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
            out["endpoint"] = t("127.0.0.1 (started on demand)")
        if backend.name == "foundry-local" and out["configured"]:
            out["endpoint"] = endpoint(backend)
        if backend.name != "local" and out["configured"]:
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
    secret_vars, configured, url = backend.secret_vars, is_configured(backend), None
    note = t(backend.note)
    if backend.name == "foundry":  # two paths: say which is configured; the endpoint shown is the one in use
        paths = foundry_paths()
        secret_vars = backend.secret_vars + FOUNDRY_LEGACY.secret_vars
        configured = paths["current"] or paths["legacy"]
        url = endpoint(backend) if paths["current"] else endpoint(FOUNDRY_LEGACY) if paths["legacy"] else None
        note = t("{note}. Path: {path}", note=t(backend.note), path=foundry_path_label())
    elif backend.name != "foundry-local":  # its endpoint may need the CLI: looked up with the network checks
        url = endpoint(backend)
    return {
        "backend": backend.name, "configured": configured, "reachable": None,
        "secrets": {v: (t("set") if os.environ.get(v, "").strip() else t("not set")) for v in secret_vars},
        "endpoint": url, "note": note,
    }
