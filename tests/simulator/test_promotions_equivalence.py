"""The fast engine against the reference engine with every promotion mechanism on.

Same scenario, 120 seeds each; per KPI a Welch t-test, all under Holm at 1 % family-wise.
The scenario makes per-customer limits bind (a small member population), a coupon pool
empty, a flash sale sell out and fall back, deposits pay and forfeit, and payment-mode
stock deduction oversell — the fast engine's one approximation (limits) included.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_ind

from simulator.kpis import run_kpis
from simulator.runner import simulate
from tests.simulator.test_promotions import _all_on

KPIS = ("visits", "orders", "units", "gmv", "coupon_cost", "coupons_claimed", "coupons_redeemed",
        "reduction_cost", "deposits", "deposit_amount", "deposit_forfeits", "oversold_units", "lost_units")


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "known gap, open in the promotion-mechanics issue: the reference engine brings about 3 % more "
    "visits than the fast engine in this scenario (p ≈ 1e-39), most likely the flash surge's "
    "channels or tick mass; until it is found the engines are not shown equivalent with promotions"))
def test_fast_and_reference_agree_with_every_mechanism_on():
    sc = _all_on(stock_a=120, stock_b=60, mode="payment", pay_minutes=10, quantity=30, fallback="regular",
                 through=0.7, seed=0)
    runs = {e: simulate(sc, reps=120, seed=11, engine=e) for e in ("fast", "reference")}
    vals = {e: {k: np.array([run_kpis(r, res.model)[k] for r in res.records]) for k in KPIS}
            for e, res in runs.items()}
    pvals = []
    for k in KPIS:
        a, b = vals["fast"][k], vals["reference"][k]
        if a.std() == 0 and b.std() == 0:
            assert a.mean() == b.mean(), k
            continue
        pvals.append((ttest_ind(a, b, equal_var=False).pvalue, k, a.mean(), b.mean()))
    pvals.sort()
    m = len(pvals)
    for i, (p, k, fa, re) in enumerate(pvals):          # Holm step-down at 1 %
        assert p > 0.01 / (m - i), f"{k}: fast {fa:.2f} vs reference {re:.2f} (p = {p:.2g})"
        break
