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


# Injected into a copy of each page: after layout, write the computed font of the first Chinese paragraph and the
# page's language where --dump-dom shows them.
FONT_PROBE = """<script>
const cell = [...document.querySelectorAll('.jp-RenderedMarkdown p, .jp-RenderedMarkdown li, td, li')]
  .find(e => /[\\u4e00-\\u9fff]/.test(e.textContent));
document.body.setAttribute('data-cjk-font', cell ? getComputedStyle(cell).fontFamily : 'no Chinese paragraph');
document.body.setAttribute('data-lang', document.documentElement.lang);
</script>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def doms(site, tmp_path_factory):
    """Every page of both languages, as Chromium laid it out: one browser run per page."""
    from concurrent.futures import ThreadPoolExecutor

    def render(lang, page):
        probe = page.with_name(f"probe-{page.name}")  # beside the page: its links resolve the same
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", FONT_PROBE + "</body>"), encoding="utf-8")
        try:
            return rendered_dom(probe, tmp_path_factory.mktemp(f"profile-{lang}-{page.stem}"))
        finally:
            probe.unlink()

    jobs = [(lang, page) for lang, pages in site.items() for page in pages]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # one Chromium per core
        doms = pool.map(lambda job: render(*job), jobs)
        return {(lang, page.stem): dom for (lang, page), dom in zip(jobs, doms, strict=True)}


def rendered_dom(page, profile):
    """The DOM after Chromium has loaded and laid out the page (file:// only: no network)."""
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_home_page_lists_every_lesson_and_links_the_other_language(site, doms, lang):
    dom = doms[lang, "index"]
    assert ("Syllabus" if lang == "en" else "课程大纲") in dom
    for notebook in lessons(lang):
        assert f"href=\"{notebook.stem}.html\"" in dom
    other = "zh-CN/index.html" if lang == "en" else "../index.html"
    assert f"href=\"{other}\"" in dom
    assert (site[lang][0].parent / other).resolve().exists()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_lesson_page_renders_without_errors_and_with_its_figures(site, doms, lang):
    pages = {p.stem: p for p in site[lang][1:]}
    assert set(pages) == {n.stem for n in lessons(lang)} and len(pages) == 12
    assert LESSONS_WITH_FIGURES <= set(pages)  # every lesson the figure check below names is there to be checked
    objectives, quiz = ("Learning objectives", "Check your understanding") if lang == "en" else ("学习目标", "检查你的理解")
    for name, page in pages.items():
        dom = doms[lang, name]
        assert objectives in dom and quiz in dom, name
        assert "Traceback (most recent call last)" not in dom, name
        assert "jp-OutputArea-output" in dom, f"{name}: no outputs on the page"
        images = re.findall(r'src="data:image/png;base64,([^"]+)"', dom)
        if name in LESSONS_WITH_FIGURES:
            assert images, f"{name}: no figure on the page"
        for data in images:
            assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n", name
        switch = re.search(r"<nav class=\"course-languages\">(.*?)</nav>", dom, re.S)
        assert switch, f"{name}: no language switch"
        for href in re.findall(r'href="([^"]+)"', switch.group(1)):
            assert (page.parent / href).resolve().exists(), f"{name}: the language switch links to a missing {href}"
        assert f'data-lang="{lang}"' in dom, name


def installed_cjk_families():
    """The CJK font families fontconfig has (what Chromium draws Chinese with on Linux)."""
    listing = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    return {name.strip() for line in listing.splitlines() for name in line.split(",")}


def test_chinese_pages_render_in_an_installed_cjk_font(site, doms):
    from course_lib.fonts import CJK_FONTS

    installed = installed_cjk_families()
    if not installed:
        if os.environ.get("CI"):
            pytest.fail("CI installs fonts-noto-cjk (.ci/run): fontconfig lists no Chinese font")
        pytest.skip("no CJK font installed (Debian/Ubuntu: apt-get install fonts-noto-cjk)")
    for page in site["zh-CN"]:
        family = re.search(r'data-cjk-font="([^"]*)"', doms["zh-CN", page.stem]).group(1).replace("&quot;", '"')
        named = [f.strip().strip('"') for f in family.split(",")]
        usable = [f for f in named if f in CJK_FONTS and f in installed]
        assert usable, f"{page.name}: Chinese text is set in {family}, and none of those CJK fonts is installed ({installed})"
