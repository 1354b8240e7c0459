"""The report in a real browser: Debian's Chromium, headless, over the DevTools protocol.

The bundled Double 11 scenario (Chinese SKU names, a GMV target, two SKUs that run out)
is run and reported; the page must load with no console error, uncaught exception or
failed load, and every image must be decoded by the browser and not blank. A screenshot
of the whole page is kept in .ci/artifacts/report.png (or $PROMOSIM_ARTIFACTS).

Where Chromium cannot start these tests skip with the reason; under PROMOSIM_CI=1 (set
by .ci/run, which installs chromium) they fail instead. The checker itself is tested on
a page with a console error, a broken image, a blank image and an exception.
"""

from __future__ import annotations

import base64
import io
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simulator.report import build_report
from simulator.runner import simulate
from simulator.scenario import load_scenario
from tests.conftest import REPO, artifacts_dir, need_chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium():
    browser = need_chromium()
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def d11_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("d11") / "res"
    scenario = load_scenario(REPO / "scenarios" / "double11_beauty_flagship.yaml")
    simulate(scenario, reps=8, seed=0).write(out)      # 4 assumption draws: enough for the tornado
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return build_report(out)


NEW_SECTIONS = {"s-big_day": "The big day", "daily-budget": "Daily budget used",
                "stockouts": "Every SKU's stock-out", "promotions": "Promotions", "daily": "Daily report"}


def test_each_planners_section_is_drawn_and_kept_as_a_screenshot(chromium, d11_report, capsys):
    """The big day, daily budget used, every SKU's stock-out, the promotions' cost and the 日报,
    each cut out of the page as the browser drew it: there, tall enough to hold its content, not blank; kept as CI
    artifacts (report_<section>.png)."""
    page = chromium.check_page(d11_report)
    assert page.errors == []
    shot = Image.open(io.BytesIO(page.screenshot))
    dest = artifacts_dir()
    for anchor, heading in NEW_SECTIONS.items():
        assert anchor in page.sections, f"{heading}: no section #{anchor} on the page"
        top, bottom = page.sections[anchor]
        assert bottom - top > 150, f"{heading}: {bottom - top} px tall"
        part = shot.crop((0, top, shot.width, min(bottom, shot.height)))
        grey = np.asarray(part.convert("L"), dtype=float)
        assert grey.std() > 5 and (grey < 128).mean() > 0.01, f"{heading} is blank in the browser"
        part.save(dest / f"report_{anchor}.png")
    with capsys.disabled():
        print(f"\nreport sections: {', '.join(f'report_{a}.png' for a in NEW_SECTIONS)} in {dest}")


def test_report_loads_cleanly_with_every_image_shown(chromium, d11_report, capsys):
    page = chromium.check_page(d11_report)
    assert page.errors == []
    assert page.title.startswith("double11_beauty_flagship")

    pngs = sorted((d11_report.parent / "figures").glob("*.png"))
    assert len(page.images) == len(pngs) == 10           # nine panels and the coupon pools (they empty)
    alts = [img["alt"] for img in page.images]
    assert alts[:3] == ["The busiest day", "Cumulative GMV", "What moves GMV most"]   # the big day, the fan, the tornado
    html = d11_report.read_text(encoding="utf-8")
    assert "assumptions of the uncertainty: block and shopper noise" in html
    assert "What moves GMV most" in html
    sizes = {Image.open(p).size for p in pngs}
    for img in page.images:
        assert img["complete"] and img["src"].startswith("data:image/png;base64,"), img
        assert (img["width"], img["height"]) in sizes, img          # decoded at the PNG's own size
        assert img["spread"] > 5, f"{img['alt']} is blank in the browser"

    shot = Image.open(io.BytesIO(page.screenshot))
    assert shot.size == page.size and shot.height > 3000            # the whole page, not a viewport
    grey = np.asarray(shot.convert("L"), dtype=float)
    assert grey.std() > 5
    dest = artifacts_dir()
    (dest / "report.png").write_bytes(page.screenshot)
    shutil.copy(d11_report, dest / "report.html")
    with capsys.disabled():
        print(f"\nreport screenshot: {dest / 'report.png'} ({shot.width}×{shot.height}); "
              f"page: {dest / 'report.html'}")


def _png(colour: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_the_checker_catches_console_errors_broken_and_blank_images(chromium, tmp_path: Path):
    noisy = np.random.default_rng(0).integers(0, 255, (20, 40, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="PNG")
    good = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>bad</title><link rel=icon href='data:,'></head><body>"
        f"<img alt='good' src='{good}'>"
        f"<img alt='blank' src='{_png((255, 255, 255))}'>"
        "<img alt='broken' src='missing.png'>"
        "<script>console.error('boom from the page'); undefinedFunction();</script>"
        "</body></html>", encoding="utf-8")
    page = chromium.check_page(bad)
    text = "\n".join(page.errors)
    assert "console.error: boom from the page" in text
    assert "undefinedFunction" in text                              # the uncaught exception
    assert "missing.png" in text or "ERR_FILE_NOT_FOUND" in text   # the failed load
    by_alt = {i["alt"]: i for i in page.images}
    assert by_alt["good"]["width"] == 40 and by_alt["good"]["spread"] > 20
    assert by_alt["blank"]["width"] == 40 and by_alt["blank"]["spread"] == pytest.approx(0, abs=1e-6)
    assert by_alt["broken"]["width"] == 0

    clean = tmp_path / "clean.html"
    clean.write_text(f"<!DOCTYPE html><html><head><title>ok</title><link rel=icon href='data:,'></head>"
                     f"<body><img alt='good' src='{good}'></body></html>", encoding="utf-8")
    assert chromium.check_page(clean).errors == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_report_in_one_language_loads_cleanly(chromium, d11_report, tmp_path, lang):
    """`promosim report --lang zh|en` of the bundled Double 11: no browser error, every image
    drawn and not blank, the page's language declared; kept as report_<lang>.png."""
    folder = tmp_path / "res"
    shutil.copytree(d11_report.parent, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page_path = build_report(folder, lang=lang)
    page = chromium.check_page(page_path)
    assert page.errors == []
    assert len(page.images) == len(list((folder / "figures").glob("*.png")))
    assert all(img["complete"] and img["spread"] > 5 for img in page.images)
    html = page_path.read_text(encoding="utf-8")
    assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in html
    assert ("日报" if lang == "zh" else "Daily report") in html
    (artifacts_dir() / f"report_{lang}.png").write_bytes(page.screenshot)
