"""Foundry Local: Microsoft's on-device runtime, found and called like any OpenAI-compatible server.

Foundry Local runs ONNX models (ONNX Runtime inside, the same engine as lesson 09's ORT GenAI) behind an
OpenAI-compatible endpoint on 127.0.0.1, on a port it picks when it starts. The course finds that endpoint in one
of two ways:

1. ``FOUNDRY_LOCAL_ENDPOINT``: an OpenAI base URL such as ``http://127.0.0.1:5273/v1``;
2. its CLI: ``foundry server status`` (``foundry service status`` before the 0.10 rename) prints the URL.

Requests name a model by its full id (``Phi-4-mini-instruct-generic-cpu:5``); learners know the alias
(``phi-4-mini``). ``resolve_model`` asks the service which models it has loaded and picks the one for the alias,
and says exactly what to run when there is none.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

from course_lib.errors import BackendUnreachableError, ModelNotFoundError
from course_lib.i18n import N_, t

ENDPOINT_VAR = "FOUNDRY_LOCAL_ENDPOINT"
STATUS_COMMANDS = (["foundry", "server", "status"], ["foundry", "service", "status"])  # new name, then the old one
CLI_TIMEOUT_S = 10.0
INSTALL_HINT = N_("Install it (Windows: `winget install Microsoft.FoundryLocal`; macOS: "
                "`brew tap microsoft/foundrylocal && brew install foundrylocal`), or set FOUNDRY_LOCAL_ENDPOINT "
                   "to its URL, or use the offline course models with COURSE_BACKEND=local.")
# The suffixes Foundry Local adds to an alias to name one build of it: the execution provider and a version.
VARIANT = re.compile(r"^(-instruct)?(-(generic|cuda|gpu|cpu|npu|vitis|qnn|openvino|webgpu|trtrtx|dml)[\w.-]*)?(:\d+)?$")


def _url_from_status(text: str) -> str | None:
    """The service URL in `foundry server status` output ("… running on http://127.0.0.1:58338/"), as a /v1 base."""
    match = re.search(r"https?://[\w.\-\[\]:]+", text)
    return match.group(0).rstrip("/") + "/v1" if match else None


def cli_status() -> tuple[str | None, str]:
    """Ask the CLI where the service runs. Returns (base URL or None, what the CLI said), or raises if there is no CLI."""
    exe = shutil.which("foundry")
    if exe is None:
        raise BackendUnreachableError(t("Foundry Local is not installed here: there is no `foundry` command on PATH. "
                                        "{hint}", hint=t(INSTALL_HINT)))
    said = ""
    for command in STATUS_COMMANDS:
        try:
            done = subprocess.run([exe, *command[1:]], capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            said = t("`{command}` did not answer within {seconds:g} s", command=" ".join(command), seconds=CLI_TIMEOUT_S)
            continue
        said = (done.stdout + done.stderr).strip()
        if done.returncode == 0 or "running" in said.lower() or "started" in said.lower():
            return _url_from_status(said), said
    return None, said


def discover() -> str:
    """The service's OpenAI base URL, or a BackendUnreachableError saying whether it is absent or not running."""
    value = os.environ.get(ENDPOINT_VAR, "").strip()
    if value:
        return value.rstrip("/") if value.rstrip("/").endswith("/v1") else value.rstrip("/") + "/v1"
    url, said = cli_status()
    if url is None:
        raise BackendUnreachableError(t(
            "Foundry Local is installed but its service is not running{said}. Start it with `foundry server start`, "
            "or `foundry model run phi-4-mini`, which starts it and loads the model, then try again.",
            said=t(" (`foundry server status` said: {said!r})", said=said[:200]) if said else ""))
    return url


def _get_json(url: str, timeout: float) -> object:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer not-needed"}),
                                timeout=timeout) as response:
        return json.loads(response.read().decode())


def _ids(listing: object) -> list[str]:
    """Model ids from an OpenAI model list ({"data": [{"id": …}]}) or a plain list of names."""
    items = listing.get("data", []) if isinstance(listing, dict) else listing if isinstance(listing, list) else []
    return [str(item.get("id") if isinstance(item, dict) else item) for item in items]


def matches(alias: str, model_id: str) -> bool:
    """Whether a Foundry Local model id is a build of the alias: 'phi-4-mini' ~ 'Phi-4-mini-instruct-generic-cpu:5',
    but not 'Phi-4-mini-reasoning-generic-cpu:1'."""
    alias, model_id = alias.lower(), model_id.lower()
    return model_id.startswith(alias) and bool(VARIANT.match(model_id[len(alias):]))


def resolve_model(alias: str, base_url: str, timeout: float = 10.0) -> str:
    """The id of the loaded model for an alias, or a ModelNotFoundError that says what to run."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        loaded = _ids(_get_json(f"{root}/v1/models", timeout))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BackendUnreachableError(t(
            "Could not reach Foundry Local at {url} ({error}). Is the service running? "
            "`foundry server status` says; `foundry server start` starts it.", url=base_url, error=type(exc).__name__)) from None
    found = [m for m in loaded if matches(alias, m)]
    if found:
        return found[0]
    try:  # the models on disk, loaded or not (Foundry Local's own route)
        cached = [m for m in _ids(_get_json(f"{root}/openai/models", timeout)) if matches(alias, m)]
    except (urllib.error.URLError, OSError, ValueError):
        cached = []
    have = t(" Loaded now: {models}.", models=", ".join(loaded)) if loaded else t(" No model is loaded.")
    if cached:
        raise ModelNotFoundError(t("Foundry Local has {alias!r} downloaded ({build}) but not loaded.{have} "
                                   "Run `foundry model load {alias}` (or `foundry model run {alias}`), then try again.",
                                   alias=alias, build=cached[0], have=have))
    raise ModelNotFoundError(t("Foundry Local has no {alias!r} downloaded.{have} Run `foundry model run {alias}`: "
                               "it downloads the model the first time (a few GB, once) and loads it.", alias=alias, have=have))


SDK_MISSING = N_("Foundry Local's Python SDK is not installed here. `pip install foundry-local-sdk` adds it "
                  "(requirements.txt installs it on Linux x86-64, where it pulls only CPU packages; on Windows, "
                  "`foundry-local-sdk-winml` adds the WinML execution providers).")


def sdk_missing() -> str:
    """What to do when the SDK is absent, in the learner's language."""
    return t(SDK_MISSING)


def sdk_manager(app_name: str = "slm-course"):
    """Foundry Local's in-process manager, or None without the SDK. One per process (the SDK keeps a singleton);
    its app data goes to a fresh temporary folder, so a rerun starts from a clean local catalogue."""
    try:
        from foundry_local_sdk import Configuration, FoundryLocalManager
    except ImportError:
        return None
    if getattr(FoundryLocalManager, "instance", None) is None:
        import tempfile

        FoundryLocalManager.initialize(Configuration(app_name=app_name, app_data_dir=tempfile.mkdtemp(prefix="foundry-local-")))
    return FoundryLocalManager.instance
