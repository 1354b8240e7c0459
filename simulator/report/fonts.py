"""The font the report is set in: a sans serif that has Chinese (CJK) glyphs.

SKU and channel names are often Chinese (丝绒哑光口红 #999); matplotlib's default
DejaVu Sans has no CJK glyphs and would draw boxes (tofu). The report looks for a
CJK font in this order and uses the first it finds:

1. `PROMOSIM_CJK_FONT`: a font file (.ttf, .otf, .ttc) the user names;
2. Noto Sans CJK SC from the `noto-cjk-sans-otc` package (a promosim dependency:
   Google/Adobe's NotoSansCJK-Regular.ttc 2.004, unmodified, SIL OFL 1.1);
3. a CJK font installed on the system and known to matplotlib (`CJK_FAMILIES`:
   Debian's fonts-noto-cjk, macOS's PingFang SC, Windows' Microsoft YaHei, ...).

None found: `ReportError` with what to install — never a report full of boxes.

The font is registered with matplotlib (`fontManager.addfont`) only when a report
is drawn; `rc_params` gives the settings for a `matplotlib.rc_context`, so a
notebook's own matplotlib settings are left alone. `font_face_css` embeds a subset
of the same font (only the characters the page uses) in the HTML page, so the page
shows the same glyphs offline on any machine.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from simulator.report.errors import ReportError

ENV = "PROMOSIM_CJK_FONT"

# Installed CJK sans-serif families, in order of preference (Simplified Chinese first).
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Source Han Sans CN",
    "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Noto Sans CJK JP", "Source Han Sans", "SimHei",
)

# The family name CSS uses for the embedded subset.
CSS_FAMILY = "promosim-cjk"


@dataclass(frozen=True)
class CjkFont:
    """A CJK-capable font: the family name matplotlib knows it by, and where it is.

    `face_index` selects the face inside a font collection (.ttc); `source` says how
    it was found ('PROMOSIM_CJK_FONT', 'noto-cjk-sans-otc' or 'system').
    """

    family: str
    path: Path
    face_index: int
    source: str

    def covers(self, text: str) -> set[str]:
        """The characters of `text` this font has no glyph for (whitespace ignored)."""
        from matplotlib import ft2font

        cmap = ft2font.FT2Font(str(self.path), face_index=self.face_index).get_charmap()
        return {c for c in text if not c.isspace() and ord(c) not in cmap}


@cache
def find_cjk_font() -> CjkFont:
    """The CJK font the report uses, registered with matplotlib (see the module docstring)."""
    from matplotlib import font_manager as fm

    named = os.environ.get(ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ReportError(f"{ENV}={named}: no such font file")
        return _register(path, "PROMOSIM_CJK_FONT", prefer="SC")

    try:
        import noto_cjk_sans_otc
    except ImportError:
        pass
    else:
        path = Path(str(noto_cjk_sans_otc.FONT_PATH))
        if path.is_file():
            return _register(path, "noto-cjk-sans-otc", prefer="Noto Sans CJK SC")

    by_name = {e.name: e for e in reversed(fm.fontManager.ttflist)}
    for family in CJK_FAMILIES:
        e = by_name.get(family)
        if e is not None:
            return CjkFont(family, Path(e.fname), int(getattr(e, "index", 0)), "system")
    raise ReportError(
        "no font with Chinese (CJK) glyphs found, so SKU and channel names would print as "
        "boxes. Install promosim's dependency `noto-cjk-sans-otc` (pip install "
        "noto-cjk-sans-otc), or a system CJK font (Debian/Ubuntu: apt-get install "
        f"fonts-noto-cjk), or point {ENV} at a .ttf/.otf/.ttc file with CJK glyphs."
    )


def _register(path: Path, source: str, prefer: str) -> CjkFont:
    """Add every face of `path` to matplotlib; pick the face whose family contains `prefer`."""
    from matplotlib import font_manager as fm
    from matplotlib import ft2font

    try:
        first = ft2font.FT2Font(str(path))
    except (OSError, RuntimeError) as e:
        raise ReportError(f"{path}: not a font file matplotlib can read ({e})") from None
    faces = [(i, ft2font.FT2Font(str(path), face_index=i).family_name if i else first.family_name)
             for i in range(first.num_faces)]
    fm.fontManager.addfont(str(path))
    index, family = next(((i, f) for i, f in faces if prefer in f), faces[0])
    font = CjkFont(family, path, index, source)
    if font.covers("口红渠道日报"):
        raise ReportError(f"{path} ({family}) has no Chinese glyphs; {ENV} must name a CJK font")
    return font


def rc_params(font: CjkFont) -> dict:
    """matplotlib settings for the report's figures: the CJK font for every text.

    The CJK font comes first so that Latin and Chinese share one design; DejaVu Sans
    (matplotlib's own) fills in any glyph it lacks.
    """
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [font.family, "DejaVu Sans"],
        "axes.unicode_minus": True,
        "svg.fonttype": "path",
    }


def font_face_css(font: CjkFont, text: str) -> str:
    """An `@font-face` rule embedding the glyphs of `text` from `font` as a data URI.

    Empty when the font forbids embedding (OpenType fsType 'restricted') or cannot be
    subset; the page then names installed CJK fonts instead (see `css_font_stack`).
    A page's subset is some 60 kB and takes about a second to cut.
    """
    return _font_face_css(font, frozenset(text))


@lru_cache(maxsize=8)
def _font_face_css(font: CjkFont, chars: frozenset[str]) -> str:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    try:
        tt = TTFont(str(font.path), fontNumber=font.face_index)
        if tt["OS/2"].fsType & 0x0002:          # restricted license embedding
            return ""
        opts = subset.Options()               # default layout features: kerning, ligatures, locl
        opts.name_IDs = ["*"]                 # keep the copyright and license notices
        opts.notdef_outline = True
        sub = subset.Subsetter(opts)
        sub.populate(text="".join(sorted(chars)))
        sub.subset(tt)
        buf = io.BytesIO()
        tt.save(buf)
    except Exception:  # noqa: BLE001 — any font fontTools cannot subset: the page names fonts instead
        return ""
    mime = "font/otf" if "CFF " in tt else "font/ttf"
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"@font-face {{ font-family: '{CSS_FAMILY}'; "
            f"src: url(data:{mime};base64,{data}); font-display: block; }}")


def css_font_stack(font: CjkFont) -> str:
    """The CSS `font-family` value: the embedded subset, then installed CJK fonts."""
    names = [CSS_FAMILY, font.family, *(f for f in CJK_FAMILIES if f != font.family)]
    return ", ".join(f"'{n}'" for n in names) + ", sans-serif"
