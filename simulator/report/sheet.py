"""`daily_report.xlsx`: the daily sheet a planner sends, beside report.html.

Six sheets, each with an English and a Chinese header row and the panes frozen below them:
日报 Daily (a row per day and a total), 渠道 Channels, 预算 Budgets (a row per channel with a
budget and day: spend, the day's budget, the share used, when it ran out), 商品 SKUs (every
SKU, with its sell-out), 优惠券 Coupons and 秒杀 Flash sales. Cells hold numbers, not text, so the sheet can be summed
and charted; Excel's number formats show money and counts as whole numbers with thousands
separators, rates as percentages and times as clock times ("11-11 00:24", the store's local
time). Every figure is a mean over replications, read from the results folder
(summary.json, events) like the report.
"""

from __future__ import annotations

import io
import re
import zipfile

import pandas as pd

import simulator.report.data as D
from simulator.formats import money_unit

MONEY, MONEY2, COUNT, RATE, RATIO, CLOCK, TEXT = "#,##0", "#,##0.00", "#,##0", "0.00%", "0.00", "mm-dd hh:mm", "@"


def _sheet(wb, title: str, columns: list[tuple[str, str, str]], rows: list[list], total: list | None = None):
    """One sheet: `columns` (English, Chinese, number format), `rows` of cell values (None: empty)."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    head = PatternFill("solid", fgColor="F1F3F5")
    for j, (en, zh, _fmt) in enumerate(columns, start=1):
        for i, text in ((1, en), (2, zh)):
            c = ws.cell(row=i, column=j, value=text)
            c.fill, c.font = head, Font(bold=i == 1, color="000000" if i == 1 else "6C757D")
            c.alignment = Alignment(horizontal="left" if j == 1 else "right")
    for r, row in enumerate([*rows, *([total] if total else [])], start=3):
        for j, (value, (_en, _zh, fmt)) in enumerate(zip(row, columns), start=1):
            c = ws.cell(row=r, column=j, value=value)
            c.number_format = fmt
            if total and r == len(rows) + 3:
                c.font, c.border = Font(bold=True), Border(top=Side(style="thin"))
    for j, (en, zh, fmt) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(len(en) + 2, 2 * len(zh) + 2, 12 if fmt != TEXT else 16)
    ws.freeze_panes = "B3"
    return ws


def _local(t) -> object:
    """A local time as Excel holds it (no zone: Excel has none); None when there is none."""
    return None if t is None or pd.isna(t) else pd.Timestamp(t).tz_localize(None).to_pydatetime()


def _num(v):
    return None if v is None or pd.isna(v) else float(v)


def daily_sheet(wb, d: D.ReportData) -> None:
    dy = D.daily(d)
    u = money_unit(d.currency)
    cols = [("Date", "日期", "yyyy-mm-dd"), ("Visits", "访客数", COUNT), ("Carts", "加购件数", COUNT),
            ("Orders", "支付订单数", COUNT), ("Conversion", "支付转化率", RATE),
            (f"GMV ({u})", "成交额 (活动价)", MONEY), (f"Paid by buyers ({u})", "支付金额", MONEY),
            (f"Coupons ({u})", "店铺券成本", MONEY), (f"Reductions ({u})", "满减成本", MONEY),
            (f"AOV ({u})", "客单价", MONEY2), (f"Spend ({u})", "推广花费", MONEY), ("ROI", "投产比", RATIO),
            (f"Profit after marketing ({u})", "扣除推广后利润", MONEY), ("Lost units", "缺货损失件数", COUNT),
            (f"Cumulative GMV ({u})", "累计成交额", MONEY)]
    keys = ["visits", "carts", "orders", "conversion_rate", "gmv", "paid_by_buyers", "coupon_cost",
            "reduction_cost", "aov", "spend", "roi", "profit", "lost_units", "gmv_cumulative"]
    if d.target_gmv:
        cols.append(("Of target", "目标达成", RATE))
        keys.append("target_reached")
    rows = [[pd.Timestamp(r["date"]).to_pydatetime()] + [_num(r.get(k)) for k in keys] for _, r in dy.iterrows()]
    s = dy.sum(numeric_only=True)
    ratio = lambda a, b: float(a / b) if b else None
    total = ["Total 合计", s["visits"], s["carts"], s["orders"], ratio(s["orders"], s["visits"]), s["gmv"],
             s.get("paid_by_buyers"), s.get("coupon_cost"), s.get("reduction_cost"), ratio(s["gmv"], s["orders"]),
             s["spend"], ratio(s["gmv"], s["spend"]), s.get("profit"), s["lost_units"], s["gmv"]]
    if d.target_gmv:
        total.append(ratio(s["gmv"], d.target_gmv))
    _sheet(wb, "日报 Daily", cols, rows, [_num(x) if not isinstance(x, str) else x for x in total])


def channel_sheet(wb, d: D.ReportData) -> None:
    ch = D.channels(d)
    u = money_unit(d.currency)
    cols = [("Channel", "渠道", TEXT), ("Visits", "访客数", COUNT), ("Orders", "订单数", COUNT),
            ("Conversion", "转化率", RATE), (f"GMV ({u})", "成交额", MONEY), (f"Spend ({u})", "花费", MONEY),
            ("ROI", "投产比", RATIO), (f"Budget ({u})", "预算", MONEY)]
    rows = [[name, _num(r["visits"]), _num(r["orders"]), _num(r["conversion_rate"]), _num(r["gmv"]),
             _num(r["spend"]), _num(r["roi"]), _num(r.get("budget"))] for name, r in ch.iterrows()]
    _sheet(wb, "渠道 Channels", cols, rows)


def sku_sheet(wb, d: D.ReportData) -> None:
    sk = D.skus(d)
    out = D.sellouts(d)
    u = money_unit(d.currency)
    cols = [("SKU", "商品", TEXT), ("Name", "名称", TEXT), ("Units", "件数", COUNT), (f"GMV ({u})", "成交额", MONEY),
            ("Sold out in", "售罄比例", RATE), ("First sell-out (median)", "首次售罄 (中位)", CLOCK),
            ("Lost units", "缺货损失件数", COUNT), ("Stock-out minutes", "缺货分钟", COUNT),
            ("Ending stock", "期末库存", COUNT), ("Sell-through", "售罄率", RATE)]
    rows = [[sku, r["label"], _num(r["units"]), _num(r["gmv"]), float(out.loc[sku, "share"]),
             _local(out.loc[sku, "median"]), _num(r["lost_units"]), _num(r["stockout_minutes"]),
             _num(r["ending_stock"]), _num(r["sell_through"])] for sku, r in sk.iterrows()]
    _sheet(wb, "商品 SKUs", cols, rows)


def coupon_sheet(wb, d: D.ReportData) -> None:
    u = money_unit(d.currency)
    cols = [("Coupon", "优惠券", TEXT), ("Claimed", "领取", COUNT), ("Redeemed", "核销", COUNT),
            ("Redemption rate", "核销率", RATE), (f"Cost ({u})", "成本", MONEY), ("Pool empty (mean)", "领完时间", CLOCK)]
    rows = [[name, r["claimed"], r["redeemed"], _num(r["redemption_rate"]), r["cost"],
             _local(D.at_minute(d, d.summary["coupons"][name].get("empty_minute")))]
            for name, r in D.coupons(d).iterrows()]
    _sheet(wb, "优惠券 Coupons", cols, rows)


def flash_sheet(wb, d: D.ReportData) -> None:
    u = money_unit(d.currency)
    cols = [("Flash sale", "秒杀", TEXT), ("SKU", "商品", TEXT), (f"Price ({u})", "秒杀价", MONEY2),
            ("Quantity", "秒杀库存", COUNT), ("Units", "件数", COUNT), ("Sell-through", "售罄率", RATE),
            (f"Margin ({u})", "毛利", MONEY), ("Sold out in", "售罄比例", RATE), ("Sell-out (mean)", "售罄时间", CLOCK)]
    rows = [[name, f["sku"], f["price"], f["quantity"], f["units"], f["units"] / f["quantity"], f["margin"],
             f["sold_out_share"], _local(f["sellout"])] for name, f in D.flash_sales(d).iterrows()]
    _sheet(wb, "秒杀 Flash sales", cols, rows)


def budget_sheet(wb, d: D.ReportData) -> None:
    """预算 Budgets: a row per channel with a budget and local day (`data.daily_budgets`)."""
    u = money_unit(d.currency)
    cols = [("Channel", "渠道", TEXT), ("Date", "日期", "yyyy-mm-dd"), (f"Spend ({u})", "花费", MONEY),
            (f"Budget ({u})", "当日预算", MONEY), ("Used", "预算使用率", RATE), ("Ran out in", "用完比例", RATE),
            ("Ran out (median)", "用完时间 (中位)", CLOCK)]
    rows = [[r["channel"], pd.Timestamp(r["day"]).to_pydatetime(), _num(r["spend"]), _num(r["budget"]), _num(r["used"]),
             _num(r["ran_out_share"]), _ran_out(r["day"], r["ran_out"])] for _, r in D.daily_budgets(d).iterrows()]
    _sheet(wb, "预算 Budgets", cols, rows)


def _ran_out(day: str, when) -> object:
    """The day's date with the clock time of `when` ("11-11 14:05"), as Excel holds a time."""
    if not isinstance(when, str):
        return None
    return pd.Timestamp(f"{day} {when.split(' ')[-1]}").to_pydatetime()


def workbook_bytes(d: D.ReportData) -> bytes:
    """The whole workbook as the bytes of an .xlsx file: the same results give the same bytes
    (the file's dates are the campaign's start, not the moment it was written)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for add in (daily_sheet, channel_sheet, budget_sheet, sku_sheet, coupon_sheet, flash_sheet):
        add(wb, d)
    buf = io.BytesIO()
    wb.save(buf)
    return _dated(buf.getvalue(), pd.Timestamp(d.start).tz_convert("UTC") if d.start.tzinfo else d.start)


def _dated(xlsx: bytes, when: pd.Timestamp) -> bytes:
    """`xlsx` with every date in it set to `when`: the zip entries' times and the document's
    created / modified properties (openpyxl stamps the moment of saving)."""
    stamp = f"{when:%Y-%m-%dT%H:%M:%SZ}".encode()
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=tuple(when.timetuple())[:6]), data,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
