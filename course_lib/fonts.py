"""Chinese in figures: find a font with CJK glyphs, or say once what to install.

Matplotlib's default font (DejaVu Sans) has no Chinese characters; without another font, 词元 shows as boxes.
This looks for a CJK font the system already has (Noto Sans CJK on Linux, Microsoft YaHei on Windows, PingFang
on macOS, …) and adds it after the usual family, so Latin text keeps its look and Chinese falls back to it.
"""

from __future__ import annotations

import warnings
from functools import cache

from course_lib.i18n import t

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei",
             "PingFang SC", "Hiragino Sans GB", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Heiti SC")


# File names of those fonts, for one installed after matplotlib cached its font list (it would not see it).
CJK_FILES = ("notosanscjk", "notoserifcjk", "notosanssc", "sourcehansans", "msyh", "pingfang", "hiragino", "wqy", "simhei")


def installed_cjk_font() -> str | None:
    """The first CJK-capable font matplotlib can see, or None."""
    from matplotlib import font_manager

    def known():
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    if known() is None:
        for path in font_manager.findSystemFonts():
            if any(part in path.lower().replace("-", "").replace("_", "") for part in CJK_FILES):
                font_manager.fontManager.addfont(path)
    return known()


@cache
def use_cjk_font() -> str | None:
    """Make figures draw Chinese with an installed CJK font (once per process); warn and return None without one."""
    import matplotlib as mpl

    font = installed_cjk_font()
    if font is None:
        warnings.warn(t("No font with Chinese characters is installed, so Chinese text in figures shows as boxes. "
                        "Install one (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; Windows and macOS have "
                        "Microsoft YaHei and PingFang already), then restart the kernel."), stacklevel=2)
        return None
    # A list of families is matplotlib's glyph fallback: Latin from the usual sans-serif, Chinese from `font`.
    families = [f for f in mpl.rcParams["font.family"] if f != font]
    mpl.rcParams["font.family"] = [*families, font]
    return font
