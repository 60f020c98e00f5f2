"""The course site: every lesson executed and rendered, checked in a real headless Chromium.

It is not part of the default suite: run it with `pytest -m site tests/test_site.py` (.ci/run does, after the
suite). It reuses the lessons the suite just executed (kept by tests/conftest.py in build/executed/ while the
notebook and course_lib are unchanged) and executes any other lesson itself. Needs Debian's `chromium` (CI installs it in
.ci/run). Without it the test is skipped on a learner's machine, with the install command, and fails in CI.
"""

import base64
import os
import re
import shutil
import subprocess

import pytest

from course_lib.site import build_site, lessons

pytestmark = pytest.mark.site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LESSONS_WITH_FIGURES = {"01_what_is_an_slm", "02_slm_vs_llm", "03_how_slms_are_made", "04_phi_family", "07_vision",
                        "08_moe", "10_performance"}

if CHROMIUM is None:
    if os.environ.get("CI"):
        pytest.fail("chromium is missing in CI: .ci/run must install it", pytrace=False)
    pytest.skip("needs chromium for the browser test (Debian/Ubuntu: apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("site"))


def rendered_dom(page, profile):
    """The DOM after Chromium has loaded and laid out the page (file:// only: no network)."""
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_home_page_lists_every_lesson(site, tmp_path):
    dom = rendered_dom(site[0], tmp_path)
    assert "Syllabus" in dom
    for notebook in lessons():
        assert f'href="{notebook.stem}.html"' in dom


def test_every_lesson_page_renders_without_errors_and_with_its_figures(site, tmp_path):
    pages = {p.stem: p for p in site[1:]}
    assert set(pages) == {n.stem for n in lessons()}
    assert LESSONS_WITH_FIGURES <= set(pages)  # every lesson the figure check below names is there to be checked
    for name, page in pages.items():
        dom = rendered_dom(page, tmp_path / name)
        assert "Learning objectives" in dom and "Check your understanding" in dom, name
        assert "Traceback (most recent call last)" not in dom, name
        assert "jp-OutputArea-output" in dom, f"{name}: no outputs on the page"
        images = re.findall(r'src="data:image/png;base64,([^"]+)"', dom)
        if name in LESSONS_WITH_FIGURES:
            assert images, f"{name}: no figure on the page"
        for data in images:
            assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n", name
