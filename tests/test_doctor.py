"""The doctor runs with no key and with fake keys, and never prints a key."""

import os
import subprocess
import sys

# Built at run time so that no secret-shaped string is stored in the repository.
FAKE_KEYS = {
    "GITHUB_TOKEN": "ghp_" + "FAKE" * 6 + "0001",
    "AZURE_INFERENCE_CREDENTIAL": "azure-fake-credential-0002",
    "AZURE_INFERENCE_ENDPOINT": "https://user:secretpass0003@example.invalid/models?key=querysecret0004",
    "NVIDIA_API_KEY": "nvapi-" + "FAKE" * 5 + "0005",
    "COURSE_API_KEY": "course-fake-key-0006",
    "COURSE_BASE_URL": "http://127.0.0.1:9/v1",
}
SECRET_VARS = ["GITHUB_TOKEN", "AZURE_INFERENCE_CREDENTIAL", "NVIDIA_API_KEY", "COURSE_API_KEY"]


def run_doctor(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in FAKE_KEYS}
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
    result = run_doctor(FAKE_KEYS)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for secret in ["FAKEFAKE", "fake-credential", "secretpass", "querysecret", "fake-key"]:
        assert secret not in output
    assert output.count(" set") >= 4  # GITHUB_TOKEN, AZURE_INFERENCE_CREDENTIAL, NVIDIA_API_KEY, COURSE_API_KEY
    for var in SECRET_VARS:  # (" not set" holds " set" too: each key must be shown as set, and not as not set)
        assert f"{var} set" in output and f"{var} not set" not in output, var
    assert "https://example.invalid" in output  # the endpoint is shown by its host, without what it carries
