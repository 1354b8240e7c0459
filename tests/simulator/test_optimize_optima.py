"""The optimizer reaches known optima (≥ 99 % of the closed-form optimum's expected profit).

(a) One SKU, constant elasticity ε < 0, unit cost c, nothing else: the best price is
    c·|ε|/(|ε|−1) (here a discount off the list price, since conversion responds to the price
    relative to list).
(b) The newsvendor: one SKU, Poisson demand, price p, cost c, salvage s: the best buy is the
    Poisson quantile at the critical ratio (p−c)/(p−s).
(c) Two display channels with saturating reach share a fixed budget: the best split equalizes
    the marginal profit of a yuan in each channel.

Each found plan and each optimum are scored with the exact expected profit (no sampling
error in the comparison); the study itself plays the simulator on common random numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.optimize import optimize
from simulator.scenario import Scenario
from tests.helpers import at


def _flat(name: str, channels: dict, sku: dict, optimize_block: dict, hours: int = 10) -> Scenario:
    return Scenario.model_validate({
        "meta": {"name": name, "start": at(0), "end": at(hours), "tick_minutes": 60},
        "calendar": {"intraday": "flat"},
        "channels": channels,
        "skus": {"item": sku},
        "optimize": optimize_block,
    })


# ------------------------------------------------------------- (a) price
P, C, EPS, VISITS, B = 200.0, 60.0, -2.5, 100_000, 0.02


def price_profit(d: float) -> float:
    """Expected gross profit at discount d: (p − c) · visits · b · (p / P)^ε, p = P(1 − d)."""
    p = P * (1 - d)
    return (p - C) * VISITS * min(1.0, B * (p / P) ** EPS)


def test_a_best_price_under_constant_elasticity():
    best_price = C * abs(EPS) / (abs(EPS) - 1)                     # 100: discount 0.5
    d_star = 1 - best_price / P
    scenario = _flat(
        "price",
        {"organic": {"kind": "organic_search", "visits_per_hour": VISITS / 10}},
        {"price": P, "unit_cost": C, "discount": 0.1, "base_conversion": B, "elasticity": EPS,
         "stock": 10_000_000},
        {"variables": {"skus.item.discount": {"low": 0.0, "high": 0.8, "step": 0.01}},
         "objective": "gross_profit", "replications": 8},
    )
    res = optimize(scenario, trials=40, compare=False, plots=False)
    d = res.best["params"]["skus.item.discount"]
    assert price_profit(d) >= 0.99 * price_profit(d_star), (d, d_star)
    assert res.best["value"] > res.baseline["value"]


# ------------------------------------------------------------ (b) newsvendor
PRICE, COST, SALVAGE, LAM = 100.0, 40.0, 10.0, 200.0


def newsvendor_profit(q: int) -> float:
    """E[p·min(D, q) − c·q + s·(q − min(D, q))], D ~ Poisson(λ)."""
    k = np.arange(0, q)
    pmf = stats.poisson.pmf(k, LAM)
    e_min = float((k * pmf).sum() + q * stats.poisson.sf(q - 1, LAM))
    return PRICE * e_min - COST * q + SALVAGE * (q - e_min)


def test_b_newsvendor_buys_the_critical_quantile():
    ratio = (PRICE - COST) / (PRICE - SALVAGE)
    q_star = int(stats.poisson.ppf(ratio, LAM))
    assert newsvendor_profit(q_star) >= max(newsvendor_profit(q) for q in range(150, 260)) - 1e-6
    scenario = _flat(
        "newsvendor",
        {"organic": {"kind": "organic_search", "visits_per_hour": 1000}},
        {"price": PRICE, "unit_cost": COST, "salvage_value": SALVAGE, "base_conversion": LAM / 10_000,
         "elasticity": -2.0, "stock": 150},
        {"variables": {"skus.item.stock": {"low": 100, "high": 400}},
         "objective": "gross_profit", "replications": 16},
    )
    res = optimize(scenario, trials=40, compare=False, plots=False)
    q = res.best["params"]["skus.item.stock"]
    assert isinstance(q, int)
    assert newsvendor_profit(q) >= 0.99 * newsvendor_profit(q_star), (q, q_star)
    # the simulator's write-down is what makes over-buying cost something
    assert res.best["kpis"]["stock_writedown"] > 0


# --------------------------------------------------- (c) saturating reach
TOTAL, MARGIN, CONV = 100_000.0, 60.0, 0.1
DISPLAY = {"d1": {"cpm": 20.0, "ctr": 0.02, "audience": 2_000_000.0},
           "d2": {"cpm": 40.0, "ctr": 0.03, "audience": 4_000_000.0}}


def split_profit(b1: float) -> float:
    """Expected profit when d1 gets b1 and d2 the rest: visits of a channel with budget B are
    ctr · A · (1 − exp(−1000·B / (cpm·A))); each visit earns conversion × margin."""
    visits = 0.0
    for ch, budget in (("d1", b1), ("d2", TOTAL - b1)):
        c = DISPLAY[ch]
        visits += c["ctr"] * c["audience"] * -math.expm1(-1000 * budget / (c["cpm"] * c["audience"]))
    return visits * CONV * MARGIN - TOTAL


def test_c_budget_split_equalizes_marginal_roi():
    k = {ch: 1000 / (c["cpm"] * c["audience"]) for ch, c in DISPLAY.items()}
    a = {ch: CONV * MARGIN * c["ctr"] * 1000 / c["cpm"] for ch, c in DISPLAY.items()}   # marginal at 0
    b1_star = (math.log(a["d1"] / a["d2"]) + k["d2"] * TOTAL) / (k["d1"] + k["d2"])
    assert 0 < b1_star < TOTAL
    # equal marginal profit per yuan at the optimum
    assert a["d1"] * math.exp(-k["d1"] * b1_star) == pytest.approx(a["d2"] * math.exp(-k["d2"] * (TOTAL - b1_star)))
    channels = {name: {"kind": "display", "impressions_per_hour": 2_000_000, "total_budget": TOTAL / 2, **c}
                for name, c in DISPLAY.items()}
    scenario = _flat(
        "split", channels,
        {"price": 100.0, "unit_cost": 100.0 - MARGIN, "base_conversion": CONV, "stock": 10_000_000},
        {"splits": [{"total": TOTAL, "paths": ["channels.d1.total_budget", "channels.d2.total_budget"]}],
         "objective": "gross_profit", "replications": 8},
    )
    res = optimize(scenario, trials=40, compare=False, plots=False)
    plan = res.best["plan"]
    b1 = plan["channels.d1.total_budget"]
    assert b1 + plan["channels.d2.total_budget"] == pytest.approx(TOTAL)
    assert split_profit(b1) >= 0.99 * split_profit(b1_star), (b1, b1_star)
    # the starting 50/50 split is feasible but not optimal
    assert res.baseline["trial"] == 0 and res.best["value"] > res.baseline["value"]
