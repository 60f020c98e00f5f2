"""The doctor runs with no key and with fake keys, and never prints a key."""

import os
import subprocess
import sys

# Built at run time so that no secret-shaped string is stored in the repository.
FAKE_KEYS = {
    "GITHUB_TOKEN": "ghp_" + "FAKE" * 6 + "0001",
    "AZURE_OPENAI_API_KEY": "azure-fake-openai-key-0007",
    "AZURE_OPENAI_ENDPOINT": "https://user:secretpass0008@fake-resource.invalid/?key=querysecret0009",
    "AZURE_INFERENCE_CREDENTIAL": "azure-fake-credential-0002",
    "AZURE_INFERENCE_ENDPOINT": "https://user:secretpass0003@example.invalid/models?key=querysecret0004",
    "NVIDIA_API_KEY": "nvapi-" + "FAKE" * 5 + "0005",
    "COURSE_API_KEY": "course-fake-key-0006",
    "COURSE_BASE_URL": "http://127.0.0.1:9/v1",
}
SECRET_VARS = ["GITHUB_TOKEN", "AZURE_OPENAI_API_KEY", "AZURE_INFERENCE_CREDENTIAL", "NVIDIA_API_KEY", "COURSE_API_KEY"]
FOUNDRY_VARS = ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_INFERENCE_CREDENTIAL", "AZURE_INFERENCE_ENDPOINT"]


def run_doctor(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in FAKE_KEYS and k != "COURSE_HIDE_SOLUTIONS"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "course_lib", "doctor"], capture_output=True, text=True, env=env,
                          timeout=120)


def test_doctor_without_keys():
    result = run_doctor({})
    assert result.returncode == 0, result.stderr
    assert "tiny-phi-3.5-mini" in result.stdout
    assert "not set" in result.stdout and "Traceback" not in result.stderr
    from dotenv import dotenv_values

    from course_lib.paths import REPO_ROOT

    own_env = REPO_ROOT / ".env"  # a developer's .env fills in what the environment leaves out (none in CI)
    filled = dotenv_values(own_env) if own_env.exists() else {}
    for var in SECRET_VARS:
        if not (filled.get(var) or "").strip():
            assert f"{var} not set" in result.stdout, var


def test_doctor_with_fake_keys_never_prints_them():
    result = run_doctor(FAKE_KEYS | {"COURSE_HIDE_SOLUTIONS": "1"})  # a learner's .env in a room
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for secret in ["FAKEFAKE", "fake-credential", "secretpass", "querysecret", "fake-key"]:
        assert secret not in output
    assert output.count(" set") >= 5  # each of SECRET_VARS
    for var in SECRET_VARS:  # (" not set" holds " set" too: each key must be shown as set, and not as not set)
        assert f"{var} set" in output and f"{var} not set" not in output, var
    assert "https://fake-resource.invalid" in output  # the endpoint in use is shown by its host, without what it carries
    assert "current path" in output and "legacy azure-ai-inference path" in output  # both Foundry paths configured
    assert "Solutions: hidden" in output  # what a facilitator checks at the door


def test_doctor_names_the_foundry_path_that_is_configured():
    """Only the legacy variables: the doctor says it is the deprecated path and names the new variables."""
    legacy = {k: v for k, v in FAKE_KEYS.items() if not k.startswith("AZURE_OPENAI")}
    result = run_doctor({**legacy, "AZURE_OPENAI_API_KEY": "", "AZURE_OPENAI_ENDPOINT": ""})
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("foundry: "))
    assert "legacy path only" in line and "2026-08-26" in line and "AZURE_OPENAI_ENDPOINT" in line
    assert "https://example.invalid" in result.stdout  # the legacy endpoint is the one in use
