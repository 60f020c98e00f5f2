"""``python -m course_lib doctor``: what a learner pastes into a bug report.

Versions, the device, the course models found (with parameter counts read
from their weights), and each backend: configured or not, reachable or not.
Keys are never printed: only "set" or "not set".
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from urllib.parse import urlparse

from course_lib.i18n import t

PACKAGES = ["torch", "transformers", "tokenizers", "safetensors", "peft", "openai", "azure-ai-inference", "foundry-local-sdk",
            "ipywidgets", "matplotlib", "jupyterlab", "nbmake"]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def _host_only(url: str | None) -> str:
    """Scheme and host only: a URL may carry credentials or query strings that must not be shown."""
    if not url or "://" not in url:
        return url or "-"
    parsed = urlparse(url)
    host = parsed.hostname or ""
    return f"{parsed.scheme}://{host}{':' + str(parsed.port) if parsed.port else ''}"


def report() -> dict:
    from course_lib.backends import backend_status
    from course_lib.models import COURSE_MODELS, describe, is_built

    models = []
    for name in COURSE_MODELS:
        models.append(describe(name) if is_built(name) else {"name": name, "missing": True})
    from course_lib.checks import solutions_hidden

    return {"versions": versions(), "device": device(), "models": models, "backends": backend_status(),
            "solutions_hidden": solutions_hidden()}


def format_report(data: dict) -> str:
    title = t("Course doctor")
    lines = [title, "=" * len(title.encode("gbk", "replace")), ""]  # a CJK character is two columns wide
    lines += [f"{k:>20}: {v}" for k, v in data["versions"].items()]
    lines += [f"{'device':>20}: {data['device']}", "", t("Course models (data/models/):")]
    for m in data["models"]:
        if m.get("missing"):
            lines.append(f"  {m['name']:<22} " + t("not built yet"))
        else:
            lines.append(f"  {m['name']:<22} {m['class']:<20} " + t("{millions:5.2f} M params  {megabytes:5.1f} MB  mirrors "
                         "{mirrors}", millions=m["parameters"] / 1e6, megabytes=m["megabytes_on_disk"], mirrors=m["mirrors"]))
    lines += ["", t("Backends (keys are shown only as set / not set):")]
    for b in data["backends"]:
        reach = {True: t("reachable"), False: t("NOT reachable"), None: "-"}[b["reachable"]]
        secrets = ", ".join(f"{k} {v}" for k, v in b["secrets"].items()) or t("no key needed")
        shown = b["endpoint"] if b["backend"] == "local" else _host_only(b["endpoint"])
        lines.append(f"  {b['backend']:<18} {t('configured') if b['configured'] else t('not configured'):<15} "
                     f"{reach:<14} {secrets:<34} {shown}")
    lines += ["", t("Notes:")] + [f"  {b['backend']}: {b['note']}" for b in data["backends"]]
    lines += ["", t("Solutions: hidden in this session (COURSE_HIDE_SOLUTIONS, a facilitator's setting); check() still "
                    "works.") if data.get("solutions_hidden") else t("Solutions: show_solution() prints them when asked.")]
    return "\n".join(lines)


def print_versions() -> None:
    """The first cell of every lesson: what a bug report needs, in three lines."""
    v = versions()
    print("python " + v.pop("python") + " | " + " | ".join(f"{k} {val}" for k, val in v.items() if k in (
        "torch", "transformers", "tokenizers", "peft", "openai", "azure-ai-inference", "ipywidgets")))
    from course_lib.models import available_models

    models = ", ".join(available_models()) or t("none (python -m course_lib build-models)")
    print(t("device: {device} | course models: {models}", device=device(), models=models))
    print(t("Full report: python -m course_lib doctor"))


def main() -> int:
    print(format_report(report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
