"""Coupons that stay in the wallet (docs/promotions.md, "Coupons that stay in the wallet"): a claim
its claimer does not redeem stays with the customer, whose later visits use it.

On a plan of one SKU each customer is a two-state chain (holding or not), so the holders and the
redemptions have a closed form, which both engines meet; an injected fault on each engine
(holders who never come back to use their coupon) fails. On a plan of phases — claims in wave 1
only, a lull, a warm-up whose carts keep the coupon, the big day — coupons claimed in wave 1 are
redeemed on the big day only when they stay. The fast engine's stated tolerance against the
reference engine (≤ 3 % bias in every statistic) is tested in the interaction matrix
(`test_equivalence.py`, `matrix_wallet`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.engine import wallet
from simulator.engine.fast import FastEngine
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.reference.campaign import Campaign
from simulator.runner import replication_seed
from simulator.scenario import Scenario
from tests.helpers import at

PEOPLE, VISITS, CLAIM, HOURS = 1000, 1000.0, 0.2, 6


def _chain_plan() -> Scenario:
    """One SKU at 100 (buyers 1 unit), a coupon of 15 off 90 claimed by 20 % of the visits of
    PEOPLE customers (no effective per-customer limit, a pool that never empties), staying in
    the wallet; 1,000 visits an hour for 6 hours: each customer comes about six times."""
    return Scenario.model_validate({
        "meta": {"name": "wallet_chain", "start": at(0), "end": at(HOURS), "tick_minutes": 5},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": VISITS}},
        "skus": {"hero": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.03, "stock": 10**6}},
        "segments": {"all": {"share": 1.0, "customers": PEOPLE}},
        "coupons": {"c90": {"threshold": 90.0, "amount": 15.0, "quantity": 10**6, "claim_rate": CLAIM,
                            "per_customer": 10**4, "stays_in_wallet": True}},
    })


def _chain_closed_form() -> tuple[float, float]:
    """(claims, redemptions) expected over the campaign. A customer visits at v = VISITS / PEOPLE
    an hour; without a coupon a visit claims with W and, holding the new coupon, buys with p₁
    (then redeems it) or keeps it (rate α = W(1 − p₁)); a holder's visit buys with p₁ and uses it
    up (β = p₁). The holders' share h(t) = h*(1 − e^{−v(α+β)t}), h* = α / (α + β); claims =
    V W ∫(1 − h), redemptions = V (W p₁ ∫(1 − h) + p₁ ∫h)."""
    m = build_model(_chain_plan())
    reg = m.promo.regime(0, 0, 0, m.price[0], np.ones(1, dtype=bool), np.zeros(1, dtype=bool), m.price[0])
    p1 = float(reg.base[1, 0, 0, 0] / (reg.base[1, 0, 0, 0] + reg.nobuy[1, 0, 0, 0]))
    v, W = VISITS / PEOPLE, CLAIM
    a, b = W * (1 - p1), p1
    r = v * (a + b)
    held = a / (a + b) * (HOURS - (1 - math.exp(-r * HOURS)) / r)          # ∫h over the campaign, hours
    free = HOURS - held
    return VISITS * W * free, VISITS * (W * p1 * free + p1 * held)


def _within(x: np.ndarray, target: float, what: str) -> None:
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - target) <= 4 * se, f"{what}: {x.mean():.1f} vs {target:.1f} (se {se:.2f})"


def _check_chain(runs) -> None:
    claims, redeemed = _chain_closed_form()
    _within(np.array([r.coupons["c90"]["claimed"] for r in runs]), claims, "claims")
    _within(np.array([r.coupons["c90"]["redeemed"] for r in runs]), redeemed, "redemptions")


@pytest.mark.parametrize("engine, reps", [(FastEngine, 80), (ReferenceEngine, 16)])
def test_holders_and_redemptions_follow_the_two_state_chain(engine, reps):
    model = build_model(_chain_plan())
    _check_chain([engine(model).run(replication_seed(5, i)) for i in range(reps)])
    claims, redeemed = _chain_closed_form()
    assert redeemed / claims > 0.15              # holders come back: well above p₁ ≈ 4 % of the claims


def test_fast_holders_who_never_return_fail(monkeypatch):
    monkeypatch.setattr(wallet.Wallet, "weights", lambda self, reg, rates, rows, attempts, paying=True: None)
    with pytest.raises(AssertionError, match="redemptions|claims"):
        _check_chain([FastEngine(build_model(_chain_plan())).run(replication_seed(5, i)) for i in range(80)])


def test_reference_holders_who_never_return_fail(monkeypatch):
    monkeypatch.setattr(Campaign, "held_coupon", lambda self, k, s, customer, tick: None)
    with pytest.raises(AssertionError, match="redemptions|claims"):
        _check_chain([ReferenceEngine(build_model(_chain_plan())).run(replication_seed(5, i)) for i in range(16)])


def _phased_plan(stays: bool = True) -> Scenario:
    """Claims in wave 1 only (hours 0–3, 10 % off); a lull at list price (3–5); a warm-up whose
    carts keep their coupon (5–6); the big day (6–9, 10 % off). Members (2,000 customers, who
    claim with intent) and new visitors (every visit a new person)."""
    return Scenario.model_validate({
        "meta": {"name": "wallet_phases", "start": at(0), "end": at(9), "tick_minutes": 5},
        "calendar": {"intraday": "flat", "phases": [
            {"name": "wave1", "start": at(0), "end": at(3), "kind": "sale"},
            {"name": "lull", "start": at(3), "end": at(5), "kind": "sale"},
            {"name": "warmup", "start": at(5), "end": at(6), "kind": "warmup"},
            {"name": "burst", "start": at(6), "end": at(9), "kind": "sale"}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 1000.0}},
        "skus": {"hero": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.03, "stock": 10**6,
                          "discount": {"default": 0.0, "wave1": 0.1, "warmup": 0.1, "burst": 0.1}}},
        "segments": {"members": {"share": 0.6, "customers": 2000, "claim_intent": 4.0},
                     "new": {"share": 0.4}},
        "coupons": {"c90": {"threshold": 85.0, "amount": 15.0, "quantity": 10**6, "claim_rate": 0.2,
                            "claim_to": at(3), "stays_in_wallet": stays}},
    })


def _coupon_kpis(runs) -> dict[str, np.ndarray]:
    """Per replication: claims, redemptions (all, in wave 1, the lull, the big day), coupon
    cost, orders, carts."""
    red = np.array([r.by_sku["coupons_redeemed"].sum(axis=1) for r in runs])
    return {"claimed": np.array([r.coupons["c90"]["claimed"] for r in runs]),
            "redeemed": np.array([r.coupons["c90"]["redeemed"] for r in runs]),
            "redeemed in wave 1": red[:, :3].sum(axis=1), "redeemed in the lull": red[:, 3:5].sum(axis=1),
            "redeemed on the big day": red[:, 6:].sum(axis=1),
            "coupon cost": np.array([r.coupons["c90"]["cost"] for r in runs]),
            "orders": np.array([r.by_channel["orders"].sum() for r in runs]),
            "carts": np.array([r.by_channel["carts"].sum() for r in runs])}


@pytest.fixture(scope="module")
def phased():
    """The fast engine on the phased plan with the coupon staying and without."""
    m, off = build_model(_phased_plan()), build_model(_phased_plan(stays=False))
    return {"stays": _coupon_kpis([FastEngine(m).run(replication_seed(6, i)) for i in range(100)]),
            "used at once": _coupon_kpis([FastEngine(off).run(replication_seed(6, i)) for i in range(40)])}


def test_coupons_claimed_in_wave_one_are_redeemed_on_the_big_day_only_when_they_stay(phased):
    on, off = phased["stays"], phased["used at once"]
    assert off["redeemed on the big day"].sum() == 0 and off["redeemed in the lull"].sum() == 0
    big_day = on["redeemed on the big day"]
    assert big_day.mean() > 10 * big_day.std(ddof=1) / math.sqrt(big_day.size)
    assert on["redeemed"].mean() / on["claimed"].mean() > 1.5 * off["redeemed"].mean() / off["claimed"].mean()


def _overflowing_holders(monkeypatch) -> dict:
    """The chain plan with three times the holders there are (the holders' count forced above
    the claims): what the cap on redemptions must absorb."""
    holders = wallet.Wallet._holders
    monkeypatch.setattr(wallet.Wallet, "_holders", lambda self, c, d: 3 * holders(self, c, d))
    rec = FastEngine(build_model(_chain_plan())).run(replication_seed(5, 0))
    return rec.coupons["c90"]


def test_holders_never_redeem_more_coupons_than_were_claimed(monkeypatch):
    c = _overflowing_holders(monkeypatch)
    assert 0 < c["redeemed"] <= c["claimed"]


def test_without_the_cap_overflowing_holders_redeem_more_than_was_claimed(monkeypatch):
    monkeypatch.setattr(wallet.Wallet, "cap", lambda self, rec, left, j, held, n: n)
    c = _overflowing_holders(monkeypatch)
    assert c["redeemed"] > c["claimed"]
