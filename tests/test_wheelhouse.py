"""Offline installs: what goes into the wheelhouse, and the pip commands that fill it and install from it.

The download and the no-index install themselves run by hand (`python -m course_lib wheelhouse DIR --check --json
results/wheelhouse.json`, about 3 minutes and 400 MB): results/wheelhouse.json holds that run's figures.
"""

from pathlib import Path

from course_lib import wheelhouse


def test_every_requirement_goes_in_but_the_course_itself(tmp_path):
    listing = tmp_path / "requirements.txt"
    listing.write_text("# a comment\n-e .\n\ntorch==2.13.0   # pinned: see README\n"
                       "onnxruntime-genai>=0.18,<0.19; sys_platform != 'darwin'  # 09, 10\nopenai>=1.60\n")
    assert wheelhouse.third_party_requirements(listing) == [
        "torch==2.13.0", "onnxruntime-genai>=0.18,<0.19; sys_platform != 'darwin'", "openai>=1.60"]
    real = wheelhouse.third_party_requirements()
    assert any(r.startswith("torch==") for r in real) and not any(r.startswith("-") or "#" in r for r in real)


def test_the_build_backend_is_in_the_wheelhouse_so_the_editable_install_works_offline():
    assert any(r.startswith("setuptools") for r in wheelhouse.build_requirements())
    listing = Path(wheelhouse.download_command(Path("DIR"))[-1]).read_text(encoding="utf-8").splitlines()
    assert any(r.startswith("setuptools") for r in listing)


def test_another_platform_gets_wheels_only():
    here = wheelhouse.download_command(Path("DIR"))
    there = wheelhouse.download_command(Path("DIR"), platform="win_amd64", python_version="3.12",
                                        pip_args=["--extra-index-url", "https://example.invalid/simple"])
    assert "--only-binary=:all:" not in here
    assert ["--platform", "win_amd64"] == there[there.index("--platform"):there.index("--platform") + 2]
    assert "--only-binary=:all:" in there and there[-2:] == ["--extra-index-url", "https://example.invalid/simple"]


def test_the_learners_install_never_asks_an_index():
    command = wheelhouse.install_command(Path("DIR"), ".venv/bin/python")
    assert command[:4] == [".venv/bin/python", "-m", "pip", "install"]
    assert "--no-index" in command and command[command.index("--find-links") + 1] == "DIR"
