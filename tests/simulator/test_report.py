"""The report (`promosim report`, `run --report`): files, figure content, fonts, the page.

A small three-day campaign with Chinese channel and SKU names, a warm-up, a GMV target
and a SKU that runs out is simulated once per module; the report is drawn with every
warning an error, so a glyph missing from the font ("Glyph ... missing from font")
fails. Figures are checked for what they show, not only that they exist.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from simulator.cli import main
from simulator.formats import money
from simulator.output_set import sha256
from simulator.report import FIGURE_NAMES, ReportError, fonts, html, render_figures
from simulator.report import data as D
from simulator.report import plots as P
from simulator.runner import simulate
from simulator.scenario import Scenario, ScenarioError, parse_scenario
from tests.conftest import SCENARIOS

SCENARIO = {
    "meta": {"name": "报告测试 report_test", "timezone": "Asia/Shanghai", "start": "2026-11-09 20:00",
             "end": "2026-11-12 00:00", "tick_minutes": 10, "currency": "CNY", "seed": 3,
             "targets": {"gmv": 2_000_000}},
    "calendar": {
        "phases": [
            {"name": "presale", "start": "2026-11-09 20:00", "end": "2026-11-10 20:00", "kind": "sale"},
            {"name": "warmup", "start": "2026-11-10 20:00", "end": "2026-11-11 00:00", "kind": "warmup",
             "intent": 2.0},
            {"name": "burst", "start": "2026-11-11 00:00", "end": "2026-11-12 00:00", "kind": "sale",
             "intent": 1.5},
        ],
    },
    "channels": {
        "自然搜索": {"kind": "organic_search", "visits_per_hour": 300},
        "直通车": {"kind": "paid_search", "cpc": 1.5, "clicks_per_hour": 80, "daily_budget": 800},
        "猜你喜欢": {"kind": "recommendation", "visits_per_hour": 150},
    },
    "skus": {
        # ~9 orders an hour against 150 units: runs out in every replication
        "lipstick_999": {"name": "丝绒哑光口红 #999", "price": 199, "unit_cost": 60, "discount": 0.2,
                         "base_conversion": 0.04, "stock": 150},
        "serum_50": {"name": "修护精华露 50ml", "price": 399, "unit_cost": 120, "discount": {"burst": 0.25},
                     "base_conversion": 0.02, "stock": 5000},
    },
}
REPS = 4


def draw(fig: Figure) -> Figure:
    """Draw with Agg (text laid out, glyphs looked up) — warnings become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FigureCanvasAgg(fig).draw()
    return fig


def scale_of(label: str) -> float:
    """The factor an axis label announces ('USD million' → 1e6, '万元' → 1e4, '亿元' → 1e8)."""
    for word, k in (("billion", 1e9), ("million", 1e6), ("亿", 1e8), ("万", 1e4)):
        if word in label:
            return k
    return 1.0


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The results folder with its report, drawn once through `promosim report`."""
    out = tmp_path_factory.mktemp("report") / "res"
    simulate(Scenario.model_validate(SCENARIO), reps=REPS, seed=3).write(out)
    (out / "figures").mkdir()
    (out / "figures" / "pools.png").write_bytes(b"left over from an earlier report")
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(stdout), redirect_stderr(stderr):
        warnings.simplefilter("error")            # a missing glyph fails here
        rc = main(["report", str(out)])
    assert rc == 0, stderr.getvalue()
    assert stdout.getvalue() == f"report written to {out / 'report.html'}\n"
    return out


@pytest.fixture(scope="module")
def d(results):
    return D.load(results)


@pytest.fixture(scope="module")
def summary(results):
    return json.loads((results / "summary.json").read_text())


@pytest.fixture(scope="module")
def style():
    return P.style(fonts.find_cjk_font())


@pytest.fixture
def fresh_font():
    fonts.find_cjk_font.cache_clear()
    yield
    fonts.find_cjk_font.cache_clear()


# ----------------------------------------------------------------------- files and page
def test_writes_report_html_and_non_blank_pngs(results):
    names = {p.stem for p in (results / "figures").glob("*.png")}
    # no coupon or flash-sale events: no pools figure, and the stale one is gone; no
    # uncertainty: block, so no tornado
    assert names == set(FIGURE_NAMES) - {"pools", "tornado"}
    for name in names:
        img = Image.open(results / "figures" / f"{name}.png")
        assert img.width == round(P.WIDTH * P.DPI) and img.height > 200, name
        assert np.asarray(img.convert("L"), dtype=float).std() > 5, f"{name}.png is blank"


def test_page_is_self_contained_and_embeds_every_png(results):
    page = (results / "report.html").read_text(encoding="utf-8")
    embedded = [base64.b64decode(m) for m in re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', page)]
    files = {p.read_bytes() for p in (results / "figures").glob("*.png")}
    assert len(embedded) == len(files) and set(embedded) == files
    # nothing from elsewhere: every src/href is a data URI, and the policy forbids the rest
    assert not re.findall(r'(?:src|href)="(?!data:)', page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page
    assert "@font-face" in page and "font/otf;base64," in page       # the CJK subset travels along
    for text in ("丝绒哑光口红 #999", "修护精华露 50ml", "直通车", "日报"):
        assert text in page


def test_daily_report_table_has_a_row_per_day_and_the_totals(results, summary):
    page = (results / "report.html").read_text(encoding="utf-8")
    daily = page[page.index("Daily report"):]
    table = daily[:daily.index("</table>")]
    rows = re.findall(r"<tr( class=\"[a-z]*\")?>(.*?)</tr>", table)
    body = [r for cls, r in rows if "total" not in cls and "<td" in r]
    days = summary["daily"]
    assert len(body) == len(days) == 3
    assert all(day["date"] in r for day, (r) in zip(days, body))
    total = next(r for cls, r in rows if "total" in cls)
    gmv = sum(day["gmv"] for day in days)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", total)
    cur = SCENARIO["meta"].get("currency", "CNY")
    assert money(gmv, cur) == money(summary["kpis"]["gmv"]["mean"], cur) == cells[5]        # GMV (成交额)
    paid = sum(day["paid_by_buyers"] for day in days)
    assert money(paid, cur) == cells[6] and paid == pytest.approx(summary["kpis"]["paid_by_buyers"]["mean"])
    assert cells[1] == f"{round(sum(day['visits'] for day in days)):,d}"                      # a whole count
    assert f"{gmv / SCENARIO['meta']['targets']['gmv']:.1%}" in total
    assert "成交额 (活动价)" in table and "支付金额" in table     # GMV is not labelled 支付金额


def test_scenario_json_is_the_scenario_that_ran(results):
    s = json.loads((results / "scenario.json").read_text(encoding="utf-8"))
    assert Scenario.model_validate(s) == Scenario.model_validate(SCENARIO)


# ------------------------------------------------------------------------------ figures
def test_cumulative_gmv_ends_at_the_runs_gmv_with_its_band_and_target(d, summary, style):
    with matplotlib.rc_context(style):
        fig = draw(P.cumulative_gmv(d, D.cumulative_gmv(d)))
    ax = fig.axes[0]
    k = scale_of(ax.get_ylabel())
    assert "元" in ax.get_ylabel()                     # yuan, in 万 or 亿
    line = next(a for a in ax.lines if a.get_gid() == "cumulative_gmv_mean")
    x, y = line.get_data()
    y = np.asarray(y) * k
    gmv = summary["kpis"]["gmv"]
    assert y[0] == 0 and np.all(np.diff(y) >= -1e-6)
    assert y[-1] == pytest.approx(gmv["mean"], rel=1e-9)
    assert pd.Timestamp(x[-1]) == pd.Timestamp("2026-11-12 00:00")      # the campaign's end, local time
    band = next(c for c in ax.collections if c.get_gid() == "cumulative_gmv_band")
    ys = band.get_paths()[0].vertices[:, 1] * k
    assert ys.min() == pytest.approx(0, abs=1e-6)
    assert ys.max() == pytest.approx(gmv["p95"], rel=1e-9)
    cum = D.cumulative_gmv(d)
    assert cum["p5"].iloc[-1] == pytest.approx(gmv["p5"], rel=1e-9)
    target = next(a for a in ax.lines if a.get_gid() == "gmv_target")
    assert target.get_ydata()[0] * k == pytest.approx(SCENARIO["meta"]["targets"]["gmv"])
    inner = next(c for c in ax.collections if c.get_gid() == "cumulative_gmv_inner_band")   # the fan's core
    assert inner.get_paths()[0].vertices[:, 1].max() * k == pytest.approx(cum["p75"].iloc[-1], rel=1e-9)
    assert cum["p25"].iloc[-1] <= cum["p50"].iloc[-1] <= cum["p75"].iloc[-1]
    chance = summary["targets"]["gmv"]
    assert f"reached in {round(100 * chance['p_reach'])}%" in " ".join(t.get_text() for t in ax.texts)
    assert "shopper noise only" in ax.get_title("left")    # this plan has no uncertainty: block


def test_no_target_line_without_a_target(d, style):
    scenario = json.loads(json.dumps(d.scenario))
    scenario["meta"]["targets"] = None
    d2 = D.ReportData(**{**d.__dict__, "scenario": scenario})
    with matplotlib.rc_context(style):
        fig = draw(P.cumulative_gmv(d2, D.cumulative_gmv(d2)))
    assert not [a for a in fig.axes[0].lines if a.get_gid() == "gmv_target"]


def test_heatmaps_have_24_hour_columns_and_add_up(d, summary, style):
    h = D.hourly(d)
    with matplotlib.rc_context(style):
        visits = draw(P.day_hour_heatmap(d, D.day_hour(d, "visits", h), "visits", "v", "visits per hour"))
        gmv = draw(P.day_hour_heatmap(d, D.day_hour(d, "gmv", h), "gmv", "g", "GMV per hour (CNY)"))
    for fig in (visits, gmv):
        arr = fig.axes[0].images[0].get_array()
        assert arr.shape == (3, 24)                                   # 11-09, 11-10, 11-11 × hours
        assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [str(i) for i in range(24)]
        mask = np.ma.getmaskarray(arr)
        assert mask[0, :20].all() and not mask[0, 20:].any() and not mask[1:].any()   # starts at 20:00
    assert float(visits.axes[0].images[0].get_array().sum()) == pytest.approx(summary["kpis"]["visits"]["mean"])
    # the warm-up hours (11-10 20:00–23:00) sell nothing: drawn below the colour scale (white)
    im = gmv.axes[0].images[0]
    arr = im.get_array()
    assert (arr[1, 20:] < im.norm.vmin).all() and (arr[2, :] >= im.norm.vmin).all()


def test_channels_figure_shows_spend_gmv_and_roi_per_channel(d, summary, style):
    with matplotlib.rc_context(style):
        fig = draw(P.channels(d, D.channels(d)))
    spend_ax, gmv_ax, roi_ax = fig.axes[:3]
    names = [t.get_text() for t in spend_ax.get_yticklabels()]
    assert sorted(names) == sorted(SCENARIO["channels"])                # Chinese names, drawn
    for ax, col in ((spend_ax, "spend"), (gmv_ax, "gmv")):
        k = scale_of(ax.get_xlabel())
        widths = {n: b.get_width() * k for n, b in zip(names, ax.patches)}
        for n in names:
            assert widths[n] == pytest.approx(summary["channels"][n][col], rel=1e-9, abs=1e-9), (n, col)
    roi_bars = roi_ax.patches
    assert len(roi_bars) == 1                                         # only 直通车 has spend
    bar = roi_bars[0]                                                 # on a log axis: from its left edge
    assert bar.get_x() + bar.get_width() == pytest.approx(summary["channels"]["直通车"]["roi"])


def test_funnel_by_phase_adds_up_and_carts_are_warmup_only(d, summary, style):
    fn = D.funnel(d)
    assert list(fn.index) == ["presale", "warmup", "burst"]
    k = summary["kpis"]
    assert fn["visits"].sum() == pytest.approx(k["visits"]["mean"])
    assert fn["carts"].sum() == pytest.approx(k["add_to_carts"]["mean"])
    assert fn["orders"].sum() == pytest.approx(k["orders"]["mean"])
    assert fn.loc["warmup", "carts"] > 0 and fn.loc["warmup", "orders"] == 0
    assert fn.loc[["presale", "burst"], "carts"].eq(0).all()
    with matplotlib.rc_context(style):
        fig = draw(P.funnel(d, fn))
    assert len(fig.axes[0].get_yticklabels()) == 3


def test_phase_of_gives_an_hour_to_the_phase_its_start_falls_in():
    tz = "Asia/Shanghai"
    t = lambda s: pd.Timestamp(s, tz=tz)
    phases = [D.Phase("a", "sale", t("2026-11-11 00:00"), t("2026-11-11 10:30")),
              D.Phase("b", "sale", t("2026-11-11 10:30"), t("2026-11-11 12:00"))]
    got = D.phase_of(pd.DatetimeIndex([t("2026-11-10 23:00"), t("2026-11-11 09:00"), t("2026-11-11 10:00"),
                                       t("2026-11-11 11:00"), t("2026-11-11 12:00")]), phases)
    assert list(got) == [D.NO_PHASE, "a", "a", "b", D.NO_PHASE]


def test_stock_figure_starts_with_the_sku_that_ran_out_and_marks_each_stockout(d, summary, style):
    ids = D.stock_skus(d)
    assert ids == ["lipstick_999", "serum_50"]
    outs = D.stockouts(d)
    assert set(outs["sku"]) == {"lipstick_999"} and outs["replication"].nunique() == REPS
    with matplotlib.rc_context(style):
        fig = draw(P.stock(d, ids))
    ax = fig.axes[0]
    assert "丝绒哑光口红 #999" in ax.get_title(loc="left")
    markers = next(a for a in ax.lines if a.get_gid() == "stockout_lipstick_999")
    assert len(markers.get_xdata()) == len(outs) and (np.asarray(markers.get_ydata()) == 0).all()
    for sku, axis in zip(ids, fig.axes):
        line = next(a for a in axis.lines if a.get_gid() == f"stock_{sku}")
        y = np.asarray(line.get_ydata())
        assert y[0] == SCENARIO["skus"][sku]["stock"]
        assert y[-1] == pytest.approx(summary["skus"][sku]["ending_stock"])


def test_pools_panel_is_drawn_when_coupon_or_flash_sale_events_exist(results, tmp_path, style):
    out = tmp_path / "res"
    shutil.copytree(results, out)
    ev = pd.read_parquet(out / "events.parquet")
    start = pd.Timestamp("2026-11-09 20:00", tz="Asia/Shanghai")
    rows = []
    for r in range(REPS):
        rows.append((r, 1700 + r, "coupon_empty", "满299减30 店铺券"))
        if r < 2:
            rows.append((r, 1500, "flash_sellout", "秒杀 丝绒哑光口红 #999"))
    extra = pd.DataFrame(rows, columns=["replication", "tick", "kind", "subject"])
    extra.insert(2, "time", start + pd.to_timedelta(extra["tick"] * 10, unit="min"))
    extra["value"] = 0.0
    pd.concat([ev, extra], ignore_index=True).to_parquet(out / "events.parquet")
    run = json.loads((out / "run.json").read_text())          # the folder's manifest, made to match
    run["files"]["events.parquet"] = sha256(out / "events.parquet")
    (out / "run.json").write_text(json.dumps(run))

    d = D.load(out)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shown = render_figures(d, fonts.find_cjk_font())
    assert [f.name for f in shown] == [n for n in FIGURE_NAMES if n != "tornado"]   # no assumptions drawn
    page = html.page(d, shown, font_css="", font_stack="sans-serif", font_note="")
    assert 'id="fig-pools"' in page and "秒杀 丝绒哑光口红 #999" in page
    pl = D.pools(d)
    assert sorted(pl["kind"].unique()) == ["coupon", "flash sale"]
    with matplotlib.rc_context(style):
        fig = draw(P.pools(d, pl))
    lines = {a.get_gid(): a for a in fig.axes[0].lines}
    assert len(lines["pool_coupon_满299减30 店铺券"].get_xdata()) == REPS
    assert len(lines["pool_flash sale_秒杀 丝绒哑光口红 #999"].get_xdata()) == 2



def test_csv_results_give_the_same_curve(tmp_path, d):
    out = tmp_path / "csv"
    simulate(Scenario.model_validate(SCENARIO), reps=REPS, seed=3).write(out, fmt="csv")
    d_csv = D.load(out)
    assert d_csv.timeseries["period_start"].dt.tz is not None
    a, b = D.cumulative_gmv(d_csv), D.cumulative_gmv(d)
    assert list(a.index) == list(b.index)
    assert np.allclose(a.to_numpy(), b.to_numpy())
    assert D.stockouts(d_csv).equals(D.stockouts(d))


# -------------------------------------------------------------------------------- fonts
def test_a_missing_glyph_fails_under_warnings_as_errors(style):
    """The check has teeth: Chinese in matplotlib's default font warns, so it fails here."""
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        fig = Figure()
        fig.add_subplot().set_title("丝绒哑光口红")
        with pytest.raises(UserWarning, match="missing from font"):
            draw(fig)
    with matplotlib.rc_context(style):
        fig = Figure()
        fig.add_subplot().set_title("丝绒哑光口红 — 日报 −5")
        draw(fig)


def test_the_bundled_noto_font_is_chosen(fresh_font, monkeypatch):
    monkeypatch.delenv(fonts.ENV, raising=False)
    f = fonts.find_cjk_font()
    assert f.source == "noto-cjk-sans-otc" and f.family == "Noto Sans CJK SC"
    assert not f.covers("丝绒哑光口红修护精华露日报渠道 #999 50ml −–")


def test_a_font_without_chinese_is_a_clear_error(fresh_font, monkeypatch, tmp_path):
    from matplotlib import font_manager as fm

    monkeypatch.setenv(fonts.ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(ReportError, match="no such font file"):
        fonts.find_cjk_font()
    fonts.find_cjk_font.cache_clear()
    monkeypatch.setenv(fonts.ENV, fm.findfont("DejaVu Sans"))
    with pytest.raises(ReportError, match="no Chinese glyphs"):
        fonts.find_cjk_font()


def test_no_cjk_font_anywhere_says_what_to_install(fresh_font, monkeypatch):
    from matplotlib import font_manager as fm

    monkeypatch.delenv(fonts.ENV, raising=False)
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)          # the package is missing
    monkeypatch.setattr(fm.fontManager, "ttflist",
                        [e for e in fm.fontManager.ttflist if e.name not in fonts.CJK_FAMILIES])
    with pytest.raises(ReportError, match="noto-cjk-sans-otc.*fonts-noto-cjk"):
        fonts.find_cjk_font()


# ---------------------------------------------------------------------------------- CLI
def test_cli_report_names_what_is_missing(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "summary.json").write_text("{}")
    assert main(["report", str(tmp_path)]) == 2
    assert "scenario.json: missing" in capsys.readouterr().err


@pytest.mark.slow
def test_run_report_flag(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(SCENARIOS / "valid_minimal.yaml"), "--reps", "2", "--quiet",
                 "--out", str(out), "--report", "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)                             # --json: stdout stays one JSON object
    assert f"report written to {out / 'report.html'}" in captured.err
    assert (out / "report.html").exists() and (out / "figures" / "cumulative_gmv.png").exists()
    assert main(["run", str(SCENARIOS / "valid_minimal.yaml"), "--report"]) == 2
    assert "--report needs --out" in capsys.readouterr().err


def test_ad_groups_and_rule_firings_have_their_tables(tmp_path):
    """An auction channel's ad groups (most spend first) and the rules that fired, with how
    often and when, read from summary.json and events."""
    from tests.simulator.test_equivalence import HERE

    out = tmp_path / "res"
    simulate(parse_scenario((HERE / "rules.yaml").read_text(), "rules.yaml"), reps=2, seed=1).write(out)
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "paid_search: ad groups · 推广单元" in page and "追加预算规则" in page
    table = page[page.index("推广单元"):page.index("追加预算规则")]
    assert table.index("kw") < table.index("tail")                   # kw spends more
    rules = page[page.index("追加预算规则"):]
    assert "top_up" in rules and "2 of 2 replications" in rules


# ------------------------------------------------------------------------------- schema
def test_meta_targets_gmv_is_validated():
    base = "meta: {name: t, start: 2026-11-11 00:00, end: 2026-11-12 00:00, targets: %s}\n" \
           "channels: {o: {kind: organic_search, visits_per_hour: 1}}\n" \
           "skus: {a: {price: 1, unit_cost: 0, base_conversion: 0.1, stock: 1}}\n"
    assert parse_scenario(base % "{gmv: 1000000}", "t.yaml").meta.targets.gmv == 1_000_000
    with pytest.raises(ScenarioError, match="gmv"):
        parse_scenario(base % "{gmv: -5}", "t.yaml")
    with pytest.raises(ScenarioError, match="did you mean 'gmv'"):
        parse_scenario(base % "{gvm: 5}", "t.yaml")


def test_assumption_swings_read_a_line_fitted_to_the_replications(d):
    """GMV exactly 1,000 + 500 × traffic − 200 × bids over 20 replications: the swings are the
    line's values at each assumption's P5 and P95 (the other at its mean), widest last."""
    rng = np.random.default_rng(1)
    traffic, bids = rng.uniform(0.8, 1.2, 20), rng.uniform(0.9, 1.1, 20)
    kpis = pd.DataFrame({"gmv": 1000 + 500 * traffic - 200 * bids,
                         "assumption.traffic": traffic, "assumption.bids": bids})
    sw = D.assumption_swings(D.ReportData(**{**d.__dict__, "kpis": kpis}))
    assert list(sw.index) == ["bids", "traffic"]             # swings ≈ 200 × 0.18 and 500 × 0.36
    mean_gmv = kpis["gmv"].mean()
    for name, slope in (("traffic", 500), ("bids", -200)):
        x = kpis[f"assumption.{name}"]
        p5, p95 = np.percentile(x, [5, 95])
        assert sw.loc[name, "low"] == pytest.approx(mean_gmv + slope * (p5 - x.mean()))
        assert sw.loc[name, "high"] == pytest.approx(mean_gmv + slope * (p95 - x.mean()))
    assert D.assumption_swings(d).empty                      # a run without an uncertainty: block


# ----------------------------------------------------------------------- the big day
def test_the_big_day_is_the_busiest_day_hour_by_hour(results, d, summary):
    bd = D.big_day(d)
    busiest = max(summary["daily"], key=lambda day: day["gmv"])
    assert bd.date.isoformat() == busiest["date"]
    assert bd.gmv_total == pytest.approx(busiest["gmv"])
    # from the timeseries, per replication: the day's GMV by hour, its first hour's share
    ts = pd.read_parquet(results / "timeseries.parquet")
    ch = ts[ts["level"] == "channel"].copy()
    ch["local"] = pd.to_datetime(ch["period_start"], utc=True).dt.tz_convert(d.timezone)
    day = ch[ch["local"].dt.date == bd.date]
    per_hour = day.groupby(["replication", "local"])["gmv"].sum().unstack("replication").sort_index()
    assert per_hour.mean(axis=1).to_numpy() == pytest.approx(bd.hours["gmv"].to_numpy())
    first = (per_hour.iloc[0] / per_hour.sum()).mean()
    assert bd.first_hour == pytest.approx(first) and 0 < bd.first_hour < 1
    assert bd.hours["share"].iloc[-1] == pytest.approx(1.0) and bd.hours["share"].is_monotonic_increasing
    # the moments of that day: the shelf that empties and the budget that runs out, from events.parquet
    ev = pd.read_parquet(results / "events.parquet")
    ev["local"] = pd.to_datetime(ev["time"], utc=True).dt.tz_convert(d.timezone)
    on_day = ev[ev["kind"].isin(list(D.DAY_EVENTS)) & (ev["local"].dt.date == bd.date)]
    want = on_day.groupby(["kind", "subject"])["replication"].nunique()
    got = bd.events.set_index(["kind", "subject"])["reps"]
    assert got.sort_index().to_dict() == want.sort_index().to_dict()
    assert ("budget_exhausted", "直通车") in got.index                 # its 800 a day runs out


def test_the_big_day_is_on_the_page_with_its_figures(results):
    from simulator.formats import amount

    page = (results / "report.html").read_text(encoding="utf-8")
    assert 'id="fig-big_day"' in page and "The big day" in page
    bd = D.big_day(D.load(results))
    assert f"{bd.first_hour:.1%} in the first hour" in page
    assert amount(bd.gmv_total, "CNY") in page
    assert page.index("fig-big_day") < page.index("fig-cumulative_gmv")      # the story comes first


# ---------------------------------------------------------------- every SKU's stock-out
def _section(page: str, anchor: str) -> str:
    i = page.index(f'id="{anchor}"')
    return page[i:page.index("<h2", i + 1)]


def test_every_skus_stock_out_is_on_the_page(results, d, summary):
    page = (results / "report.html").read_text(encoding="utf-8")
    sec = _section(page, "stockouts")
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", sec) if "<td" in r]
    cells = {re.findall(r"<td[^>]*>(.*?)</td>", r)[0]: re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows}
    assert set(cells) == set(summary["skus"])                           # every SKU
    ev = pd.read_parquet(results / "events.parquet")
    ev["local"] = pd.to_datetime(ev["time"], utc=True).dt.tz_convert(d.timezone)
    for sku, s in summary["skus"].items():
        first = ev[(ev["kind"] == "sold_out") & (ev["subject"] == sku)].groupby("replication")["local"].min()
        row = cells[sku]
        assert row[2] == f"{first.size / REPS:.0%}"
        assert row[3] == (f"{first.median():%m-%d %H:%M}" if first.size else "–")
        assert row[4] == f"{round(s['lost_units']):,d}"
    assert cells["lipstick_999"][2] == "100%"                           # 150 units: out every time


def test_the_stock_verdict_says_what_limits_the_target(d):
    from dataclasses import replace

    from simulator.report.html import _stock_verdict

    gmv = d.summary["kpis"]["gmv"]["mean"]
    so = pd.DataFrame({"lost_gmv": [300_000.0, 0.0]})
    with_target = lambda t: replace(d, scenario={**d.scenario, "meta": {**d.scenario["meta"], "targets": {"gmv": t}}})
    assert "stock, not demand, limits the target" in _stock_verdict(with_target(gmv + 200_000), so)
    assert "demand limits it" in _stock_verdict(with_target(gmv + 400_000), so)
    assert "reaches its target" in _stock_verdict(with_target(gmv - 1), so)
    assert "does not limit" in _stock_verdict(d, pd.DataFrame({"lost_gmv": [0.0]}))
    assert "30.0万元" in _stock_verdict(with_target(gmv + 200_000), so)


# ------------------------------------------------------------------------- languages
@pytest.fixture(scope="module")
def by_lang(results, tmp_path_factory):
    """The same results reported in Chinese and in English only (`promosim report --lang`)."""
    out = {}
    for lang in ("zh", "en"):
        folder = tmp_path_factory.mktemp(lang) / "res"
        shutil.copytree(results, folder)
        with redirect_stdout(io.StringIO()):
            assert main(["report", str(folder), "--lang", lang]) == 0
        out[lang] = folder
    return out


def _headings(page: str) -> list[str]:
    return [re.sub("<[^>]+>", "", h) for h in re.findall(r"<h[123][^>]*>(.*?)</h[123]>", page)]


def _headers(page: str) -> list[str]:
    return [re.sub("<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", page)]


def test_a_chinese_report_speaks_chinese_charts_included(by_lang, results):
    page = (by_lang["zh"] / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in page
    heads = _headings(page)
    assert "日报" in heads and "大促当天" in heads and "缺货" in heads
    assert not any(re.search("[A-Za-z]{4,}", h) for h in heads if h != D.load(results).name), heads
    assert "访客数" in _headers(page) and "Visits" not in _headers(page)
    assert "大促当天：成交额" in page or "是按平均成交额最忙的一天" in page          # the big day's caption
    # the charts differ from the bilingual report's (English) ones: their labels were drawn in Chinese
    for name in ("big_day", "channels", "funnel"):
        assert (by_lang["zh"] / "figures" / f"{name}.png").read_bytes() != (results / "figures" / f"{name}.png").read_bytes()


def test_an_english_report_has_no_chinese_label(by_lang, results):
    page = (by_lang["en"] / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    names = set(D.load(results).scenario["skus"]) | {s["name"] for s in SCENARIO["skus"].values()} | set(SCENARIO["channels"])
    cjk = re.compile("[\u4e00-\u9fff]")
    title = D.load(results).name                                      # the planner's own name for the plan
    assert not [h for h in _headings(page) + _headers(page) if cjk.search(h) and h != title]
    assert "Daily report" in _headings(page) and "Visits" in _headers(page)
    # Chinese is left only in the planner's own names (SKUs, channels) and the words kept for their meaning
    cells = [re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", page)]
    assert not [c for c in cells if cjk.search(c) and c not in names and not any(n in c for n in names)]
    # the charts are the bilingual report's English ones
    assert (by_lang["en"] / "figures" / "funnel.png").read_bytes() == (results / "figures" / "funnel.png").read_bytes()


# ------------------------------------------------------------------- daily budget used
def test_daily_budget_used_is_on_the_page_and_in_its_figure(results, d, summary, style):
    """直通车's daily budget of 800: its run-outs per day are those of events.parquet (no rule
    changes it); the table's campaign figures and the heatmap's cells equal summary.json; the
    channels without a budget are named in one line."""
    days = summary["channels"]["直通车"]["daily_budget"]
    assert [r["day"] for r in days] == ["2026-11-09", "2026-11-10", "2026-11-11"]
    ev = pd.read_parquet(results / "events.parquet")
    ev = ev[(ev["kind"] == "budget_exhausted") & (ev["subject"] == "直通车")]
    local = pd.to_datetime(ev["time"], utc=True).dt.tz_convert(d.timezone)
    for r in days:
        on = local.dt.date.astype(str) == r["day"]
        assert r["ran_out_share"] == ev[on]["replication"].nunique() / REPS
    assert sum(r["ran_out_share"] for r in days) > 0, "the test plan's search budget runs out"
    page = (results / "report.html").read_text(encoding="utf-8")
    sec = _section(page, "daily-budget")
    assert 'id="fig-daily_budget"' in sec
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", sec) if "<td" in r]
    spend, budget = sum(r["spend"] for r in days), summary["channels"]["直通车"]["budget"]
    out = [r for r in days if r["ran_out_share"] >= 0.5]
    assert rows == [["直通车", "3", money(spend), money(budget), f"{spend / budget:.0%}", f"{len(out)} of 3 days",
                     out[0]["ran_out_median"] if out else "–"]]
    assert "Channels without a budget are left out: 自然搜索, 猜你喜欢." in sec
    with matplotlib.rc_context(style):
        fig = draw(P.daily_budgets(d, D.daily_budgets(d)))
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for text, r in zip(texts, days, strict=True):
        ran = f" · ran out {r['ran_out_median'][-5:]} in {r['ran_out_share']:.0%}" if r["ran_out_share"] else ""
        assert text == f"{r['used']:.0%}" + ran
    frames = [p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith("daily_budget_ran_out")]
    assert frames == [f"daily_budget_ran_out_{i}_0" for i, r in enumerate(days) if r["ran_out_share"] >= 0.5]


def test_daily_budget_used_in_chinese(by_lang):
    page = (by_lang["zh"] / "report.html").read_text(encoding="utf-8")
    sec = _section(page, "daily-budget")
    assert sec.startswith('id="daily-budget">每日预算使用</h2>') and "使用率" in _headers(sec)
    days = json.loads((by_lang["zh"] / "summary.json").read_text())["channels"]["直通车"]["daily_budget"]
    out = sum(r["ran_out_share"] >= 0.5 for r in days)
    assert "没有预算的渠道未列出：自然搜索、猜你喜欢。" in sec and f"<td class=\"r\">{out} / 3 天</td>" in sec
