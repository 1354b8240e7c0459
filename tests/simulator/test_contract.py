"""Where mechanisms meet, the engines and the money agree with the model contract
(docs/model.md): each test below pins one meeting point with a closed form or an exact
identity, on the fast engine and on the reference engine.

Statistical checks compare a mean over R replications with its exact expectation, with a
tolerance of 4 standard errors (the sample's own); each test holds a handful of such checks,
so its false-alarm rate stays far below 1 %.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.engine.fast import FastEngine
from simulator.kpis import channel_kpis, run_kpis
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.runner import replication_seed, simulate
from simulator.scenario import Scenario
from tests.helpers import at, deep_merge

SEED = 15


def _runs(scenario, engine, reps, seed=SEED):
    model = build_model(scenario)
    eng = engine(model)
    return model, [eng.run(replication_seed(seed, i)) for i in range(reps)]


def _close(values, expected, what):
    """The mean of `values` lies within 4 standard errors of `expected`."""
    x = np.asarray(values, float)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - expected) <= 4 * se + 1e-9 * max(1.0, abs(expected)), \
        f"{what}: mean {x.mean():.3f} ± {se:.3f} (SE), expected {expected:.3f}"


def _plan(extra: dict, hours: float = 4.0, tick: int = 1) -> Scenario:
    base = {
        "meta": {"name": "contract", "start": at(0), "end": at(hours), "tick_minutes": tick},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 120.0}},
        "skus": {"item": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.1, "stock": 10**6}},
    }
    return Scenario.model_validate(deep_merge(base, extra))


# ------------------------------------------------------------------ 1. the flash surge
SURGE = {"amplitude": 20.0, "decay_minutes": 20.0}


def _surge_plan() -> Scenario:
    return _plan({
        "channels": {"display": {"kind": "display", "cpm": 10.0, "impressions_per_hour": 2400.0, "ctr": 0.05},
                     "ads": {"kind": "paid_search", "cpc": 1.5, "clicks_per_hour": 60.0},
                     "ads_budgeted": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 60.0,
                                      "daily_budget": 10_000.0}},
        "flash_sales": {"f": {"sku": "item", "price": 80.0, "quantity": 10**5, "start": at(1), "end": at(3),
                              "surge": SURGE}},
    })


def _surge_extra(visits_per_hour: float) -> float:
    """Expected surge visits of a channel with a flat `visits_per_hour` and the one SKU: per
    tick λ·(surge − 1) with surge − 1 = A·τ·(mass of Exp(τ) in the tick)/m, over the window."""
    tau, m, window = SURGE["decay_minutes"], 1.0, 120.0
    return visits_per_hour / 60 * SURGE["amplitude"] * tau / m * (1 - math.exp(-window / tau))


@pytest.mark.parametrize("engine, reps", [(FastEngine, 200), (ReferenceEngine, 60)])
def test_the_flash_surge_reaches_free_channels_only(engine, reps):
    """docs/model.md, "Flash sales": the surge adds visits from channels without a media
    budget (organic, recommendation, affiliate, CRM, live); paid search — budgeted or not — and
    display bring what they bought, no more, and are charged for nothing else."""
    model, recs = _runs(_surge_plan(), engine, reps)
    ch = [channel_kpis(r, model) for r in recs]
    _close([c["display"]["visits"] for c in ch], 4 * 120.0, "display visits")
    _close([c["ads"]["visits"] for c in ch], 4 * 60.0, "flat-cpc paid clicks")
    _close([c["ads"]["ad_spend"] for c in ch], 4 * 60.0 * 1.5, "flat-cpc paid spend")
    _close([c["ads_budgeted"]["visits"] for c in ch], 4 * 60.0, "budgeted paid clicks")
    _close([c["organic"]["visits"] for c in ch], 4 * 120.0 + _surge_extra(120.0), "organic visits with the surge")


# ------------------------------------------------------- 2. warm-up carts pay live prices
CART_MEAN = 60.0


def _cart_plan() -> Scenario:
    """Visits in a 2-hour warm-up add to cart; the sale phase brings no new visits, so every
    order is a cart paying from 02:00, spread by an exponential of mean 60 minutes over the
    phase's 240 ticks; a flash sale (price 60) opens at 03:00, one hour into that window."""
    return _plan({
        "calendar": {"phases": [{"name": "warm", "kind": "warmup", "start": at(0), "end": at(2)},
                                {"name": "sale", "start": at(2), "end": at(6), "traffic": {"default": 0.0}}],
                     "cart_pay_through": 0.8, "cart_pay_minutes": CART_MEAN},
        "channels": {"organic": {"visits_per_hour": 600.0}},
        "flash_sales": {"f": {"sku": "item", "price": 60.0, "quantity": 10**5, "start": at(3), "end": at(6)}},
    }, hours=6)


def _flash_share_of_cart_payments() -> float:
    """Share of cart payments in ticks ≥ 60 of the pay window: masses of an exponential of mean
    60 minutes over 240 one-minute ticks, renormalized (docs/model.md, "Warm-up carts")."""
    w = np.arange(240)
    mass = np.exp(-w / CART_MEAN) - np.exp(-(w + 1) / CART_MEAN)
    mass /= mass.sum()
    return float(mass[60:].sum())


@pytest.mark.parametrize("engine, reps", [(FastEngine, 200), (ReferenceEngine, 60)])
def test_a_cart_pays_the_price_in_force_when_it_is_paid(engine, reps):
    """A cart pays at the price, coupon validity and reduction of the tick it is paid, and
    takes a flash sale's allotment if one is on then (the live reading)."""
    model, recs = _runs(_cart_plan(), engine, reps)
    share = _flash_share_of_cart_payments()
    kpis = [run_kpis(r, model) for r in recs]
    units = np.array([k["units"] for k in kpis])
    assert units.min() > 0
    _close([k["gmv"] for k in kpis] - units * (100 - 40 * share), 0.0, "GMV − units × E[live price]")
    _close([r.flash["f"]["units"] for r in recs] - units * share, 0.0, "flash units − units × flash share")


def _buy_now_plan(coupon: bool = True) -> Scenario:
    """A 2-hour warm-up at the list price (100) and a 2-hour sale at 20 % off; 30 % of the
    warm-up's buyers pay at once; a coupon claimed in the warm-up is valid only in the sale."""
    extra = {
        "calendar": {"phases": [{"name": "warm", "kind": "warmup", "start": at(0), "end": at(2)},
                                {"name": "sale", "start": at(2), "end": at(4)}]},
        "channels": {"organic": {"visits_per_hour": 600.0}},
        "skus": {"item": {"discount": {"sale": 0.2}, "warmup_buy_now": 0.3}},
    }
    if coupon:
        extra["coupons"] = {"c": {"threshold": 50.0, "amount": 10.0, "quantity": 10**6, "claim_rate": 0.5,
                                  "claim_from": at(0), "claim_to": at(2), "valid_from": at(2), "valid_to": at(4)}}
    return _plan(extra, hours=4)


@pytest.mark.parametrize("engine, reps", [(FastEngine, 200), (ReferenceEngine, 60)])
def test_a_warm_up_buyer_who_pays_at_once_pays_todays_price(engine, reps):
    """Of a warm-up's buyers, the SKU's `warmup_buy_now` share pays at once — at the warm-up's
    price, without a coupon that is valid only later — and the rest add to cart."""
    model, recs = _runs(_buy_now_plan(), engine, reps)
    warm = slice(0, 2)                                            # the warm-up's two reporting hours
    orders = np.array([r.by_channel["orders"][warm].sum() for r in recs])
    carts = np.array([r.by_channel["carts"][warm].sum() for r in recs])
    for r in recs:                                                # exact, run by run
        assert r.by_channel["gmv"][warm].sum() == pytest.approx(100.0 * r.by_channel["units"][warm].sum())
        assert r.by_sku["coupons_redeemed"][warm].sum() == 0
    assert orders.min() > 0 and carts.min() > 0
    _close(orders - 0.3 * (orders + carts), 0.0, "warm-up orders − 30 % of warm-up buyers")


def test_the_expected_engine_sells_in_a_warm_up_as_the_fast_engine_does():
    from simulator.engine.expected import ExpectedEngine

    model, recs = _runs(_buy_now_plan(coupon=False), FastEngine, 200)
    expected = ExpectedEngine(model).run()
    for field in ("orders", "carts", "gmv"):
        _close([r.by_channel[field].sum() for r in recs], float(expected.by_channel[field].sum()), field)
        _close([r.by_channel[field][:2].sum() for r in recs], float(expected.by_channel[field][:2].sum()),
               f"warm-up {field}")


def _lost_plan() -> Scenario:
    """Stock for about an hour; then its buyers are turned away at the list price (100) for an
    hour and at 30 % off for two more."""
    return _plan({
        "calendar": {"phases": [{"name": "early", "start": at(0), "end": at(2)},
                                {"name": "late", "start": at(2), "end": at(4)}]},
        "channels": {"organic": {"visits_per_hour": 600.0}},
        "skus": {"item": {"stock": 60, "discount": {"late": 0.3}}},
    })


@pytest.mark.parametrize("engine", [FastEngine, ReferenceEngine, "expected"])
def test_lost_gmv_is_each_lost_unit_at_the_price_it_would_have_paid(engine):
    from simulator.engine.expected import ExpectedEngine

    model = build_model(_lost_plan())
    eng = ExpectedEngine(model) if engine == "expected" else engine(model)
    recs = [eng.run(replication_seed(SEED, i)) for i in range(1 if engine == "expected" else 20)]
    price = np.where(np.arange(4) < 2, 100.0, 70.0)                   # per reporting hour
    for r in recs:
        lost = r.by_sku["lost_units"][:, 0]
        assert lost[2:].sum() > 0
        assert r.by_sku["lost_gmv"][:, 0] == pytest.approx(lost * price)
        assert run_kpis(r, model)["lost_gmv"] == pytest.approx(float((lost * price).sum()))


# ------------------------------------------------------------- 3. returns and refunds
def _money_plan(return_rate: float, **sku) -> Scenario:
    """Every mechanism that moves money: a store coupon every order redeems (threshold below
    one unit), the platform's every-100-off-15 reduction funded 40 % by the platform, a SKU in
    a pre-sale whose deposits (30, counting ×2) are all paid through, a flash sale, and
    returns at `return_rate`."""
    return _plan({
        "calendar": {"phases": [{"name": "sale", "start": at(0), "end": at(6)}]},
        "skus": {"item": {"return_rate": return_rate, **sku},
                 "kit": {"price": 150.0, "unit_cost": 50.0, "base_conversion": 0.08, "stock": 10**6,
                         "units_per_order": 1.5, "return_rate": return_rate, **sku}},
        "coupons": {"c": {"threshold": 60.0, "amount": 12.0, "quantity": 10**6, "claim_rate": 1.0,
                          "skus": ["item"]}},
        "platform_reduction": {"every": 100.0, "off": 15.0, "platform_share": 0.4},
        "presales": {"p": {"skus": ["kit"], "deposit": 30.0, "multiplier": 2.0,
                           "deposit_from": at(0), "deposit_to": at(2), "balance_from": at(2),
                           "balance_to": at(5), "pay_through": 1.0, "pay_minutes": 30}},
        "flash_sales": {"f": {"sku": "item", "price": 70.0, "quantity": 50, "start": at(3), "end": at(4)}},
        "channels": {"organic": {"visits_per_hour": 300.0}},
    }, hours=6)


@pytest.mark.parametrize("engine", [FastEngine, ReferenceEngine])
def test_every_unit_returned_leaves_no_net_sales(engine):
    """A return refunds what its buyer paid for it and the platform takes back its share of
    the reduction: with every unit returned and every deposit paid through, net sales are 0
    to the cent under coupons, the platform's reduction and deposit expansion."""
    model, recs = _runs(_money_plan(1.0), engine, 5)
    for r in recs:
        k = run_kpis(r, model)
        assert k["coupon_cost"] > 0 and k["reduction_cost"] > 0 and k["deposit_expansion"] > 0
        assert k["returns"] == k["units"]
        assert abs(k["net_sales"]) < 0.005, k


@pytest.mark.parametrize("engine, reps", [(FastEngine, 300), (ReferenceEngine, 100)])
def test_the_return_probability_reads_the_price_paid(engine, reps):
    """No SKU discount, but a 20-off coupon on every one-unit order of price 100: the buyer
    pays 80, a discount depth of 0.2, so with return_rate 0 and return_rate_per_discount 1 a
    unit comes back with probability 0.2."""
    sc = _plan({"coupons": {"c": {"threshold": 100.0, "amount": 20.0, "quantity": 10**6, "claim_rate": 1.0}},
                "skus": {"item": {"return_rate_per_discount": 1.0}}})
    model, recs = _runs(sc, engine, reps)
    kpis = [run_kpis(r, model) for r in recs]
    units = np.array([k["units"] for k in kpis])
    _close([k["returns"] for k in kpis] - 0.2 * units, 0.0, "returns − 0.2 × units")


@pytest.mark.parametrize("engine", [FastEngine, ReferenceEngine])
def test_returned_units_go_back_to_stock_or_are_written_off(engine):
    """A returned unit is back on the shelf at the local midnight `return_days` after the day
    it was sold when it is resaleable (a share `resaleable_returns` per SKU); the rest is
    written off at its salvage value. Stock adds up with the returns in it."""
    sc = _plan({"meta": {"return_days": 1},
                "skus": {"item": {"stock": 400, "return_rate": 0.5, "resaleable_returns": 0.25,
                                  "salvage_value": 10.0}}}, hours=72, tick=10)
    model, recs = _runs(sc, engine, 40)
    share = []
    for r in recs:
        k = run_kpis(r, model)
        sk = {f: v[:, 0].sum() for f, v in r.by_sku.items()}
        written = k["returns"] - sk["restocked"]
        assert k["return_writeoff"] == pytest.approx(written * (40.0 - 10.0), abs=1e-6)
        assert r.ending_stock[0] == 400 + sk["inbound"] + sk["released"] + sk["restocked"] - sk["taken"]
        assert (r.stock >= 0).all()
        share.append(sk["restocked"] - 0.25 * k["returns"])
    _close(share, 0.0, "restocked − 0.25 × returns")


# ----------------------------------------------------------- 4. a coupon nobody can use
def _unreachable(coupon: bool) -> Scenario:
    """A 299-off-40 coupon on a one-unit order of a 50 item: no basket reaches 299, and top-up
    (reach 20 %: from 239.2) cannot get there either."""
    extra = {"skus": {"item": {"price": 50.0, "stock": 300}},
             "coupons": {"c299": {"threshold": 299.0, "amount": 40.0, "quantity": 150, "claim_rate": 0.5}},
             "baskets": {"topup_reach": 0.2, "topup_probability": 0.5}}
    if not coupon:
        extra.pop("coupons")
    return _plan(extra)


SAME = ("visits", "orders", "units", "gmv", "net_sales", "gross_profit", "lost_units", "stockout_minutes")


def test_a_coupon_nobody_can_use_changes_nothing_but_claims():
    """Fast engine, same seeds: visits, orders, units, GMV, net sales and gross profit are
    identical with and without the unreachable coupon (its pool empties on the way)."""
    with_c, without = (_runs(_unreachable(c), FastEngine, 30) for c in (True, False))
    claimed = [r.coupons["c299"]["claimed"] for r in with_c[1]]
    assert max(claimed) == 150 and all(r.coupons["c299"]["redeemed"] == 0 for r in with_c[1])
    for a, b in zip(with_c[1], without[1]):
        ka, kb = run_kpis(a, with_c[0]), run_kpis(b, without[0])
        assert {k: ka[k] for k in SAME} == {k: kb[k] for k in SAME}


def test_a_coupon_nobody_can_use_changes_nothing_in_the_reference_engine():
    (ma, ra), (mb, rb) = (_runs(_unreachable(c), ReferenceEngine, 60) for c in (True, False))
    x = np.array([run_kpis(r, ma)["orders"] for r in ra])
    y = np.array([run_kpis(r, mb)["orders"] for r in rb])
    _close(x - y.mean(), 0.0, "orders with − without the coupon")
    assert all(r.coupons["c299"]["redeemed"] == 0 for r in ra)


# ------------------------------------------------------------- 5. daylight-saving time
def _dst_plan(start: str, end: str) -> Scenario:
    return _plan({"meta": {"timezone": "America/New_York", "start": start, "end": end, "tick_minutes": 60},
                  "channels": {"organic": {"visits_per_hour": 100.0}}})


@pytest.mark.parametrize("start, end, hours, local", [
    ("2026-10-31 12:00", "2026-11-01 12:00", 25, [*range(12, 24), 0, 1, 1, *range(2, 12)]),   # autumn: 25 h
    ("2026-03-07 12:00", "2026-03-08 12:00", 23, [*range(12, 24), 0, 1, *range(3, 12)]),      # spring: 23 h
])
def test_the_grid_counts_real_hours_across_a_daylight_saving_change(start, end, hours, local):
    sc = _dst_plan(start, end)
    assert sc.meta.minutes_from_start(sc.meta.end) == 60 * hours           # shared by every engine: by hand
    assert sc.meta.at_minute(12 * 60 + 90).strftime("%H:%M %Z") == ("01:30 EDT" if hours == 25 else "01:30 EST")
    assert sc.meta.at_minute(12 * 60 + 150).strftime("%H:%M %Z") == ("01:30 EST" if hours == 25 else "03:30 EDT")
    model = build_model(sc)
    assert model.grid.n_ticks == hours
    assert model.grid.local_hour.tolist() == local
    assert model.grid.day.tolist() == [0] * 12 + [1] * (hours - 12)
    for engine, reps in ((FastEngine, 200), (ReferenceEngine, 100)):
        _, recs = _runs(sc, engine, reps)
        assert all(r.by_channel["visits"].shape[0] == hours for r in recs)
        _close([r.by_channel["visits"].sum() for r in recs], 100.0 * hours, f"{engine.name} visits")


# ------------------------------------------------------------- 6. common random numbers
def _crn_plan(discount: float) -> Scenario:
    """Every traffic kind whose volume reads no sales, two SKUs, coupons, a flash sale and a
    warm-up, at a SKU discount of `discount` in the sale phase."""
    return _plan({
        "calendar": {"phases": [{"name": "warm", "kind": "warmup", "start": at(0), "end": at(2)},
                                {"name": "sale", "start": at(2), "end": at(8)}],
                     "spikes": [{"at": at(2), "amplitude": 3.0, "decay_minutes": 30.0}]},
        "channels": {
            "organic": {"visits_per_hour": 300.0},
            "feed": {"kind": "recommendation", "visits_per_hour": 150.0},
            "display": {"kind": "display", "cpm": 8.0, "impressions_per_hour": 3000.0, "ctr": 0.04},
            "ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 90.0, "daily_budget": 300.0},
            "auction": {"kind": "paid_search", "ad_groups": {
                "brand": {"bid": 1.2, "auctions_per_hour": 2000.0, "rivals": {"median": 1.0, "sigma": 0.4, "count": 3},
                          "daily_budget": 150.0}}},
            "crm": {"kind": "crm_push", "audience": 20000, "open_rate": 0.05, "send_times": [at(2.5)]},
            "live": {"kind": "live_stream", "sessions": [{"start": at(3), "end": at(5), "viewers": 5000}]},
            "cps": {"kind": "affiliate", "visits_per_hour": 60.0, "commission_rate": 0.1},
        },
        "skus": {"item": {"discount": {"sale": discount}, "stock": 500},
                 "other": {"price": 60.0, "unit_cost": 20.0, "base_conversion": 0.05, "stock": 10**5,
                           "discount": {"sale": discount}, "units_per_order": 1.4}},
        "coupons": {"c": {"threshold": 90.0, "amount": 10.0, "quantity": 400, "claim_rate": 0.3}},
        "flash_sales": {"f": {"sku": "other", "price": 30.0, "quantity": 80, "start": at(4), "end": at(5),
                              "surge": {"amplitude": 5.0, "decay_minutes": 10.0}}},
    }, hours=8)


def test_a_price_change_leaves_every_visit_where_it_was():
    """Two plans that differ only in price see the same visitors: visits by channel and hour
    are identical, replication by replication, on the same seeds."""
    (ma, ra), (mb, rb) = (_runs(_crn_plan(d), FastEngine, 20) for d in (0.10, 0.25))
    for a, b in zip(ra, rb):
        assert np.array_equal(a.by_channel["visits"], b.by_channel["visits"])
    orders = [[run_kpis(r, m)["orders"] for r in rs] for m, rs in ((ma, ra), (mb, rb))]
    assert np.mean(orders[1]) > np.mean(orders[0])             # the deeper discount sells more


@pytest.mark.slow
def test_a_deeper_peak_discount_on_the_bundled_618_keeps_orders_paired():
    """On the bundled 618, `skus.*.discount.peak` 0.20 → 0.25: orders correlate at ≥ 0.9 over
    50 replications on the same seeds (docs/compare.md gives the paired interval's width)."""
    from pathlib import Path

    from simulator.scenario import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "618_electronics.yaml")
    plans = [sc.with_overrides({"skus.*.discount.peak": d}) for d in (0.20, 0.25)]
    orders = [simulate(plan, reps=50, seed=1, workers=2, uncertainty=False).kpis()["orders"].to_numpy()
              for plan in plans]                                          # shopper noise: the pairing tested here
    rho = np.corrcoef(orders[0], orders[1])[0, 1]
    d = np.subtract(orders[1], orders[0])
    paired, unpaired = d.std(ddof=1), np.sqrt(np.var(orders[0], ddof=1) + np.var(orders[1], ddof=1))
    print(f"\norders correlation {rho:.3f}; paired SE / unpaired SE = {paired / unpaired:.3f}")
    assert rho >= 0.9, f"orders correlation {rho:.3f}"


# --------------------------------------------------------------- 7. selling out exactly
@pytest.mark.parametrize("engine", [FastEngine, ReferenceEngine])
def test_a_sku_that_sells_out_exactly_logs_sold_out_but_no_stock_out(engine):
    """Five units, demand Poisson(5) in one hour-long tick: in runs where demand is exactly 5
    the last unit goes and nobody is turned away — `sold_out` without `stockout`."""
    sc = _plan({"skus": {"item": {"stock": 5, "base_conversion": 0.05}},
                "channels": {"organic": {"visits_per_hour": 100.0}}}, hours=1, tick=60)
    model, recs = _runs(sc, engine, 300)
    exact = 0
    for r in recs:
        kinds = [e[1] for e in r.events]
        sold = run_kpis(r, model)["units"]
        assert ("sold_out" in kinds) == (sold == 5)
        assert ("stockout" in kinds) == (run_kpis(r, model)["lost_units"] > 0)
        exact += "sold_out" in kinds and "stockout" not in kinds
    assert exact > 0
