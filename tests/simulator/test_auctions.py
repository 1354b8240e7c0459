"""Search-ad auctions (docs/auctions.md) against exact answers and hand computations.

* Win rate and mean price per click under a lognormal landscape with a fixed bid match their
  closed forms (one rival, one slot: the lognormal CDF and partial expectation; three rivals,
  two slots: a binomial over positions and the integral of the price's survival function),
  within 3 standard errors from the replications.
* Budgets: spend never exceeds a daily or total budget (shared by the channel or per group);
  the exhaustion tick and its prorated clicks match a hand computation with a fixed price;
  under even pacing with ample auctions cumulative spend follows B·(t+1)/T exactly.
* Monotonicity: with no budget, impressions never fall when the bid rises, hour by hour and
  group by group, on one seed; mean spend never falls (within 3 SE) when the budget rises.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from simulator.engine import FastEngine
from simulator.kpis import channel_kpis
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.runner import replication_seed
from simulator.scenario import Scenario
from tests.helpers import events_of, one_sku

Z = 3.0


def search(groups: dict, hours: float = 24, tick_minutes: int = 60, ctr=(0.2,), reserve: float = 0.3,
           phases: list | None = None, **channel) -> object:
    """One SKU, one auction channel `search` (flat intraday) with `groups`."""
    extra = {"channels": {"search": {"kind": "paid_search", "ad_groups": groups, "ctr_by_position": list(ctr),
                                     "reserve_price": reserve, **channel}}}
    if phases:
        extra["calendar"] = {"intraday": "flat", "phases": phases}
    sc = one_sku(stock=10**9, hours=hours, tick_minutes=tick_minutes, visits_per_hour=10.0, extra=extra)
    return sc


def runs(sc, n: int, seed: int = 11):
    model = build_model(sc)
    eng = FastEngine(model)
    return model, [eng.run(replication_seed(seed, i)) for i in range(n)]


def group_sums(records, flow: str, g: int = 0) -> np.ndarray:
    return np.array([r.ad_groups["search"][flow][:, g].sum() for r in records])


def within(sample: np.ndarray, exact: float, what: str) -> None:
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - exact) <= Z * se, f"{what}: {sample.mean():.5f} vs exact {exact:.5f} (SE {se:.5f})"


# ------------------------------------------------------------ closed forms
def test_one_rival_one_slot_win_rate_and_price_match_the_lognormal_closed_form():
    bid, qs, med, sig, res = 1.0, 1.2, 1.0, 0.5, 0.3
    sc = search({"kw": {"bid": bid, "quality_score": qs, "auctions_per_hour": 2000,
                        "rivals": {"median": med, "sigma": sig, "count": 1}}}, reserve=res)
    _, recs = runs(sc, 30)
    mu, r, lo = math.log(med), bid * qs, res * qs
    win = stats.norm.cdf((math.log(r) - mu) / sig)
    partial = math.exp(mu + sig ** 2 / 2) * (stats.norm.cdf((math.log(r) - mu - sig ** 2) / sig)
                                             - stats.norm.cdf((math.log(lo) - mu - sig ** 2) / sig))
    price = (res * stats.norm.cdf((math.log(lo) - mu) / sig) + partial / qs) / win
    within(group_sums(recs, "impressions") / group_sums(recs, "auctions"), win, "win rate")
    within(group_sums(recs, "ad_spend") / group_sums(recs, "clicks"), price, "mean price per click")
    within(group_sums(recs, "clicks") / group_sums(recs, "impressions"), 0.2, "ctr")


def test_three_rivals_two_slots_match_the_position_closed_form():
    bid, qs, med, sig, res, count = 1.4, 0.9, 1.0, 0.7, 0.4, 3
    ctr = (0.15, 0.06)
    sc = search({"kw": {"bid": bid, "quality_score": qs, "auctions_per_hour": 3000,
                        "rivals": {"median": med, "sigma": sig, "count": count}}}, ctr=ctr, reserve=res)
    _, recs = runs(sc, 30)
    F = stats.lognorm(s=sig, scale=med).cdf
    r = bid * qs
    p_above = 1 - F(r)
    shown = [stats.binom.pmf(j, count, p_above) for j in range(len(ctr))]

    def mean_price(j: int) -> float:
        m = count - j
        if m == 0:
            return res
        surv = lambda z: 1 - (F(z * qs) / F(r)) ** m if z * qs < r else 0.0
        return res + integrate.quad(surv, res, bid, limit=200)[0]

    weight = [shown[j] * ctr[j] for j in range(len(ctr))]
    price = sum(w * mean_price(j) for j, w in enumerate(weight)) / sum(weight)
    within(group_sums(recs, "impressions") / group_sums(recs, "auctions"), sum(shown), "win rate")
    within(group_sums(recs, "ad_spend") / group_sums(recs, "clicks"), price, "mean price per click")
    within(group_sums(recs, "clicks") / group_sums(recs, "impressions"), sum(weight) / sum(shown), "ctr")


def test_a_bid_below_the_reserve_never_shows():
    sc = search({"low": {"bid": 0.2, "auctions_per_hour": 500, "rivals": {"median": 0.1, "sigma": 0, "count": 1}},
                 "ok": {"bid": 0.5, "auctions_per_hour": 500, "rivals": {"median": 0.1, "sigma": 0, "count": 1}}},
                reserve=0.3)
    _, recs = runs(sc, 3)
    assert group_sums(recs, "auctions", 0).min() > 0
    assert group_sums(recs, "impressions", 0).max() == 0
    assert group_sums(recs, "impressions", 1).min() > 0
    # the rival ranks below the reserve: every click pays the reserve
    assert np.allclose(group_sums(recs, "ad_spend", 1) / group_sums(recs, "clicks", 1), 0.3)


# ---------------------------------------------------------------- budgets
@pytest.mark.parametrize("where", ["channel", "groups"])
def test_spend_never_exceeds_a_budget(where):
    groups = {"a": {"bid": 1.5, "auctions_per_hour": 3000, "rivals": {"median": 1.0, "sigma": 0.6, "count": 2}},
              "b": {"bid": 0.8, "auctions_per_hour": 2000, "rivals": {"median": 0.7, "sigma": 0.4, "count": 1}}}
    budgets = {"daily_budget": 300.0, "total_budget": 700.0}
    if where == "groups":
        groups["a"].update(budgets)
        groups["b"].update(daily_budget=120.0)
        sc = search(groups, hours=72, tick_minutes=15, pacing="even", carry_over=True)
    else:
        sc = search(groups, hours=72, tick_minutes=15, **budgets)
    model, recs = runs(sc, 5)
    days = np.repeat(np.arange(3), 24)
    for rec in recs:
        spend = rec.ad_groups["search"]["ad_spend"]
        per_day = np.array([np.bincount(days, weights=spend[:, g]) for g in range(2)])   # (G, days)
        assert np.allclose(spend.sum(), rec.by_channel["ad_spend"].sum())
        if where == "channel":
            assert per_day.sum(axis=0).max() <= 300.0 + 1e-6
            assert spend.sum() <= 700.0 + 1e-6
            assert spend.sum() == pytest.approx(700.0)                      # ample auctions: it binds
        else:
            assert spend[:, 0].sum() <= 700.0 + 1e-6
            assert np.all(np.cumsum(per_day[1]) <= 120.0 * np.arange(1, 4) + 1e-6)   # carry-over
            assert per_day[0].max() <= 300.0 + 300.0 + 1e-6


def test_the_exhaustion_tick_matches_a_hand_computation():
    """A fixed price (one rival always at 1.0, quality 1): each click costs exactly 1.0. The
    same seed without the budget gives the clicks per hour; the budget B = 350 runs out in the
    first hour where their running sum reaches B, that hour keeps B − (spent before) clicks."""
    group = {"bid": 1.5, "auctions_per_hour": 1000, "rivals": {"median": 1.0, "sigma": 0.0, "count": 1}}
    free = search({"kw": group}, ctr=(0.1,))
    capped = search({"kw": {**group, "daily_budget": 350.0}}, ctr=(0.1,))
    for i in range(5):
        seed = replication_seed(5, i)
        base = FastEngine(build_model(free)).run(seed)
        rec = FastEngine(build_model(capped)).run(seed)
        clicks = base.ad_groups["search"]["clicks"][:, 0]
        assert np.allclose(base.ad_groups["search"]["ad_spend"][:, 0], clicks)          # price 1.0
        cum = np.cumsum(clicks)
        t = int(np.searchsorted(cum, 350.0))                                             # first cum ≥ B
        got = rec.ad_groups["search"]["clicks"][:, 0]
        assert np.array_equal(got[:t], clicks[:t])
        assert got[t] == 350 - (cum[t - 1] if t else 0)
        assert got[t + 1:].sum() == 0
        assert rec.by_channel["ad_spend"].sum() == pytest.approx(350.0, abs=1e-9)
        assert [e[0] for e in events_of(rec, "budget_exhausted")] == [t]


def test_even_pacing_follows_the_line_tick_by_tick():
    """Ample auctions, even pacing of B = 480 over a day of 24 hourly ticks: cumulative spend
    is B·(t+1)/24 at every tick (the crossing click pays what is left), so it stays within
    one tick's maximum spend of the line."""
    sc = search({"kw": {"bid": 2.0, "auctions_per_hour": 5000, "rivals": {"median": 1.2, "sigma": 0.5, "count": 2}}},
                daily_budget=480.0, pacing="even")
    _, recs = runs(sc, 5)
    line = 480.0 * np.arange(1, 25) / 24
    for rec in recs:
        spend = rec.by_channel["ad_spend"][:, 1]
        cum = np.cumsum(spend)
        assert np.all(cum <= line + 1e-6)
        assert np.all(line - cum <= spend.max() + 1e-6)
        assert np.allclose(cum, line)
        assert rec.ad_groups["search"]["impressions"].sum() < rec.ad_groups["search"]["auctions"].sum() * 0.9


def test_a_channel_budget_is_shared_by_its_groups():
    groups = {g: {"bid": 1.0, "auctions_per_hour": 2000, "rivals": {"median": 0.8, "sigma": 0.5, "count": 1}}
              for g in ("a", "b", "c")}
    sc = search(groups, daily_budget=200.0, hours=24)
    model, recs = runs(sc, 3)
    for rec in recs:
        assert rec.ad_groups["search"]["ad_spend"].sum() == pytest.approx(200.0)
        assert [e[2] for e in events_of(rec, "budget_exhausted")] == ["search"]
        k = channel_kpis(rec, model)["search"]
        assert k["budget"] == 200.0
        assert sum(v["ad_spend"] for v in k["ad_groups"].values()) == pytest.approx(200.0)
        assert sum(v["orders"] for v in k["ad_groups"].values()) == pytest.approx(k["orders"])


# ----------------------------------------------------------- monotonicity
def test_impressions_never_fall_when_the_bid_rises():
    """No budget: on one seed, every hour's impressions of every group are non-decreasing in
    the bid of group `kw` (and the other group's are untouched)."""
    phases = [{"name": "eve", "start": "2026-11-10 00:00", "end": "2026-11-10 20:00"},
              {"name": "launch", "start": "2026-11-10 20:00", "end": "2026-11-11 12:00", "traffic": {"search": 3.0}}]
    paths = []
    for bid in (0.4, 0.7, 1.0, 1.3, 1.8, 3.0):
        groups = {"kw": {"bid": bid, "quality_score": 1.1, "auctions_per_hour": 400,
                         "rivals": {"median": 1.0, "sigma": 0.6, "count": 3},
                         "rivals_by_phase": {"launch": {"median": 1.5}}},
                  "other": {"bid": 1.0, "auctions_per_hour": 200, "rivals": {"median": 1.0, "count": 2}}}
        sc = search(groups, hours=36, tick_minutes=15, ctr=(0.2, 0.1, 0.05), phases=phases)
        eng = FastEngine(build_model(sc))
        paths.append([eng.run(replication_seed(9, i)).ad_groups["search"]["impressions"] for i in range(4)])
    for i in range(4):
        kw = np.stack([p[i][:, 0] for p in paths])                      # (bids, H)
        assert np.all(np.diff(kw, axis=0) >= 0)
        assert kw[-1].sum() > kw[0].sum()
        other = np.stack([p[i][:, 1] for p in paths])
        assert np.all(other == other[0])


def test_mean_spend_never_falls_when_the_budget_rises():
    base = {"bid": 1.2, "auctions_per_hour": 800, "rivals": {"median": 1.0, "sigma": 0.5, "count": 2}}
    means, ses = [], []
    for budget in (20.0, 60.0, 120.0, 240.0, 1e9):
        sc = search({"kw": {**base, "daily_budget": budget}}, hours=24, pacing="even")
        _, recs = runs(sc, 20, seed=4)
        spend = np.array([r.by_channel["ad_spend"].sum() for r in recs])
        means.append(spend.mean())
        ses.append(spend.std(ddof=1) / math.sqrt(spend.size))
    for k in range(len(means) - 1):
        assert means[k + 1] >= means[k] - Z * math.hypot(ses[k], ses[k + 1]), (means, ses)
    assert means[-1] > means[0]


# ------------------------------------------------------------ ad groups' own intent
def _intent_plan():
    """Two groups whose clicks convert at 2 × and 0.5 × the channel's rate (no budgets), and a
    third at the channel's rate, in a rows-of-their-own layout the engines build from it."""
    rivals = {"median": 1.0, "sigma": 0.5, "count": 1}
    groups = {"brand": {"bid": 1.5, "auctions_per_hour": 400, "rivals": rivals, "conversion": 2.0},
              "tail": {"bid": 1.2, "auctions_per_hour": 600, "rivals": rivals, "conversion": 0.5},
              "plain": {"bid": 1.0, "auctions_per_hour": 300, "rivals": rivals}}
    return search(groups, hours=12, tick_minutes=10, ctr=(0.3,))


@pytest.mark.parametrize("engine, reps", [("fast", 150), ("reference", 40)])
def test_each_ad_group_converts_at_its_own_rate(engine, reps):
    """Orders of a group's clicks = clicks × P(a visit of the channel buys) × its `conversion`
    (within 3 SE), the groups' orders add up to the channel's run by run, and its GMV is its
    orders' units at the price."""
    sc = _intent_plan()
    model = build_model(sc)
    eng = FastEngine(model) if engine == "fast" else ReferenceEngine(model)
    recs = [eng.run(replication_seed(23, i)) for i in range(reps)]
    c = model.channels.index("search")
    p = float(model.reach[0, c].sum())                      # P(a visit of the channel buys), one phase
    for g, m in enumerate((2.0, 0.5, 1.0)):
        within(group_sums(recs, "orders", g) - m * p * group_sums(recs, "clicks", g), 0.0, f"group {g} orders")
    for r in recs:
        book = r.ad_groups["search"]
        assert book["orders"].sum() == pytest.approx(r.by_channel["orders"][:, c].sum())
        assert book["gmv"].sum() == pytest.approx(r.by_channel["gmv"][:, c].sum())


def test_roi_target_caps_each_groups_bid_at_its_own_worth():
    sc = _intent_plan()
    data = sc.model_dump(mode="json")
    data["channels"]["search"].update({"pacing": "roi_target", "roi_target": 8.0})
    model = build_model(Scenario.model_validate(data))
    au = model.auctions[0]
    worth = model.value[:, au.c]
    assert au.cap == pytest.approx(np.minimum(au.bid[None, :], worth[:, None] * np.array([2.0, 0.5, 1.0]) / 8.0))
    assert au.cap[0, 1] < au.bid[1]                         # the tail group's worth binds its bid
