"""`daily_report.xlsx` (the daily sheet beside report.html), opened with openpyxl: its sheets,
headers and cells equal summary.json; every flash sale, sold out or not; the same results give
the same bytes."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from openpyxl import load_workbook

from simulator.report import SHEET, build_report, sheet
from simulator.report import data as D
from simulator.runner import simulate
from simulator.scenario import load_scenario
from tests.conftest import REPO

REPS = 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The bundled 618 (coupons, two flash sales — one sells out, one does not —, auctions),
    run and reported once."""
    out = tmp_path_factory.mktemp("sheet") / "res"
    simulate(load_scenario(REPO / "scenarios" / "618_electronics.yaml"), reps=REPS, seed=5,
             uncertainty=False).write(out)
    build_report(out)
    return out


@pytest.fixture(scope="module")
def book(folder):
    return load_workbook(folder / SHEET)


@pytest.fixture(scope="module")
def summary(folder):
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _rows(ws) -> list[tuple]:
    return list(ws.iter_rows(min_row=3, values_only=True))


def test_the_sheets_and_their_two_header_rows(book):
    assert book.sheetnames == ["日报 Daily", "渠道 Channels", "预算 Budgets", "商品 SKUs", "优惠券 Coupons",
                               "秒杀 Flash sales"]
    daily = book["日报 Daily"]
    en = [c.value for c in daily[1]]
    zh = [c.value for c in daily[2]]
    assert en[:6] == ["Date", "Visits", "Carts", "Orders", "Conversion", "GMV (元)"]
    assert zh[5] == "成交额 (活动价)" and zh[6] == "支付金额"          # GMV is not labelled 支付金额
    assert all(ws.freeze_panes == "B3" for ws in book)


def test_the_daily_sheet_equals_summary_json(book, summary):
    rows = _rows(book["日报 Daily"])
    days = summary["daily"]
    assert len(rows) == len(days) + 1 and rows[-1][0] == "Total 合计"
    for row, day in zip(rows, days):
        assert row[0].date().isoformat() == day["date"]
        assert row[1] == pytest.approx(day["visits"]) and row[5] == pytest.approx(day["gmv"])
        assert row[6] == pytest.approx(day["paid_by_buyers"]) and row[7] == pytest.approx(day["coupon_cost"])
    total = rows[-1]
    assert total[5] == pytest.approx(summary["kpis"]["gmv"]["mean"])
    assert total[6] == pytest.approx(summary["kpis"]["paid_by_buyers"]["mean"])
    assert total[7] == pytest.approx(summary["kpis"]["coupon_cost"]["mean"])
    reductions = summary["kpis"]["reduction_cost"]["mean"] + summary["kpis"]["platform_subsidy"]["mean"]
    assert total[8] == pytest.approx(reductions)
    assert total[12] == pytest.approx(summary["kpis"]["gross_profit"]["mean"])     # the days add up to the run
    formats = {c.column_letter: c.number_format for c in book["日报 Daily"][3]}
    assert formats["B"] == "#,##0" and formats["E"] == "0.00%" and formats["F"] == "#,##0"


def test_channels_skus_and_coupons_equal_summary_json(book, summary):
    ch = {r[0]: r for r in _rows(book["渠道 Channels"])}
    assert set(ch) == set(summary["channels"])
    for name, c in summary["channels"].items():
        assert ch[name][4] == pytest.approx(c["gmv"]) and ch[name][5] == pytest.approx(c["spend"])
    sk = {r[0]: r for r in _rows(book["商品 SKUs"])}
    assert set(sk) == set(summary["skus"])                            # every SKU, not the top few
    for name, s in summary["skus"].items():
        assert sk[name][2] == pytest.approx(s["units"]) and sk[name][6] == pytest.approx(s["lost_units"])
    co = {r[0]: r for r in _rows(book["优惠券 Coupons"])}
    for name, c in summary["coupons"].items():
        assert co[name][1] == pytest.approx(c["claimed"]) and co[name][2] == pytest.approx(c["redeemed"])
        assert co[name][3] == pytest.approx(c["redemption_rate"])


def test_the_budgets_sheet_has_a_row_per_budgeted_channel_and_day(book, summary, folder):
    """预算 Budgets equals summary.json's `daily_budget` of each channel with a budget; its
    run-out times are the median over replications of the day's last `budget_exhausted` event
    (display: no rule changes its budget), and the days' spend adds up to the channel's."""
    ws = book["预算 Budgets"]
    assert [c.value for c in ws[1]][:5] == ["Channel", "Date", "Spend (元)", "Budget (元)", "Used"]
    assert [c.value for c in ws[2]][4] == "预算使用率"
    rows = _rows(ws)
    budgeted = {n: c["daily_budget"] for n, c in summary["channels"].items() if c.get("daily_budget")}
    assert set(budgeted) == {"paid_search", "display"}                 # the 618's media channels
    assert len(rows) == sum(len(v) for v in budgeted.values())
    got = {(r[0], r[1].date().isoformat()): r for r in rows}
    for name, days in budgeted.items():
        assert sum(day["spend"] for day in days) == pytest.approx(summary["channels"][name]["ad_spend"])
        for day in days:
            r = got[(name, day["day"])]
            assert r[2] == pytest.approx(day["spend"]) and r[3] == pytest.approx(day["budget"])
            assert r[4] == pytest.approx(day["used"]) and r[5] == pytest.approx(day["ran_out_share"])
            assert (r[6] is None) == (day["ran_out_median"] is None)
    ev = pd.read_parquet(folder / "events.parquet")
    ev = ev[(ev["kind"] == "budget_exhausted") & (ev["subject"] == "display")]
    ev = ev.assign(local=pd.to_datetime(ev["time"], utc=True).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None))
    assert len(ev), "the 618's display budget runs out"
    for date, g in ev.groupby(ev["local"].dt.date):
        last = g.groupby("replication")["local"].max()
        r = got[("display", date.isoformat())]
        assert r[5] == pytest.approx(last.size / REPS)
        assert abs(pd.Timestamp(r[6]) - last.median()) < pd.Timedelta(minutes=1)


def test_sku_sell_outs_are_read_from_the_events(folder, book):
    ev = pd.read_parquet(folder / "events.parquet")
    sold = ev[ev["kind"] == "sold_out"]
    sk = {r[0]: r for r in _rows(book["商品 SKUs"])}
    assert len(sold), "the 618 sells something out"
    for name, g in sold.groupby("subject"):
        first = g.groupby("replication")["time"].min()
        assert sk[name][4] == pytest.approx(first.size / REPS)
        want = first.median().tz_convert("Asia/Shanghai").tz_localize(None)
        assert abs(pd.Timestamp(sk[name][5]) - want) < pd.Timedelta(seconds=1)
    never = [k for k in sk if k not in set(sold["subject"])]
    assert never and all(sk[k][4] == 0 and sk[k][5] is None for k in never)


def test_every_flash_sale_is_there_sold_out_or_not(book, summary, folder):
    scenario = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
    fl = {r[0]: r for r in _rows(book["秒杀 Flash sales"])}
    assert set(fl) == set(scenario["flash_sales"])
    shares = {name: fl[name][7] for name in fl}
    assert 0.0 in shares.values() and 1.0 in shares.values()            # one never sells out, one always
    start = D.load(folder).start
    for name, f in scenario["flash_sales"].items():
        got = summary["flash_sales"][name]
        cost = scenario["skus"][f["sku"]]["unit_cost"]
        assert fl[name][4] == pytest.approx(got["units"]) and fl[name][5] == pytest.approx(got["units"] / f["quantity"])
        assert fl[name][6] == pytest.approx((f["price"] - cost) * got["units"])
        if got["sellout_minute"] is None:
            assert fl[name][8] is None
        else:
            want = (start + pd.Timedelta(minutes=got["sellout_minute"])).tz_localize(None)
            assert abs(pd.Timestamp(fl[name][8]) - want) < pd.Timedelta(seconds=1)


def test_the_same_results_give_the_same_bytes(folder):
    d = D.load(folder)
    again = sheet.workbook_bytes(d)
    assert again == (folder / SHEET).read_bytes()
    assert load_workbook(io.BytesIO(again)).properties.modified == d.start.tz_convert("UTC").tz_localize(None)


def test_the_reports_promotions_section_shows_every_coupon_and_flash_sale(folder, summary):
    page = (folder / "report.html").read_text(encoding="utf-8")
    i = page.index('id="promotions"')
    sec = page[i:page.index("<h2", i + 1)]
    rows = {re.findall(r"<td[^>]*>(.*?)</td>", r)[0]: re.findall(r"<td[^>]*>(.*?)</td>", r)
            for r in re.findall(r"<tr>(.*?)</tr>", sec) if "<td" in r}
    for name, c in summary["coupons"].items():
        assert rows[name][1] == f"{round(c['claimed']):,d}" and rows[name][3] == f"{c['redemption_rate']:.1%}"
    for name, f in summary["flash_sales"].items():
        assert rows[name][7] == f"{f['sold_out_share']:.0%}"
        assert (rows[name][8] == "–") == (f["sellout_minute"] is None)      # a sale that never sold out is there


def test_channels_are_read_against_their_break_even_roi(folder, summary):
    """The 618's paid search and display earn less than their break-even ROI (保本 ROI): the table
    says "(loss)" beside their ROI and shows the break-even from summary.json; the chart draws
    their bars red and a break-even tick on every channel that spends."""
    import matplotlib
    from matplotlib.colors import to_hex

    from simulator.report import fonts
    from simulator.report import plots as P

    page = (folder / "report.html").read_text(encoding="utf-8")
    i = page.index('id="s-channels"')
    rows = {re.findall(r"<td[^>]*>(.*?)</td>", r)[0]: re.findall(r"<td[^>]*>(.*?)</td>", r)
            for r in re.findall(r"<tr>(.*?)</tr>", page[i:page.index("<h2", i + 1)]) if "<td" in r}
    losing = {n for n, c in summary["channels"].items()
              if c["roi"] is not None and c["break_even_roi"] is not None and c["roi"] < c["break_even_roi"]}
    assert losing, "the bundled 618 has channels below break-even"
    for name, c in summary["channels"].items():
        assert rows[name][6].endswith("(loss)") == (name in losing)
        if c["roi"] is not None:
            assert rows[name][7] == f"{c['break_even_roi']:,.2f}"
        if c.get("budget"):
            assert rows[name][8] == f"{c['ad_spend'] / c['budget']:.0%}"
    d = D.load(folder)
    with matplotlib.rc_context(P.style(fonts.find_cjk_font())):
        fig = P.channels(d, D.channels(d))
    ax = fig.axes[2]
    colours = [to_hex(p.get_facecolor()) for p in ax.containers[0]]          # the ROI bars, top to bottom
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    spending = [n for n in names if summary["channels"][n]["roi"] is not None]
    assert dict(zip(spending, colours)) == {n: (to_hex(P.VERMILLION) if n in losing else to_hex(P.GREEN))
                                            for n in spending}
    ticks = next(line for line in ax.lines if line.get_gid() == "channel_break_even")
    assert len(ticks.get_xdata()) == len(spending)
    assert ax.get_xscale() == "log"                     # a CRM push at ROI 70 does not flatten the others
