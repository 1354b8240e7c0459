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
FIGURE_NAMES = ("big_day", "cumulative_gmv", "tornado", "heatmap_gmv", "heatmap_visits", "channels", "daily_budget",
                "funnel", "stock", "pools")

__all__ = ["FIGURES_DIR", "FIGURE_NAMES", "ReportError", "build_report", "render_figures"]


def render_figures(d, font) -> list:
    """Draw every figure the results call for, as `html.Shown` (name, title, caption, PNG).

    Runs inside a matplotlib rc_context (the report's style and font), so the caller's
    matplotlib settings are untouched.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

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
        say = d.say
        target = (say(f" The dashed line is the GMV target ({d.amount(d.target_gmv)}, meta.targets.gmv).",
                      f"虚线为成交额目标（{d.amount(d.target_gmv)}，meta.targets.gmv）。")
                  if d.target_gmv else "")
        carries = (say("the assumptions of the uncertainty: block and shopper noise",
                       "uncertainty: 中的假设与顾客的随机波动") if d.summary.get("assumptions")
                   else say("shopper noise only: the plan's assumptions as written", "仅顾客的随机波动：计划按所写的假设"))
        bd = D.big_day(d, h)
        if bd is not None:
            add("big_day", say("The busiest day", "大促当天"), say(
                f"{bd.date:%Y-%m-%d}, the campaign's busiest day by mean GMV ({d.amount(bd.gmv_total)}): GMV per "
                f"hour (bars: the mean, whiskers P5–P95), the share of the day's GMV paid by each hour's end "
                f"(line; {bd.first_hour:.1%} in the first hour) and below it the day's moments — sell-outs, "
                "coupon pools emptying, budgets running out, rules firing — each at its median time over the "
                "replications it happened in (how many, and the first names, on the right).",
                f"{bd.date:%Y-%m-%d} 是按平均成交额最忙的一天（{d.amount(bd.gmv_total)}）：柱为每小时成交额"
                f"（均值，须线为 P5–P95），折线为截至每小时末的当日累计成交占比（首小时 {bd.first_hour:.1%}），"
                "下方为当天的关键时刻——售罄、优惠券领完、预算用完、规则触发——各取其发生的各次模拟的中位时间"
                "（右侧为次数与最早的几个名称）。"),
                lambda: P.big_day(d, bd))
        add("cumulative_gmv", say("Cumulative GMV", "累计成交额"), say(
            f"GMV paid so far, in {cur}: the line is the mean over {d.reps} replications, the dark band "
            f"holds the middle half of them (P25–P75) and the light band the middle 90 % (P5–P95, per "
            f"hour); the bands carry {carries}. Shaded columns and names at the top are the calendar's "
            f"phases.{target}",
            f"截至各时刻的累计成交额（{cur}）：线为 {d.reps} 次模拟的均值，深色带为中间一半（P25–P75），"
            f"浅色带为中间 90 %（P5–P95，按小时）；色带包含{carries}。阴影列与顶部名称为日历的各阶段。{target}"),
            lambda: P.cumulative_gmv(d, cum))
        sw = D.assumption_swings(d)
        if len(sw):
            add("tornado", say("What moves GMV most", "影响成交额最大的假设"), say(
                f"For each assumption drawn in this run: the GMV a line fitted to the {d.reps} replications "
                "gives with the assumption at its P5 (blue) and at its P95 (orange), the others at their "
                "means. A first look from the run itself; `promosim sensitivity` gives Morris and Sobol' "
                "indices, each plan on the same shoppers.",
                f"本次运行抽样的每个假设：由 {d.reps} 次模拟拟合的直线，在该假设取 P5（蓝）与 P95（橙）、其余取均值时"
                "的成交额。这是来自本次运行的初步判断；`promosim sensitivity` 给出 Morris 与 Sobol' 指数。"),
                lambda: P.tornado(d, sw))
        add("heatmap_gmv", say("GMV by day and hour", "按日期与小时的成交额"), say(
            f"Mean GMV per hour ({cur}) for each local date (rows) and hour of day (24 columns). "
            "Grey cells lie outside the campaign; white cells had no GMV (a warm-up phase, when "
            "visitors add to cart instead of paying).",
            f"每个日期（行）与每小时（24 列）的平均每小时成交额（{cur}）。灰色格在活动之外；白色格没有成交"
            "（预热阶段，访客加购而不付款）。"),
            lambda: P.day_hour_heatmap(d, D.day_hour(d, "gmv", h), "gmv",
                                       say("GMV per hour — day × hour of day", "每小时成交额 — 日期 × 小时"),
                                       f"{say('GMV per hour', '每小时成交额')} ({cur})"))
        add("heatmap_visits", say("Visits by day and hour", "按日期与小时的访客"),
            say("Mean visits per hour from every channel, by local date and hour of day.",
                "各渠道每小时平均访客数，按日期与小时。"),
            lambda: P.day_hour_heatmap(d, D.day_hour(d, "visits", h), "visits",
                                       say("Visits per hour — day × hour of day", "每小时访客 — 日期 × 小时"),
                                       say("visits per hour", "每小时访客")))
        add("channels", say("Spend, GMV and ROI by channel", "各渠道花费、成交额与投产比"), say(
            f"Per channel, means over replications: spend (ad spend + fees + commissions, {cur}), "
            "the GMV of the orders the channel brought, and ROI = GMV ÷ spend. Free channels have no ROI.",
            f"各渠道（各次模拟均值）：花费（广告费 + 固定费用 + 佣金，{cur}）、该渠道带来订单的成交额，"
            "以及投产比 = 成交额 ÷ 花费。免费渠道没有投产比。"),
            lambda: P.channels(d, D.channels(d)))
        db = D.daily_budgets(d)
        if len(db):
            add("daily_budget", say("Daily budget used per channel", "各渠道每日预算使用"), say(
                "For each channel with a budget and each local day: the share of the day's budget spent (colour "
                "and first figure; the day's budget is the daily budget in force that day, with what the day "
                "before left under carry-over, within what the total budget had left), and, where the budget "
                "ran out, the median time it did and in how many replications. Means over replications.",
                "每个有预算的渠道、每个自然日：当日预算的使用率（颜色与第一个数字；当日预算为当天生效的日预算，"
                "加上结转的前一日余额，且不超过总预算的剩余），以及预算用完时的中位时间与用完的模拟比例。"
                "各次模拟均值。"),
                lambda: P.daily_budgets(d, db))
        add("funnel", say("Funnel by phase", "分阶段漏斗"), say(
            "Visits, warm-up add-to-carts and paid orders in each phase (means, log scale), with carts "
            "and orders as a share of the phase's visits. Warm-up carts pay in the next sale phase, so "
            "their orders count there. An hour belongs to the phase its start falls in.",
            "各阶段的访客、预热加购与支付订单（均值，对数刻度），加购与订单同时给出占该阶段访客的比例。"
            "预热加购在下一个售卖阶段付款，订单计入该阶段。每小时归属其开始时刻所在的阶段。"),
            lambda: P.funnel(d, D.funnel(d, h)))
        sku_ids = D.stock_skus(d)
        add("stock", say("Stock on hand", "库存"), say(
            "Units on hand at the end of each hour (mean and P5–P95 over replications) for every SKU "
            "that ran out in some replication, then the top SKUs by GMV. A red triangle marks the "
            "moment a replication ran out.",
            "每小时末的库存件数（各次模拟的均值与 P5–P95）：先列在某次模拟中缺货的商品，再列成交额最高的商品。"
            "红色三角标出每次模拟缺货的时刻。"),
            lambda: P.stock(d, sku_ids))
        pl = D.pools(d)
        if len(pl):
            add("pools", say("Coupon pools and flash sales", "优惠券与秒杀"), say(
                "When each store coupon's pool emptied and each flash sale (秒杀) sold out: one dot per "
                "replication (spread vertically to stay apart), with how many replications ran out "
                "and the median moment.",
                "每张店铺券领完、每场秒杀售罄的时刻：每次模拟一个点（纵向错开），并给出发生次数与中位时刻。"),
                lambda: P.pools(d, pl))
    return out


def build_report(out_dir: str | Path, warn=None, lang: str = "both") -> Path:
    """Write `report.html`, `figures/*.png` and the daily sheet `daily_report.xlsx` into the
    results folder `out_dir`.

    `lang`: "both" (headings and tables in English and Chinese, charts in English), "en" or
    "zh" (everything in one language, charts included). Returns the path of report.html.
    Raises `ReportError` when a result file is missing, damaged or of another run than the
    folder's run.json, or no CJK font is available;
    `warn(text)` hears of stale files that are ignored. Files are written atomically.
    """
    from simulator.files import atomic_write_bytes, atomic_write_text
    from simulator.report import data as D
    from simulator.report import fonts, html, sheet

    d = D.load(out_dir)
    if lang not in ("both", "en", "zh"):
        raise ValueError(f"lang must be 'both', 'en' or 'zh', got {lang!r}")
    d.lang = lang
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
