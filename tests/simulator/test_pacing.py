"""Pacing policies and carry-over (docs/pacing.md): the spend line, in both engines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ttest_ind

from simulator.engine.fast import FastEngine
from simulator.kpis import run_kpis
from simulator.model import build_model
from simulator.pacing import paced
from simulator.reference import ReferenceEngine
from simulator.runner import replication_seed, simulate
from tests.helpers import at, one_sku


def _paid(pacing: str, budget: float = 240.0, clicks: float = 400.0, hours: float = 48, **extra):
    return one_sku(stock=10**6, hours=hours, tick_minutes=60, extra={"channels": {"organic": {"visits_per_hour": 0.0},
                   "paid_search": {"kind": "paid_search", "cpc": 1.5, "clicks_per_hour": clicks,
                                   "daily_budget": budget, "pacing": pacing, **extra}}})


def test_paced_is_the_running_minimum_recursion():
    rng = np.random.default_rng(0)
    plan, line = rng.poisson(3.0, 200).astype(float), np.cumsum(rng.uniform(0, 5, 200))
    s, want = 1.0, []
    for p, cap in zip(plan, line):
        s = min(s + p, cap)
        want.append(s)
    assert np.allclose(paced(plan, line, 1.0), want)


@pytest.mark.parametrize("seed", range(5))
def test_even_pacing_keeps_cumulative_spend_on_the_line(seed):
    """Ample clicks, a daily budget of 240 at 1.5 a click: at the end of hour t the day's spend
    is within one click of 240 × (t + 1) / 24, never above it."""
    sc = _paid("even")
    rec = FastEngine(build_model(sc)).run(replication_seed(seed, 0))
    spend = rec.by_channel["ad_spend"][:, 1].reshape(2, 24)
    line = 240.0 * np.arange(1, 25) / 24
    for day in spend:
        cum = np.cumsum(day)
        assert np.all(cum <= line + 1e-9) and np.all(line - cum < 1.5 + 1e-9), (cum, line)


def test_asap_spends_the_budget_in_the_first_hours_and_even_over_the_day():
    asap = FastEngine(build_model(_paid("asap"))).run(1).by_channel["ad_spend"][:24, 1]
    even = FastEngine(build_model(_paid("even"))).run(1).by_channel["ad_spend"][:24, 1]
    assert np.isclose(asap.sum(), 240) and np.isclose(even.sum(), 240)
    assert asap[0] == 240 and np.count_nonzero(even) == 24


def test_launch_weighted_follows_the_traffic_shape():
    """A launch spike at 20:00: the launch-weighted line gives each hour the budget's share of
    the day's expected traffic, so the hours after the spike get the most (display: exact)."""
    extra = {"calendar": {"spikes": [{"at": at(20), "amplitude": 5.0, "decay_minutes": 60}]},
             "channels": {"organic": {"visits_per_hour": 0.0},
                          "display": {"kind": "display", "cpm": 10.0, "impressions_per_hour": 20000, "ctr": 0.01,
                                      "daily_budget": 1000.0, "pacing": "launch_weighted"}}}
    model = build_model(one_sku(stock=10**6, hours=24, tick_minutes=60, extra=extra))
    spend = FastEngine(model).run(0).by_channel["ad_spend"][:, 1]
    traffic = model.traffic[:, 1]                       # ∝ planned impressions (no audience)
    assert np.isclose(spend.sum(), 1000)               # 4 800 planned: the line binds all day
    assert np.allclose(spend / spend.sum(), traffic / traffic.sum())
    assert spend[20] > 3 * spend[12]


def test_carry_over_adds_what_a_day_left_to_the_next():
    """Day one's traffic buys only 48 of its 240 (24 h × 200 impressions × 10 / 1000); with
    carry-over day two may spend 240 + 192, without it 240."""
    def scenario(carry: bool):
        return one_sku(stock=10**6, hours=48, tick_minutes=60, extra={
            "calendar": {"phases": [{"name": "quiet", "start": at(0), "end": at(24), "traffic": {"display": 0.1}}]},
            "channels": {"organic": {"visits_per_hour": 0.0},
                         "display": {"kind": "display", "cpm": 10.0, "impressions_per_hour": 2000.0, "ctr": 0.01,
                                     "daily_budget": 240.0, "carry_over": carry}}})
    for carry, day2 in ((False, 240.0), (True, 240.0 + (240.0 - 48.0))):
        spend = FastEngine(build_model(scenario(carry))).run(0).by_channel["ad_spend"][:, 1]
        assert spend[:24].sum() == pytest.approx(48.0)
        assert spend[24:].sum() == pytest.approx(day2)


def test_carry_over_in_paid_search():
    """Paid search, clicks for about 60 of 240 on day one: day two spends 240 + what was left."""
    sc = _paid("asap", clicks=400.0, carry_over=True)
    sc = sc.with_overrides({"calendar": {"phases": [{"name": "quiet", "start": at(0), "end": at(24),
                                                     "traffic": {"paid_search": 0.004}}]}})
    rec = FastEngine(build_model(sc)).run(2)
    spend = rec.by_channel["ad_spend"][:, 1]
    assert spend[:24].sum() < 240
    assert spend[24:].sum() == pytest.approx(240 + (240 - spend[:24].sum()), abs=1.5)


@pytest.mark.slow
def test_pacing_agrees_with_the_reference_engine():
    """Even-paced search with a binding daily budget and carry-over, launch-weighted display
    with a total budget only: Welch per KPI under Holm at 1 %, 120 seeds each."""
    sc = one_sku(stock=10**6, hours=36, tick_minutes=30, visits_per_hour=30, extra={
        "calendar": {"spikes": [{"at": at(20), "amplitude": 4.0, "decay_minutes": 45}],
                     "phases": [{"name": "quiet", "start": at(0), "end": at(12), "traffic": {"default": 0.3}}]},
        "channels": {"paid_search": {"kind": "paid_search", "cpc": 2.0, "clicks_per_hour": 12.0,
                                     "daily_budget": 260.0, "pacing": "even", "carry_over": True},
                     "display": {"kind": "display", "cpm": 20.0, "impressions_per_hour": 3000, "ctr": 0.01,
                                 "total_budget": 900.0, "pacing": "launch_weighted"}}})
    kpis = ("visits", "orders", "ad_spend", "gmv")
    runs = {e: simulate(sc, reps=120, seed=4, engine=e) for e in ("fast", "reference")}
    p = []
    for k in kpis:
        a, b = ([run_kpis(r, res.model)[k] for r in res.records] for res in runs.values())
        p.append((ttest_ind(a, b, equal_var=False).pvalue, k, np.mean(a), np.mean(b)))
    hour_spend = {e: np.mean([r.by_channel["ad_spend"].sum(axis=1) for r in res.records], axis=0)
                  for e, res in runs.items()}
    low, k, fa, re = min(p)
    assert low > 0.01 / len(p), f"{k}: fast {fa:.2f} vs reference {re:.2f} (p = {low:.2g})"
    assert np.allclose(hour_spend["fast"], hour_spend["reference"], rtol=0.1, atol=8.0)


def test_media_channel_kpis():
    """Paid search: clicks are its visits at the set cpc; display: impressions bought (spend /
    cpm × 1000) and ctr; budgets: the total, else the daily budget × days; organic has none."""
    from simulator.kpis import channel_kpis

    sc = one_sku(stock=10**6, hours=48, tick_minutes=60, extra={"channels": {
        "paid_search": {"kind": "paid_search", "cpc": 1.5, "clicks_per_hour": 40, "daily_budget": 240.0},
        "display": {"kind": "display", "cpm": 10.0, "impressions_per_hour": 2000, "ctr": 0.02,
                    "total_budget": 500.0, "pacing": "even"}}})
    model = build_model(sc)
    rec = FastEngine(model).run(0)
    k = channel_kpis(rec, model)
    assert k["paid_search"]["budget"] == 480.0 and k["display"]["budget"] == 500.0
    assert k["organic"]["budget"] is None and k["organic"]["clicks"] is None and k["organic"]["cpc"] is None
    assert k["paid_search"]["cpc"] == pytest.approx(1.5) and k["paid_search"]["clicks"] == k["paid_search"]["visits"]
    assert k["paid_search"]["impressions"] is None and k["paid_search"]["win_rate"] is None
    assert k["display"]["ad_spend"] == pytest.approx(500.0)          # 960 on offer, paced to the total
    assert k["display"]["impressions"] == pytest.approx(50000)
    assert k["display"]["ctr"] == pytest.approx(k["display"]["visits"] / 50000)
    spend = rec.by_channel["ad_spend"][:, 2]
    assert np.allclose(spend, 500 / 48)                              # even over the campaign


# ------------------------------------------------------------------ roi_target
def _roi_scenario(channels: dict, phases=None) -> object:
    extra = {"channels": channels}
    if phases:
        extra["calendar"] = {"intraday": "flat", "phases": phases}
    return one_sku(stock=10**9, hours=24, base_conversion=0.05, extra=extra)


def test_roi_target_buys_flat_clicks_only_in_phases_that_return_the_target():
    """Price 100, conversion 5 % (× intent): a visit is worth 5 in the first phase and 10 in the
    second (intent 2); at cpc 2 and target 3 only the second phase buys clicks."""
    phases = [{"name": "quiet", "start": "2026-11-10 00:00", "end": "2026-11-10 12:00"},
              {"name": "hot", "start": "2026-11-10 12:00", "end": "2026-11-11 00:00", "intent": 2.0}]
    sc = _roi_scenario({"ads": {"kind": "paid_search", "cpc": 2.0, "clicks_per_hour": 50.0, "pacing": "roi_target",
                                "roi_target": 3.0}}, phases)
    model = build_model(sc)
    assert model.value[1:, 1] == pytest.approx([5.0, 10.0])
    for engine in (FastEngine, ReferenceEngine):
        rec = engine(model).run(replication_seed(2, 0))
        visits = rec.by_channel["visits"][:, 1]
        assert visits[:12].sum() == 0 and visits[12:].sum() > 400


def test_roi_target_caps_an_ad_groups_bid_at_what_a_click_returns():
    """A visit is worth 5; target 4: the group bids at most 1.25 instead of 3, so it shows less
    often (never more, on one seed) and no hour's mean price passes 1.25."""
    group = {"bid": 3.0, "auctions_per_hour": 800, "rivals": {"median": 1.2, "sigma": 0.6, "count": 2}}
    base = {"kind": "paid_search", "ctr_by_position": [0.2, 0.1], "ad_groups": {"kw": group}}
    free = build_model(_roi_scenario({"search": base}))
    capped = build_model(_roi_scenario({"search": {**base, "pacing": "roi_target", "roi_target": 4.0}}))
    assert capped.auctions[0].cap[:, 0] == pytest.approx(1.25)
    for i in range(3):
        a = FastEngine(free).run(replication_seed(6, i)).ad_groups["search"]
        b = FastEngine(capped).run(replication_seed(6, i)).ad_groups["search"]
        assert np.all(b["impressions"] <= a["impressions"]) and b["impressions"].sum() < a["impressions"].sum()
        assert np.all(b["ad_spend"][:, 0] <= 1.25 * b["clicks"][:, 0] + 1e-9)


def test_roi_target_stops_display_where_the_next_impression_returns_the_target():
    """Reach saturates over an audience of 20 000: the k-th impression reaches someone new with
    probability exp(−I/A). A visit is worth 5, ctr 2 %, cpm 10: the first impression returns
    0.1 / 0.01 = 10; with target 2 buying stops at I* = A ln 5, exactly, in both engines."""
    sc = _roi_scenario({"feed": {"kind": "display", "cpm": 10.0, "impressions_per_hour": 20000.0, "ctr": 0.02,
                                 "audience": 20000.0, "pacing": "roi_target", "roi_target": 2.0}})
    model = build_model(sc)
    want = 20000.0 * math.log(5.0)
    for engine in (FastEngine, ReferenceEngine):
        rec = engine(model).run(replication_seed(1, 0))
        spend = rec.by_channel["ad_spend"][:, 1]
        assert spend.sum() / 10.0 * 1000 == pytest.approx(want, rel=1e-9)
        assert spend[0] > 0 and spend[-1] == 0


def test_a_budget_spent_at_once_leaves_nothing_for_later_days():
    """Found by the property test: a total budget of 0.0312 spent in the first tick of a day
    with 1 024 of impressions on offer. S = X + (line − X) lost the last bits, left ~1e-13 of
    budget, and the next day spent it; the budget now snaps to exactly spent."""
    sc = one_sku(stock=0, hours=27, tick_minutes=1, visits_per_hour=0.0, extra={"channels": {"feed": {
        "kind": "display", "total_budget": 0.0312, "cpm": 5.0, "impressions_per_hour": 8534.0, "ctr": 0.0}}})
    model = build_model(sc)
    spend = model.media_spend[:, 1]
    assert np.flatnonzero(spend).tolist() == [0] and spend.sum() == 0.0312
    assert [e[0] for e in model.fixed_events if e[1] == "budget_exhausted"] == [0]


def test_the_plan_values_a_visit_by_plain_sums():
    """roi_target weighs a click by the expected GMV of a visit (docs/pacing.md): the plan's
    array (which every engine reads) equals plain sums over SKUs and segments of where a visit
    lands × P(buy) at the phase's price (its pay phase's, for a warm-up) × price × units per
    order, phase by phase and channel by channel."""

    sc = one_sku(stock=100, hours=6, tick_minutes=60, sku={"units_per_order": 1.7, "promo_lift": 1.3,
                                                            "discount": {"burst": 0.3, "default": 0.1}},
                 extra={"calendar": {"phases": [{"name": "warm", "kind": "warmup", "start": at(1), "end": at(3),
                                                 "intent": 1.4},
                                                {"name": "burst", "start": at(3), "end": at(5), "promo": ["item"]}]},
                        "channels": {"feed": {"kind": "recommendation", "visits_per_hour": 50.0, "quality": 0.7,
                                              "segments": {"new": 0.3, "old": 0.7}}},
                        "skus": {"other": {"price": 40.0, "unit_cost": 10.0, "base_conversion": 0.2, "stock": 10,
                                           "elasticity": -3.0, "attractiveness": 2.0}},
                        "segments": {"new": {"share": 0.6, "price_sensitivity": 1.5}, "old": {"share": 0.4, "conversion": 2.0}}})
    model = build_model(sc)
    phases = {p.name: p for p in sc.calendar.phases}
    pay = {None: None, "warm": "burst", "burst": "burst"}
    attract = sum(s.attractiveness for s in sc.skus.values())
    for j, phase in enumerate([None, "warm", "burst"]):
        intent = 1.0 if phase is None else phases[phase].intent
        for c, name in enumerate(model.channels):
            ch, total = sc.channels[name], 0.0
            mix = ch.segments or {g: seg.share for g, seg in sc.segments.items()}
            for sku, s in sc.skus.items():
                price = s.price * (1 - s.discount_in(pay[phase]))
                lift = s.promo_lift if pay[phase] and phases[pay[phase]].on_promo(sku) else 1.0
                for seg, w in mix.items():
                    g = sc.segments[seg]
                    p = (s.base_conversion * intent * g.conversion * lift
                         * (price / s.price) ** (s.elasticity * g.price_sensitivity))
                    total += s.attractiveness / attract * w * min(1.0, ch.quality * p) * price * s.units_per_order
            assert model.value[j, c] == pytest.approx(total, rel=1e-12), (phase, name)
    assert model.phases == ["(none)", "warm", "burst"]
