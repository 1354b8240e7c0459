"""The fast engine agrees with the reference engine (every visitor a SimPy process).

Eight small scenarios, each stressing one mechanism, run on both engines over N = 200
replications. For every KPI and event time listed below, two hypotheses of "no
difference" are tested: the means (Welch z from the two standard errors) and the whole
distributions (two-sample Kolmogorov–Smirnov; conservative for discrete data). The
false-alarm rate of the whole suite is held at ALPHA = 1 % with Holm's step-down
procedure over every p-value of every scenario; its strictest per-test level is
ALPHA / m (Bonferroni's), printed with the results. A fast engine whose conversion is
5 % off must be caught by the same procedure, and the suite's power to catch it is
computed from the standard errors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulator import load_scenario
from simulator.engine import FastEngine
from simulator.kpis import channel_kpis, run_kpis, sku_kpis
from simulator.model import build_model
from simulator.runner import replication_seed, simulate

pytestmark = pytest.mark.slow

ALPHA = 0.01
N = 200
SEED = 2026
HERE = Path(__file__).resolve().parents[1] / "scenarios" / "equivalence"

# metric: a run KPI name, ("sku"|"channel", name, kpi), ("ad_group", channel, group, kpi), or
# ("first"|"last", event kind, subject)
SPEC = {
    "stockout": ["visits", "orders", "units", "gmv", "lost_units", "stockout_minutes", "returns",
                 ("first", "stockout", "hero")],
    "replenishment": ["orders", "units", "lost_units", "inbound_units", "ending_stock",
                      ("first", "stockout", "fast_mover"), ("first", "arrival", "fast_mover"),
                      ("first", "stockout", "slow_mover")],
    "budget": ["visits", "orders", "gmv", "ad_spend", ("channel", "paid_search", "orders"),
               ("first", "budget_exhausted", "paid_search"), ("last", "budget_exhausted", "paid_search")],
    "warmup": ["visits", "add_to_carts", "orders", "units", "gmv", "lost_units",
               ("first", "stockout", "hero")],
    "price": ["orders", "gmv", ("sku", "full_price", "orders"), ("sku", "deal", "orders"),
              ("sku", "deep", "orders"), ("sku", "deal", "gmv")],
    "channels": ["orders", "gmv", "commissions", "returns", ("channel", "organic_search", "visits"),
                 ("channel", "display", "visits"), ("channel", "crm_push", "visits"),
                 ("channel", "affiliate", "orders")],
    "auctions": ["visits", "orders", "gmv", "ad_spend", ("channel", "paid_search", "win_rate"),
                 *[("ad_group", "paid_search", g, k) for g in ("brand", "category", "long_tail")
                   for k in ("auctions", "impressions", "clicks", "ad_spend")],
                 ("first", "budget_exhausted", "paid_search/brand"),
                 ("last", "budget_exhausted", "paid_search/brand"),
                 ("first", "budget_exhausted", "paid_search/category")],
    "rules": ["visits", "orders", "ad_spend", "rule_firings", ("channel", "ads", "ad_spend"),
              ("channel", "ads", "budget"), ("channel", "paid_search", "ad_spend"),
              ("ad_group", "paid_search", "kw", "impressions"), ("ad_group", "paid_search", "kw", "clicks"),
              ("first", "rule_fired", "top_up"), ("last", "rule_fired", "top_up"),
              ("first", "rule_fired", "bid_up"), ("first", "rule_fired", "evening_asap"),
              ("first", "budget_exhausted", "ads"), ("first", "budget_exhausted", "paid_search")],
}


def metrics(model, records) -> dict[str, np.ndarray]:
    """Every SPEC metric of one scenario, one value per replication."""
    name = model.scenario.meta.name.removeprefix("eq_")
    out: dict[str, list] = {}
    for rec in records:
        run, ch, sk = run_kpis(rec, model), channel_kpis(rec, model), sku_kpis(rec, model)
        for spec in SPEC[name]:
            if isinstance(spec, str):
                value = run[spec]
            elif spec[0] == "sku":
                value = sk[spec[1]][spec[2]]
            elif spec[0] == "channel":
                value = ch[spec[1]][spec[2]]
            elif spec[0] == "ad_group":
                value = ch[spec[1]]["ad_groups"][spec[2]][spec[3]]
            else:
                ticks = [t for t, kind, subject, _ in rec.sorted_events() if kind == spec[1] and subject == spec[2]]
                value = (ticks[0] if spec[0] == "first" else ticks[-1]) if ticks else model.n_ticks
            out.setdefault(_label(spec), []).append(float(value))
    return {k: np.array(v) for k, v in out.items()}


def _label(spec) -> str:
    return spec if isinstance(spec, str) else ".".join(spec)


def run_engine(engine_cls, model, n=N):
    eng = engine_cls(model)
    return [eng.run(replication_seed(SEED, i)) for i in range(n)]


def pvalues(a: dict, b: dict) -> dict[str, tuple[float, float]]:
    """metric → (p of the mean difference, p of the KS test); constant equal samples → 1."""
    out = {}
    for key in a:
        x, y = a[key], b[key]
        scale = max(1.0, abs(x).max(), abs(y).max())
        if np.ptp(np.r_[x, y]) <= 1e-9 * scale:          # deterministic: equal up to float rounding
            out[key] = (1.0, 1.0)
            continue
        x, y = np.round(x / scale, 9), np.round(y / scale, 9)  # sums in another order differ in the last bits
        se = np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
        z = (x.mean() - y.mean()) / se if se else np.inf
        out[key] = (float(2 * stats.norm.sf(abs(z))), float(stats.ks_2samp(x, y, method="asymp").pvalue))
    return out


def holm(pv: dict[tuple, float], alpha: float) -> set:
    """Hypotheses rejected by Holm's step-down procedure at family-wise level alpha."""
    order = sorted(pv, key=pv.get)
    m = len(order)
    rejected = set()
    for i, key in enumerate(order):
        if pv[key] > alpha / (m - i):
            break
        rejected.add(key)
    return rejected


@pytest.fixture(scope="module")
def suite():
    """Samples of both engines for every scenario (the reference on two workers)."""
    data = {}
    for name in SPEC:
        scenario = load_scenario(HERE / f"{name}.yaml")
        model = build_model(scenario)
        ref = simulate(scenario, seeds=range(N), seed=SEED, engine="reference", workers=2)
        data[name] = {"model": model, "fast": metrics(model, run_engine(FastEngine, model)),
                      "reference": metrics(model, ref.records)}
    return data


def family(suite, engine="fast"):
    pv = {}
    for name, d in suite.items():
        for metric, (p_mean, p_ks) in pvalues(d[engine], d["reference"]).items():
            pv[(name, metric, "mean")] = p_mean
            pv[(name, metric, "ks")] = p_ks
    return pv


@pytest.mark.parametrize("name", list(SPEC))
def test_fast_engine_agrees_with_the_reference(suite, name):
    pv = family(suite)
    rejected = holm(pv, ALPHA)
    m = len(pv)
    mine = sorted(k for k in rejected if k[0] == name)
    detail = {k[1:]: round(v, 6) for k, v in pv.items() if k[0] == name}
    print(f"\n{name}: {len(detail)} tests; suite of m = {m}, Holm at {ALPHA}, strictest level {ALPHA / m:.2e}\n{detail}")
    assert not mine, f"engines disagree on {mine}: p-values {detail}"


class BrokenFast(FastEngine):
    """The fast engine with conversion 5 % too low: must be caught."""

    def __init__(self, model):
        super().__init__(dataclasses.replace(model, reach=model.reach * 0.95, buy_prob=model.buy_prob * 0.95))


def test_a_fast_engine_five_percent_off_in_conversion_fails_the_suite(suite):
    pv_ok = family(suite)
    for name, d in suite.items():
        d["broken"] = metrics(d["model"], run_engine(BrokenFast, d["model"]))
    pv = family(suite, "broken")
    rejected = holm(pv, ALPHA)
    m = len(pv)
    # the suite's power against this shift, from the standard errors of `orders` (a 5 % shift
    # of conversion moves expected orders by about 5 % where stock does not bind)
    z = stats.norm.isf(ALPHA / m / 2)
    powers = {}
    for name, d in suite.items():
        x, y = d["reference"]["orders"], d["fast"]["orders"]
        se = np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
        powers[name] = float(stats.norm.sf(z - 0.05 * x.mean() / se))
    suite_power = 1 - np.prod([1 - p for p in powers.values()])
    print(f"\nper-scenario power on orders: {powers}; suite power ≥ {suite_power:.6f}; rejected: {sorted(rejected)}")
    assert suite_power > 0.99
    assert rejected, "a fast engine 5 % off in conversion passed the equivalence suite"
    assert any(k[1] == "orders" for k in rejected)
    assert len(pv) == len(pv_ok)
