"""Statistical tests against exact answers (tolerance: 3 standard errors, from the data).

* One SKU, constant Poisson demand, stock S, no replenishment: demand over the campaign
  D ~ Poisson(λ), so P(stock-out) = P(D > S), E[lost] = E[(D − S)⁺], E[sold] = E[min(D, S)].
* Warm-up carts pay through at the sale with probability q: cart orders | carts ~ Binomial(carts, q),
  spread over the first ticks of the sale by the exponential pay profile.
* Paid search with far more clicks than budget: spend per day is floor(B / cpc) · cpc, exactly.

Every run uses a fixed base seed, so the outcome is reproducible; 3 SE keeps the chance
that a correct engine fails one comparison at ~0.3 %.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from simulator.runner import simulate
from simulator.scenario import Scenario
from tests.helpers import at, events_of, expected_demand, hour_day, one_sku

Z = 3.0  # standard errors


def within(sample: np.ndarray, expected: float, what: str) -> None:
    """Sample mean within Z standard errors (sample std / √n) of `expected`."""
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - expected) <= Z * se, \
        f"{what}: mean {sample.mean():.4f} vs exact {expected:.4f} (SE {se:.4f})"


def within_share(hits: int, n: int, p: float, what: str) -> None:
    """Share hits/n within Z standard errors √(p(1−p)/n) of the exact probability p."""
    se = math.sqrt(p * (1 - p) / n)
    assert abs(hits / n - p) <= Z * se, f"{what}: {hits}/{n} = {hits / n:.4f} vs exact {p:.4f} (SE {se:.4f})"


# ---------------------------------------------------------------- newsvendor
@pytest.mark.parametrize(
    "stock, hours, start_hour, tick, visits, conversion",
    [
        (20, 10, 0, 60, 100.0, 0.02),     # λ = 20 = S: about half the runs stock out
        (10, 6, 22, 15, 100.0, 0.02),     # λ = 12, crosses local midnight (two chunks)
        (30, 3, 9, 1, 250.0, 0.036),      # λ = 27 in one-minute ticks, S above the mean
    ],
)
def test_stockouts_and_lost_units_match_poisson_demand(stock, hours, start_hour, tick, visits, conversion):
    reps = 2000
    sc = one_sku(stock=stock, hours=hours, start_hour=start_hour, tick_minutes=tick,
                 visits_per_hour=visits, base_conversion=conversion)
    res = simulate(sc, reps=reps, seed=20261111)
    lam = expected_demand(res.model)
    assert lam == pytest.approx(hours * visits * conversion, rel=1e-12)   # the model's demand is the plan's
    k = res.kpis()
    lost, units = k["lost_units"].to_numpy(), k["units"].to_numpy()
    assert np.all(units + lost >= 0) and np.all(units <= stock)

    D = stats.poisson(lam)
    p_out = D.sf(stock)                                                   # P(D > S)
    e_lost = lam * D.sf(stock - 1) - stock * D.sf(stock)                  # E[(D − S)⁺]
    within_share(int((lost > 0).sum()), reps, p_out, "P(lost_units > 0)")
    within(lost, e_lost, "lost units")
    within(units, lam - e_lost, "units sold")                             # E[min(D, S)]
    # a run stocks out exactly when it sells the whole stock and demand is left over
    assert np.array_equal(lost > 0, (units == stock) & (k["stockout_minutes"].to_numpy() > 0))


# ------------------------------------------------------------ warm-up carts
def _warmup_scenario(pay_through: float, pay_minutes: float, tick: int) -> Scenario:
    """6 h of warm-up (carts only), then a 4 h sale with no new traffic: every sale order is a cart."""
    return one_sku(
        stock=100_000, hours=10, tick_minutes=tick, visits_per_hour=100.0, base_conversion=0.05,
        sku={"discount": {"burst": 0.2}, "elasticity": -2.0},
        extra={"calendar": {
            "cart_pay_through": pay_through, "cart_pay_minutes": pay_minutes,
            "phases": [{"name": "warmup", "kind": "warmup", "start": at(0), "end": at(6)},
                       {"name": "burst", "kind": "sale", "start": at(6), "end": at(10),
                        "traffic": {"default": 0.0}}]}},
    )


def test_warmup_carts_pay_through_as_a_binomial():
    q, reps = 0.6, 1500
    res = simulate(_warmup_scenario(q, 30.0, 60), reps=reps, seed=618)
    m = res.model
    # carts convert at the price they will pay (the sale's): 0.05 · 0.8^−2 per visit
    buy = 0.05 * 0.8 ** -2.0
    assert m.buy_prob[m.phase_of_tick[0], 0] == pytest.approx(buy, rel=1e-12)
    e_carts = expected_demand(m)
    assert e_carts == pytest.approx(6 * 100 * buy, rel=1e-12)

    k = res.kpis()
    carts, orders = k["add_to_carts"].to_numpy(), k["orders"].to_numpy()
    within(carts, e_carts, "carts")
    within(orders - q * carts, 0.0, "cart orders − q·carts")            # E[orders | carts] = q·carts
    within(orders, q * e_carts, "cart orders")
    assert np.all(orders <= carts)
    assert np.allclose(k["gmv"], orders * 80.0)                          # paid at the sale price


def test_cart_payments_follow_the_exponential_pay_profile():
    """With 10-minute ticks and a 30-minute mean, carts pay over the first min(4 h, 10·30 min)
    of the sale; tick i of the window gets (e^{−i/3} − e^{−(i+1)/3}) / (1 − e^{−W/3})."""
    tau, tick = 30.0, 10
    res = simulate(_warmup_scenario(1.0, tau, tick), reps=300, seed=1111)
    window = min(4 * 60 // tick, math.ceil(10 * tau / tick))             # 24 ticks
    first_hour = (1 - math.exp(-60 / tau)) / (1 - math.exp(-window * tick / tau))
    hours = np.array([r.by_channel["orders"].sum(1) for r in res.records])    # (reps, H)
    total = int(hours.sum())
    assert total == int(sum(r.by_channel["carts"].sum() for r in res.records))   # q = 1: every cart pays
    within_share(int(hours[:, 6].sum()), total, first_hour, "share of cart orders in the sale's first hour")
    assert not hours[:, 6 + window * tick // 60:].any()                   # nothing after the window


# ----------------------------------------------------------------- budgets
def _budget_scenario(daily: float, cpc: float, total: float | None = None) -> Scenario:
    """Three days from 06:00 in 10-minute ticks: paid search with ~60 clicks/hour (far more than
    the budget buys) beside organic traffic; on day 1 a quiet morning phase makes the budget run
    out in the afternoon chunk, after part of it was spent in the morning."""
    ads = {"kind": "paid_search", "cpc": cpc, "clicks_per_hour": 60.0, "daily_budget": daily}
    if total is not None:
        ads["total_budget"] = total
    return Scenario.model_validate({
        "meta": {"name": "budget", "start": at(6), "end": at(72), "tick_minutes": 10},
        "calendar": {"intraday": "flat", "phases": [
            {"name": "quiet", "start": at(24), "end": at(36), "traffic": {"ads": 0.05}},
            {"name": "burst", "start": at(36), "end": at(48)}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 80.0}, "ads": ads},
        "skus": {"item": {"price": 50.0, "unit_cost": 20.0, "base_conversion": 0.05, "stock": 100_000}},
    })


@pytest.mark.parametrize("daily, cpc, total", [(50.0, 0.7, None), (0.3, 0.1, None), (50.0, 0.7, 120.0)])
def test_paid_search_spends_its_budget_to_the_click_every_day(daily, cpc, total):
    res = simulate(_budget_scenario(daily, cpc, total), reps=4, seed=99)
    m = res.model
    c = m.channels.index("ads")
    days = hour_day(m)
    # clicks each day: floor(budget left that day / cpc), with exact arithmetic
    left = None if total is None else Fraction(str(total))
    expect = []
    for _ in range(days.max() + 1):
        allowed = Fraction(str(daily)) if left is None else min(Fraction(str(daily)), left)
        n = math.floor(allowed / Fraction(str(cpc)))
        expect.append(n)
        if left is not None:
            left -= n * Fraction(str(cpc))
    for rec in res.records:
        clicks = rec.by_channel["visits"][:, c]
        spend = rec.by_channel["ad_spend"][:, c]
        assert np.bincount(days, weights=clicks).tolist() == expect
        assert np.bincount(days, weights=spend) == pytest.approx([n * cpc for n in expect], rel=1e-12, abs=1e-12)
        hits = [(t, v) for t, _, subj, v in events_of(rec, "budget_exhausted") if subj == "ads"]
        hit_days = [int(m.grid.day[t]) for t, _ in hits]
        # one event on each day the budget buys at least one click (then none: nothing left to exhaust)
        assert hit_days == [d for d, n in enumerate(expect) if n > 0]
        for t, value in hits:
            d, h = int(m.grid.day[t]), int(m.grid.period[t])
            in_day = np.flatnonzero(days == d)
            assert in_day[0] <= h <= in_day[-1]
            assert value == pytest.approx(expect[d] * cpc, rel=1e-12)         # the day's spend
            # the budget is used up in the event's hour, not before, and nothing is bought after it
            assert clicks[in_day[0]:h].sum() < expect[d] == clicks[in_day[0]:h + 1].sum()
        if total is not None:                        # the campaign cap binds: used to within a click
            assert 0 <= total - spend.sum() < cpc


# ---------------------------------------------------------- channel split
def test_orders_and_visits_split_over_channels_as_expected():
    """Four channels (three pooled, one budgeted paid search drawn on its own; its budget never
    binds), two SKUs, two segments with a channel-specific mix, ample stock: each channel's mean
    visits and orders match Σ_t traffic[t, c] and Σ_t traffic[t, c] · P(buy | c)."""
    sc = Scenario.model_validate({
        "meta": {"name": "split", "start": at(8), "end": at(14), "tick_minutes": 15},
        "calendar": {"intraday": "taobao_2017"},
        "channels": {
            "organic": {"kind": "organic_search", "visits_per_hour": 100.0},
            "feed": {"kind": "recommendation", "visits_per_hour": 60.0, "quality": 1.5,
                     "segments": {"new": 0.2, "member": 0.8}},
            "cps": {"kind": "affiliate", "visits_per_hour": 40.0, "quality": 0.5, "commission_rate": 0.1},
            "ads": {"kind": "paid_search", "cpc": 0.5, "clicks_per_hour": 50.0, "daily_budget": 1e6},
        },
        "skus": {"lipstick": {"price": 199.0, "unit_cost": 60.0, "discount": 0.2, "elasticity": -2.0,
                              "base_conversion": 0.04, "stock": 100_000},
                 "serum": {"price": 399.0, "unit_cost": 120.0, "base_conversion": 0.02, "attractiveness": 2.0,
                           "stock": 100_000}},
        "segments": {"new": {"share": 0.7}, "member": {"share": 0.3, "conversion": 1.5, "price_sensitivity": 0.5}},
    })
    res = simulate(sc, reps=400, seed=2718)
    m = res.model
    visits = np.array([r.by_channel["visits"].sum(0) for r in res.records])     # (reps, C)
    orders = np.array([r.by_channel["orders"].sum(0) for r in res.records])
    assert not np.array([r.by_sku["lost_units"].sum() for r in res.records]).any()
    for c, name in enumerate(m.channels):
        e_visits = m.traffic[:, c].sum()
        e_orders = (m.traffic[:, c] * m.buy_prob[0, c]).sum()
        within(visits[:, c], e_visits, f"{name} visits")
        within(orders[:, c], e_orders, f"{name} orders")


def test_pooled_channels_keep_their_share_of_orders_through_a_stock_out():
    """Three channels of one shape, one SKU, stock 30 against λ = 42: which orders the stock
    serves does not depend on the channel, so given N served orders each is channel c with
    probability π_c ∝ visits_c · quality_c; pooled over replications, the shares match π."""
    sc = one_sku(stock=30, hours=10, visits_per_hour=100.0, base_conversion=0.02,
                 sku={"units_per_order": 1.5},
                 extra={"channels": {"feed": {"kind": "recommendation", "visits_per_hour": 60.0, "quality": 1.5},
                                     "cps": {"kind": "affiliate", "visits_per_hour": 40.0, "quality": 0.5,
                                             "commission_rate": 0.1}}})
    res = simulate(sc, reps=600, seed=31)
    weights = np.array([100.0 * 1.0, 60.0 * 1.5, 40.0 * 0.5])                 # organic, feed, cps
    pi = weights / weights.sum()
    assert res.model.channels == ["organic", "feed", "cps"]
    orders = np.array([r.by_channel["orders"].sum(0) for r in res.records])     # (reps, C)
    assert (np.array([r.by_sku["lost_units"].sum() for r in res.records]) > 0).mean() > 0.5
    total = int(orders.sum())
    for c, name in enumerate(res.model.channels):
        within_share(int(orders[:, c].sum()), total, pi[c], f"{name}'s share of served orders")
