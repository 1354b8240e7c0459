"""Coupons claimed with intent to buy (docs/promotions.md, "Who claims"): with a segment's
`claim_intent` κ, the claims per visit and the buyers per visit stay what they were, and the
buyers holding a coupon — the redemptions — follow the closed form W p₁ κ / Z, on both engines;
an injected fault on each engine (claims that ignore intent) fails it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import promotions
from simulator.engine.fast import FastEngine
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.reference.campaign import Campaign
from simulator.runner import replication_seed
from simulator.scenario import Scenario
from tests.helpers import at

CLAIM, KAPPA = 0.05, 20.0


def _plan(kappa: float = KAPPA) -> Scenario:
    """One SKU at 100 (buyers 1 unit), a coupon of 15 off 90 claimed by 5 % of visits (a
    pool that never empties), 3,000 visits an hour for 3 hours."""
    return Scenario.model_validate({
        "meta": {"name": "intent", "start": at(0), "end": at(3), "tick_minutes": 5},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 3000.0}},
        "skus": {"hero": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.03, "stock": 10**6}},
        "segments": {"all": {"share": 1.0, "claim_intent": kappa}},
        "coupons": {"c90": {"threshold": 90.0, "amount": 15.0, "quantity": 10**6, "claim_rate": CLAIM}},
    })


def _closed_form() -> tuple[float, float]:
    """(buyers per visit, redemptions per claim): p₀, p₁ the purchase probabilities without and
    with the coupon (the plan without intent), W = the claim share; buyers W p₁ + (1 − W) p₀
    whatever κ; a claimer buys with p₁ κ / Z, Z = (W p₁ κ + (1 − W) p₀) / (W p₁ + (1 − W) p₀)."""
    m = build_model(_plan(1.0))
    reg = m.promo.regime(0, 0, 0, m.price[0], np.ones(1, dtype=bool), np.zeros(1, dtype=bool), m.price[0])
    cell = reg.base[:, 0, 0, 0] + reg.nobuy[:, 0, 0, 0]
    p0, p1 = reg.base[:, 0, 0, 0] / cell
    W = CLAIM
    buy = W * p1 + (1 - W) * p0
    Z = (W * p1 * KAPPA + (1 - W) * p0) / buy
    return buy, p1 * KAPPA / Z


def _rates(runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replication: claims per visit, orders per visit, redemptions per claim."""
    visits = np.array([r.by_channel["visits"].sum() for r in runs])
    claimed = np.array([r.coupons["c90"]["claimed"] for r in runs])
    redeemed = np.array([r.coupons["c90"]["redeemed"] for r in runs])
    orders = np.array([r.by_channel["orders"].sum() for r in runs])
    return claimed / visits, orders / visits, redeemed / claimed


def _within(x: np.ndarray, target: float, what: str) -> None:
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - target) <= 4 * se, f"{what}: {x.mean():.5f} vs {target:.5f} (se {se:.5f})"


def _check(runs) -> None:
    buy, redeem = _closed_form()
    claims, orders, redemption = _rates(runs)
    _within(claims, CLAIM, "claims per visit")
    _within(orders, buy, "orders per visit")
    _within(redemption, redeem, "redemption rate")


@pytest.mark.parametrize("engine, reps", [(FastEngine, 60), (ReferenceEngine, 12)])
def test_claims_follow_intent_and_redemption_its_closed_form(engine, reps):
    model = build_model(_plan())
    runs = [engine(model).run(replication_seed(8, i)) for i in range(reps)]
    _check(runs)
    assert _closed_form()[1] > 0.15                        # tens of percent, where it was p₁ ≈ 4 %


def test_fast_claims_ignoring_intent_fail(monkeypatch):
    monkeypatch.setattr(promotions, "intent_tilt", lambda p_buy, W, odds: p_buy)
    runs = [FastEngine(build_model(_plan())).run(replication_seed(8, i)) for i in range(60)]
    with pytest.raises(AssertionError, match="redemption rate"):
        _check(runs)


def test_reference_claims_ignoring_intent_fail(monkeypatch):
    monkeypatch.setattr(Campaign, "intent_z", lambda self, k, s, c, tick: 1.0)
    runs = [ReferenceEngine(build_model(_plan())).run(replication_seed(8, i)) for i in range(5)]
    with pytest.raises(AssertionError):
        _check(runs)
