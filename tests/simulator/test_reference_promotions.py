"""The reference engine's promotion mechanics (docs/promotions.md), on tiny scenarios.

Each test states the numbers it depends on. Most outcomes are certain whatever the seed
(a pool of 200 coupons against ~150 claims an hour empties in the second hour, a flash
allotment of 5 against ~200 buyers an hour sells out in its first tick); the statistical
ones compare a count with its binomial or Poisson expectation at 5 standard deviations
(a false alarm about once in 1.7 million runs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.kpis import coupon_kpis, flash_kpis, run_kpis
from tests.helpers import at, events_of, money_adds_up, one_sku, reference_run, sku_totals

PROMOTION_FLOWS = ("released", "coupons_claimed", "coupons_redeemed", "coupon_cost", "reduction_cost",
                   "platform_subsidy", "deposits", "deposit_amount", "deposit_expansion", "deposit_forfeits",
                   "forfeited_amount", "oversold_units", "cancellations")
Z = 5.0


def within(observed: float, expected: float, sd: float) -> bool:
    return abs(observed - expected) <= Z * max(sd, 1e-12)


def conserved(rec) -> None:
    """Stock never negative, and per SKU and hour: initial + Σ (inbound + released + restocked −
    taken) = stock."""
    sk = rec.by_sku
    assert np.all(rec.stock >= 0)
    level = rec.initial_stock + np.cumsum(sk["inbound"] + sk["released"] + sk["restocked"] - sk["taken"], axis=0)
    assert np.array_equal(level, rec.stock)


# ------------------------------------------------------------- no promotions
def test_without_promotions_taken_is_paid_units_and_the_new_flows_stay_zero():
    sc = one_sku(stock=40, hours=6, sku={"units_per_order": 1.5, "return_rate": 0.1,
                                         "reorder": {"point": 10, "quantity": 20, "lead_time_hours": 1}})
    for seed in range(3):
        rec, _ = reference_run(sc, seed)
        assert np.array_equal(rec.by_sku["taken"], rec.by_sku["units"])
        assert all(not rec.by_sku[f].any() for f in PROMOTION_FLOWS)
        assert rec.coupons == {} and rec.flash == {}
        conserved(rec)


# ------------------------------------------------------------------- coupons
def test_a_coupon_pool_never_over_claims_and_empties_where_claims_reach_the_quantity():
    """300 visits an hour claim with probability 0.5: 150 an hour against a pool of 200."""
    sc = one_sku(stock=10_000, hours=4, visits_per_hour=300.0, extra={"coupons": {
        "c150_20": {"threshold": 150, "amount": 20, "quantity": 200, "claim_rate": 0.5}}})
    for seed in range(3):
        rec, model = reference_run(sc, seed)
        claimed = rec.by_sku["coupons_claimed"][:, 0]
        assert claimed.sum() == 200 == rec.coupons["c150_20"]["claimed"]
        empty = int(rec.coupons["c150_20"]["empty_tick"])
        cum = np.cumsum(claimed)
        assert cum[empty] == 200 and (empty == 0 or cum[empty - 1] < 200)
        assert empty == 1                                       # 150 ± 12 claims in hour 0
        assert events_of(rec, "coupon_empty") == [(empty, "coupon_empty", "c150_20", 200.0)]
        assert coupon_kpis(rec, model)["c150_20"]["empty_minute"] == 60.0


def test_per_customer_limits_bind_on_a_small_segment():
    """20 customers, 2 coupons each, ~1 200 visits that all try to claim: exactly 40 claims."""
    sc = one_sku(stock=10_000, hours=3, visits_per_hour=400.0, extra={
        "segments": {"all": {"share": 1.0, "customers": 20}},
        "coupons": {"c": {"threshold": 150, "amount": 20, "quantity": 10_000, "per_customer": 2, "claim_rate": 1.0}}})
    for seed in range(2):
        rec, _ = reference_run(sc, seed)
        assert rec.coupons["c"]["claimed"] == 40
        assert rec.coupons["c"]["empty_tick"] == -1


def test_the_claim_share_is_claim_rate_times_coupon_use_capped_at_one():
    """0.6 × coupon_use 2 → share 1: every visit in the claim window claims (no customers: no limit)."""
    sc = one_sku(stock=10_000, hours=3, visits_per_hour=200.0, extra={
        "segments": {"all": {"share": 1.0, "coupon_use": 2.0}},
        "coupons": {"c": {"threshold": 150, "amount": 20, "quantity": 100_000, "claim_rate": 0.6,
                          "claim_to": at(2)}}})
    rec, _ = reference_run(sc, 1)
    visits = rec.by_channel["visits"][:, 0]
    assert rec.by_sku["coupons_claimed"][:, 0].tolist() == [visits[0], visits[1], 0]


def test_shares_above_one_are_scaled_and_one_draw_picks_one_coupon():
    """On `item`, shares 0.6 and 0.9 add up to 1.5: scaled to 0.4 and 0.6. On `other`, a third
    coupon (only for it) joins: 0.6, 0.9 and 1 scaled by 1 / 2.5. Every visit claims exactly one."""
    sc = one_sku(stock=10_000, hours=3, visits_per_hour=500.0, extra={"coupons": {
        "a": {"threshold": 150, "amount": 20, "quantity": 100_000, "claim_rate": 0.6},
        "b": {"threshold": 250, "amount": 40, "quantity": 100_000, "claim_rate": 0.9},
        "elsewhere": {"threshold": 150, "amount": 20, "quantity": 100_000, "claim_rate": 1.0, "skus": ["other"]}},
        "skus": {"other": {"price": 50.0, "unit_cost": 10.0, "base_conversion": 0.1, "stock": 10, "attractiveness": 0.25}}})
    rec, _ = reference_run(sc, 2)
    n = rec.by_channel["visits"].sum()
    n_item, n_other = rec.by_sku["coupons_claimed"].sum(axis=0)
    a, b, e = (rec.coupons[c]["claimed"] for c in ("a", "b", "elsewhere"))
    assert a + b + e == n == n_item + n_other
    assert n_other > 0
    assert within(e, n_other / 2.5, math.sqrt(n_other * 0.4 * 0.6))
    pa = 0.6 / 2.5
    assert within(a, 0.4 * n_item + pa * n_other, math.sqrt(n_item * 0.24 + n_other * pa * (1 - pa)))


def test_a_valid_coupon_is_redeemed_above_its_threshold_and_lifts_conversion():
    """Price 200, coupon 50 off 150, claimed by every visit, valid from hour 2: every order of hours
    2–3 redeems it; conversion there is × (1 − 50/200) ** −2 = 16/9."""
    sc = one_sku(stock=100_000, hours=4, visits_per_hour=1000.0, base_conversion=0.05, sku={"price": 200.0},
                 extra={"coupons": {"c": {"threshold": 150, "amount": 50, "quantity": 100_000, "claim_rate": 1.0,
                                          "valid_from": at(2)}}})
    rec, model = reference_run(sc, 3)
    orders, visits = rec.by_sku["orders"][:, 0], rec.by_channel["visits"][:, 0]
    redeemed = rec.by_sku["coupons_redeemed"][:, 0]
    assert redeemed.tolist() == [0, 0, orders[2], orders[3]]
    assert rec.by_sku["coupon_cost"][:, 0].tolist() == (50 * redeemed).tolist()
    assert rec.coupons["c"]["redeemed"] == redeemed.sum() and rec.coupons["c"]["cost"] == 50 * redeemed.sum()
    for hours, p in (((0, 1), 0.05), ((2, 3), 0.05 * 16 / 9)):
        n, k = visits[list(hours)].sum(), orders[list(hours)].sum()
        assert within(k, n * p, math.sqrt(n * p * (1 - p)))
    kpi = run_kpis(rec, model)
    assert kpi["net_sales"] == pytest.approx(kpi["gmv"] - kpi["coupon_cost"] - kpi["refunds"])


def test_warm_up_carts_keep_their_coupon_and_redeem_it_at_the_sale():
    """Claims only in the warm-up, coupon valid from the sale; every cart pays (pay-through 1)
    and redeems it; the sale's own visitors claim nothing."""
    sc = one_sku(stock=100_000, hours=4, visits_per_hour=400.0, base_conversion=0.05, sku={"price": 200.0},
                 extra={"calendar": {"cart_pay_through": 1.0, "cart_pay_minutes": 10.0,
                                     "phases": [{"name": "warm", "kind": "warmup", "start": at(0), "end": at(2)},
                                                {"name": "sale", "start": at(2), "end": at(4)}]},
                        "coupons": {"c": {"threshold": 150, "amount": 50, "quantity": 100_000, "claim_rate": 1.0,
                                          "claim_to": at(2), "valid_from": at(2)}}})
    rec, _ = reference_run(sc, 4)
    carts = rec.by_sku["carts"][:, 0].sum()
    assert carts > 0
    assert rec.by_sku["coupons_claimed"][2:, 0].sum() == 0
    assert rec.coupons["c"]["redeemed"] == carts
    assert rec.by_sku["orders"][:2, 0].sum() == 0


# --------------------------------------------------- reduction and top-up
def test_the_platform_reduction_is_split_and_lifts_conversion():
    """Price 350, 50 off every 300 from hour 2, platform share 0.4: each one-unit order of hours
    2–3 gets 50 off (20 platform, 30 store); conversion × (5/6) ** −2."""
    sc = one_sku(stock=100_000, hours=4, visits_per_hour=1000.0, base_conversion=0.05, sku={"price": 350.0},
                 extra={"platform_reduction": {"every": 300, "off": 50, "platform_share": 0.4, "start": at(2)}})
    rec, model = reference_run(sc, 5)
    orders, visits = rec.by_sku["orders"][:, 0], rec.by_channel["visits"][:, 0]
    assert rec.by_sku["platform_subsidy"][:, 0] == pytest.approx([0, 0, 20 * orders[2], 20 * orders[3]])
    assert rec.by_sku["reduction_cost"][:, 0] == pytest.approx([0, 0, 30 * orders[2], 30 * orders[3]])
    n, k, p = visits[2:].sum(), orders[2:].sum(), 0.05 * 36 / 25
    assert within(k, n * p, math.sqrt(n * p * (1 - p)))
    kpi = run_kpis(rec, model)
    assert kpi["net_sales"] == pytest.approx(kpi["gmv"] - kpi["reduction_cost"] - kpi["refunds"])


@pytest.mark.parametrize("reach, every, units, redeemed", [
    (0.7, None, 3, True),      # coupon 300: v = 100, 200 ≤ 0.7 × 300 → +2 units, the coupon is redeemed
    (0.6, None, 1, False),     # 200 > 0.6 × 300: no top-up
    (0.7, 250, 3, True),       # the reduction's 250 is the smaller threshold: +2 units → 300, both reached
])
def test_top_up_adds_units_to_reach_the_smallest_threshold(reach, every, units, redeemed):
    extra = {"baskets": {"topup_reach": reach, "topup_probability": 1.0},
             "coupons": {"c": {"threshold": 300, "amount": 30, "quantity": 100_000, "claim_rate": 1.0}}}
    if every:
        extra["platform_reduction"] = {"every": every, "off": 40, "platform_share": 0.5}
    sc = one_sku(stock=100_000, hours=2, visits_per_hour=300.0, extra=extra)
    rec, _ = reference_run(sc, 6)
    f = sku_totals(rec)
    assert f["orders"] > 0
    assert f["units"] == units * f["orders"]
    assert f["coupons_redeemed"] == (f["orders"] if redeemed else 0)
    if every:
        assert f["platform_subsidy"] + f["reduction_cost"] == pytest.approx(40 * f["orders"])


# ---------------------------------------------------------------- returns
def test_returns_rise_with_discount_depth():
    """Discount 0.5: rate 0.1 + 0.6 × 0.5 = 0.4; refunded at the price paid."""
    sc = one_sku(stock=100_000, hours=3, visits_per_hour=1000.0, base_conversion=0.2,
                 sku={"discount": 0.5, "return_rate": 0.1, "return_rate_per_discount": 0.6})
    rec, _ = reference_run(sc, 7)
    f = sku_totals(rec)
    assert within(f["returns"], 0.4 * f["units"], math.sqrt(f["units"] * 0.24))
    assert f["refunds"] == pytest.approx(50 * f["returns"])


def test_the_return_rate_is_capped_at_one():
    sc = one_sku(stock=100_000, hours=2, visits_per_hour=300.0,
                 sku={"discount": 0.5, "return_rate": 0.5, "return_rate_per_discount": 2.0})
    rec, _ = reference_run(sc, 8)
    f = sku_totals(rec)
    assert f["units"] > 0 and f["returns"] == f["units"]


# ------------------------------------------------------------ stock deduction
FLOOD = {"visits_per_hour": 2000.0, "base_conversion": 0.5}      # ~1 000 one-unit orders an hour


@pytest.mark.parametrize("payment_minutes, oversold_hours", [(60, {0, 1, 3, 4}), (0, {0, 3}), (120, {0, 1, 2, 3, 4, 5})])
def test_payment_mode_oversells_from_the_tick_the_stock_runs_out(payment_minutes, oversold_hours):
    """Stock 5 runs out in tick 0 and again in tick 3 (5 more arrive); orders of that tick and of
    the next ⌈payment_minutes / 60⌉ ticks are oversold, later ones are lost."""
    sc = one_sku(stock=5, hours=6, **FLOOD, sku={"inbound": [{"at": at(3), "quantity": 5}]},
                 extra={"stock_deduction": {"mode": "payment", "payment_minutes": payment_minutes}})
    for seed in range(2):
        rec, _ = reference_run(sc, seed)
        sk = rec.by_sku
        oversold, lost = sk["oversold_units"][:, 0], sk["lost_units"][:, 0]
        assert {h for h in range(6) if oversold[h] > 0} == oversold_hours
        assert {h for h in range(6) if lost[h] > 0} == set(range(6)) - oversold_hours
        assert sk["cancellations"][:, 0].tolist() == oversold.tolist()    # one-unit orders, oversold whole
        assert sk["units"][:, 0].tolist() == [5, 0, 0, 5, 0, 0]
        assert [(t, k) for t, k, _, _ in events_of(rec)] == [(0, "sold_out"), (0, "stockout"), (3, "arrival"),
                                                             (3, "sold_out"), (3, "stockout")]
        first = events_of(rec, "stockout")[0][3]
        assert first == oversold[0] + lost[0]                     # units short in the episode's first tick
        conserved(rec)


def test_order_mode_never_oversells():
    sc = one_sku(stock=5, hours=3, **FLOOD, sku={"units_per_order": 2.0})
    rec, _ = reference_run(sc, 1)
    assert not rec.by_sku["oversold_units"].any() and not rec.by_sku["cancellations"].any()
    assert rec.by_sku["lost_units"][:, 0].all()


def test_an_order_that_finds_too_few_units_takes_them_and_the_rest_is_oversold():
    """Orders of several units against stock 7: the one that empties the shelf is an order with
    the units it took and a cancellation for the rest."""
    sc = one_sku(stock=7, hours=1, visits_per_hour=2000.0, base_conversion=0.5, sku={"units_per_order": 4.0},
                 extra={"stock_deduction": {"mode": "payment", "payment_minutes": 5}})
    for seed in range(3):
        rec, _ = reference_run(sc, seed)
        f = sku_totals(rec)
        assert f["units"] == f["taken"] == 7
        assert f["cancellations"] >= 1 and f["oversold_units"] > f["cancellations"]
        assert f["lost_units"] == 0


# ----------------------------------------------------------------- pre-sales
def presale_sku(pay_through: float, balance_to: float, hours: float = 4, **extra):
    """Deposits of 20 (× 2) on `item` in hours [0, 2), balances from hour 2; no visits after hour 2."""
    return one_sku(stock=1000, hours=hours, visits_per_hour=300.0, base_conversion=0.1, extra={
        "calendar": {"phases": [{"name": "quiet", "start": at(2), "end": at(hours), "traffic": {"default": 0.0}}]},
        "presales": {"ps": {"skus": ["item"], "deposit": 20, "multiplier": 2, "deposit_from": at(0),
                            "deposit_to": at(2), "balance_from": at(2), "balance_to": at(balance_to),
                            "pay_through": pay_through, "pay_minutes": 30}}, **extra})


def test_forfeited_deposits_return_their_units_into_the_ending_stock():
    """pay_through 0 and balance_to = the campaign's end: every deposit is forfeited at the end."""
    rec, model = reference_run(presale_sku(0.0, 4), 1)
    f = sku_totals(rec)
    assert f["deposits"] > 0 and f["deposit_forfeits"] == f["deposits"]
    assert f["released"] == f["taken"] > 0
    assert f["forfeited_amount"] == f["deposit_amount"] == 20 * f["taken"]
    assert f["orders"] == f["units"] == f["gmv"] == 0
    assert rec.by_sku["released"][3, 0] == f["released"]            # booked in the last hour
    assert rec.stock[:, 0].tolist() == [1000 - rec.by_sku["taken"][0, 0], 1000 - f["taken"], 1000 - f["taken"], 1000]
    assert events_of(rec, "balance_open") == [(2, "balance_open", "ps", f["deposits"])]
    assert events_of(rec, "forfeits") == [(3, "forfeits", "ps", f["deposits"])]   # at T − 1
    kpi = run_kpis(rec, model)
    assert kpi["net_sales"] == f["forfeited_amount"]


def test_forfeited_units_are_back_on_the_shelf_at_balance_to():
    rec, _ = reference_run(presale_sku(0.0, 3, hours=5), 2)
    f = sku_totals(rec)
    assert rec.by_sku["released"][3, 0] == f["taken"] > 0
    assert rec.stock[2, 0] == 1000 - f["taken"] and rec.stock[3, 0] == 1000
    assert events_of(rec, "forfeits") == [(3, "forfeits", "ps", f["deposits"])]


def test_paid_balances_count_at_the_balance_price_with_the_expansion():
    """pay_through 1: every deposit pays in hours 2–3 (profile of mean 30 minutes, cut at 2 ticks),
    at price 100; expansion 20 × (2 − 1) per unit; deposits convert at p_eff = 100 − 20."""
    rec, model = reference_run(presale_sku(1.0, 4), 3)
    f = sku_totals(rec)
    assert f["orders"] == f["deposits"] > 0 and f["units"] == f["taken"]
    assert f["gmv"] == 100 * f["units"] and f["deposit_expansion"] == 20 * f["units"]
    assert f["deposit_forfeits"] == f["released"] == 0
    assert rec.by_sku["orders"][:2, 0].sum() == 0
    assert rec.by_sku["deposits"][2:, 0].sum() == 0
    n, p = rec.by_channel["visits"][:2, 0].sum(), 0.1 * 0.8 ** -2
    assert within(f["deposits"], n * p, math.sqrt(n * p * (1 - p)))
    kpi = run_kpis(rec, model)
    assert kpi["net_sales"] == pytest.approx(kpi["gmv"] - kpi["deposit_expansion"] - kpi["refunds"])


def test_no_coupon_is_claimed_for_a_pre_sale_sku_in_its_deposit_window():
    sc = presale_sku(1.0, 4, hours=4, coupons={"c": {"threshold": 50, "amount": 10, "quantity": 100_000,
                                                     "claim_rate": 1.0}})
    sc = sc.with_overrides({"calendar.phases": []})                 # visits all along
    rec, _ = reference_run(sc, 4)
    claimed = rec.by_sku["coupons_claimed"][:, 0]
    assert claimed[:2].sum() == 0 and claimed[2:].sum() == rec.by_channel["visits"][2:, 0].sum()


# --------------------------------------------------------------- flash sales
def flash_sku(after: str, **kw):
    """Stock 1000, ~50 orders an hour at price 100 (~200 at the flash price 50); a flash sale of
    5 units in hours [1, 4) sells out in its first tick."""
    sale = {"sku": "item", "price": 50, "quantity": kw.pop("quantity", 5), "start": at(1), "end": at(kw.pop("end", 4)),
            "after_sellout": after}
    return one_sku(stock=kw.pop("stock", 1000), hours=kw.pop("hours", 5), visits_per_hour=1000.0, base_conversion=0.05,
                   sku=kw.pop("sku", None), extra={"flash_sales": {"fs": sale}})


def test_a_flash_sale_with_regular_fallback_sells_at_the_regular_price_after_the_sell_out():
    for seed in range(2):
        rec, model = reference_run(flash_sku("regular"), seed)
        units, gmv = rec.by_sku["units"][:, 0], rec.by_sku["gmv"][:, 0]
        assert units[1] == 5 and gmv[1] == 50 * 5
        for h in (0, 2, 3, 4):
            assert units[h] > 0 and gmv[h] == 100 * units[h]
        assert rec.flash["fs"] == {"units": 5.0, "sold_out": 1.0, "sellout_tick": 1.0}
        assert flash_kpis(rec, model)["fs"] == {"units": 5.0, "sold_out": 1.0, "sellout_minute": 0.0}
        assert [e for e in events_of(rec) if e[1] != "stockout"] == [
            (1, "flash_start", "fs", 5.0), (1, "flash_sellout", "fs", 5.0), (4, "flash_end", "fs", 0.0)]
        assert rec.by_sku["lost_units"][1, 0] > 0 and not events_of(rec, "stockout")
        conserved(rec)


def test_a_flash_sale_with_lost_fallback_holds_the_rest_back_until_it_ends():
    """After the sell-out nothing sells until hour 4; a delivery of hour 2 joins the held-back stock;
    the reorder point 500 never triggers since held-back units count as on hand."""
    sc = flash_sku("lost", sku={"inbound": [{"at": at(2), "quantity": 30}],
                                "reorder": {"point": 500, "quantity": 100, "lead_time_hours": 1}})
    rec, _ = reference_run(sc, 3)
    sk = rec.by_sku
    units = sk["units"][:, 0]
    assert units[1] == 5 and units[2] == units[3] == 0 and units[4] > 0
    assert sk["lost_units"][2, 0] > 0 and sk["lost_units"][3, 0] > 0
    assert sk["stockout_ticks"][1:4, 0].tolist() == [1, 1, 1]
    assert [k for _, k, _, _ in events_of(rec)] == ["flash_start", "flash_sellout", "arrival", "flash_end"]
    assert rec.stock[3, 0] == 1000 - units[0] - 5 + 30                # held-back stock is on hand
    assert rec.flash["fs"]["units"] == 5
    conserved(rec)


def test_the_allotment_is_what_is_on_hand_when_stock_is_short():
    rec, _ = reference_run(flash_sku("lost", stock=100, quantity=1000), 4)
    (t, _, _, allot), = events_of(rec, "flash_start")
    assert t == 1 and allot == 100 - rec.by_sku["units"][0, 0] > 0
    assert rec.flash["fs"]["units"] == allot
    assert events_of(rec, "flash_sellout") == [(1, "flash_sellout", "fs", allot)]


def test_a_flash_sale_lasting_to_the_end_returns_its_held_back_stock_into_the_ending_stock():
    rec, _ = reference_run(flash_sku("lost", end=5), 5)
    assert events_of(rec, "flash_end") == [(4, "flash_end", "fs", 0.0)]            # at T − 1
    assert rec.ending_stock[0] == 1000 - rec.by_sku["taken"][:, 0].sum() > 0
    conserved(rec)


def test_warm_up_carts_of_a_flash_sku_pay_the_flash_price_of_their_pay_tick():
    """A flash sale opens with the sale phase; the carts' pay tick (its first tick) is inside it,
    so they convert and pay at the flash price even when they pay a little later."""
    sc = one_sku(stock=100_000, hours=4, visits_per_hour=400.0, base_conversion=0.05, extra={
        "calendar": {"cart_pay_through": 1.0, "cart_pay_minutes": 10.0,
                     "phases": [{"name": "warm", "kind": "warmup", "start": at(0), "end": at(2)},
                                {"name": "sale", "start": at(2), "end": at(4)}]},
        "flash_sales": {"fs": {"sku": "item", "price": 50, "quantity": 100_000, "start": at(2), "end": at(3)}}})
    rec, _ = reference_run(sc, 7)
    units, gmv = rec.by_sku["units"][:, 0], rec.by_sku["gmv"][:, 0]
    late = rec.flash["fs"]["units"] - units[2]                   # carts paying in hour 3, at 50
    assert rec.by_sku["carts"][:, 0].sum() > 0 and late >= 0
    assert gmv[2] == 50 * units[2]
    assert gmv[3] == 100 * (units[3] - late) + 50 * late


def test_a_flash_surge_adds_visits_from_channels_without_a_budget():
    """10-minute ticks, 600 visits an hour, the flash SKU has half the attractiveness, surge
    amplitude 20 with decay 10 minutes in the first hour: 100 × 0.5 × 20 × 10 × (e^−i − e^−(i+1)) / 10
    extra visits in tick i, ≈ 997.5 in the hour. Paid search (with no budget even) gets none."""
    sc = one_sku(stock=100_000, hours=2, tick_minutes=10, visits_per_hour=600.0, base_conversion=0.01, extra={
        "skus": {"other": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.01, "stock": 100_000}},
        "channels": {"ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 300.0}},
        "flash_sales": {"fs": {"sku": "item", "price": 50, "quantity": 100_000, "start": at(0), "end": at(1),
                               "surge": {"amplitude": 20, "decay_minutes": 10}}}})
    rec, _ = reference_run(sc, 6)
    organic, ads = rec.by_channel["visits"][:, 0], rec.by_channel["visits"][:, 1]
    surge = 1000 * (1 - math.exp(-6))
    assert within(organic[0], 600 + surge, math.sqrt(600 + surge))
    assert within(organic[1], 600, math.sqrt(600))
    assert within(ads.sum(), 600, math.sqrt(600))


# --------------------------------------------------------------- everything
def everything(mode: str):
    """Two SKUs, two segments (one with 50 customers), coupons, the reduction, top-up, a flash sale
    with surge, a pre-sale, returns by depth, reorders; 5-minute ticks over 12 hours."""
    return one_sku(stock=300, hours=12, tick_minutes=5, visits_per_hour=1500.0, base_conversion=0.05, sku={
        "units_per_order": 1.5, "return_rate": 0.05, "return_rate_per_discount": 0.3, "discount": 0.1,
        "reorder": {"point": 20, "quantity": 100, "lead_time_hours": 2}}, extra={
        "calendar": {"cart_pay_through": 0.8, "phases": [
            {"name": "warm", "kind": "warmup", "start": at(1), "end": at(3)},
            {"name": "sale", "start": at(3), "end": at(12)}]},
        "skus": {"serum": {"price": 300.0, "unit_cost": 90.0, "base_conversion": 0.04, "stock": 100,
                           "units_per_order": 1.3, "return_rate": 0.1}},
        "segments": {"new": {"share": 0.7}, "member": {"share": 0.3, "coupon_use": 2.0, "basket_units": 1.5, "customers": 50}},
        "baskets": {"topup_reach": 0.3, "topup_probability": 0.5},
        "coupons": {"c200_30": {"threshold": 200, "amount": 30, "quantity": 1000, "claim_rate": 0.2, "claim_to": at(6),
                                "valid_from": at(3)},
                    "c500_80": {"threshold": 500, "amount": 80, "quantity": 5000, "per_customer": 2, "claim_rate": 0.3}},
        "platform_reduction": {"every": 300, "off": 50, "platform_share": 0.5, "start": at(2)},
        "flash_sales": {"fs": {"sku": "item", "price": 60, "quantity": 80, "start": at(5), "end": at(7),
                               "surge": {"amplitude": 10, "decay_minutes": 10}, "after_sellout": "regular"}},
        "presales": {"ps": {"skus": ["serum"], "deposit": 50, "multiplier": 2, "deposit_from": at(0), "deposit_to": at(3),
                            "balance_from": at(8), "balance_to": at(10), "pay_through": 0.7, "pay_minutes": 30}},
        "stock_deduction": {"mode": mode, "payment_minutes": 10}})


@pytest.mark.parametrize("mode", ["order", "payment"])
def test_stock_and_money_add_up_with_every_mechanic_at_once(mode):
    for seed in range(2):
        rec, model = reference_run(everything(mode), seed)
        conserved(rec)
        sk = rec.by_sku
        # every deposit is paid or forfeited inside the campaign: taken = paid units + released units
        assert sk["taken"].sum() == sk["units"].sum() + sk["released"].sum()
        # serum's visitors of hours [0, 3) place deposits: their units are paid (expansion 50 per
        # unit) or released
        deposit_units = sk["taken"][:3, 1].sum()
        assert sk["deposit_amount"].sum() == 50 * deposit_units
        assert sk["deposit_expansion"][:, 1].sum() / 50 + sk["released"][:, 1].sum() == deposit_units
        for name, c in rec.coupons.items():
            assert c["redeemed"] <= c["claimed"] <= model.scenario.coupons[name].quantity
        assert sk["coupons_claimed"].sum() == sum(c["claimed"] for c in rec.coupons.values())
        assert sk["coupon_cost"].sum() == sum(c["cost"] for c in rec.coupons.values())
        assert sk["platform_subsidy"].sum() == pytest.approx(sk["reduction_cost"].sum())   # share 0.5
        assert (sk["oversold_units"].sum() > 0) == (mode == "payment")
        assert all(0 <= t < 144 for t, *_ in rec.events)            # 12 hours of 5-minute ticks
        assert {k for _, k, _, _ in rec.events} >= {"coupon_empty", "flash_start", "flash_sellout", "flash_end",
                                                     "balance_open", "forfeits"}
        kpi = money_adds_up(model.scenario, rec, model)
        assert kpi["gmv"] == pytest.approx(sk["gmv"].sum())
        for f in ("coupon_cost", "reduction_cost", "deposit_expansion", "refunds", "forfeited_amount"):
            assert kpi[f] > 0, f                                 # the identity is not about zeros

