"""The campaign report: `report.html` and PNG figures drawn from a results folder.

    from simulator.report import build_report
    build_report("results/618")      # -> results/618/report.html, results/618/figures/*.png

Reads only the files `promosim run --out` writes (data.py), draws one matplotlib figure
per view (plots.py) in a CJK-capable font (fonts.py), and assembles one self-contained
page (html.py). docs/report.md describes every figure.
"""

from __future__ import annotations

import io
from pathlib import Path

from simulator.report.errors import ReportError

FIGURES_DIR = "figures"
SHEET = "daily_report.xlsx"
# Every figure the report can draw (a figure not drawn this time has its old PNG removed).
FIGURE_NAMES = ("big_day", "cumulative_gmv", "tornado", "heatmap_gmv", "heatmap_visits", "channels", "funnel", "stock", "pools")

__all__ = ["FIGURES_DIR", "FIGURE_NAMES", "ReportError", "build_report", "render_figures"]


def render_figures(d, font) -> list:
    """Draw every figure the results call for, as `html.Shown` (name, title, caption, PNG).

    Runs inside a matplotlib rc_context (the report's style and font), so the caller's
    matplotlib settings are untouched.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from simulator.formats import amount
    from simulator.report import data as D
    from simulator.report import plots as P
    from simulator.report.html import Shown

    out = []
    cur = d.currency

    def add(name: str, title: str, caption: str, draw) -> None:
        fig = draw()
        FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        out.append(Shown(name, title, caption, buf.getvalue()))

    with matplotlib.rc_context(P.style(font)):
        h = D.hourly(d)
        cum = D.cumulative_gmv(d, h)
        target = (f" The dashed line is the GMV target ({amount(d.target_gmv, cur)}, meta.targets.gmv)."
                  if d.target_gmv else "")
        carries = ("the assumptions of the uncertainty: block and shopper noise" if d.summary.get("assumptions")
                   else "shopper noise only: the plan's assumptions as written")
        bd = D.big_day(d, h)
        if bd is not None:
            add("big_day", "The busiest day", (
                f"{bd.date:%Y-%m-%d}, the campaign's busiest day by mean GMV ({amount(bd.gmv_total, cur)}): GMV per "
                f"hour (bars: the mean, whiskers P5–P95), the share of the day's GMV paid by each hour's end "
                f"(line; {bd.first_hour:.1%} in the first hour) and below it the day's moments — sell-outs, "
                "coupon pools emptying, budgets running out, rules firing — each at its median time over the "
                "replications it happened in (how many, and the first names, on the right)."),
                lambda: P.big_day(d, bd))
        add("cumulative_gmv", "Cumulative GMV",
            f"GMV paid so far, in {cur}: the line is the mean over {d.reps} replications, the dark band "
            f"holds the middle half of them (P25–P75) and the light band the middle 90 % (P5–P95, per "
            f"hour); the bands carry {carries}. Shaded columns and names at the top are the calendar's "
            f"phases.{target}",
            lambda: P.cumulative_gmv(d, cum))
        sw = D.assumption_swings(d)
        if len(sw):
            add("tornado", "What moves GMV most",
                f"For each assumption drawn in this run: the GMV a line fitted to the {d.reps} replications "
                "gives with the assumption at its P5 (blue) and at its P95 (orange), the others at their "
                "means. A first look from the run itself; `promosim sensitivity` gives Morris and Sobol' "
                "indices, each plan on the same shoppers.",
                lambda: P.tornado(d, sw))
        add("heatmap_gmv", "GMV by day and hour",
            f"Mean GMV per hour ({cur}) for each local date (rows) and hour of day (24 columns). "
            "Grey cells lie outside the campaign; white cells had no GMV (a warm-up phase, when "
            "visitors add to cart instead of paying).",
            lambda: P.day_hour_heatmap(d, D.day_hour(d, "gmv", h), "gmv",
                                       "GMV per hour — day × hour of day", f"GMV per hour ({cur})"))
        add("heatmap_visits", "Visits by day and hour",
            "Mean visits per hour from every channel, by local date and hour of day.",
            lambda: P.day_hour_heatmap(d, D.day_hour(d, "visits", h), "visits",
                                       "Visits per hour — day × hour of day", "visits per hour"))
        add("channels", "Spend, GMV and ROI by channel",
            f"Per channel, means over replications: spend (ad spend + fees + commissions, {cur}), "
            "the GMV of the orders the channel brought, and ROI = GMV ÷ spend. Free channels have no ROI.",
            lambda: P.channels(d, D.channels(d)))
        add("funnel", "Funnel by phase",
            "Visits, warm-up add-to-carts and paid orders in each phase (means, log scale), with carts "
            "and orders as a share of the phase's visits. Warm-up carts pay in the next sale phase, so "
            "their orders count there. An hour belongs to the phase its start falls in.",
            lambda: P.funnel(d, D.funnel(d, h)))
        sku_ids = D.stock_skus(d)
        add("stock", "Stock on hand",
            "Units on hand at the end of each hour (mean and P5–P95 over replications) for every SKU "
            "that ran out in some replication, then the top SKUs by GMV. A red triangle marks the "
            "moment a replication ran out.",
            lambda: P.stock(d, sku_ids))
        pl = D.pools(d)
        if len(pl):
            add("pools", "Coupon pools and flash sales",
                "When each store coupon's pool emptied and each flash sale (秒杀) sold out: one dot per "
                "replication (spread vertically to stay apart), with how many replications ran out "
                "and the median moment.",
                lambda: P.pools(d, pl))
    return out


def build_report(out_dir: str | Path, warn=None) -> Path:
    """Write `report.html`, `figures/*.png` and the daily sheet `daily_report.xlsx` into the
    results folder `out_dir`.

    Returns the path of report.html. Raises `ReportError` when a result file is missing,
    damaged or of another run than the folder's run.json, or no CJK font is available;
    `warn(text)` hears of stale files that are ignored. Files are written atomically.
    """
    from simulator.files import atomic_write_bytes, atomic_write_text
    from simulator.report import data as D
    from simulator.report import fonts, html, sheet

    d = D.load(out_dir)
    for w in d.warnings:
        if warn is not None:
            warn(w)
    font = fonts.find_cjk_font()
    figures = render_figures(d, font)

    fig_dir = d.out_dir / FIGURES_DIR
    fig_dir.mkdir(exist_ok=True)
    drawn = {f.name for f in figures}
    for f in figures:
        atomic_write_bytes(fig_dir / f"{f.name}.png", f.png)
    for name in FIGURE_NAMES:
        stale = fig_dir / f"{name}.png"
        if name not in drawn and stale.exists():
            stale.unlink()

    note = (f"Text is set in {font.family} ({font.source}).")
    draft = html.page(d, figures, font_css="", font_stack=fonts.css_font_stack(font), font_note=note)
    css = fonts.font_face_css(font, html.page_text(draft))
    page = html.page(d, figures, font_css=css, font_stack=fonts.css_font_stack(font), font_note=note)
    path = d.out_dir / "report.html"
    atomic_write_text(path, page)
    atomic_write_bytes(d.out_dir / SHEET, sheet.workbook_bytes(d))
    return path
