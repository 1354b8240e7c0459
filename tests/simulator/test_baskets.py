"""Baskets of several SKUs (docs/promotions.md, "Baskets of several SKUs"): an order of a SKU takes
one unit of each of its add-ons (`skus.*.bought_with`) with its probability; the coupon's
threshold and the platform reduction read the basket, split over its items pro rata.

Checked in both engines: the add-on rates against the binomial closed form; the reduction and a
coupon that only a basket with its add-on reaches, to the yuan and item by item (an injected
fault — the money forgetting the add-ons — fails); an add-on whose shelf runs empty is lost
demand of it. The fast engine's agreement with the reference engine where baskets meet a flash
sale, substitution, top-up, carts and returns is tested in the interaction matrix
(`test_equivalence.py`, `matrix_baskets`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.engine import ExpectedEngine
from simulator.engine import orders as fast_orders
from simulator.engine.baskets import Baskets
from simulator.kpis import run_kpis, sku_kpis
from simulator.model import build_model
from simulator.plan.baskets import AddOns
from simulator.reference.offers import Offers as ReferenceOffers
from simulator.reference.orders import Orders as ReferenceOrders
from simulator.runner import simulate
from simulator.scenario import Scenario
from simulator.scenario.errors import ScenarioError
from tests.helpers import at

ENGINES = ("fast", "reference")
CASE, CLOTH = 0.4, 0.25


def _plan(case_stock: int = 10**6, money: bool = False, hours: int = 4, topup: float = 0.0,
          coupon: bool = True) -> Scenario:
    """A phone at 120 whose orders take a case (40) with probability CASE and a cloth (15) with
    CLOTH; nobody buys a case or a cloth alone. With `money`: the platform's every 150 off 20
    and a coupon of 20 off 150, both on the phone and the case only — one phone reaches neither
    alone, a phone with its case reaches both (a cloth does not count); without `coupon`, the
    reduction alone. `topup`: the chance that a basket within a quarter of a threshold tops up
    to it (凑单)."""
    extra = {}
    if money:
        extra = {"platform_reduction": {"every": 150, "off": 20, "platform_share": 0.5, "skus": ["phone", "case"]}}
    if money and coupon:
        extra["coupons"] = {"c150": {"threshold": 150, "amount": 20, "quantity": 10**6, "claim_rate": 0.5,
                                     "skus": ["phone", "case"]}}
    if topup:
        extra["baskets"] = {"topup_reach": 0.25, "topup_probability": topup}
    return Scenario.model_validate({
        "meta": {"name": "baskets", "start": at(0), "end": at(hours), "tick_minutes": 5},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 3000.0}},
        "skus": {"phone": {"price": 120.0, "unit_cost": 60.0, "base_conversion": 0.05, "stock": 10**6,
                           "return_rate": 0.2, "bought_with": {"case": CASE, "cloth": CLOTH}},
                 "case": {"price": 40.0, "unit_cost": 8.0, "base_conversion": 0.0, "stock": case_stock,
                          "return_rate": 0.3},
                 "cloth": {"price": 15.0, "unit_cost": 2.0, "base_conversion": 0.0, "stock": 10**6}},
        **extra,
    })


@pytest.mark.parametrize("engine", ENGINES)
def test_add_ons_follow_their_rates(engine):
    res = simulate(_plan(), reps=6 if engine == "fast" else 3, seed=5, engine=engine)
    orders = sum(sku_kpis(r, res.model)["phone"]["orders"] for r in res.records)
    assert orders > 500
    for sku, rate in (("case", CASE), ("cloth", CLOTH)):
        units = sum(sku_kpis(r, res.model)[sku]["units"] for r in res.records)
        added = sum(sku_kpis(r, res.model)[sku]["addon_units"] for r in res.records)
        assert units == added                                      # nobody buys one alone
        se = np.sqrt(rate * (1 - rate) / orders)
        assert abs(added / orders - rate) <= 4 * se, (sku, added / orders, rate, se)
    k = run_kpis(res.records[0], res.model)
    assert k["items_per_order"] == pytest.approx((k["orders"] + k["addon_units"]) / k["orders"])
    assert k["orders"] == sku_kpis(res.records[0], res.model)["phone"]["orders"]   # an add-on is no order


def _basket_money_holds(rec, model, coupon: bool = True) -> None:
    """The reduction and the coupon (where the plan has it), basket by basket: each basket with
    a case pays 20 of reduction and, where its buyer holds the coupon, 20 of coupon — 15 on the
    phone (120/160) and 5 on the case (40/160); no other basket pays any."""
    sk = rec.by_sku
    i = {s: model.skus.index(s) for s in ("phone", "case", "cloth")}
    cases = sk["addon_units"][:, i["case"]].sum()
    red = sk["reduction_cost"] + sk["platform_subsidy"]
    assert cases > 0
    assert red[:, i["phone"]].sum() == pytest.approx(15.0 * cases)
    assert red[:, i["case"]].sum() == pytest.approx(5.0 * cases)
    assert red[:, i["cloth"]].sum() == 0.0
    used = sk["coupons_redeemed"].sum()
    assert 0 < used <= cases if coupon else used == 0
    assert sk["coupons_redeemed"][:, i["phone"]].sum() == used     # counted on the order's SKU
    assert sk["coupon_cost"][:, i["phone"]].sum() == pytest.approx(15.0 * used)
    assert sk["coupon_cost"][:, i["case"]].sum() == pytest.approx(5.0 * used)
    assert sk["coupon_cost"][:, i["cloth"]].sum() == 0.0
    k = run_kpis(rec, model)                                       # every yuan of it paid by someone
    assert k["paid_by_buyers"] == pytest.approx(k["gmv"] - k["coupon_cost"] - k["reduction_cost"]
                                                - k["platform_subsidy"])
    assert sk["paid"].sum() == pytest.approx(k["paid_by_buyers"])


@pytest.mark.parametrize("engine", ENGINES)
def test_the_reduction_and_a_coupon_read_the_basket(engine):
    res = simulate(_plan(money=True, hours=2), reps=2, seed=9, engine=engine)
    for rec in res.records:
        _basket_money_holds(rec, res.model)


def test_money_that_forgets_the_add_ons_fails(monkeypatch):
    """Injected faults: each engine's basket money reads the order's own SKU only."""
    items = Baskets.items
    monkeypatch.setattr(Baskets, "items", lambda self, k, rows: items(_no_addons(self), k, rows))
    res = simulate(_plan(money=True, hours=2), reps=1, seed=9)
    with pytest.raises(AssertionError):
        _basket_money_holds(res.records[0], res.model)
    monkeypatch.undo()
    real = ReferenceOrders.money
    monkeypatch.setattr(ReferenceOrders, "money", lambda self, *a, addons=(), **kw: _money_alone(real, self, addons,
                                                                                               *a, **kw))
    res = simulate(_plan(money=True, hours=2), reps=1, seed=9, engine="reference")
    with pytest.raises(AssertionError):
        _basket_money_holds(res.records[0], res.model)


def _no_addons(baskets: Baskets) -> Baskets:
    """A copy of `baskets` that sees no add-on in any mask (M = 0)."""
    out = Baskets.__new__(Baskets)
    out.__dict__.update(baskets.__dict__, M=0)
    return out


def _money_alone(real, orders, addons, c, k, tick, units, price, *rest, **kw):
    """The reference engine's money booked item by item, each as an order of its own."""
    real(orders, c, k, tick, units, price, *rest, **kw)
    for a, p in addons:
        real(orders, c, a, tick, 1, p, *rest, **kw)


TOPUP = 0.6


def _pile_up_across_items(res, coupon: bool = True) -> int:
    """A phone (120) lies 30 below both thresholds (150), within reach: with probability TOPUP
    its order tops up with the case (40: the one add-on that closes the gap and counts; a cloth
    does not), never with a second phone. So a case rides along in TOPUP + (1 − TOPUP) × CASE
    of the orders (binomial standard error), every phone order holds one phone, and the money
    of each basket with a case holds (`_basket_money_holds`). Returns the orders."""
    orders = cases = 0
    for rec in res.records:
        phone, case = (sku_kpis(rec, res.model)[s] for s in ("phone", "case"))
        assert phone["units"] == phone["orders"], "a second phone"
        orders += phone["orders"]
        cases += case["addon_units"]
        _basket_money_holds(rec, res.model, coupon)
    p = TOPUP + (1 - TOPUP) * CASE
    se = np.sqrt(p * (1 - p) / orders)
    assert abs(cases / orders - p) <= 4 * se, (cases / orders, p, se)
    return orders


@pytest.mark.parametrize("coupon", [True, False], ids=["coupon-and-reduction", "reduction-alone"])
@pytest.mark.parametrize("engine", ENGINES)
def test_top_up_takes_the_add_on_that_reaches_the_threshold(engine, coupon):
    res = simulate(_plan(money=True, topup=TOPUP, coupon=coupon), reps=2, seed=4, engine=engine)
    assert _pile_up_across_items(res, coupon) > 300


def test_a_top_up_with_units_of_its_own_sku_fails(monkeypatch):
    """Injected faults: each engine tops a basket up with a second phone, as before baskets."""
    real = fast_orders.top_up_target
    monkeypatch.setattr(fast_orders, "top_up_target", lambda *a, **kw: real(*a[:6]))
    with pytest.raises(AssertionError, match="a second phone"):
        _pile_up_across_items(simulate(_plan(money=True, hours=2, topup=TOPUP), reps=1, seed=4))
    monkeypatch.undo()
    topup = ReferenceOffers.topup
    monkeypatch.setattr(ReferenceOffers, "topup", lambda self, *a: _own_units(topup, self, *a))
    with pytest.raises(AssertionError, match="a second phone"):
        _pile_up_across_items(simulate(_plan(money=True, hours=2, topup=TOPUP), reps=1, seed=4, engine="reference"))


def _own_units(topup, offers, k, units, price, coupon, pay_tick):
    """The reference engine's top-up, always in units of the order's own SKU."""
    extra, slot = topup(offers, k, units, price, coupon, pay_tick)
    return (math.ceil(150 / price - units - 1e-9), -1) if slot >= 0 else (extra, slot)


def test_the_cheapest_add_on_that_closes_the_gap_and_counts_tops_up():
    """`top_up_target` on hand-made orders of SKU 0 (price 120) with add-ons 1 (40), 2 (35), 3
    (15): the coupon (150, on SKUs 0, 1, 3) and the reduction (every 150, on SKUs 0, 2)."""

    class Promo:
        coupon_of = np.array([-1, 0])
        threshold, applies = np.array([150.0]), np.array([[True, True, False, True]])
        red_every, red_applies, topup_reach = 150.0, np.array([True, False, True, False]), 0.25

    class Reg:
        valid, red_live = np.array([True]), True

    price = np.array([120.0, 40.0, 35.0, 15.0])
    addons = AddOns(np.array([[1, 2, 3]] * 4), np.full((4, 3), 0.1))
    k, want = np.zeros(3, dtype=np.int64), np.array([1, 1, 2])
    g = np.array([1, 0, 0])                 # a coupon holder; two without (the reduction's next 150, 300)
    units, slot = fast_orders.top_up_target(k, g, want, price, Reg, Promo, addons)
    assert slot.tolist() == [0, 1, -1]      # coupon: the case (the cloth is short of 30, SKU 2 does not
    assert units.tolist() == [1, 1, 3]      # count); reduction: SKU 2 (35 < 40); 240 → 300: no add-on
    units, slot = fast_orders.top_up_target(k, g, want, price, Reg, Promo)   # closes 60: a third phone
    assert slot.tolist() == [-1, -1, -1] and units.tolist() == [2, 2, 3]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_add_on_whose_shelf_is_empty_is_lost_demand_of_it(engine):
    res = simulate(_plan(case_stock=20, hours=2), reps=2, seed=3, engine=engine)
    for rec in res.records:
        case = sku_kpis(rec, res.model)["case"]
        phone = sku_kpis(rec, res.model)["phone"]
        assert case["units"] == case["addon_units"] == 20          # the whole shelf, to add-ons
        assert case["lost_units"] > 0 and case["stockout_minutes"] > 0
        # every phone order drew its case: those got, and those the empty shelf turned away
        wanted = case["units"] + case["lost_units"]
        se = np.sqrt(CASE * (1 - CASE) / phone["orders"])
        assert abs(wanted / phone["orders"] - CASE) <= 4 * se
        assert any(e[1] == "stockout" and e[2] == "case" for e in rec.events)


def test_the_expected_engine_refuses_baskets_by_name():
    with pytest.raises(ScenarioError, match=r"skus\.phone\.bought_with.*several-SKU baskets"):
        ExpectedEngine(build_model(_plan()))
