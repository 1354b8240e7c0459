"""Choice within a category (docs/model.md): SKUs of one category are chosen among by a logit on
their effective prices, with an outside option, so a discount on one SKU draws buyers from its
neighbours. The plan's purchase probabilities are held to the closed forms (shares, own and
cross elasticities), and both engines' orders to the plan within 4 standard errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.engine.fast import FastEngine
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.runner import replication_seed
from simulator.scenario import Scenario
from tests.helpers import at

A, B, OTHER = 0, 1, 2
INSIDE = 0.6


def _plan(discount_a: float = 0.0, categories: dict | None = None, cat_b: str = "lip") -> Scenario:
    """Two SKUs of one category ('lip': a at 100 with elasticity −2, b at 120, twice as attractive,
    elasticity −2.5) and one SKU alone; 2,000 visits an hour for 4 hours."""
    return Scenario.model_validate({
        "meta": {"name": "choice", "start": at(0), "end": at(4), "tick_minutes": 5},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 2000.0}},
        "skus": {"a": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.05, "stock": 10**6,
                       "category": "lip", "discount": discount_a, "elasticity": -2.0},
                 "b": {"price": 120.0, "unit_cost": 40.0, "base_conversion": 0.04, "stock": 10**6,
                       "category": cat_b, "attractiveness": 2.0, "elasticity": -2.5},
                 "c": {"price": 80.0, "unit_cost": 30.0, "base_conversion": 0.03, "stock": 10**6,
                       "elasticity": -1.5}},
        "categories": {"lip": {"inside_share": INSIDE}} if categories is None else categories,
    })


def _reach(scenario: Scenario) -> np.ndarray:
    """(K,) P(a visit buys each SKU)."""
    return build_model(scenario).reach[0].reshape(3, -1).sum(axis=1)


def _inside_shares() -> tuple[float, float, float]:
    """(outside attraction, s_a, s_b) at list prices: landing shares a = 1/4, b = 2/4."""
    a, b = 0.25, 0.5
    outside = (a + b) * (1 - INSIDE) / INSIDE
    return outside, a / (outside + a + b), b / (outside + a + b)


def test_logit_shares_follow_the_closed_form_at_a_discount():
    outside, _, _ = _inside_shares()
    base = _reach(_plan())
    assert base == pytest.approx([0.25 * 0.05, 0.5 * 0.04, 0.25 * 0.03])       # list prices: as without a category
    cut = _reach(_plan(discount_a=0.2))
    t = 0.8 ** -2.0
    shift = (outside + 0.75) / (outside + 0.25 * t + 0.5)
    assert cut[A] == pytest.approx(base[A] * t * shift, rel=1e-12)
    assert cut[B] == pytest.approx(base[B] * shift, rel=1e-12)                # b loses what the logit says
    assert cut[OTHER] == pytest.approx(base[OTHER], rel=1e-12)                 # another category: untouched
    assert cut[B] < base[B]


def test_own_and_cross_elasticities_are_the_logits():
    """d log P(buy) / d log price of a: −2 (1 − s_a) for a, +2 s_a for b, 0 for c."""
    _, s_a, _ = _inside_shares()
    h = 1e-6
    lo, hi = _reach(_plan(discount_a=h)), _reach(_plan(discount_a=0.0))
    slope = (np.log(hi) - np.log(lo)) / (math.log(1.0) - math.log(1 - h))
    assert slope[A] == pytest.approx(-2.0 * (1 - s_a), rel=1e-4)
    assert slope[B] == pytest.approx(2.0 * s_a, rel=1e-4)
    assert slope[OTHER] == pytest.approx(0.0, abs=1e-9)


def test_a_sku_alone_in_its_category_keeps_its_elasticity():
    alone = _reach(_plan(discount_a=0.2, categories={}, cat_b="liner"))      # a and b each alone
    plain = _reach(Scenario.model_validate({**_plan(discount_a=0.2).model_dump(mode="json"), "categories": {}}
                                           | {"skus": {k: {**v, "category": None} for k, v in
                                                       _plan(discount_a=0.2).model_dump(mode="json")["skus"].items()}}))
    assert alone == pytest.approx(plain, rel=1e-12)
    assert alone[A] == pytest.approx(0.25 * 0.05 * 0.8 ** -2.0, rel=1e-12)


@pytest.mark.parametrize("engine, reps", [(FastEngine, 120), (ReferenceEngine, 40)])
def test_the_engines_sell_the_logits_shares(engine, reps):
    scenario = _plan(discount_a=0.2)
    model = build_model(scenario)
    runs = [engine(model).run(replication_seed(5, i)) for i in range(reps)]
    expected = model.traffic.sum() * _reach(scenario)
    for k in (A, B, OTHER):
        orders = np.array([r.by_sku["orders"][:, k].sum() for r in runs])
        se = orders.std(ddof=1) / math.sqrt(reps)
        assert abs(orders.mean() - expected[k]) <= 4 * se, (k, orders.mean(), expected[k], se)
