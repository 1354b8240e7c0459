"""Golden tests of the compiled plan (simulator/plan/): its meaning against values worked by
hand on tiny scenarios. Every engine reads the plan, so these are where the engines can no
longer disagree — and where the contract issue's bugs would now live: each is re-injected into
the plan below and a golden check fails on it.

Each scenario states every number the hand values use; `math.exp` below is the exponential
response of a spike or a surge integrated over a tick (docs/model.md, "Traffic").
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.engine import FastEngine
from simulator.model import build_model
from simulator.plan.regimes import row_rates, visit_rows
from simulator.reference import ReferenceEngine
from tests.helpers import at, one_sku

# ----------------------------------------------------------------------------- traffic
INTRADAY = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] + [3.5] * 18    # mean 3.5: hour h < 6 weighs (h + 1) / 3.5


def traffic_plan():
    """Six hourly ticks: organic 100/h, display 1000 impressions/h at 10 % CTR, paid search 50
    clicks/h, recommendation 40/h, all without budgets; phase `sale` from hour 2 (organic × 2,
    every other channel × 1.5); a spike on organic at hour 3 (amplitude 4, 30 minutes); two SKUs
    (`item` lands a quarter of visits); a flash sale of `item` in hours 4–6 with a surge
    (amplitude 10, 60 minutes)."""
    return one_sku(stock=1000, hours=6, sku={"attractiveness": 1.0}, extra={
        "calendar": {"intraday": INTRADAY,
                     "phases": [{"name": "sale", "start": at(2), "end": at(6),
                                 "traffic": {"organic": 2.0, "default": 1.5}}],
                     "spikes": [{"at": at(3), "amplitude": 4.0, "decay_minutes": 30.0, "channels": ["organic"]}]},
        "channels": {"display": {"kind": "display", "cpm": 5.0, "impressions_per_hour": 1000.0, "ctr": 0.1},
                     "ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 50.0},
                     "reco": {"kind": "recommendation", "visits_per_hour": 40.0}},
        "skus": {"gift": {"price": 30.0, "unit_cost": 10.0, "base_conversion": 0.05, "stock": 1000,
                          "attractiveness": 3.0}},
        "flash_sales": {"item_flash": {"sku": "item", "price": 50.0, "quantity": 500, "start": at(4), "end": at(6),
                                       "surge": {"amplitude": 10.0, "decay_minutes": 60.0}}},
    })


def hand_rates() -> np.ndarray:
    """(6, 6) expected visits per hour of the visit rows organic, display, ads, reco, then the
    flash surge through organic and through reco (only: paid search and display bring what
    they bought, docs/promotions.md)."""
    w = np.array([1, 2, 3, 4, 5, 6]) / 3.5
    phase = np.array([1, 1, 1.5, 1.5, 1.5, 1.5])
    spike = np.array([1, 1, 1, 1 + 2 * (1 - math.exp(-2)), 1 + 2 * (math.exp(-2) - math.exp(-4)),
                      1 + 2 * (math.exp(-4) - math.exp(-6))])          # 4 × 30 × mass / 60
    organic = 100 * w * np.array([1, 1, 2, 2, 2, 2]) * spike
    display = 1000 * w * phase * 0.1
    ads, reco = 50 * w * phase, 40 * w * phase
    surge = np.array([0, 0, 0, 0, 10 * (1 - math.exp(-1)), 10 * (math.exp(-1) - math.exp(-2))])   # 10 × 60 × mass / 60
    return np.column_stack([organic, display, ads, reco, organic * 0.25 * surge, reco * 0.25 * surge])


def check_rates(model) -> None:
    """The plan's visit rows and their rates per tick are the hand table."""
    channel, flash = visit_rows(model.regimes)
    assert [model.channels[c] for c in channel] == ["organic", "display", "ads", "reco", "organic", "reco"]
    assert flash.tolist() == [-1, -1, -1, -1, 0, 0]
    np.testing.assert_allclose(row_rates(model.regimes, model.promotions, model.traffic), hand_rates(), rtol=1e-12)


def test_rates_per_tick_and_visit_row_follow_intraday_phases_spikes_and_the_surge():
    model = build_model(traffic_plan())
    check_rates(model)
    np.testing.assert_allclose(model.volume[:, 1], 1000 * np.array([1, 2, 3, 4, 5, 6]) / 3.5
                               * np.array([1, 1, 1.5, 1.5, 1.5, 1.5]), rtol=1e-12)   # impressions before budgets
    assert model.regimes.surge_reach.tolist() == [True, False, False, True]


def test_bug_1_the_surge_reaching_display_and_paid_search_fails_the_golden_check(monkeypatch):
    """The contract issue's bug 1, re-injected into the plan: every channel kind surging."""
    monkeypatch.setattr("simulator.plan.regimes.surge_reaches", lambda kinds: np.ones(len(kinds), dtype=bool))
    with pytest.raises(AssertionError):
        check_rates(build_model(traffic_plan()))


@pytest.mark.parametrize("engine", [ReferenceEngine, FastEngine])
def test_bug_1_in_the_plan_reaches_each_engine(monkeypatch, engine):
    """The engines read the plan (the fast one the surge's reach through
    `Model.regimes.surge_reach`): with bug 1 injected into the plan, the display channel gets
    the surge's visits in the sale's first hour (≈ 214 own visits + 338 surge visits: the
    difference is over ten standard deviations on one seed)."""
    right = engine(build_model(traffic_plan())).run(5).by_channel["visits"][4, 1]
    monkeypatch.setattr("simulator.plan.regimes.surge_reaches", lambda kinds: np.ones(len(kinds), dtype=bool))
    wrong = engine(build_model(traffic_plan())).run(5).by_channel["visits"][4, 1]
    own, extra = 1000 * 5 / 3.5 * 1.5 * 0.1, 1000 * 5 / 3.5 * 1.5 * 0.1 * 0.25 * 10 * (1 - math.exp(-1))
    assert abs(right - own) < 5 * math.sqrt(own)
    assert abs(wrong - own - extra) < 5 * math.sqrt(own + extra)


def test_own_audiences_crm_responses_and_live_sessions_per_tick():
    """A push to 10,000 people (10 % open, 30-minute response, cut at 10 × 30 minutes) sent at
    10:30: its visits in the hours 10–15 are 1,000 × the exponential's mass in each, renormalized
    by 1 − e⁻¹⁰; a flat live session 14:00–16:00 of 2,000 viewers visiting at 5 % brings 50 an
    hour, its fee booked at 14:00; an opening session 18:00–19:00 (20-minute decay, cut at its end)
    brings all of its 500 × 20 % visits in its one tick."""
    sc = one_sku(stock=10, hours=24, extra={"channels": {
        "push": {"kind": "crm_push", "audience": 10000, "open_rate": 0.1, "send_times": [at(10.5)],
                 "response_minutes": 30.0, "cost_per_message": 0.01},
        "live": {"kind": "live_stream", "commission_rate": 0.2, "sessions": [
            {"start": at(14), "end": at(16), "viewers": 2000, "visit_rate": 0.05, "fee": 300.0, "curve": "flat"},
            {"start": at(18), "end": at(19), "viewers": 500, "visit_rate": 0.2, "decay_minutes": 20.0}]}}})
    model = build_model(sc)
    push = np.zeros(24)
    push[10] = 1 - math.exp(-1)                                      # 10:30–11:00: 30 minutes of a 30-minute mean
    for h in range(11, 16):                                          # the response stops 300 minutes after the send
        push[h] = math.exp(-(2 * h - 21)) - math.exp(-min(2 * h - 19, 10))
    np.testing.assert_allclose(model.volume[:, 1], 1000 * push / (1 - math.exp(-10)), rtol=1e-12, atol=1e-12)
    live = np.zeros(24)
    live[14:16], live[18] = 50.0, 100.0
    np.testing.assert_allclose(model.volume[:, 2], live, rtol=1e-12, atol=1e-12)
    assert np.flatnonzero(model.fees[:, 1]).tolist() == [10] and model.fees[10, 1] == pytest.approx(100.0)
    assert np.flatnonzero(model.fees[:, 2]).tolist() == [14] and model.fees[14, 2] == 300.0
    assert model.commission.tolist() == [0.0, 0.0, 0.2]


# ------------------------------------------------------------- regimes by pay tick
def regime_plan():
    """Eight hourly ticks: a warm-up (hours 0–2) before the sale (2–8, 20 % off: 80); a flash
    sale of `item` at 50 in hours 3–5; a coupon claimed in the warm-up, valid in hours 2–4; the
    platform's reduction from hour 4; carts pay from hour 2 with a 60-minute mean delay."""
    return one_sku(stock=1000, hours=8, sku={"discount": {"sale": 0.2}}, extra={
        "calendar": {"cart_pay_minutes": 60.0, "cart_pay_through": 0.9,
                     "phases": [{"name": "warm", "kind": "warmup", "start": at(0), "end": at(2)},
                                {"name": "sale", "start": at(2), "end": at(8)}]},
        "flash_sales": {"item_flash": {"sku": "item", "price": 50.0, "quantity": 500, "start": at(3), "end": at(5)}},
        "coupons": {"c150": {"threshold": 150.0, "amount": 20.0, "quantity": 100, "claim_rate": 0.5,
                             "claim_from": at(0), "claim_to": at(2), "valid_from": at(2), "valid_to": at(4)}},
        "platform_reduction": {"every": 200.0, "off": 30.0, "start": at(4), "end": at(8)},
    })


# by the tick an order pays: (activity price, flash sale or −1, coupon valid, reduction live)
HAND_REGIME = [(100.0, -1, False, False), (100.0, -1, False, False), (80.0, -1, True, False),
               (50.0, 0, True, False), (50.0, 0, False, True), (80.0, -1, False, True),
               (80.0, -1, False, True), (80.0, -1, False, True)]


def regime(model, t: int) -> tuple[float, int, bool, bool]:
    price, sale = model.regimes.activity_price(t, 0)
    return price, sale, bool(model.regimes.coupon_valid[t, 0]), model.regimes.reduction_live(t, 0)


def check_cart_regimes(model) -> None:
    """A warm-up cart paid in tick t reads the regime in force at t: a cart paying during the
    flash sale pays the flash price (the live reading, docs/promotions.md)."""
    (cart,) = model.carts
    assert cart.first == 2
    for i, tick in enumerate(range(cart.first, cart.first + cart.profile.size)):
        assert regime(model, int(cart.priced_at[i])) == HAND_REGIME[tick], tick


def test_the_regime_an_order_reads_at_its_pay_tick():
    model = build_model(regime_plan())
    assert [regime(model, t) for t in range(8)] == HAND_REGIME
    assert model.regimes.claimable[:, 0].tolist() == [True, True] + [False] * 6


def test_warm_up_carts_pay_over_the_sale_and_are_priced_at_their_pay_tick():
    model = build_model(regime_plan())
    check_cart_regimes(model)
    (cart,) = model.carts                            # W = min(6 ticks of the sale, ⌈10 × 60 / 60⌉) = 6
    edges = np.exp(-np.arange(7.0))
    np.testing.assert_allclose(cart.profile, (edges[:-1] - edges[1:]) / (1 - math.exp(-6)), rtol=1e-12)
    assert regime(model, int(cart.priced_at[1])) == (50.0, 0, True, False)   # paid at hour 3: the flash price


def test_bug_2_carts_priced_at_the_sale_phases_first_tick_fails_the_golden_check(monkeypatch):
    """The contract issue's bug 2, re-injected into the plan: every cart priced at the sale
    phase's first tick instead of the tick it pays."""
    monkeypatch.setattr("simulator.plan.carts.pricing_ticks", lambda first, width: np.full(width, first))
    with pytest.raises(AssertionError):
        check_cart_regimes(build_model(regime_plan()))


def test_bug_2_in_the_plan_reaches_the_fast_engine(monkeypatch):
    """The fast engine prices a warm-up cart at the tick the plan says (`CartPayment.priced_at`).
    Right: every unit paid in the flash hours 3–4 pays the flash price 50 (no coupon is valid
    from hour 4 and the reduction of 30 per 200 cannot apply to one unit at 50, so GMV is
    exactly 50 × units there). With bug 2 injected into the plan, the carts paying in those
    hours are priced at hour 2's 80: GMV there exceeds 50 × units by 30 per cart unit."""
    sc = regime_plan()

    def flash_hours(rec):
        return rec.by_sku["gmv"][3:5, 0].sum(), rec.by_sku["units"][3:5, 0].sum()

    right = [flash_hours(FastEngine(build_model(sc)).run(seed)) for seed in range(3)]
    monkeypatch.setattr("simulator.plan.carts.pricing_ticks", lambda first, width: np.full(width, first))
    wrong_model = build_model(sc)
    wrong = [flash_hours(FastEngine(wrong_model).run(seed)) for seed in range(3)]
    for (gmv, units), (bad_gmv, bad_units) in zip(right, wrong):
        assert units > 0 and gmv == pytest.approx(50.0 * units)
        assert bad_gmv > 50.0 * bad_units + 29.0                     # at least one cart unit at 80
        assert (bad_gmv - 50.0 * bad_units) % 30.0 == pytest.approx(0.0, abs=1e-6)


def test_deposit_windows_and_the_balance_profile():
    """A pre-sale taking deposits in hours 1–3 with balances from hour 4 to 6, paid with a
    30-minute mean delay: W = min(2 ticks, ⌈10 × 30 / 60⌉) = 2."""
    sc = one_sku(stock=100, hours=8, extra={"presales": {"pre": {
        "skus": ["item"], "deposit": 10.0, "multiplier": 2.0, "deposit_from": at(1), "deposit_to": at(3),
        "balance_from": at(4), "balance_to": at(6), "pay_through": 0.7, "pay_minutes": 30.0}}})
    model = build_model(sc)
    assert [model.regimes.deposit_open(t, 0) for t in range(8)] == [-1, 0, 0, -1, -1, -1, -1, -1]
    (ps,) = model.promotions.presales
    assert (ps.b0, ps.b1) == (4, 6)
    np.testing.assert_allclose(ps.profile, np.array([1 - math.exp(-2), math.exp(-2) - math.exp(-4)])
                               / (1 - math.exp(-4)), rtol=1e-12)


# ---------------------------------------------------------------- DST, budgets
def dst_plan(start: str, end: str, budget: float):
    """America/New_York, hourly ticks; organic 100/h on an intraday curve weighing hour h by
    (h + 1) / 12.5; a display channel with a daily budget that binds every day; a paid-search
    channel with a daily budget paced evenly; returns back in stock a day later."""
    return one_sku(stock=10, extra={
        "meta": {"start": start, "end": end, "timezone": "America/New_York", "return_days": 1},
        "calendar": {"intraday": [float(h + 1) for h in range(24)],
                     "phases": [{"name": "sale", "start": end[:10] + " 00:00", "end": end}]},
        "channels": {"display": {"kind": "display", "cpm": 10.0, "impressions_per_hour": 10000.0, "ctr": 0.01,
                                 "daily_budget": budget},
                     "ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 10.0, "daily_budget": 50.0,
                             "pacing": "even"}},
    })


@pytest.mark.parametrize("start, end, hours", [
    ("2026-03-07 00:00", "2026-03-10 12:00", [24, 23, 24, 12]),     # spring forward: 02:00 does not exist
    ("2026-10-31 00:00", "2026-11-03 12:00", [24, 25, 24, 12]),     # fall back: 01:00 comes twice
])
def test_a_daylight_saving_day_has_23_or_25_ticks_and_the_plan_follows_local_hours(start, end, hours):
    model = build_model(dst_plan(start, end, budget=200.0))
    T = sum(hours)
    assert model.n_ticks == T and np.bincount(model.grid.day).tolist() == hours
    local = [h for h in range(24) if not (hours[1] == 23 and h == 2)]
    if hours[1] == 25:
        local = [0, 1, *range(1, 24)]
    day1 = slice(24, 24 + hours[1])
    assert model.grid.local_hour[day1].tolist() == local
    np.testing.assert_allclose(model.volume[day1, 0], 100 * (np.array(local) + 1) / 12.5, rtol=1e-12)
    # the phase starts at the last day's local midnight; a return is back the next local midnight
    first = sum(hours[:3])
    assert model.phase_of_tick[first - 1] == 0 and model.phase_of_tick[first] == 1
    assert model.inventory.restock_tick[[0, 24, 24 + hours[1], first]].tolist() == [24, 24 + hours[1], first, T]
    # display: 10,000 × w impressions at 10 per thousand; the daily 200 binds every day, exactly
    starts = np.r_[0, np.cumsum(hours)[:-1]]
    spent = np.add.reduceat(model.media_spend[:, 1], starts)
    np.testing.assert_allclose(spent, [200.0, 200.0, 200.0, 200.0], rtol=1e-12)
    # even pacing of the daily budget: by the end of the day's i-th tick, (i + 1) / ticks that day
    np.testing.assert_allclose(model.pace_share[day1, 2], np.arange(1, hours[1] + 1) / hours[1], rtol=1e-12)
    assert model.daily_budget[2] == 50.0 and model.cpc[2] == 1.0
    display, ads = model.media[1], model.media[2]                    # how the paid channels buy
    assert model.media[0] is None
    assert (display.kind, display.cpm, display.ctr, display.daily, display.total, display.pacing) == (
        "display", 10.0, 0.01, 200.0, math.inf, "asap")
    assert (ads.kind, ads.cpc, ads.daily, ads.pacing, ads.carry_over) == ("paid_search", 1.0, 50.0, "even", False)


# ------------------------------------------------------------------------ stock
def test_stock_events_land_on_the_first_tick_at_or_after_their_moment():
    """Half-hour ticks from midnight: a shipment at 10:15 is on the shelf from 10:30 (tick 21),
    one at 12:00 from tick 24, one at 15:50 never (its tick would start at the
    campaign's end); a 75-minute lead time is
    ⌈75 / 30⌉ = 3 ticks."""
    sc = one_sku(stock=40, hours=16, tick_minutes=30, sku={
        "reorder": {"point": 10, "quantity": 25, "lead_time_hours": 1.25},
        "inbound": [{"at": at(10.25), "quantity": 7}, {"at": at(12), "quantity": 9}, {"at": at(15 + 50 / 60), "quantity": 11}]})
    inv = build_model(sc).inventory
    assert inv.inbound == [(21, 0, 7), (24, 0, 9)]
    assert (inv.stock.tolist(), inv.reorder_point.tolist(), inv.reorder_qty.tolist(), inv.lead_ticks.tolist()) == (
        [40], [10], [25], [3])


# ------------------------------------------------------- the fast engine's rows
@pytest.mark.parametrize("path", ["scenarios/618_electronics.yaml", "scenarios/double11_beauty_flagship.yaml",
                                  "tests/scenarios/equivalence/matrix_surge_media.yaml"])
def test_the_fast_engines_visit_rows_are_the_plans(path):
    """The fast engine's visit rows (a channel's, then a surge's through each channel it
    reaches, then one per other conversion multiplier of an auction channel's ad groups) are the
    plan's, row for row."""
    from simulator import load_scenario
    from simulator.engine.visitors import VisitRows
    from simulator.plan.regimes import ad_group_rows

    model = build_model(load_scenario(path))
    rows = VisitRows.of(model)
    channel, flash = visit_rows(model.regimes)
    more, intent, group_row = ad_group_rows(model.auctions, channel.size)
    assert rows.channel.tolist() == channel.tolist() + more
    assert rows.flash.tolist() == flash.tolist() + [-1] * len(more)
    assert rows.intent[channel.size:].tolist() == intent
    assert {c: g.tolist() for c, g in rows.group_row.items()} == {c: g.tolist() for c, g in group_row.items()}
    if path.startswith("scenarios/"):                 # the bundled plans: three multipliers, two more rows
        assert len(more) == 2 and sorted(set(model.auctions[0].intent.tolist())) == sorted(
            [rows.intent[model.auctions[0].c], *intent])
