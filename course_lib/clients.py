"""One lesson code path for every backend: pick a backend, get a real SDK client, call it, get clear errors.

    conn = connect()                      # COURSE_BACKEND, or auto: first configured and reachable, else local
    client = openai_client(conn)          # the real openai SDK, pointed at that backend
    model = resolve_model("phi-3.5-mini", conn.backend)
    reply = chat("What is an SLM?")       # a labelled Reply: which backend, which model

Model names are resolved per backend: "phi-3.5-mini" is the real Phi id in
the cloud and the course model "tiny-phi-3.5-mini" on the local server.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field

from course_lib.backends import (
    AZURE_INFERENCE_RETIREMENT,
    BACKENDS,
    FOUNDRY_LEGACY,
    endpoint,
    foundry_paths,
    foundry_v1_base_url,
    is_configured,
    is_reachable,
    load_env_file,
)
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
    redact,
)
from course_lib.i18n import t
from course_lib.messages import Reply, as_messages

AUTO_ORDER = ("foundry", "nim", "foundry-local", "ollama", "openai-compatible")  # github is retired: never picked
MAX_RETRIES = 2  # bounded retries on 429
MAX_RETRY_WAIT = 10.0  # seconds: a longer Retry-After is reported rather than waited for

# Short names lessons use -> the id each backend knows. On Foundry the model is your *deployment's* name: these are
# the names a deployment gets by default. Foundry Local takes its alias here and resolves it to the loaded build's id
# (course_lib.foundry_local). Ollama's library has no Phi-3.5-MoE or -vision tag, so those names go to Ollama
# unchanged and, if it has no such model, its 404 lists the models it has.
MODEL_IDS = {
    "phi-3-mini": {"local": "tiny-phi-3-mini", "foundry": "Phi-3-mini-4k-instruct", "github": "microsoft/Phi-3-mini-4k-instruct",
                   "nim": "microsoft/phi-3-mini-4k-instruct", "foundry-local": "phi-3-mini-4k", "ollama": "phi3",
                   "openai-compatible": "tiny-phi-3-mini"},
    "phi-3.5-mini": {"local": "tiny-phi-3.5-mini", "foundry": "Phi-3.5-mini-instruct",
                     "github": "microsoft/Phi-3.5-mini-instruct", "nim": "microsoft/phi-3.5-mini-instruct",
                     "foundry-local": "phi-3.5-mini", "ollama": "phi3.5", "openai-compatible": "tiny-phi-3.5-mini"},
    "phi-4-mini": {"foundry": "Phi-4-mini-instruct", "nim": "microsoft/phi-4-mini-instruct", "foundry-local": "phi-4-mini",
                   "ollama": "phi4-mini"},
    "phi-3.5-moe": {"local": "tiny-phi-3.5-moe", "foundry": "Phi-3.5-MoE-instruct", "github": "microsoft/Phi-3.5-MoE-instruct",
                    "nim": "microsoft/phi-3.5-moe-instruct", "openai-compatible": "tiny-phi-3.5-moe"},
    "phi-3.5-vision": {"local": "tiny-phi-3.5-vision", "foundry": "Phi-3.5-vision-instruct",
                       "github": "microsoft/Phi-3.5-vision-instruct", "nim": "microsoft/phi-3.5-vision-instruct",
                       "openai-compatible": "tiny-phi-3.5-vision"},
}


@dataclass
class Connection:
    """Where requests go. The key is kept out of repr(), so printing a connection never shows it."""

    backend: str
    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 60.0
    key_var: str | None = None  # the variable the key came from, named in error messages (never its value)


def timeout_seconds() -> float:
    try:
        return float(os.environ.get("COURSE_TIMEOUT", "60"))
    except ValueError:
        raise CourseError(t("COURSE_TIMEOUT must be a number of seconds, e.g. COURSE_TIMEOUT=60.")) from None


def choose_backend(name: str | None = None) -> str:
    """The backend to use: the argument, else COURSE_BACKEND, else auto."""
    load_env_file()
    name = (name or os.environ.get("COURSE_BACKEND", "") or "auto").strip().lower()
    if name == "auto":
        for candidate in AUTO_ORDER:
            backend = BACKENDS[candidate]
            if candidate != "ollama" and not is_configured(backend):
                continue
            if is_reachable(endpoint(backend), timeout=1.0):
                return candidate
        return "local"
    if name not in BACKENDS:
        raise CourseError(t("Unknown backend {name!r}. Choose one of: auto, {known} (COURSE_BACKEND).", name=name,
                            known=", ".join(BACKENDS)))
    return name


def connect(backend: str | None = None, sdk: str = "openai") -> Connection:
    """Resolve a backend to its base URL and key, or say exactly which variable is missing.

    Foundry has two paths: the openai SDK on `<AZURE_OPENAI_ENDPOINT>/openai/v1/` (current), and, for sdk="azure"
    only, the deprecated azure-ai-inference SDK on AZURE_INFERENCE_ENDPOINT with AZURE_INFERENCE_CREDENTIAL."""
    name = choose_backend(backend)
    spec = FOUNDRY_LEGACY if (name, sdk) == ("foundry", "azure") else BACKENDS[name]
    if name == "local":
        from course_lib.serve import local_server

        return Connection("local", local_server().base_url, "not-needed", timeout_seconds())
    if name == "foundry-local":
        from course_lib import foundry_local

        return Connection(name, foundry_local.discover(), "not-needed", timeout_seconds())
    missing = [v for v in spec.secret_vars if not os.environ.get(v, "").strip()]
    if spec.default_endpoint is None and not os.environ.get(spec.endpoint_var or "", "").strip():
        missing.append(spec.endpoint_var)
    if missing and name != "ollama":
        hint = ""
        if spec is BACKENDS["foundry"] and foundry_paths()["legacy"]:
            hint = t(" Your AZURE_INFERENCE_* variables serve only the deprecated azure-ai-inference path "
                     "(sdk='azure', retirement {date}); the current openai path needs the "
                     "resource's endpoint and key under the new names.", date=AZURE_INFERENCE_RETIREMENT)
        if spec is FOUNDRY_LEGACY:
            which = t("The {name} backend (azure-ai-inference path)", name=name)
        else:
            which = t("The {name} backend", name=name)
        put = t("Put it in .env (see .env.example)") if len(missing) == 1 else t("Put them in .env (see .env.example)")
        raise MissingKeyError(t("{which} needs {variables}. {put}, or use the offline course models with "
                                "COURSE_BACKEND=local.{hint}", which=which, variables=t(" and ").join(missing),
                                put=put, hint=hint))
    url = endpoint(spec).rstrip("/")
    if name == "ollama" and not url.endswith("/v1"):
        url += "/v1"  # Ollama's OpenAI-compatible API lives under /v1
    if spec is BACKENDS["foundry"]:
        url = foundry_v1_base_url(url)
    key_var = spec.secret_vars[0] if spec.secret_vars else None
    key = os.environ.get(key_var, "").strip() if key_var else "ollama"
    return Connection(name, url, key or "not-needed", timeout_seconds(), key_var)


def resolve_model(name: str, backend: str) -> str:
    """'phi-3.5-mini' -> the id this backend knows; an id the table does not know is passed through."""
    return MODEL_IDS.get(name.lower(), {}).get(backend, name)


def openai_client(conn: Connection):
    """The real openai SDK client for a connection (retries are ours: bounded and Retry-After aware)."""
    from openai import OpenAI

    return OpenAI(base_url=conn.base_url, api_key=conn.api_key, timeout=conn.timeout, max_retries=0)


def azure_client(conn: Connection):
    """The real azure-ai-inference ChatCompletionsClient for a connection."""
    from azure.ai.inference import ChatCompletionsClient
    from azure.core.credentials import AzureKeyCredential

    return ChatCompletionsClient(endpoint=conn.base_url, credential=AzureKeyCredential(conn.api_key),
                                 connection_timeout=conn.timeout, read_timeout=conn.timeout, retry_total=0)


def check_messages(messages: list[dict], conn: Connection, model: str) -> None:
    """Refuse what cannot work before sending it: no messages, or a prompt beyond a course model's context."""
    if not messages or not any(str(m.get("content") or "").strip() for m in messages):
        raise EmptyMessagesError(t("There is nothing to send: give at least one message with some text."))
    from course_lib.images import check_request_images, image_parts

    check_request_images(messages, model, local=conn.backend == "local")
    if conn.backend == "local":
        from course_lib.serve import local_server

        served = local_server().models
        if model not in served:  # transformers serve answers an unknown name with a bare 500: say it clearly first
            raise ModelNotFoundError(t("The local server has no model {model!r}. It serves: {served}. "
                                       "Course short names: {names}.", model=model, served=", ".join(served),
                                       names=", ".join(MODEL_IDS)))
    if conn.backend in ("local", "openai-compatible"):
        from course_lib.models import COURSE_MODELS, is_built, model_dir

        if model in COURSE_MODELS and is_built(model) and not image_parts(messages):  # images: counted above
            import json

            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(model_dir(model))
            config = json.loads((model_dir(model) / "config.json").read_text())
            limit = config.get("text_config", config)["max_position_embeddings"]  # a vision model: its decoder's
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            n = len(tok(text, add_special_tokens=False, verbose=False)["input_ids"])
            if n >= limit:
                raise PromptTooLongError(t(
                    "The prompt is {n} tokens, but {model} reads at most {limit} (its context window). "
                    "Shorten the prompt or drop earlier turns of the conversation.", n=n, model=model, limit=limit))


def _status_and_detail(exc) -> tuple[int | None, str, dict]:
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    headers = dict(getattr(response, "headers", {}) or {})
    detail = getattr(exc, "message", None) or str(exc)
    return status, redact(str(detail))[:300], {k.lower(): v for k, v in headers.items()}


def translate_error(exc: Exception, conn: Connection, model: str) -> CourseError:
    """Turn an openai / azure / httpx exception into the CourseError that says what to do."""
    import openai
    from azure.core import exceptions as az

    if isinstance(exc, CourseError):
        return exc
    where = t("the {backend} backend", backend=conn.backend)
    if isinstance(exc, (openai.APITimeoutError, az.ServiceRequestTimeoutError, az.ServiceResponseTimeoutError)):
        return RequestTimeoutError(t("{where} did not answer within {seconds:g} s. Try again, raise COURSE_TIMEOUT, or use "
                                     "COURSE_BACKEND=local.", where=where, seconds=conn.timeout))
    if isinstance(exc, (openai.APIConnectionError, az.ServiceRequestError)):
        return BackendUnreachableError(t(
            "Could not connect to {where} at {url}. Check the endpoint variable and your network, "
            "or use the offline course models with COURSE_BACKEND=local.", where=where, url=conn.base_url))
    status, detail, _ = _status_and_detail(exc)
    if status in (401, 403):
        key_var = conn.key_var or t("the key")
        scope = t(" A fine-grained GitHub token also needs the models:read permission.") if conn.backend == "github" else ""
        return AuthError(t("{where} refused the key (HTTP {status}). Check {key_var} in .env: is it complete, current, "
                           "and allowed to use this model?{scope}", where=where, status=status, key_var=key_var, scope=scope))
    if status == 404:
        names = list_model_names(conn)
        listing = t(" Models it offers: {names}.", names=", ".join(names[:20])) if names else ""
        return ModelNotFoundError(t("{where} has no model {model!r} (HTTP 404).{listing} Course short names: {names}.",
                                    where=where, model=model, listing=listing, names=", ".join(MODEL_IDS)))
    if status == 410:
        return ServiceRetiredError(t(
            "{where} answered 410 Gone: GitHub Models was retired on 2026-07-30. Use Microsoft Foundry "
            "(set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY: the openai SDK on <endpoint>/openai/v1/) "
            "or the offline course models with COURSE_BACKEND=local.", where=where))
    if status == 429:
        return RateLimitError(t("{where} is rate limited (HTTP 429), still after {retries} retries. "
                                "Wait a minute and try again, or use COURSE_BACKEND=local.", where=where, retries=MAX_RETRIES))
    if status == 400 and any(w in detail.lower() for w in ("context", "too long", "maximum", "length")):
        return PromptTooLongError(t("{where} says the prompt is too long for {model}: {detail}. Shorten the prompt.",
                                    where=where, model=model, detail=detail))
    if status is not None and status >= 500:
        return ServerError(t("{where} failed on its side (HTTP {status}). It is not your code: try again later, "
                             "or use COURSE_BACKEND=local.", where=where, status=status))
    return CourseError(t("{where} answered HTTP {status}: {detail}", where=where, status=status, detail=detail))


def list_model_names(conn: Connection) -> list[str]:
    """Model ids the backend lists at /models; empty if it cannot say."""
    try:
        return sorted(m.id for m in openai_client(conn).models.list())
    except Exception:
        return []


def retry_after_seconds(exc) -> float | None:
    _, _, headers = _status_and_detail(exc)
    try:
        return float(headers.get("retry-after", "1"))
    except ValueError:
        return None


@contextlib.contextmanager
def friendly_errors(conn: Connection, model: str):
    """Run SDK calls; re-raise any failure as the CourseError that explains it (from None: no traceback chain)."""
    try:
        yield
    except Exception as exc:
        raise translate_error(exc, conn, model) from None


def call_with_retries(call, conn: Connection, model: str):
    """Call `call()`; on 429 wait for Retry-After (bounded) and retry at most MAX_RETRIES times."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return call()
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            wait = retry_after_seconds(exc) if status == 429 else None
            if status == 429 and attempt < MAX_RETRIES and wait is not None and wait <= MAX_RETRY_WAIT:
                time.sleep(wait)
                continue
            raise translate_error(exc, conn, model) from None


def chat(prompt, backend: str | None = None, model: str = "phi-3.5-mini", sdk: str = "openai", system: str | None = None,
         stream: bool = False, **params):
    """Send a chat to any backend with either SDK. Returns a labelled Reply, or yields text pieces when stream=True."""
    conn = connect(backend, sdk)
    model_id = resolve_model(model, conn.backend)
    if conn.backend == "foundry-local":  # its alias -> the id of the build it has loaded, or what to run
        from course_lib import foundry_local

        model_id = foundry_local.resolve_model(model_id, conn.base_url, conn.timeout)
    messages = as_messages(prompt, system)
    params.setdefault("max_tokens", 256)  # transformers serve would otherwise allow 1024, past a course model's window
    params.setdefault("temperature", 0.0)  # repeatable answers unless the caller asks for sampling
    check_messages(messages, conn, model_id)
    if sdk == "openai":
        client = openai_client(conn)

        def call():
            return client.chat.completions.create(model=model_id, messages=messages, stream=stream, **params)
    elif sdk == "azure":
        client = azure_client(conn)

        def call():
            return client.complete(model=model_id, messages=messages, stream=stream, **params)
    else:
        raise CourseError(t("Unknown sdk {sdk!r}: use 'openai' or 'azure'.", sdk=sdk))
    response = call_with_retries(call, conn, model_id)
    if stream:
        return _stream_text(response, conn, model_id)
    # An instructor's server may answer the course name with another model: a GPU host's vLLM serving the real
    # Phi-3.5-mini as `--served-model-name microsoft/Phi-3.5-mini-instruct tiny-phi-3.5-mini`. Label what answered.
    writer = (response.model or model_id) if conn.backend == "openai-compatible" else model_id
    return Reply(response.choices[0].message.content or "", writer, f"{conn.backend} via {sdk}", _note(writer))


def _stream_text(chunks, conn: Connection, model: str):
    with friendly_errors(conn, model):
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


def _note(model_id: str) -> str:
    return t("tiny course model") if model_id.startswith("tiny-") else ""
