"""`promosim explain`: the store metrics a plan implies. Its figures equal the expected engine's
where that engine plays the plan, and otherwise the fast engine's replication means within 3
standard errors of the difference to replications run independently here (other seeds); each
figure is recomputed here from the run's hourly table (`Results.timeseries`), phase by phase
from the scenario's own phase times. The break-even ROI equals its closed form on a one-SKU
plan."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main
from simulator.explain import explain
from simulator.runner import simulate
from simulator.scenario import load_scenario
from tests.helpers import one_sku

REPO = Path(__file__).resolve().parents[2]
MINIMAL = REPO / "tests" / "scenarios" / "valid_minimal.yaml"


def figures_from_table(res) -> list[dict]:
    """Per replication: {phase name (and 'campaign'): figures} from the hourly table."""
    sc = res.scenario
    m = sc.meta
    ts = res.timeseries()
    start, end = m.local(m.start), m.local(m.end)
    spans = [(p.name, p.kind, m.local(p.start), m.local(p.end)) for p in sc.calendar.phases]
    total_days = (end - start).total_seconds() / 86400
    phase = np.full(len(ts), "(none)", dtype=object)
    for name, _, a, b in spans:
        phase[((ts.period_start >= a) & (ts.period_start < b)).to_numpy()] = name
    ts["phase"] = phase
    days = {name: (b - a).total_seconds() / 86400 for name, _, a, b in spans}
    days["(none)"] = total_days - sum(days.values())
    days["campaign"] = total_days
    warm = {name for name, kind, _, _ in spans if kind == "warmup"}
    out = []
    for _, rep in ts.groupby("replication"):
        sheet = {}
        for name in days:
            part = rep if name == "campaign" else rep[rep.phase == name]
            if not len(part):
                continue
            ch, sk = part[part.level == "channel"], part[part.level == "sku"]
            visits = ch.visits.sum()
            payments = ch.orders.sum() + sk.deposits.sum()
            sheet[name] = {
                "visits_per_day": visits / days[name],
                "payment_conversion": payments / visits if visits else None,
                "aov": sk.paid.sum() / payments if payments else None,
                "coupon_claim_rate": sk.coupons_claimed.sum() / visits if sc.coupons and visits else None,
                "add_to_cart_rate": ch.carts.sum() / visits if name in warm and visits else None,
                **{f"uv_per_day.{c}": v / days[name] for c, v in ch.groupby("name").visits.sum().items()},
            }
        all_ch = rep[rep.level == "channel"].groupby("name")[["visits", "orders", "gmv", "ad_spend", "fees",
                                                               "commissions"]].sum()
        for c, f in all_ch.iterrows():
            spend = f.ad_spend + f.fees + f.commissions
            sheet.setdefault("channels", {})[c] = {"payment_conversion": f.orders / f.visits if f.visits else None,
                                                   "roi": f.gmv / spend if spend else None}
        out.append(sheet)
    return out


def test_figures_per_day_equal_the_expected_engine(capsys):
    """`--by day`: one row per local day (11-10 is the warm-up, 11-11 the sale), each day's figures
    from the hourly table grouped by local date."""
    sc = load_scenario(MINIMAL)
    got = explain(sc, by="day")
    assert [(p["name"], p["kind"]) for p in got["phases"]] == [("11-10", "warmup"), ("11-11", "sale"),
                                                                ("campaign", "all")]
    ts = simulate(sc, reps=1, engine="expected", uncertainty=False).timeseries()
    ts["date"] = ts.period_start.dt.strftime("%m-%d")
    for p in got["phases"][:2]:
        part = ts[ts.date == p["name"]]
        ch = part[part.level == "channel"]
        days = part.period_start.nunique() / 24
        visits = ch.visits.sum()
        assert p["days"] == days == 1
        assert p["visits_per_day"]["value"] == pytest.approx(visits / days, rel=1e-12)
        assert p["payment_conversion"]["value"] == pytest.approx(ch.orders.sum() / visits, rel=1e-12, abs=1e-15)
        carts = p["add_to_cart_rate"]["value"]
        assert (carts is None) == (p["kind"] == "sale")
        if carts is not None:
            assert carts == pytest.approx(ch.carts.sum() / visits, rel=1e-12)
        for c, v in ch.groupby("name").visits.sum().items():
            assert p["uv_per_day"][c]["value"] == pytest.approx(v / days, rel=1e-12)
    assert main(["explain", str(MINIMAL), "--by", "day", "--quiet"]) == 0
    assert "day 日期" in capsys.readouterr().out


def flat(got: dict) -> dict:
    """explain's output as {(stretch, figure): {value, se}}, named as `figures_from_table`."""
    out = {}
    for p in got["phases"]:
        for key in ("visits_per_day", "payment_conversion", "aov", "coupon_claim_rate", "add_to_cart_rate"):
            out[(p["name"], key)] = p[key]
        for c, fig in p["uv_per_day"].items():
            out[(p["name"], f"uv_per_day.{c}")] = fig
    for c, f in got["channels"].items():
        for key in ("payment_conversion", "roi"):
            out[("channels", f"{c}.{key}")] = f[key]
    return out


def table_flat(sheet: dict) -> dict:
    out = {}
    for stretch, figs in sheet.items():
        if stretch == "channels":
            for c, f in figs.items():
                for key, v in f.items():
                    out[("channels", f"{c}.{key}")] = v
        else:
            for key, v in figs.items():
                out[(stretch, key)] = v
    return out


@pytest.mark.parametrize("path", [REPO / "scenarios" / "dominicks_tuna.yaml", MINIMAL],
                         ids=["dominicks_tuna", "valid_minimal"])
def test_figures_equal_the_expected_engine_where_it_plays_the_plan(path):
    sc = load_scenario(path)
    got = explain(sc)
    assert got["source"]["engine"] == "expected"
    mine = table_flat(figures_from_table(simulate(sc, reps=1, engine="expected", uncertainty=False))[0])
    theirs = flat(got)
    assert set(mine) == set(theirs)
    for key, v in mine.items():
        fig = theirs[key]
        assert fig["source"] == "expected" and fig["se"] is None, key
        if v is None:
            assert fig["value"] is None, key
        else:
            assert fig["value"] == pytest.approx(v, rel=1e-9, abs=1e-12), key
    if path == MINIMAL:                          # a warm-up phase: its add-to-cart rate is there
        assert theirs[("warmup", "add_to_cart_rate")]["value"] > 0


@pytest.mark.parametrize("name", ["618_electronics", "double11_beauty_flagship"])
def test_figures_are_the_fast_engines_means_within_three_standard_errors(name):
    """The bundled plans use promotions, which the expected engine refuses: explain runs the fast
    engine (seed 0); 8 replications on seeds 1000… are compared figure by figure, each within 3
    standard errors of the difference (both means' standard errors). Some 70–100 figures are
    compared, each with its standard error estimated from 8 values, so a few may land beyond 3
    by chance: the test allows as many as chance gives in 999 of 1000 runs (Binomial(N, P(|t₁₄| > 3))),
    and none beyond 5 — a figure defined or aggregated differently lies many errors away."""
    from scipy import stats

    sc = load_scenario(REPO / "scenarios" / f"{name}.yaml")
    reps = 8
    got = explain(sc, reps=reps, seed=0)
    assert got["source"]["engine"] == "fast" and got["source"]["reps"] == reps
    assert "does not model" in got["source"]["why"]
    sheets = [table_flat(s) for s in figures_from_table(simulate(sc, reps=reps, seed=1000, uncertainty=False))]
    theirs = flat(got)
    assert set(sheets[0]) == set(theirs)
    z = {}
    for key in theirs:
        vals = [s[key] for s in sheets if s[key] is not None]
        fig = theirs[key]
        if not vals:
            assert fig["value"] is None, key
            continue
        assert fig["source"] == "fast", key
        mean, se = float(np.mean(vals)), float(np.std(vals, ddof=1) / math.sqrt(len(vals)))
        bound = math.hypot(se, fig["se"])
        if bound == 0:                              # no spread on either side (a channel idle in a phase)
            assert fig["value"] == pytest.approx(mean, abs=1e-12), key
            continue
        z[key] = (abs(fig["value"] - mean) / bound, (f"{key}: explain {fig['value']:.6g} ± {fig['se']:.3g}, "
                                                    f"replications {mean:.6g} ± {se:.3g}"))
    assert len(z) > 40
    beyond3 = [text for v, text in z.values() if v > 3]
    allowed = int(stats.binom.ppf(0.999, len(z), 2 * stats.t.sf(3, 2 * (reps - 1))))
    assert len(beyond3) <= allowed, f"{len(beyond3)} of {len(z)} beyond 3 SE (chance allows {allowed}):\n" + \
        "\n".join(beyond3)
    assert not [text for v, text in z.values() if v > 5], "beyond 5 SE"


def test_break_even_roi_equals_its_closed_form_on_a_one_sku_plan():
    """One SKU at list 100 with 20 % off (p = 80), unit cost u = 40, U = 1.5 units per order, a
    return rate r = 0.1, platform fee f = 5 %, shipping s = 7 per order, return handling h = 10
    per unit: per order, gross margin = U·p·(1 − r)·(1 − f) − U·(1 − r)·u − s − h·r·U against
    GMV U·p, so the break-even ROI is U·p / that margin (= 120 / 40.1) for every channel."""
    sc = one_sku(stock=10**9, hours=48, sku={"discount": 0.2, "return_rate": 0.1, "units_per_order": 1.5},
                 extra={"meta": {"platform_fee_rate": 0.05, "shipping_cost_per_order": 7.0,
                                 "return_cost_per_unit": 10.0},
                        "channels": {"ads": {"kind": "paid_search", "cpc": 2.0, "clicks_per_hour": 50}}})
    got = explain(sc)
    assert got["source"]["engine"] == "expected"
    U, p, u, r, f, s, h = 1.5, 80.0, 40.0, 0.1, 0.05, 7.0, 10.0
    margin = U * p * (1 - r) * (1 - f) - U * (1 - r) * u - s - h * r * U
    for name in ("organic", "ads"):
        ch = got["channels"][name]
        assert ch["break_even_roi"]["value"] == pytest.approx(U * p / margin, rel=1e-12)
        assert ch["gross_margin_rate"]["value"] == pytest.approx(margin / (U * p), rel=1e-12)
    # paid search at ROI = GMV / spend; above its break-even, its attributed margin pays its clicks
    ads = got["channels"]["ads"]
    assert ads["roi"]["value"] == pytest.approx(0.1 * 0.8 ** -2 * U * p / 2.0, rel=1e-12)   # a click buys with 0.1 × 0.8^-2
    assert ads["roi"]["value"] > ads["break_even_roi"]["value"]


def test_explain_json_and_table_through_the_cli(tmp_path, capsys):
    plan = MINIMAL.read_text(encoding="utf-8").replace("discount: 0.1", "discount: 0.75")
    f = tmp_path / "plan.yaml"
    f.write_text(plan, encoding="utf-8")
    assert main(["explain", str(f), "--json", "--quiet"]) == 0
    out = capsys.readouterr()
    got = json.loads(out.out)
    assert set(got) == {"scenario", "currency", "source", "by", "phases", "channels", "warnings"}
    assert [p["name"] for p in got["phases"]] == ["warmup", "burst", "campaign"]
    assert [w["path"] for w in got["warnings"]] == ["skus.lipstick.discount"]
    assert f"{f}:39: warning: skus.lipstick.discount: discount 0.75 takes 75 %" in out.err
    assert main(["explain", str(MINIMAL), "--quiet"]) == 0
    text = capsys.readouterr().out
    for label in ("expected engine", "支付转化率", "加购率", "客单价", "保本ROI", "organic", "warmup", "campaign"):
        assert label in text, label
