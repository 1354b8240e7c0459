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
from simulator.formats import clock, count
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
           classes: list[str] | None = None, lang: str = "both") -> str:
    """header: (english, chinese, align 'l'|'r'); cells are already formatted text. `lang`: both
    (English with the Chinese beneath), en or zh (one; a column without Chinese keeps its English)."""
    def head(en: str, zh: str) -> str:
        if lang == "both":
            return _h(en) + (f"<span class=\"zh\">{_h(zh)}</span>" if zh else "")
        return _h(zh or en) if lang == "zh" else _h(en)

    th = "".join(f"<th class=\"{a}\">{head(en, zh)}</th>" for en, zh, a in header)
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
# Basket tiles, shown only when orders take add-ons (docs/promotions.md, "Baskets of several SKUs")
BASKET_TILES = (
    ("items_per_order", "Items per order", "连带率", "money2"), ("addon_units", "Add-on units", "搭配件数", "count"),
)


def _tile_value(v, kind: str, d: D.ReportData) -> str:
    if v is None:
        return "–"
    return {"money": d.money, "money2": lambda x: f"{x:,.2f}", "ratio": _ratio,
            "count": count, "pct": lambda x: percent(x, 2)}[kind](v)


def _tiles(d: D.ReportData) -> str:
    k = d.summary["kpis"]
    out = []
    promo = [t for t in PROMO_TILES if (k.get(t[0]) or {}).get("mean")]
    if (k.get("addon_units") or {}).get("mean"):
        promo += BASKET_TILES
    for key, en, zh, kind in (*TILES, *promo):
        q = k.get(key)
        if not q:
            continue
        unit = f" {d.unit}" if kind.startswith("money") else ""
        band = (f"P5–P95 {_tile_value(q['p5'], kind, d)} – {_tile_value(q['p95'], kind, d)}"
                if q.get("p5") is not None else "")
        out.append(f"<div class=\"tile\"><div class=\"k\">{_h(d.heading(en, zh))}</div>"
                   f"<div class=\"v\">{_h(_tile_value(q['mean'], kind, d))}<small>{_h(unit)}</small></div>"
                   f"<div class=\"r\">{_h(band)}</div></div>")
    if d.target_gmv:
        mean = k["gmv"]["mean"] or 0.0
        reached = float((d.kpis["gmv"] >= d.target_gmv).mean())
        share, hit = percent(mean / d.target_gmv, 1), percent(reached, 0)
        note = d.say(f"mean {share} of target; reached in {hit} of replications", f"均值为目标的 {share}；{hit} 的模拟达成")
        out.insert(1, f"<div class=\"tile target\"><div class=\"k\">{_h(d.heading('GMV target', '成交额目标'))}</div>"
                   f"<div class=\"v\">{_h(d.money(d.target_gmv))}<small> {_h(d.unit)}</small></div>"
                   f"<div class=\"r\">{_h(note)}</div></div>")
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
             count(r["orders"]), _pct(r["conversion_rate"]), d.money(r["gmv"])] for name, r in fn.iterrows()]
    return _table(header, rows, lang=d.lang)


def _channel_table(d: D.ReportData, ch: pd.DataFrame) -> str:
    """Per channel: traffic, GMV, spend and ROI against its break-even ROI (loss-making channels
    marked), and how much of its media budget it used."""
    header = [("Channel", "渠道", "l"), ("Visits", "访客数", "r"), ("Orders", "订单数", "r"),
              ("Conversion", "转化率", "r"), (f"GMV ({d.unit})", "成交额", "r"),
              (f"Spend ({d.unit})", "花费", "r"), ("ROI", "投产比", "r"), ("Break-even ROI", "保本投产比", "r"),
              ("Budget used", "预算使用率", "r")]
    rows = []
    for name, r in ch.iterrows():
        even = r.get("break_even_roi")
        even = None if even is None or pd.isna(even) else float(even)
        loss = even is not None and pd.notna(r["roi"]) and r["roi"] < even
        budget = r.get("budget")
        used = r["ad_spend"] / budget if budget is not None and pd.notna(budget) and budget > 0 else None
        rows.append([name, count(r["visits"]), count(r["orders"]), _pct(r["conversion_rate"]), d.money(r["gmv"]),
                     d.money(r["spend"]), _ratio(r["roi"]) + (d.say(" (loss)", "（亏损）") if loss else ""),
                     _ratio(even) if pd.notna(r["roi"]) else "–", _pct(used, 0)])
    return _table(header, rows, lang=d.lang)


def _budget_days(d: D.ReportData) -> str:
    """Daily budget used, one row per channel with a budget: its days, spend, its campaign budget
    (`budget` of the channel KPIs: the total budget, or the daily budgets summed if smaller), the
    share used, on how many days the budget ran out (in at least half of the
    replications) and the median run-out time of the first of those days; and one line naming the
    channels left out (no budget)."""
    db = D.daily_budgets(d)
    header = [("Channel", "渠道", "l"), ("Days", "天数", "r"), (f"Spend ({d.unit})", "花费", "r"),
              (f"Budget ({d.unit})", "预算", "r"), ("Used", "使用率", "r"),
              ("Ran out on", "预算用完天数", "r"), ("First run-out (median)", "首次用完 (中位)", "r")]
    rows = []
    for name, g in db.groupby("channel", sort=False):
        out = g[g["ran_out_share"] >= 0.5]
        budget = d.summary["channels"][name].get("budget")
        rows.append([name, count(len(g)), d.money(g["spend"].sum()), d.money(budget),
                     _pct(g["spend"].sum() / budget if budget else None, 0),
                     d.say(f"{len(out)} of {len(g)} days", f"{len(out)} / {len(g)} 天"),
                     out["ran_out"].iloc[0] if len(out) else "–"])
    left = D.unbudgeted(d)
    note = (d.say("Channels without a budget are left out: ", "没有预算的渠道未列出：") + d.say(", ", "、").join(left) +
            d.say(".", "。")) if left else ""
    return (_table(header, rows, lang=d.lang) + "<p class=\"note\">" + _h(d.say(
        "Spend and budget over the campaign (means over replications; the budget is the total budget, or the "
        "daily budgets summed when that is smaller); a day's budget is the daily budget in "
        "force that day, with what the day before left under carry-over, within what the total budget had left "
        "(docs/kpis.md). A budget ran out on a day when it was spent in at least half of the replications; the "
        "figure gives each day. ",
        "整个活动的花费与预算（各次模拟均值；预算为总预算，或各日预算之和，取较小者）；当日预算为当天生效的日预算，加上结转的前一日余额，且不超过总预算的剩余"
        "（docs/kpis.md）。至少一半的模拟中预算花完的一天计为预算用完；逐日数字见上图。") + note) + "</p>")


def _sku_table(d: D.ReportData, sk: pd.DataFrame, top: int = 15) -> str:
    header = [("SKU", "商品", "l"), ("Name", "名称", "l"), ("Units", "件数", "r"), (f"GMV ({d.currency})", "成交额", "r"),
              ("Lost units", "缺货损失", "r"), ("Stock-out min", "缺货分钟", "r"), ("Ending stock", "期末库存", "r"),
              ("Sell-through", "售罄率", "r")]
    rows = [[sku, r["label"] if r["label"] != sku else "", count(r["units"]), d.money(r["gmv"]),
             count(r["lost_units"]), count(r["stockout_minutes"]), count(r["ending_stock"]),
             _pct(r["sell_through"], 1)] for sku, r in sk.head(top).iterrows()]
    return _table(header, rows, lang=d.lang)


def _stockout_table(d: D.ReportData) -> str:
    """Every SKU's stock-out, in units and money, most lost first; and whether stock, not demand,
    stands between the plan and its GMV target."""
    so = D.stockout_table(d)
    header = [("SKU", "商品", "l"), ("Name", "名称", "l"), ("Sold out in", "售罄比例", "r"),
              ("First sell-out (median)", "首次售罄 (中位)", "r"), ("Lost units", "缺货损失件数", "r"),
              (f"Lost GMV, est. ({d.unit})", "缺货损失金额 (估)", "r"), ("Stock-out min", "缺货分钟", "r"),
              ("Ending stock", "期末库存", "r")]
    rows = [[sku, r["label"] if r["label"] != sku else "", _pct(r["share"], 0), clock(r["first"]),
             count(r["lost_units"]), d.money(r["lost_gmv"]), count(r["stockout_minutes"]), count(r["ending_stock"])]
            for sku, r in so.iterrows()]
    if so["switched_units"].any():                           # buyers who took another SKU instead
        header.insert(6, ("Switched units", "缺货转买件数", "r"))
        for row, (_, r) in zip(rows, so.iterrows()):
            row.insert(6, count(r["switched_units"]))
    return _table(header, rows, lang=d.lang) + f"<p class=\"note\">{_h(_stock_verdict(d, so))}</p>"


def _stock_verdict(d: D.ReportData, so: pd.DataFrame) -> str:
    """One sentence: how much the stock-outs cost, and whether that is what misses the target."""
    lost = float(so["lost_gmv"].sum())
    say = d.say
    est = say("Lost GMV: each unit turned away at the activity price its buyer would have paid. ",
              "缺货损失金额：每件缺货按买家本应支付的活动价计。")
    if not lost:
        return est + say("No SKU turned buyers away: stock does not limit this plan.", "没有商品因缺货流失买家：库存不限制本计划。")
    text = est + say(f"Stock-outs turned away about {d.amount(lost)} of GMV", f"缺货约流失 {d.amount(lost)} 成交额")
    gmv = float(d.summary["kpis"]["gmv"]["mean"] or 0.0)
    if not d.target_gmv:
        return text + say(".", "。")
    gap = d.target_gmv - gmv
    if gap <= 0:
        return text + say(f"; the plan reaches its target ({d.amount(d.target_gmv)}) on average even so.",
                          f"；即便如此，计划平均仍达成目标（{d.amount(d.target_gmv)}）。")
    if lost >= gap:
        return text + say(f", more than the {d.amount(gap)} by which the mean GMV misses the target: stock, not "
                          "demand, limits the target — more stock of the SKUs above would close the gap.",
                          f"，超过平均成交额与目标之间 {d.amount(gap)} 的差距：限制目标的是库存而非需求——"
                          "为上列商品加库存即可补上差距。")
    return text + say(f", less than the {d.amount(gap)} by which the mean GMV misses the target: even without "
                      "stock-outs the target would be missed — demand limits it.",
                      f"，少于平均成交额与目标之间 {d.amount(gap)} 的差距：即使不缺货也达不成目标——限制目标的是需求。")


def _coupon_table(d: D.ReportData) -> str:
    co = D.coupons(d)
    header = [("Coupon", "优惠券", "l"), ("Claimed", "领取", "r"), ("Redeemed", "核销", "r"),
              ("Redemption rate", "核销率", "r"), (f"Cost ({d.unit})", "成本", "r"),
              ("Pool emptied in", "领完比例", "r"), ("Pool empty (median)", "领完时间", "r")]
    rows = [[name, count(r["claimed"]), count(r["redeemed"]), _pct(r["redemption_rate"], 1), d.money(r["cost"]),
             _pct(r["emptied"], 0), clock(r["empty"])] for name, r in co.iterrows()]
    return _table(header, rows, lang=d.lang)


def _flash_table(d: D.ReportData) -> str:
    fl = D.flash_sales(d)
    header = [("Flash sale", "秒杀", "l"), ("SKU", "商品", "l"), ("Price", "秒杀价", "r"), ("Quantity", "秒杀库存", "r"),
              ("Units", "件数", "r"), ("Sell-through", "售罄率", "r"), (f"Margin ({d.unit})", "毛利", "r"),
              ("Sold out in", "售罄比例", "r"), ("Sell-out (mean)", "售罄时间", "r")]
    rows = [[name, r["sku"], f"{r['price']:,.2f}", count(r["quantity"]), count(r["units"]),
             _pct(r["units"] / r["quantity"], 1), d.money(r["margin"]), _pct(r["sold_out_share"], 0),
             clock(r["sellout"])] for name, r in fl.iterrows()]
    return _table(header, rows, lang=d.lang)


def _promotions(d: D.ReportData) -> str:
    """Coupons, flash sales (every one, sold out or not), and what returns gave back."""
    parts = []
    if d.summary.get("coupons"):
        parts.append(f"<h3 class=\"note\">{_h(d.heading('Store coupons', '店铺券'))}</h3>" + _coupon_table(d))
    if len(D.flash_sales(d)):
        parts.append(f"<h3 class=\"note\">{_h(d.heading('Flash sales', '秒杀'))}</h3>" + _flash_table(d))
    k = d.summary["kpis"]
    get = lambda name: (k.get(name) or {}).get("mean") or 0.0
    coupons, red, own = get("coupon_cost"), get("reduction_cost") + get("platform_subsidy"), get("reduction_cost")
    parts.append("<p class=\"note\">" + _h(d.say(
        f"Coupons cost {d.amount(coupons)} and the 满减 {d.amount(red)} (the store's share {d.amount(own)}); "
        f"{count(get('returns'))} units came back, refunding {d.amount(get('refunds'))}. Margin of a flash sale: "
        "(flash price − unit cost) × units; redemption rate: coupons redeemed ÷ claimed. Means over replications.",
        f"店铺券成本 {d.amount(coupons)}，满减 {d.amount(red)}（商家承担 {d.amount(own)}）；退货 "
        f"{count(get('returns'))} 件，退款 {d.amount(get('refunds'))}。秒杀毛利 =（秒杀价 − 单位成本）× 件数；"
        "核销率 = 核销 ÷ 领取。各次模拟均值。")) + "</p>")
    return "".join(parts)


def _pools_table(d: D.ReportData, pl: pd.DataFrame) -> str:
    header = [("Coupon or flash sale", "优惠券 / 秒杀", "l"), ("Kind", "", "l"), ("Ran out in", "售罄次数", "r"),
              ("Earliest", "最早", "r"), ("Median", "中位", "r"), ("Latest", "最晚", "r")]
    rows = []
    for (kind, name), g in pl.groupby(["kind", "name"], sort=False):
        t = g["time"].sort_values()
        rows.append([name, kind, f"{g['replication'].nunique()} of {d.reps} replications",
                     f"{t.iloc[0]:%m-%d %H:%M}", f"{t.iloc[len(t) // 2]:%m-%d %H:%M}", f"{t.iloc[-1]:%m-%d %H:%M}"])
    return _table(header, rows, lang=d.lang)


def _ad_group_table(d: D.ReportData, groups: dict, top: int = 15) -> str:
    """An auction channel's ad groups (means), most spend first."""
    header = [("Ad group", "推广单元", "l"), ("Impressions", "展现量", "r"), ("Win rate", "竞得率", "r"),
              ("Clicks", "点击量", "r"), ("CTR", "点击率", "r"), (f"CPC ({d.currency})", "平均点击花费", "r"),
              (f"Spend ({d.currency})", "花费", "r"), (f"GMV ({d.currency})", "成交额", "r"), ("ROI", "投产比", "r")]
    ranked = sorted(groups.items(), key=lambda kv: -(kv[1].get("ad_spend") or 0))[:top]
    rows = [[name, count(g["impressions"]), _pct(g["win_rate"], 1), count(g["clicks"]), _pct(g["ctr"]),
             d.money(g["cpc"]), d.money(g["ad_spend"]), d.money(g["gmv"]), _ratio(g["roi"])] for name, g in ranked]
    return _table(header, rows, lang=d.lang)


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
    return _table(header, rows, lang=d.lang)


def _daily_table(d: D.ReportData, dy: pd.DataFrame) -> str:
    """The 日报: GMV at the activity price (成交额) and what buyers paid after coupons and
    reductions (支付金额) side by side, the promotions' cost, spend and ROI."""
    unit = d.unit
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
    rows, classes = [], []
    peak = dy["gmv"].idxmax() if len(dy) else None
    for i, r in dy.iterrows():
        date = pd.Timestamp(r["date"])
        row = [f"{date:%Y-%m-%d} " + d.say(f"{date:%a}", "周" + "一二三四五六日"[date.weekday()]), count(r["visits"]), count(r["carts"]), count(r["orders"]),
               _pct(r["conversion_rate"]), d.money(r["gmv"]), d.money(r.get("paid_by_buyers")),
               d.money(r.get("coupon_cost")), d.money(r.get("reduction_cost")), d.money(r["aov"]),
               d.money(r["spend"]), _ratio(r["roi"]), d.money(r.get("profit")), count(r["lost_units"]),
               d.money(r["gmv_cumulative"])]
        if target:
            row.append(_pct(r["target_reached"], 1))
        rows.append(row)
        classes.append("peak" if i == peak else "")
    s = dy.sum(numeric_only=True)
    total = [d.say("Total", "合计"), count(s["visits"]), count(s["carts"]), count(s["orders"]),
             _pct(s["orders"] / s["visits"] if s["visits"] else None), d.money(s["gmv"]),
             d.money(s.get("paid_by_buyers")), d.money(s.get("coupon_cost")), d.money(s.get("reduction_cost")),
             d.money(s["gmv"] / s["orders"] if s["orders"] else None), d.money(s["spend"]),
             _ratio(s["gmv"] / s["spend"] if s["spend"] else None), d.money(s.get("profit")), count(s["lost_units"]),
             d.money(s["gmv"])]
    if target:
        total.append(_pct(s["gmv"] / d.target_gmv, 1))
    return _table(header, rows, total, classes, lang=d.lang)


def page(d: D.ReportData, figures: list[Shown], *, font_css: str, font_stack: str, font_note: str) -> str:
    """The whole page as text. `font_css` is an @font-face rule (may be empty)."""
    fn, ch, sk, dy = D.funnel(d), D.channels(d), D.skus(d), D.daily(d)
    figs = {f.name: f for f in figures}
    run = d.run
    say, heading = d.say, d.heading
    span = f"{d.start:%Y-%m-%d %H:%M} – {d.end:%Y-%m-%d %H:%M} ({d.timezone})"
    n_ch, n_sku = len(d.scenario.get("channels", {})), len(d.scenario.get("skus", {}))
    sections = [
        f"<h1>{_h(d.name)}</h1>",
        "<p class=\"sub\">" + _h(say(
            f"{span} · {d.reps} replications, seed {d.summary.get('seed')} · {d.summary.get('engine', '')} engine · "
            f"money in {d.currency} · {n_ch} channels, {n_sku} SKUs. Values are means over replications; "
            "P5–P95 is the spread across them.",
            f"{span} · {d.reps} 次模拟，种子 {d.summary.get('seed')} · {d.summary.get('engine', '')} 引擎 · "
            f"币种 {d.currency} · {n_ch} 个渠道，{n_sku} 个商品。数值为各次模拟的均值；P5–P95 为其分布范围。")) + "</p>",
        _tiles(d),
    ]

    def fig(name: str, title: str, extra: str = "") -> None:
        if name in figs:
            sections.append(f"<h2 id=\"s-{_h(name)}\">{_h(title)}</h2>{_figure(figs[name])}{extra}")

    fig("big_day", heading("The big day", "大促当天"))
    fig("cumulative_gmv", heading("GMV over the campaign", "活动累计成交"))
    fig("tornado", heading("What moves GMV most", "关键假设"))
    fig("heatmap_gmv", heading("When the money comes in: GMV by day and hour", "成交时段：按日期与小时"))
    fig("heatmap_visits", heading("When shoppers come: visits by day and hour", "访客时段：按日期与小时"))
    fig("channels", heading("Channels", "渠道"), _channel_table(d, ch))
    if "daily_budget" in figs:
        sections.append(f"<h2 id=\"daily-budget\">{_h(heading('Daily budget used', '每日预算使用'))}</h2>"
                        f"{_figure(figs['daily_budget'])}{_budget_days(d)}")
    for name, kpis in d.summary.get("channels", {}).items():
        if kpis.get("ad_groups"):
            sections.append(f"<h2>{_h(name)}: {_h(heading('ad groups', '推广单元'))}</h2>"
                            f"{_ad_group_table(d, kpis['ad_groups'])}<p class=\"note\">" + _h(say(
                                "Means over replications, the 15 ad groups with the most spend. Win rate = "
                                "impressions ÷ auctions taken part in; a group's orders and GMV are its channel's "
                                "of each hour in proportion to its clicks (docs/auctions.md).",
                                "各次模拟均值，花费最多的 15 个推广单元。竞得率 = 展现 ÷ 参与的竞价；推广单元的订单与"
                                "成交额按其点击占渠道每小时点击的比例分摊（docs/auctions.md）。")) + "</p>")
    if (d.events["kind"] == "rule_fired").any():
        sections.append(f"<h2>{_h(heading('Mid-campaign rules', '追加预算规则'))}</h2>{_rules_table(d)}")
    fig("funnel", heading("Funnel by phase", "分阶段转化"), _funnel_table(d, fn))
    fig("stock", heading("Stock", "库存"),
        f"<h3 class=\"note\">{_h(say('Top SKUs by GMV', '成交额最高的商品'))}</h3>" + _sku_table(d, sk))
    sections.append(f"<h2 id=\"stockouts\">{_h(heading('Every SKU' + chr(39) + 's stock-out', '缺货'))}</h2>"
                    f"{_stockout_table(d)}")
    if d.summary.get("coupons") or d.scenario.get("flash_sales"):
        sections.append(f"<h2 id=\"promotions\">{_h(heading('Promotions and their cost', '促销成本'))}</h2>"
                        f"{_promotions(d)}")
    pl = D.pools(d)
    if len(pl):
        fig("pools", heading("Coupons and flash sales", "优惠券与秒杀"), _pools_table(d, pl))
    sections.append(f"<h2 id=\"daily\">{_h(heading('Daily report', '日报'))}</h2>{_daily_table(d, dy)}"
                    "<p class=\"note\">" + _h(say(
                        "Means over replications; the busiest day is highlighted. GMV (成交额) is at the activity "
                        "price, before coupons and reductions; paid by buyers (支付金额) is what buyers paid after "
                        "them (docs/kpis.md). Conversion = orders ÷ visits; AOV (客单价) = GMV ÷ orders; ROI = GMV ÷ "
                        "spend (ad spend, fees and commissions). Reductions: the whole 满减, the store's share and "
                        "the platform's. Profit after marketing: the day's net sales less COGS, marketing, platform "
                        "fee, shipping and return handling; the write-offs of returns and leftover stock fall on "
                        "the last day, so the days add up to the run's profit.",
                        "各次模拟均值；最忙的一天高亮。成交额按活动价计，未扣优惠券与满减；支付金额为买家扣除优惠后"
                        "实际支付（docs/kpis.md）。支付转化率 = 订单 ÷ 访客；客单价 = 成交额 ÷ 订单；投产比 = 成交额 ÷ "
                        "推广花费（广告费、固定费用与佣金）。满减成本为全部满减，含商家与平台承担。扣除推广后利润："
                        "当日净销售额减去商品成本、推广、平台费、运费与退货处理；退货与剩余库存的核销计入最后一天，"
                        "各日相加等于整个活动的利润。")) + "</p>")
    prov = [say(f"results folder: {d.out_dir.name}/", f"结果目录：{d.out_dir.name}/")]
    if run.get("version"):
        prov.append(f"promosim {run['version']}")
    if run.get("command"):
        prov.append(say(f"command: {run['command']}", f"命令：{run['command']}"))
    if run.get("finished"):
        prov.append(say(f"run finished {run['finished']}", f"完成于 {run['finished']}"))
    sections.append(
        f"<footer><h2>{_h(say('Notes', '说明'))}</h2><p>" + _h(say(
            "Every number comes from the results folder (summary.json, scenario.json, kpis, timeseries, events). "
            "Hourly figures give each hour to the phase its start falls in. Figures are also saved as PNG files "
            "in figures/, the tables as daily_report.xlsx.",
            "所有数字均来自结果目录（summary.json、scenario.json、kpis、timeseries、events）。每小时归属其开始时刻"
            "所在的阶段。图表另存为 figures/ 中的 PNG 文件，表格另存为 daily_report.xlsx。")) +
        f" {_h(font_note)}</p><p>{_h(' · '.join(prov))}</p></footer>")
    body = "\n".join(sections)
    return _document(d, body, font_css, font_stack)


def _document(d: D.ReportData, body: str, font_css: str, font_stack: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html lang=\"{'en' if d.lang == 'en' else 'zh-Hans'}\">\n<head>\n<meta charset=\"utf-8\">\n"
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
