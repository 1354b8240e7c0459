"""The report's figures: one function per figure, each returning a matplotlib `Figure`.

Figures are built with `matplotlib.figure.Figure` (no pyplot: no global figure state, no
GUI backend; `savefig` draws with Agg). Build them inside
`matplotlib.rc_context(style(font))` so text is set in the CJK font (`fonts.py`).
Every function takes the loaded `ReportData` (and tidy frames from `data.py`) and
draws what a planner reads: titles, axis labels with units and currency, thousands
separators, a legend where there is more than one series.

Artists the tests look for carry a `gid` (e.g. the mean cumulative GMV line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator

import simulator.report.data as D
from simulator.formats import CJK_CURRENCIES
from simulator.report.fonts import CjkFont, rc_params

SOLD_OUT = {"coupon": "coupon pool empty", "flash sale": "flash sale sold out"}
SOLD_OUT_ZH = {"coupon": "优惠券领完", "flash sale": "秒杀售罄"}
KIND_ZH = {"coupon": "优惠券", "flash sale": "秒杀"}
DAY_EVENTS_ZH = {"sold_out": "售罄", "flash_sellout": "秒杀售罄", "coupon_empty": "优惠券领完",
                 "budget_exhausted": "预算用完", "rule_fired": "规则触发"}
# Okabe–Ito colours: distinguishable with colour-blindness and in grey on paper.
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#999999")
WIDTH = 10.0          # inches; PNGs are WIDTH × DPI pixels wide
DPI = 130


def style(font: CjkFont) -> dict:
    """rcParams for every report figure (use with `matplotlib.rc_context`)."""
    return {
        **rc_params(font),
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "figure.facecolor": "white",
        "font.size": 10,
        "axes.titlesize": 12,
        "axes.titlelocation": "left",
        "axes.titlepad": 10,
        "axes.labelsize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#e3e3e3",
        "grid.linewidth": 0.8,
        "axes.axisbelow": True,
        "legend.frameon": False,
        "legend.fontsize": 9,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
    }


# ------------------------------------------------------------------------ number formats
@dataclass(frozen=True)
class Scale:
    """Axis units for a quantity whose largest value is known: 1, million or billion."""

    factor: float
    word: str

    @classmethod
    def for_max(cls, vmax: float, currency: str | None = None) -> Scale:
        """The scale for values up to `vmax`; money of a CJK-market currency (`currency`) in
        万 / 亿, anything else in million / billion."""
        vmax = abs(float(vmax)) if vmax is not None and np.isfinite(vmax) else 0.0
        if currency is not None and currency.upper() in CJK_CURRENCIES:
            return cls(1.0, "") if vmax < 1e5 else cls(1e4, "万") if vmax < 1e9 else cls(1e8, "亿")
        if vmax < 1e6:
            return cls(1.0, "")
        if vmax < 1e9:
            return cls(1e6, "million")
        return cls(1e9, "billion")

    def unit(self, unit: str = "") -> str:
        """e.g. 'CNY million', 'million', 'CNY', '', '万元' (yuan in 万), '亿 JPY'."""
        if self.word in ("万", "亿"):
            return self.word + ("元" if unit.upper() in ("CNY", "RMB") else f" {unit}" if unit else "")
        return " ".join(w for w in (unit, self.word) if w)

    def formatter(self) -> FuncFormatter:
        return FuncFormatter(lambda x, _pos: number(x / self.factor))


def number(v: float, digits: int = 1) -> str:
    """A number with thousands separators and at most `digits` decimals (none if whole)."""
    if v is None or not np.isfinite(v):
        return "–"
    s = f"{v:,.{digits}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def percent(v: float, digits: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}%}"


def _naive(idx) -> pd.DatetimeIndex:
    """Local wall-clock times without a zone: matplotlib then labels them as local times."""
    idx = pd.DatetimeIndex(idx)
    return idx.tz_localize(None) if idx.tz is not None else idx


def _time_axis(ax, start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Local dates (mm-dd) every few days from the campaign's first midnight (no crowding at
    month ends), or hours for a campaign of two days or less."""
    a, b = _naive([start, end])
    days = (b - a) / pd.Timedelta(days=1)
    if days <= 2:
        step = 3 if days <= 1 else 6
        ticks = pd.date_range(a.ceil(f"{step}h"), b, freq=f"{step}h")
        fmt = "%m-%d %H:%M"
    else:
        step = next(k for k in (1, 2, 3, 7, 14, 28, 56) if days / k <= 11)
        ticks = pd.date_range(a.ceil("D"), b, freq=f"{step}D")
        fmt = "%m-%d"
    ax.xaxis.set_major_locator(FixedLocator(mdates.date2num(ticks.to_pydatetime())))
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt))
    ax.set_xlim(a, b)


def _phase_bands(ax, d: D.ReportData, labels: bool = True,
                 window: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> None:
    """Light bands for alternate phases, and each phase's name at the top of the axes
    (a name too close to the previous one goes one line higher). `window` (default: the
    campaign) is the time range the axes show: only phases inside it are named."""
    lo, hi = _naive(window or (d.start, d.end))
    span = (hi - lo) / pd.Timedelta(hours=1)
    last_x, row = -1e9, 0
    for i, p in enumerate(d.phases):
        a, b = _naive([p.start, p.end])
        if i % 2 == 0:
            ax.axvspan(a, b, color="#f1f1f1", zorder=0, lw=0)
        a, b = max(a, lo), min(b, hi)
        if labels and a < b:
            mid = a + (b - a) / 2
            x = (mid - lo) / pd.Timedelta(hours=1) / span
            row = row + 1 if x - last_x < 0.07 and row == 0 else 0
            last_x = x
            ax.annotate(p.name, xy=(mdates.date2num(mid.to_pydatetime()), 1.0),
                        xycoords=ax.get_xaxis_transform(),
                        xytext=(0, 2 + 11 * row), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color="#555555", annotation_clip=False)


# ------------------------------------------------------------------------------- figures
def cumulative_gmv(d: D.ReportData, cum: pd.DataFrame) -> Figure:
    """Cumulative GMV over the campaign: mean over replications, P5–P95 band, and the
    target line when the scenario sets `meta.targets.gmv`."""
    fig = Figure(figsize=(WIDTH, 4.8), layout="constrained")
    ax = fig.add_subplot()
    target = d.target_gmv
    sc = Scale.for_max(max(cum["p95"].max(), target or 0), d.axis_currency)
    t = _naive(cum.index)
    _phase_bands(ax, d)
    ax.fill_between(t, cum["p5"] / sc.factor, cum["p95"] / sc.factor, color=BLUE, alpha=0.2, lw=0,
                    label=d.say("P5–P95 over replications", "P5–P95（各次模拟）"), gid="cumulative_gmv_band")
    ax.fill_between(t, cum["p25"] / sc.factor, cum["p75"] / sc.factor, color=BLUE, alpha=0.3, lw=0,
                    label="P25–P75", gid="cumulative_gmv_inner_band")
    ax.plot(t, cum["mean"] / sc.factor, color=BLUE, lw=2, label=d.say("mean", "均值"), gid="cumulative_gmv_mean")
    end = cum.iloc[-1]
    ax.annotate(f"{d.say('end of campaign', '活动结束')}: {d.amount(end['mean'])}\n"
                f"P5–P95 {d.money(end['p5'])} – {d.amount(end['p95'])}",
                xy=(t[-1], end["mean"] / sc.factor), xytext=(0.985, 0.3), textcoords="axes fraction",
                ha="right", va="center", fontsize=9, color=BLUE,
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": BLUE, "lw": 0.8},
                arrowprops={"arrowstyle": "-", "color": BLUE, "lw": 0.8})
    if target:
        ax.axhline(target / sc.factor, color=VERMILLION, ls="--", lw=1.5,
                   label=f"{d.say('target', '目标')} {d.amount(target)}", gid="gmv_target")
        chance = (d.summary.get("targets") or {}).get("gmv")
        reached = chance["p_reach"] if chance else float((d.kpis["gmv"] >= target).mean())
        se = f" ± {percent(chance['se'], 0)}" if chance and chance.get("se") else ""
        ax.text(t[0], target / sc.factor, d.say(
                f"  target: {d.amount(target)} — reached in {percent(reached, 0)}{se} of replications, "
                f"mean {percent(end['mean'] / target, 0)} of target",
                f"  目标 {d.amount(target)}：{percent(reached, 0)}{se} 的模拟达成，均值为目标的 "
                f"{percent(end['mean'] / target, 0)}"),
                va="bottom", ha="left", fontsize=9, color=VERMILLION)
    ax.set_ylim(0, max(end["p95"], target or 0) / sc.factor * 1.08)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x)))
    ax.set_ylabel(f"{d.say('cumulative GMV', '累计成交额')} ({sc.unit(d.currency)})")
    ax.set_xlabel(f"{d.say('local time', '当地时间')} ({d.timezone})")
    _time_axis(ax, d.start, d.end)
    what = (d.say("assumptions and shopper noise", "假设与随机波动") if d.summary.get("assumptions")
            else d.say("shopper noise only", "仅随机波动"))
    ax.set_title(d.say(f"Cumulative GMV ({d.currency}) — mean, P25–P75 and P5–P95 over {d.reps} replications ({what})",
                       f"累计成交额（{d.currency}）— {d.reps} 次模拟的均值、P25–P75 与 P5–P95（{what}）"), pad=26)
    ax.legend(loc="center left")
    return fig


def day_hour_heatmap(d: D.ReportData, table: pd.DataFrame, flow: str, title: str, unit: str) -> Figure:
    """A day × hour heatmap of a flow (mean over replications): rows local dates, 24
    columns for the hours 0–23. Colours are logarithmic when values span more than
    two orders of magnitude (Nov 11 would otherwise wash out every other day)."""
    v = table.to_numpy(dtype=float)
    fig = Figure(figsize=(WIDTH, max(3.0, 0.95 + 0.24 * len(table))), layout="constrained")
    ax = fig.add_subplot()
    pos = v[np.isfinite(v) & (v > 0)]
    log = bool(pos.size) and pos.max() / pos.min() > 100
    if log:
        norm = LogNorm(vmin=pos.min(), vmax=pos.max())
    else:
        norm = Normalize(vmin=0, vmax=pos.max() if pos.size else 1)
    import matplotlib

    # grey: outside the campaign (NaN); white: in the campaign but zero (log scale only)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#e6e6e6", under="white")
    shown = np.where(np.isnan(v), np.nan, np.where(v > 0, v, pos.min() / 10)) if log else v
    im = ax.imshow(np.ma.masked_invalid(shown), aspect="auto", cmap=cmap, norm=norm,
                   interpolation="nearest", gid=f"heatmap_{flow}")
    ax.set_xticks(range(24), [f"{h}" for h in range(24)])
    ax.set_yticks(range(len(table)), [pd.Timestamp(x).strftime("%m-%d %a") for x in table.index])
    ax.set_xlabel(d.say(f"hour of day (local time, {d.timezone})", f"小时（当地时间，{d.timezone}）"))
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    zero = log and bool((v[np.isfinite(v)] <= 0).any())
    cb = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.04, extend="min" if zero else "neither")
    cb.set_label(unit + (d.say(" — log colour scale", "（对数色阶）") if log else ""))
    if log:
        cb.ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x, 0)))
    cb.ax.yaxis.set_minor_formatter(FuncFormatter(lambda x, _p: ""))
    notes = [d.say("grey: outside the campaign", "灰色：活动之外")] + ([d.say("white: none", "白色：无")] if zero else [])
    ax.text(1.0, 1.01, "; ".join(notes), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=8, color="#555555")
    ax.set_title(title)
    return fig


def channels(d: D.ReportData, ch: pd.DataFrame) -> Figure:
    """Spend, GMV and ROI by channel (means over replications), largest GMV at the top."""
    ch = ch.iloc[::-1]
    names = list(ch.index)
    y = np.arange(len(names))
    fig = Figure(figsize=(WIDTH, 2.2 + 0.42 * len(names)), layout="constrained")
    axs = fig.subplots(1, 3, sharey=True, gridspec_kw={"width_ratios": [1, 1, 0.8]})
    scale = Scale.for_max(max(ch["gmv"].max(), ch["spend"].max()), d.axis_currency)
    for ax, col, colour, label in ((axs[0], "spend", ORANGE, d.say("spend", "花费")),
                                   (axs[1], "gmv", BLUE, d.say("GMV", "成交额"))):
        vals = ch[col].to_numpy() / scale.factor
        bars = ax.barh(y, vals, color=colour, height=0.6, gid=f"channel_{col}")
        digits = 1 if scale.factor > 1 else 0
        ax.bar_label(bars, [f"{v:,.{digits}f}" for v in vals], padding=3, fontsize=8)
        ax.set_xlim(0, max(vals.max(), 1e-9) * 1.25)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x)))
        ax.set_xlabel(f"{label} ({scale.unit(d.currency)})")
        ax.set_title(label)
        ax.grid(axis="y", visible=False)
    _roi_panel(d, axs[2], ch, y)
    axs[0].set_yticks(y, names)
    fig.suptitle(d.say("Channels — spend, attributed GMV and ROI (means over replications)",
                       "渠道 — 花费、归因成交额与投产比（各次模拟均值）"),
                 x=0.01, ha="left", fontsize=12)
    return fig


def _roi_panel(d: D.ReportData, ax, ch: pd.DataFrame, y: np.ndarray) -> None:
    """Each channel's ROI on a log axis (a CRM push at ROI 100 does not flatten a paid channel
    at 3), its break-even ROI (保本 ROI) as a black tick, and the bar red where the channel
    loses money (ROI below break-even)."""
    roi = ch["roi"].to_numpy(dtype=float)
    even = ch["break_even_roi"].to_numpy(dtype=float) if "break_even_roi" in ch else np.full(len(ch), np.nan)
    ok = np.isfinite(roi) & (roi > 0)
    loss = ok & np.isfinite(even) & (roi < even)
    colours = np.where(loss, VERMILLION, GREEN)
    marks = np.isfinite(even) & ok
    total = d.summary["kpis"].get("roi", {}).get("mean")
    values = np.concatenate([roi[ok], even[marks], [total] if total else []])
    low, high = (min(values.min(), 1.0) / 1.6, values.max() * 3.0) if values.size else (0.5, 3.0)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.barh(y[ok], roi[ok] - low, left=low, color=colours[ok], height=0.6, gid="channel_roi")
    for yi, r, e, lo in zip(y[ok], roi[ok], even[ok], loss[ok]):          # the value beyond the bar and its tick
        end = max(r, e) if np.isfinite(e) else r
        ax.text(end * 1.12, yi, f"{r:,.1f}" + (d.say(" loss", " 亏损") if lo else ""), va="center", fontsize=8,
                color=VERMILLION if lo else "black")
    for yi in y[~ok]:
        ax.text(0.02, yi, d.say(" no spend", " 无花费"), va="center", fontsize=8, color="#555555",
                transform=ax.get_yaxis_transform())
    ax.plot(even[marks], y[marks], ls="none", marker="|", ms=16, mew=2.2, color="black",
            label=d.say("break-even ROI (保本)", "保本投产比"), gid="channel_break_even")
    if total:
        ax.axvline(total, color="#333333", ls=":", lw=1)
        ax.text(total, len(ch) - 0.45, f" {d.say('campaign ROI', '整体 ROI')} {total:,.1f} ", fontsize=8,
                va="bottom", ha="left", in_layout=False)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x, 1)))
    ax.set_xlabel(d.say("ROI (GMV ÷ spend), log scale", "投产比（成交额 ÷ 花费），对数刻度"))
    ax.set_title(d.say("ROI against break-even", "投产比与保本线"))
    ax.grid(axis="y", visible=False)
    if marks.any():
        ax.legend(loc="upper right", fontsize=7)


def funnel(d: D.ReportData, fn: pd.DataFrame) -> Figure:
    """Visits → carts → orders per phase (means), log scale, with rates of visits."""
    fn = fn.iloc[::-1]
    n = len(fn)
    fig = Figure(figsize=(WIDTH, 1.5 + 0.75 * n), layout="constrained")
    ax = fig.add_subplot()
    h = 0.26
    y = np.arange(n)
    series = (("visits", SKY, d.say("visits", "访客")), ("carts", ORANGE, d.say("add-to-carts (warm-up)", "加购（预热）")),
              ("orders", BLUE, d.say("orders", "订单")))
    vmax = max(fn["visits"].max(), 1)
    for j, (col, colour, label) in enumerate(series):
        vals = fn[col].to_numpy(dtype=float)
        yy = y + (1 - j) * h
        show = vals > 0
        ax.barh(yy[show], vals[show], height=h, color=colour, label=label if show.any() else None,
                gid=f"funnel_{col}")
        for yi, v, visits in zip(yy, vals, fn["visits"].to_numpy(dtype=float)):
            if v <= 0:
                continue
            text = f"{v:,.0f}" if col == "visits" else f"{v:,.0f}  ({d.say('', '占访客 ')}{percent(v / visits, 2)}{d.say(' of visits', '')})"
            ax.text(v * 1.08, yi, text, va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(max(1.0, 10 ** math.floor(math.log10(max(fn["orders"][fn["orders"] > 0].min()
                                                            if (fn["orders"] > 0).any() else 1, 1)))),
                vmax * 15)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x, 0)))
    labels = []
    phases = {p.name: p for p in d.phases}
    for name, row in fn.iterrows():
        p = phases.get(name)
        span = (f"{p.start:%m-%d %H:%M} – {p.end:%m-%d %H:%M}" if p else d.say("outside every phase", "不在任何阶段"))
        labels.append(f"{name} ({row['kind'] or '–'})\n{span}")
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(d.say("count over the phase (log scale)", "阶段内数量（对数刻度）"))
    ax.set_title(d.say("Funnel by phase — visits → add-to-carts → orders (means over replications)",
                       "分阶段漏斗 — 访客 → 加购 → 订单（各次模拟均值）"))
    ax.legend(loc="lower right", ncols=3)
    return fig


def stock(d: D.ReportData, sku_ids: list[str]) -> Figure:
    """Units on hand over the campaign for the chosen SKUs (mean and P5–P95), with a
    marker at each replication's stock-out."""
    outs = D.stockouts(d)
    n = len(sku_ids)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(WIDTH, 1.2 + 2.1 * rows), layout="constrained")
    axs = np.atleast_1d(fig.subplots(rows, cols, sharex=True, squeeze=False)).ravel()
    for ax, sku in zip(axs, sku_ids):
        s = D.stock(d, sku)
        t = _naive(s.index)
        _phase_bands(ax, d, labels=False)
        ax.fill_between(t, s["p5"], s["p95"], color=BLUE, alpha=0.25, lw=0, label="P5–P95")
        ax.plot(t, s["mean"], color=BLUE, lw=1.6, label=d.say("mean", "均值"), gid=f"stock_{sku}")
        o = outs[outs["sku"] == sku]
        if len(o):
            ax.plot(_naive(o["time"]), np.zeros(len(o)), ls="none", marker="v", ms=7, color=VERMILLION,
                    clip_on=False, zorder=5, label=d.say("stock-out (one per replication)", "缺货（每次模拟一个）"),
                    gid=f"stockout_{sku}")
            first = o["time"].min()
            ax.text(0.99, 0.95, d.say(f"out in {o['replication'].nunique()}/{d.reps} reps, first {first:%m-%d %H:%M}",
                                      f"{o['replication'].nunique()}/{d.reps} 次缺货，最早 {first:%m-%d %H:%M}"),
                    transform=ax.transAxes, ha="right", va="top", fontsize=8, color=VERMILLION)
        ax.set_ylim(0, max(s["p95"].max(), 1) * 1.12)
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x, 0)))
        label = d.sku_label(sku)
        ax.set_title(label if label == sku else f"{label}  ({sku})", fontsize=10)
        ax.set_ylabel(d.say("units on hand", "库存件数"))
        _time_axis(ax, d.start, d.end)
    for ax in axs[n:]:
        ax.set_visible(False)
    handles, labels = [], []
    for ax in axs[:n]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside upper right", ncols=3)
    fig.suptitle(d.say("Stock on hand — SKUs that ran out, then the top SKUs by GMV",
                       "库存 — 先列缺货的商品，再列成交额最高的商品"), x=0.01, ha="left", fontsize=12)
    return fig


def pools(d: D.ReportData, pl: pd.DataFrame) -> Figure:
    """When store coupon pools empty and flash sales (秒杀) sell out: one dot per
    replication, per coupon or flash sale."""
    keys = list(dict.fromkeys(zip(pl["kind"], pl["name"])))
    fig = Figure(figsize=(WIDTH, 2.4 + 0.5 * len(keys)), layout="constrained")
    ax = fig.add_subplot()
    # Zoom to the moments pools ran out (they cluster around launches), campaign at most.
    pad = max(pd.Timedelta(hours=2), (pl["time"].max() - pl["time"].min()) * 0.1)
    window = (max(d.start, pl["time"].min() - pad), min(d.end, pl["time"].max() + pad))
    _phase_bands(ax, d, window=window)
    colours = {"coupon": PURPLE, "flash sale": VERMILLION}
    seen = set()
    for i, (kind, name) in enumerate(keys):
        rows = pl[(pl["kind"] == kind) & (pl["name"] == name)]
        y = len(keys) - 1 - i
        jitter = (rows["replication"].to_numpy() % 5 - 2) * 0.06
        ax.plot(_naive(rows["time"]), y + jitter, ls="none", marker="o", ms=5, alpha=0.8,
                color=colours.get(kind, GREY), label=None if kind in seen else d.say(SOLD_OUT[kind], SOLD_OUT_ZH[kind]),
                gid=f"pool_{kind}_{name}")
        seen.add(kind)
        med = rows["time"].sort_values().iloc[len(rows) // 2]
        ax.text(1.0, y, d.say(f" {rows['replication'].nunique()}/{d.reps} reps, median {med:%m-%d %H:%M}",
                              f" {rows['replication'].nunique()}/{d.reps} 次，中位 {med:%m-%d %H:%M}"),
                transform=ax.get_yaxis_transform(), va="center", fontsize=8, clip_on=False)
    ax.set_yticks(range(len(keys)), [f"{name}\n({d.say(kind, KIND_ZH.get(kind, kind))})" for kind, name in reversed(keys)])
    ax.set_ylim(-0.6, len(keys) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"{d.say('local time', '当地时间')} ({d.timezone})")
    _time_axis(ax, *window)
    ax.set_title(d.say("Coupon pools emptying and flash sales selling out", "优惠券领完与秒杀售罄"), pad=26)
    ax.legend(loc="lower left")
    return fig


def big_day(d: D.ReportData, bd: D.BigDay) -> Figure:
    """The busiest day hour by hour: GMV per hour (mean, P5–P95 whiskers), the share of the
    day's GMV paid so far (right axis), and below, one row per kind of moment — sell-outs, flash
    sales sold out, coupon pools empty, budgets run out, rules fired — each at its median time
    over the replications it happened in."""
    kinds = [k for k in D.DAY_EVENTS if (bd.events["kind"] == k).any()]
    fig = Figure(figsize=(WIDTH, 4.2 + 0.45 * len(kinds)), layout="constrained")
    axs = fig.subplots(2, 1, sharex=True, height_ratios=[4, max(len(kinds), 1) * 0.45 + 0.2]) if kinds else [fig.add_subplot()]
    ax = axs[0]
    t = _naive(bd.hours.index)
    mid = t + pd.Timedelta(minutes=30)
    sc = Scale.for_max(bd.hours["p95"].max(), d.axis_currency)
    err = np.vstack([(bd.hours["gmv"] - bd.hours["p5"]).clip(lower=0), (bd.hours["p95"] - bd.hours["gmv"]).clip(lower=0)])
    ax.bar(mid, bd.hours["gmv"] / sc.factor, width=pd.Timedelta(minutes=50), color=BLUE, alpha=0.85,
           label=d.say("GMV per hour (mean)", "每小时成交额（均值）"), gid="big_day_gmv")
    ax.errorbar(mid, bd.hours["gmv"] / sc.factor, yerr=err / sc.factor, fmt="none", ecolor=GREY, elinewidth=0.8,
                capsize=2, label="P5–P95")
    ax.set_ylabel(f"{d.say('GMV per hour', '每小时成交额')} ({sc.unit(d.currency)})")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x, 0)))
    right = ax.twinx()
    ends = t + pd.Timedelta(hours=1)
    right.plot(ends, 100 * bd.hours["share"], color=VERMILLION, lw=2, marker="o", ms=3,
               label=d.say("share of the day's GMV so far", "当日累计成交占比"), gid="big_day_share")
    right.set_ylim(0, 105)
    right.set_ylabel(d.say("share of the day's GMV so far (%)", "当日累计成交占比 (%)"))
    right.grid(False)
    right.annotate(f"{d.say('first hour', '首小时')}: {percent(bd.first_hour, 1)}", xy=(ends[0], 100 * bd.first_hour),
                   xytext=(8, 0), textcoords="offset points", va="center", fontsize=9, color=VERMILLION)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    fig.legend(handles, labels, loc="outside upper right", ncols=3, fontsize=8)
    ax.set_title(d.say(f"{bd.date:%m-%d}, the busiest day: {d.amount(bd.gmv_total)} GMV, "
                       f"{percent(bd.first_hour, 1)} of it in the first hour",
                       f"{bd.date:%m-%d} 大促当天：成交额 {d.amount(bd.gmv_total)}，"
                       f"首小时占 {percent(bd.first_hour, 1)}"), loc="left")
    if kinds:
        strip = axs[1]
        for row, kind in enumerate(reversed(kinds)):
            ev = bd.events[bd.events["kind"] == kind]
            strip.plot(_naive(ev["median"]), np.full(len(ev), row), ls="none", marker="|", ms=12, mew=2,
                       color=VERMILLION if kind in ("sold_out", "flash_sellout") else PURPLE, gid=f"big_day_{kind}")
            shown = ev.head(2)
            names = ", ".join(f"{s} {m:%H:%M} ({r}/{d.reps})"
                              for s, m, r in zip(shown["subject"], shown["median"], shown["reps"]))
            more = f" … +{len(ev) - len(shown)} more" if len(ev) > len(shown) else ""
            strip.text(1.0, row, f" {names}{more}", transform=strip.get_yaxis_transform(),
                       va="center", fontsize=7, clip_on=False)
        strip.set_yticks(range(len(kinds)), [d.say(D.DAY_EVENTS[k], DAY_EVENTS_ZH[k]) for k in reversed(kinds)],
                         fontsize=8)
        strip.set_ylim(-0.6, len(kinds) - 0.4)
        strip.grid(axis="y", visible=False)
    last = axs[-1]
    day0 = _naive([bd.hours.index[0].normalize()])[0]
    last.set_xlim(t[0], ends[-1])
    last.xaxis.set_major_locator(FixedLocator(mdates.date2num(
        pd.date_range(day0, day0 + pd.Timedelta(hours=24), freq="3h").to_pydatetime())))
    last.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    last.set_xlabel(d.say(f"local time on {bd.date:%Y-%m-%d} ({d.timezone}); moments at their median over the "
                          "replications they happened in",
                          f"{bd.date:%Y-%m-%d} 当地时间（{d.timezone}）；事件取其发生的各次模拟的中位时间"))
    return fig


def tornado(d: D.ReportData, sw: pd.DataFrame, kpi: str = "gmv") -> Figure:
    """What moves `kpi` most: per assumption, `kpi` at its P5 (blue) and P95 (orange) with the
    others at their means, from a line fitted to the run's replications; widest on top."""
    fig = Figure(figsize=(WIDTH, 1.4 + 0.45 * len(sw)), layout="constrained")
    ax = fig.add_subplot()
    base = float(d.kpis[kpi].mean())
    sc = Scale.for_max(max(sw[["low", "high"]].abs().to_numpy().max(), abs(base)), d.axis_currency)
    for i, (name, r) in enumerate(sw.iterrows()):
        ax.barh(i, (r["low"] - base) / sc.factor, left=base / sc.factor, color=BLUE, gid=f"tornado_{name}_p5")
        ax.barh(i, (r["high"] - base) / sc.factor, left=base / sc.factor, color=ORANGE, gid=f"tornado_{name}_p95")
    ax.axvline(base / sc.factor, color="black", lw=1)
    ax.set_yticks(range(len(sw)), [f"{n}  ({r['p5']:.3g} → {r['p95']:.3g})" for n, r in sw.iterrows()])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x)))
    ax.set_xlabel(d.say(f"{kpi} ({sc.unit(d.currency)}): blue with the assumption at its P5, orange at its P95",
                        f"{kpi}（{sc.unit(d.currency)}）：蓝色为假设取 P5，橙色为取 P95"))
    ax.set_title(d.say(f"What moves {kpi} most — from {d.reps} replications' assumption draws",
                       f"影响 {kpi} 最大的假设 — 来自 {d.reps} 次模拟的假设抽样"), loc="left")
    return fig


def daily_budgets(d: D.ReportData, db: pd.DataFrame) -> Figure:
    """Daily budget used per channel (`data.daily_budgets`): one row per local day, one column
    per channel with a budget; the colour is the mean share of the day's budget spent, the
    cell says it and, when the budget ran out in some replication, the median time and in how
    many; a vermilion frame marks a day on which it ran out in at least half of them."""
    import matplotlib
    from matplotlib.patches import Rectangle

    names = list(dict.fromkeys(db["channel"]))
    dates = list(dict.fromkeys(db["day"]))
    used = db.pivot(index="day", columns="channel", values="used").reindex(index=dates, columns=names)
    share = db.pivot(index="day", columns="channel", values="ran_out_share").reindex(index=dates, columns=names)
    when = db.pivot(index="day", columns="channel", values="ran_out").reindex(index=dates, columns=names)
    v = used.to_numpy(dtype=float)
    fig = Figure(figsize=(WIDTH, 1.3 + 0.3 * len(dates)), layout="constrained")
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["YlGnBu"].with_extremes(bad="#e6e6e6")
    im = ax.imshow(np.ma.masked_invalid(v), aspect="auto", cmap=cmap, norm=Normalize(vmin=0, vmax=1),
                   interpolation="nearest", gid="daily_budget_used")
    size = 8 if len(names) <= 4 else 7 if len(names) <= 6 else 6
    for i in range(len(dates)):
        for j in range(len(names)):
            u, s, t = v[i, j], share.iat[i, j], when.iat[i, j]
            text = percent(u, 0) if np.isfinite(u) else d.say("no budget", "无预算")
            if s > 0 and isinstance(t, str):
                hm = t.split(" ")[-1]
                text += d.say(f" · ran out {hm} in {percent(s, 0)}", f" · {percent(s, 0)} 用完，{hm}")
            ax.text(j, i, text, ha="center", va="center", fontsize=size,
                    color="white" if np.isfinite(u) and u > 0.6 else "black")
            if s >= 0.5:
                ax.add_patch(Rectangle((j - 0.47, i - 0.43), 0.94, 0.86, fill=False, ec=VERMILLION, lw=1.6,
                                       gid=f"daily_budget_ran_out_{i}_{j}"))
    ax.set_xticks(range(len(names)), names)
    ax.xaxis.tick_top()
    week = d.say(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], ["周" + c for c in "一二三四五六日"])
    ax.set_yticks(range(len(dates)), [f"{pd.Timestamp(x):%m-%d} {week[pd.Timestamp(x).weekday()]}" for x in dates])
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    cb = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.03)
    cb.set_label(d.say("share of the day's budget spent", "当日预算使用率"))
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: percent(x, 0)))
    ax.set_title(d.say(f"Daily budget used per channel (means over {d.reps} replications; framed: ran out "
                       "in at least half of them)",
                       f"各渠道每日预算使用率（{d.reps} 次模拟均值；框出：至少一半的模拟中预算用完）"))
    return fig
