"""The report page: one self-contained HTML file.

Images are PNG data URIs and the CJK font is embedded as a subset (`fonts.font_face_css`),
so the page opens offline and prints the same anywhere. A Content-Security-Policy allows
nothing but data: images and fonts and the inline style sheet: a page that tried to
load anything from elsewhere would show it as a console error (the browser test fails
on any). No scripts.
"""

from __future__ import annotations

import base64
import math
import string
from dataclasses import dataclass
from html import escape

import pandas as pd

import simulator.report.data as D
from simulator.formats import amount, clock, count, money, money_unit
from simulator.report.plots import percent


@dataclass(frozen=True)
class Shown:
    """A rendered figure: file name (without .png), heading, caption and PNG bytes."""

    name: str
    title: str
    caption: str
    png: bytes


CSP = "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'"

CSS = """
:root { --ink: #1d1d1f; --muted: #5f6368; --line: #dadce0; --accent: #0072B2; --bad: #D55E00; }
* { box-sizing: border-box; }
body { font-family: %(fonts)s; color: var(--ink); margin: 0; background: #fff; line-height: 1.45;
       font-variant-numeric: tabular-nums; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; font-weight: 600; }
h2 { font-size: 1.2rem; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); font-weight: 600; }
.sub, figcaption, .note, footer { color: var(--muted); font-size: 0.88rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(172px, 1fr)); gap: 10px; margin: 18px 0 6px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.tile .k { color: var(--muted); font-size: 0.8rem; }
.tile .v { font-size: 1.25rem; font-weight: 600; }
.tile .r { color: var(--muted); font-size: 0.75rem; }
.tile.target { border-color: var(--bad); }
figure { margin: 12px 0 20px; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; width: 100%%; height: auto; border: 1px solid #eee; }
figcaption { margin-top: 6px; }
table { border-collapse: collapse; width: 100%%; font-size: 0.85rem; margin: 8px 0 4px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #f6f8fa; font-weight: 600; vertical-align: bottom; }
th .zh { display: block; color: var(--muted); font-weight: 400; font-size: 0.78rem; }
td.l, th.l { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid var(--ink); }
tr.peak td { background: #fff7e6; }
.wide { overflow-x: auto; }
@page { size: A4; margin: 12mm; }
@media print {
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  table { font-size: 7.5pt; }
  th, td { padding: 2px 4px; }
  .wide { overflow: visible; }
}
"""


def _h(s) -> str:
    return escape(str(s), quote=True)


def _table(header: list[tuple[str, str, str]], rows: list[list[str]], total: list[str] | None = None,
           classes: list[str] | None = None) -> str:
    """header: (english, chinese, align 'l'|'r'); cells are already formatted text."""
    th = "".join(f"<th class=\"{a}\">{_h(en)}" + (f"<span class=\"zh\">{_h(zh)}</span>" if zh else "") + "</th>"
                 for en, zh, a in header)
    body = []
    for i, r in enumerate(rows):
        cls = f" class=\"{classes[i]}\"" if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td class=\"{a}\">{_h(c)}</td>"
                                           for c, (_e, _z, a) in zip(r, header)) + "</tr>")
    if total:
        body.append("<tr class=\"total\">" + "".join(f"<td class=\"{a}\">{_h(c)}</td>"
                                                     for c, (_e, _z, a) in zip(total, header)) + "</tr>")
    return f"<div class=\"wide\"><table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def _ratio(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:,.2f}"


def _pct(v, digits: int = 2) -> str:
    return percent(v, digits) if v is not None else "–"


# ----------------------------------------------------------------------------- sections
TILES = (
    ("gmv", "GMV", "成交额", "money"), ("net_sales", "Net sales", "净销售额", "money"),
    ("gross_profit", "Profit after marketing", "扣除推广后利润", "money"), ("marketing_cost", "Marketing cost", "推广费用", "money"),
    ("roi", "ROI", "投产比", "ratio"), ("visits", "Visits", "访客数", "count"),
    ("orders", "Orders", "订单数", "count"), ("conversion_rate", "Conversion", "转化率", "pct"),
    ("aov", "AOV", "客单价", "money2"), ("add_to_carts", "Warm-up carts", "预热加购", "count"),
    ("lost_units", "Lost units", "缺货损失件数", "count"), ("stockout_minutes", "Stock-out minutes", "缺货分钟", "count"),
)
# Promotion tiles, shown only when the plan's promotion makes them non-zero (docs/promotions.md)
PROMO_TILES = (
    ("coupon_cost", "Coupon cost", "店铺券成本", "money"), ("reduction_cost", "Store's reduction share", "满减商家承担", "money"),
    ("platform_subsidy", "Platform subsidy", "平台补贴", "money"), ("deposits", "Deposits", "定金订单", "count"),
    ("deposit_forfeits", "Forfeited deposits", "定金未付尾款", "count"), ("oversold_units", "Oversold units", "超卖件数", "count"),
)


def _tile_value(v, kind: str, currency: str) -> str:
    if v is None:
        return "–"
    return {"money": lambda x: money(x, currency), "money2": lambda x: f"{x:,.2f}", "ratio": _ratio,
            "count": count, "pct": lambda x: percent(x, 2)}[kind](v)


def _tiles(d: D.ReportData) -> str:
    k = d.summary["kpis"]
    out = []
    promo = [t for t in PROMO_TILES if (k.get(t[0]) or {}).get("mean")]
    for key, en, zh, kind in (*TILES, *promo):
        q = k.get(key)
        if not q:
            continue
        unit = f" {money_unit(d.currency)}" if kind.startswith("money") else ""
        band = (f"P5–P95 {_tile_value(q['p5'], kind, d.currency)} – {_tile_value(q['p95'], kind, d.currency)}"
                if q.get("p5") is not None else "")
        out.append(f"<div class=\"tile\"><div class=\"k\">{_h(en)} · {_h(zh)}</div>"
                   f"<div class=\"v\">{_h(_tile_value(q['mean'], kind, d.currency))}<small>{_h(unit)}</small></div>"
                   f"<div class=\"r\">{_h(band)}</div></div>")
    if d.target_gmv:
        mean = k["gmv"]["mean"] or 0.0
        reached = float((d.kpis["gmv"] >= d.target_gmv).mean())
        out.insert(1, f"<div class=\"tile target\"><div class=\"k\">GMV target · 目标</div>"
                   f"<div class=\"v\">{_h(money(d.target_gmv, d.currency))}<small> {_h(money_unit(d.currency))}</small></div>"
                   f"<div class=\"r\">mean {_h(percent(mean / d.target_gmv, 1))} of target; reached in "
                   f"{_h(percent(reached, 0))} of replications</div></div>")
    return f"<div class=\"tiles\">{''.join(out)}</div>"


def _figure(f: Shown) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    return (f"<figure id=\"fig-{_h(f.name)}\"><img alt=\"{_h(f.title)}\" src=\"data:image/png;base64,{data}\">"
            f"<figcaption>{_h(f.caption)}</figcaption></figure>")


def _funnel_table(d: D.ReportData, fn: pd.DataFrame) -> str:
    header = [("Phase", "阶段", "l"), ("Kind", "", "l"), ("Visits", "访客数", "r"), ("Carts", "加购", "r"),
              ("Cart rate", "加购率", "r"), ("Orders", "订单数", "r"), ("Conversion", "转化率", "r"),
              (f"GMV ({d.currency})", "成交额", "r")]
    rows = [[name, r["kind"] or "–", count(r["visits"]), count(r["carts"]), _pct(r["cart_rate"]),
             count(r["orders"]), _pct(r["conversion_rate"]), money(r["gmv"], d.currency)] for name, r in fn.iterrows()]
    return _table(header, rows)


def _channel_table(d: D.ReportData, ch: pd.DataFrame) -> str:
    header = [("Channel", "渠道", "l"), ("Visits", "访客数", "r"), ("Orders", "订单数", "r"),
              ("Conversion", "转化率", "r"), (f"GMV ({d.currency})", "成交额", "r"),
              (f"Spend ({d.currency})", "花费", "r"), ("ROI", "投产比", "r")]
    rows = [[name, count(r["visits"]), count(r["orders"]), _pct(r["conversion_rate"]), money(r["gmv"], d.currency),
             money(r["spend"], d.currency), _ratio(r["roi"])] for name, r in ch.iterrows()]
    return _table(header, rows)


def _sku_table(d: D.ReportData, sk: pd.DataFrame, top: int = 15) -> str:
    header = [("SKU", "商品", "l"), ("Name", "名称", "l"), ("Units", "件数", "r"), (f"GMV ({d.currency})", "成交额", "r"),
              ("Lost units", "缺货损失", "r"), ("Stock-out min", "缺货分钟", "r"), ("Ending stock", "期末库存", "r"),
              ("Sell-through", "售罄率", "r")]
    rows = [[sku, r["label"] if r["label"] != sku else "", count(r["units"]), money(r["gmv"], d.currency),
             count(r["lost_units"]), count(r["stockout_minutes"]), count(r["ending_stock"]),
             _pct(r["sell_through"], 1)] for sku, r in sk.head(top).iterrows()]
    return _table(header, rows)


def _stockout_table(d: D.ReportData) -> str:
    """Every SKU's stock-out, in units and money, most lost first; and whether stock, not demand,
    stands between the plan and its GMV target."""
    so = D.stockout_table(d)
    cur = d.currency
    header = [("SKU", "商品", "l"), ("Name", "名称", "l"), ("Sold out in", "售罄比例", "r"),
              ("First sell-out (median)", "首次售罄 (中位)", "r"), ("Lost units", "缺货损失件数", "r"),
              (f"Lost GMV, est. ({money_unit(cur)})", "缺货损失金额 (估)", "r"), ("Stock-out min", "缺货分钟", "r"),
              ("Ending stock", "期末库存", "r")]
    rows = [[sku, r["label"] if r["label"] != sku else "", _pct(r["share"], 0), clock(r["first"]),
             count(r["lost_units"]), money(r["lost_gmv"], cur), count(r["stockout_minutes"]), count(r["ending_stock"])]
            for sku, r in so.iterrows()]
    return _table(header, rows) + f"<p class=\"note\">{_h(_stock_verdict(d, so))}</p>"


def _stock_verdict(d: D.ReportData, so: pd.DataFrame) -> str:
    """One sentence: how much the stock-outs cost, and whether that is what misses the target."""
    lost = float(so["lost_gmv"].sum())
    cur = d.currency
    est = ("Lost GMV is an estimate: each SKU's lost units at its average selling price in this run "
           "(GMV ÷ units). ")
    if not lost:
        return est + "No SKU turned buyers away: stock does not limit this plan."
    text = est + f"Stock-outs turned away about {amount(lost, cur)} of GMV"
    gmv = float(d.summary["kpis"]["gmv"]["mean"] or 0.0)
    if not d.target_gmv:
        return text + "."
    gap = d.target_gmv - gmv
    if gap <= 0:
        return text + f"; the plan reaches its target ({amount(d.target_gmv, cur)}) on average even so."
    if lost >= gap:
        return text + (f", more than the {amount(gap, cur)} by which the mean GMV misses the target: stock, not "
                       "demand, limits the target — more stock of the SKUs above would close the gap.")
    return text + (f", less than the {amount(gap, cur)} by which the mean GMV misses the target: even without "
                   "stock-outs the target would be missed — demand limits it.")


def _coupon_table(d: D.ReportData) -> str:
    co = D.coupons(d)
    cur = d.currency
    header = [("Coupon", "优惠券", "l"), ("Claimed", "领取", "r"), ("Redeemed", "核销", "r"),
              ("Redemption rate", "核销率", "r"), (f"Cost ({money_unit(cur)})", "成本", "r"),
              ("Pool emptied in", "领完比例", "r"), ("Pool empty (median)", "领完时间", "r")]
    rows = [[name, count(r["claimed"]), count(r["redeemed"]), _pct(r["redemption_rate"], 1), money(r["cost"], cur),
             _pct(r["emptied"], 0), clock(r["empty"])] for name, r in co.iterrows()]
    return _table(header, rows)


def _flash_table(d: D.ReportData) -> str:
    fl = D.flash_sales(d)
    cur = d.currency
    header = [("Flash sale", "秒杀", "l"), ("SKU", "商品", "l"), ("Price", "秒杀价", "r"), ("Quantity", "秒杀库存", "r"),
              ("Units", "件数", "r"), ("Sell-through", "售罄率", "r"), (f"Margin ({money_unit(cur)})", "毛利", "r"),
              ("Sold out in", "售罄比例", "r"), ("Sell-out (mean)", "售罄时间", "r")]
    rows = [[name, r["sku"], f"{r['price']:,.2f}", count(r["quantity"]), count(r["units"]),
             _pct(r["units"] / r["quantity"], 1), money(r["margin"], cur), _pct(r["sold_out_share"], 0),
             clock(r["sellout"])] for name, r in fl.iterrows()]
    return _table(header, rows)


def _promotions(d: D.ReportData) -> str:
    """Coupons, flash sales (every one, sold out or not), and what returns gave back."""
    parts = []
    if d.summary.get("coupons"):
        parts.append("<h3 class=\"note\">Store coupons · 店铺券</h3>" + _coupon_table(d))
    if len(D.flash_sales(d)):
        parts.append("<h3 class=\"note\">Flash sales · 秒杀</h3>" + _flash_table(d))
    k = d.summary["kpis"]
    get = lambda name: (k.get(name) or {}).get("mean") or 0.0                      # noqa: E731
    cur = d.currency
    parts.append(f"<p class=\"note\">Coupons cost {_h(amount(get('coupon_cost'), cur))} and the 满减 "
                 f"{_h(amount(get('reduction_cost') + get('platform_subsidy'), cur))} (the store's share "
                 f"{_h(amount(get('reduction_cost'), cur))}); {_h(count(get('returns')))} units came back, "
                 f"refunding {_h(amount(get('refunds'), cur))}. Margin of a flash sale: (flash price − unit cost) × "
                 "units; redemption rate: coupons redeemed ÷ claimed. Means over replications.</p>")
    return "".join(parts)


def _pools_table(d: D.ReportData, pl: pd.DataFrame) -> str:
    header = [("Coupon or flash sale", "优惠券 / 秒杀", "l"), ("Kind", "", "l"), ("Ran out in", "售罄次数", "r"),
              ("Earliest", "最早", "r"), ("Median", "中位", "r"), ("Latest", "最晚", "r")]
    rows = []
    for (kind, name), g in pl.groupby(["kind", "name"], sort=False):
        t = g["time"].sort_values()
        rows.append([name, kind, f"{g['replication'].nunique()} of {d.reps} replications",
                     f"{t.iloc[0]:%m-%d %H:%M}", f"{t.iloc[len(t) // 2]:%m-%d %H:%M}", f"{t.iloc[-1]:%m-%d %H:%M}"])
    return _table(header, rows)


def _ad_group_table(d: D.ReportData, groups: dict, top: int = 15) -> str:
    """An auction channel's ad groups (means), most spend first."""
    header = [("Ad group", "推广单元", "l"), ("Impressions", "展现量", "r"), ("Win rate", "竞得率", "r"),
              ("Clicks", "点击量", "r"), ("CTR", "点击率", "r"), (f"CPC ({d.currency})", "平均点击花费", "r"),
              (f"Spend ({d.currency})", "花费", "r"), (f"GMV ({d.currency})", "成交额", "r"), ("ROI", "投产比", "r")]
    ranked = sorted(groups.items(), key=lambda kv: -(kv[1].get("ad_spend") or 0))[:top]
    rows = [[name, count(g["impressions"]), _pct(g["win_rate"], 1), count(g["clicks"]), _pct(g["ctr"]),
             money(g["cpc"], d.currency), money(g["ad_spend"], d.currency), money(g["gmv"], d.currency), _ratio(g["roi"])] for name, g in ranked]
    return _table(header, rows)


def _rules_table(d: D.ReportData) -> str:
    """Mid-campaign rules: how often each fired, and when (over replications)."""
    ev = d.events[d.events["kind"] == "rule_fired"]
    header = [("Rule", "规则", "l"), ("Fired in", "触发", "r"), ("Firings per run", "每次运行", "r"),
              ("Earliest", "最早", "r"), ("Median", "中位", "r"), ("Latest", "最晚", "r")]
    rows = []
    for name, g in ev.groupby("subject", sort=False):
        t = g["time"].sort_values()
        rows.append([name, f"{g['replication'].nunique()} of {d.reps} replications", _ratio(len(g) / d.reps),
                     f"{t.iloc[0]:%m-%d %H:%M}", f"{t.iloc[len(t) // 2]:%m-%d %H:%M}", f"{t.iloc[-1]:%m-%d %H:%M}"])
    return _table(header, rows)


def _daily_table(d: D.ReportData, dy: pd.DataFrame) -> str:
    """The 日报: GMV at the activity price (成交额) and what buyers paid after coupons and
    reductions (支付金额) side by side, the promotions' cost, spend and ROI."""
    unit = money_unit(d.currency)
    header = [("Date", "日期", "l"), ("Visits", "访客数", "r"), ("Carts", "加购件数", "r"), ("Orders", "支付订单数", "r"),
              ("Conversion", "支付转化率", "r"), (f"GMV ({unit})", "成交额 (活动价)", "r"),
              (f"Paid by buyers ({unit})", "支付金额", "r"), (f"Coupons ({unit})", "店铺券成本", "r"),
              (f"Reductions ({unit})", "满减成本", "r"), ("AOV", "客单价", "r"),
              (f"Spend ({unit})", "推广花费", "r"), ("ROI", "投产比", "r"),
              (f"Profit after marketing ({unit})", "扣除推广后利润", "r"), ("Lost units", "缺货损失件数", "r"),
              ("Cumulative GMV", "累计成交额", "r")]
    target = "target_reached" in dy
    if target:
        header.append(("Of target", "目标达成", "r"))
    cur = d.currency
    rows, classes = [], []
    peak = dy["gmv"].idxmax() if len(dy) else None
    for i, r in dy.iterrows():
        date = pd.Timestamp(r["date"])
        row = [f"{date:%Y-%m-%d} {date:%a}", count(r["visits"]), count(r["carts"]), count(r["orders"]),
               _pct(r["conversion_rate"]), money(r["gmv"], cur), money(r.get("paid_by_buyers"), cur),
               money(r.get("coupon_cost"), cur), money(r.get("reduction_cost"), cur), money(r["aov"], cur),
               money(r["spend"], cur), _ratio(r["roi"]), money(r["profit"], cur), count(r["lost_units"]),
               money(r["gmv_cumulative"], cur)]
        if target:
            row.append(_pct(r["target_reached"], 1))
        rows.append(row)
        classes.append("peak" if i == peak else "")
    s = dy.sum(numeric_only=True)
    total = ["Total", count(s["visits"]), count(s["carts"]), count(s["orders"]),
             _pct(s["orders"] / s["visits"] if s["visits"] else None), money(s["gmv"], cur),
             money(s.get("paid_by_buyers"), cur), money(s.get("coupon_cost"), cur), money(s.get("reduction_cost"), cur),
             money(s["gmv"] / s["orders"] if s["orders"] else None, cur), money(s["spend"], cur),
             _ratio(s["gmv"] / s["spend"] if s["spend"] else None), money(s["profit"], cur), count(s["lost_units"]),
             money(s["gmv"], cur)]
    if target:
        total.append(_pct(s["gmv"] / d.target_gmv, 1))
    return _table(header, rows, total, classes)


def page(d: D.ReportData, figures: list[Shown], *, font_css: str, font_stack: str, font_note: str) -> str:
    """The whole page as text. `font_css` is an @font-face rule (may be empty)."""
    fn, ch, sk, dy = D.funnel(d), D.channels(d), D.skus(d), D.daily(d)
    figs = {f.name: f for f in figures}
    run = d.run
    sections = [
        f"<h1>{_h(d.name)}</h1>",
        (f"<p class=\"sub\">{_h(f'{d.start:%Y-%m-%d %H:%M} – {d.end:%Y-%m-%d %H:%M}')} ({_h(d.timezone)}) · "
         f"{d.reps} replications, seed {_h(d.summary.get('seed'))} · {_h(d.summary.get('engine', ''))} engine · "
         f"money in {_h(d.currency)} · {len(d.scenario.get('channels', {}))} channels, "
         f"{len(d.scenario.get('skus', {}))} SKUs. Values are means over replications; "
         f"P5–P95 is the spread across them.</p>"),
        _tiles(d),
    ]

    def fig(name: str, heading: str, extra: str = "") -> None:
        if name in figs:
            sections.append(f"<h2 id=\"s-{_h(name)}\">{_h(heading)}</h2>{_figure(figs[name])}{extra}")

    fig("big_day", "The big day · 大促当天")
    fig("cumulative_gmv", "GMV over the campaign")
    fig("tornado", "What moves GMV most · 关键假设")
    fig("heatmap_gmv", "When the money comes in: GMV by day and hour")
    fig("heatmap_visits", "When shoppers come: visits by day and hour")
    fig("channels", "Channels · 渠道", _channel_table(d, ch))
    for name, kpis in d.summary.get("channels", {}).items():
        if kpis.get("ad_groups"):
            sections.append(f"<h2>{_h(name)}: ad groups · 推广单元</h2>{_ad_group_table(d, kpis['ad_groups'])}"
                            "<p class=\"note\">Means over replications, the 15 ad groups with the most spend. "
                            "Win rate = impressions ÷ auctions taken part in; a group's orders and GMV are its "
                            "channel's of each hour in proportion to its clicks (docs/auctions.md).</p>")
    if (d.events["kind"] == "rule_fired").any():
        sections.append(f"<h2>Mid-campaign rules · 追加预算规则</h2>{_rules_table(d)}")
    fig("funnel", "Funnel by phase · 分阶段转化", _funnel_table(d, fn))
    fig("stock", "Stock · 库存", "<h3 class=\"note\">Top SKUs by GMV</h3>" + _sku_table(d, sk))
    sections.append(f"<h2 id=\"stockouts\">Every SKU's stock-out · 缺货</h2>{_stockout_table(d)}")
    if d.summary.get("coupons") or d.scenario.get("flash_sales"):
        sections.append(f"<h2 id=\"promotions\">Promotions and their cost · 促销成本</h2>{_promotions(d)}")
    pl = D.pools(d)
    if len(pl):
        fig("pools", "Coupons and flash sales · 优惠券与秒杀", _pools_table(d, pl))
    sections.append(f"<h2 id=\"daily\">Daily report · 日报</h2>{_daily_table(d, dy)}"
                    "<p class=\"note\">Means over replications; the busiest day is highlighted. GMV (成交额) "
                    "is at the activity price, before coupons and reductions; paid by buyers (支付金额) is what "
                    "buyers paid after them (docs/kpis.md). Conversion = orders ÷ visits; AOV (客单价) = GMV ÷ "
                    "orders; ROI = GMV ÷ spend (ad spend, fees and commissions). Reductions: the whole 满减, "
                    "the store's share and the platform's. Profit after marketing: the day's net sales less COGS, "
                    "marketing, platform fee, shipping and return handling; the write-offs of returns and "
                    "leftover stock fall on the last day, so the days add up to the run's profit.</p>")
    prov = [f"results folder: {d.out_dir.name}/"]
    if run.get("version"):
        prov.append(f"promosim {run['version']}")
    if run.get("command"):
        prov.append(f"command: {run['command']}")
    if run.get("finished"):
        prov.append(f"run finished {run['finished']}")
    sections.append(
        "<footer><h2>Notes</h2><p>Every number comes from the results folder (summary.json, scenario.json, "
        "kpis, timeseries, events). Hourly figures give each hour to the phase its start falls in. "
        f"Figures are also saved as PNG files in figures/. {_h(font_note)}</p>"
        f"<p>{_h(' · '.join(prov))}</p></footer>")
    body = "\n".join(sections)
    return _document(d, body, font_css, font_stack)


def _document(d: D.ReportData, body: str, font_css: str, font_stack: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-Hans\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<link rel=\"icon\" href=\"data:,\">\n"
        f"<title>{_h(d.name)} — promosim report</title>\n"
        f"<style>\n{font_css}\n{CSS % {'fonts': font_stack}}</style>\n</head>\n"
        f"<body><main>\n{body}\n</main></body>\n</html>\n"
    )


def page_text(html: str) -> str:
    """The characters a page's font must cover: its text plus printable ASCII."""
    return "".join(sorted(set(html) | set(string.printable.strip())))
