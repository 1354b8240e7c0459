"""Organic feedback (sales_boost): free traffic follows the store's recent sales, day by day."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_ind

from simulator.engine.fast import FastEngine
from simulator.kpis import run_kpis
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.runner import replication_seed, simulate
from tests.helpers import one_sku

BOOST = {"baseline_orders_per_day": 150.0, "elasticity": 0.5}


def _scenario(boost=BOOST, hours=72):
    return one_sku(stock=10**6, hours=hours, tick_minutes=30, visits_per_hour=100, base_conversion=0.1,
                   extra={"channels": {"organic": {"sales_boost": boost},
                                       "paid_search": {"kind": "paid_search", "cpc": 2.0, "clicks_per_hour": 60}}})


@pytest.mark.parametrize("engine", [FastEngine, ReferenceEngine])
def test_each_midnight_sets_the_day_from_the_orders_of_the_day_before(engine):
    model = build_model(_scenario())
    for i in range(3):
        rec = engine(model).run(replication_seed(2, i))
        ranks = [e for e in rec.sorted_events() if e[1] == "ranking"]
        assert [t for t, *_ in ranks] == [48, 96]                      # the two midnights after the start
        for t, _, name, value in ranks:
            h = t // 2
            orders = rec.by_channel["orders"][h - 24:h].sum()
            assert name == "organic" and value == pytest.approx(min(4, max(0.25, (orders / 150) ** 0.5)))


def test_boosted_traffic_follows_the_multiplier():
    """About 16 orders an hour (100 + 60 visits × 0.1) → 384 a day against a baseline of 150:
    day two's organic traffic is (384/150) ** 0.5 ≈ 1.6 × day one's."""
    model = build_model(_scenario())
    eng = FastEngine(model)
    ratio = []
    for i in range(30):
        rec = eng.run(replication_seed(5, i))
        mult = next(v for t, k, _, v in rec.sorted_events() if k == "ranking")
        v = rec.by_channel["visits"][:, 0]
        ratio.append((v[24:48].sum() / v[:24].sum(), mult))
    r, mult = np.array(ratio).T
    assert abs(np.mean(r / mult) - 1) < 4 * np.std(r / mult, ddof=1) / np.sqrt(r.size) + 1e-12
    assert mult.mean() == pytest.approx(1.6, rel=0.05)


def test_elasticity_zero_switches_it_off():
    on = FastEngine(build_model(_scenario({**BOOST, "elasticity": 0.0}))).run(9)
    off = FastEngine(build_model(_scenario(None))).run(9)
    for f in on.by_channel:
        assert np.array_equal(on.by_channel[f], off.by_channel[f])


@pytest.mark.slow
def test_feedback_agrees_with_the_reference_engine():
    sc = _scenario(hours=96)
    runs = {e: simulate(sc, reps=100, seed=8, engine=e) for e in ("fast", "reference")}
    p = []
    for k in ("visits", "orders", "gmv", "ad_spend"):
        a, b = ([run_kpis(r, res.model)[k] for r in res.records] for res in runs.values())
        p.append((ttest_ind(a, b, equal_var=False).pvalue, k, np.mean(a), np.mean(b)))
    low, k, fa, re = min(p)
    assert low > 0.01 / len(p), f"{k}: fast {fa:.1f} vs reference {re:.1f} (p = {low:.2g})"
