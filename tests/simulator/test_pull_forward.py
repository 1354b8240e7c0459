"""Demand a big day pulls forward from the days after it (docs/model.md, "Pull-forward"): the
units owed are the phase's units × its share, exactly; the units missing afterwards equal them
(up to the one order that crosses the debt), on both engines and on the bundled Double 11 (busy
hours); the days after lose them first come; the engines agree on the hours after the big day.
An injected fault (no buyer stays away) fails the identity."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simulator.engine.expected import ExpectedEngine
from simulator.engine.fast import FastEngine
from simulator.engine.pull import PullState
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.runner import replication_seed
from simulator.scenario import Scenario, load_scenario
from simulator.scenario.errors import ScenarioError
from tests.helpers import at

SHARE = 0.3


def _plan(share: float | None = SHARE) -> Scenario:
    """A day before, a 6-hour big day at 3 × intent that pulls `share` of its units from the 36
    hours after it, then a lull; `hero` sells one unit an order, `side` 1 + Poisson(0.5)."""
    big = {"name": "big", "start": at(24), "end": at(30), "intent": 3.0}
    if share is not None:
        big["pull_forward"] = {"share": share, "days": 1.5}
    return Scenario.model_validate({
        "meta": {"name": "pull", "start": at(0), "end": at(72), "tick_minutes": 5},
        "calendar": {"intraday": "flat", "phases": [
            {"name": "before", "start": at(0), "end": at(24)}, big,
            {"name": "after", "start": at(30), "end": at(72)}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 300.0}},
        "skus": {"hero": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.05, "stock": 10**6,
                          "attractiveness": 2.0},
                 "side": {"price": 60.0, "unit_cost": 20.0, "base_conversion": 0.05, "stock": 10**6,
                          "units_per_order": 1.5}},
    })


def _check(model, rec, biggest: np.ndarray) -> None:
    """Per SKU: owed = share × units paid in the pulling phase, exactly; missing − owed in
    [0, the largest order) — the debt is paid whole orders at a time, the one crossing it too;
    missing only in the window, and first come (no unit sold in the window before the last
    hour something went missing)."""
    pull = model.pull
    per = model.grid.period
    src = np.flatnonzero(pull.source >= 0)
    owed = rec.by_sku["pulled_forward"].sum(axis=0)
    sold = rec.by_sku["units"][np.unique(per[src[0]:src[-1] + 1])].sum(axis=0)
    np.testing.assert_allclose(owed, sold * pull.share[src[0]], rtol=1e-12)
    missing = rec.by_sku["pull_missing"]
    extra = missing.sum(axis=0) - owed
    assert (extra >= -1e-9).all() and (extra < biggest).all(), f"missing − owed {extra} (largest order {biggest})"
    a, b = pull.windows[0]
    inside = np.zeros(missing.shape[0], dtype=bool)
    inside[np.unique(per[a:b])] = True
    assert not missing[~inside].any(), "units missing outside the window"
    for k in range(missing.shape[1]):
        on = np.flatnonzero(missing[:, k] > 0)
        if on.size:
            sold_before = rec.by_sku["units"][per[a]:on[-1], k]
            assert not sold_before.any(), f"SKU {k}: units sold in the window before its debt was paid"


def _biggest(model) -> np.ndarray:
    """(K,) an upper bound on one order's units: a whole-unit SKU 1; else the largest basket of a
    Poisson of its mean (1 − 1e-12 quantile)."""
    from simulator.promotions import poisson_ppf
    return np.array([1.0 if e == 0 else 1.0 + poisson_ppf(1 - 1e-12, e) + 1 for e in model.extra_units])


@pytest.mark.parametrize("engine, reps", [(FastEngine, 20), (ReferenceEngine, 8)])
def test_units_pulled_forward_go_missing_from_the_days_after(engine, reps):
    model = build_model(_plan())
    for i in range(reps):
        rec = engine(model).run(replication_seed(4, i))
        assert rec.by_sku["pull_missing"].sum() > 0
        _check(model, rec, _biggest(model))
        hero = rec.by_sku["pull_missing"][:, 0].sum() - rec.by_sku["pulled_forward"][:, 0].sum()
        assert 0 <= hero < 1 - 1e-12 or math.isclose(hero, 0.0, abs_tol=1e-9)   # one unit an order: ⌈owed⌉


def test_no_buyer_staying_away_breaks_the_identity(monkeypatch):
    """Injected fault: the fast engine's debt takes no order away."""
    monkeypatch.setattr(PullState, "suppress", lambda self, gen, lines, orders, a, deposit:
                        (lines, orders, __import__("simulator.engine.pull", fromlist=["Missing"]).Missing.none()))
    model = build_model(_plan())
    rec = FastEngine(model).run(replication_seed(4, 0))
    with pytest.raises(AssertionError, match="missing − owed"):
        _check(model, rec, _biggest(model))


def test_the_engines_agree_on_the_days_after():
    """Units per 6 hours of the window and after, and the totals owed and missing: fast against
    reference within 4 standard errors of the difference."""
    model = build_model(_plan())
    per = model.grid.period
    a = model.pull.windows[0][0]
    bins = np.arange(per[a], per[-1] + 1, 6)

    def stats(engine, reps):
        rows = []
        for i in range(reps):
            rec = engine(model).run(replication_seed(9, i))
            units = rec.by_sku["units"].sum(axis=1)
            rows.append(np.r_[np.add.reduceat(units[per[a]:], bins - per[a]),
                              rec.by_sku["pulled_forward"].sum(), rec.by_sku["pull_missing"].sum()])
        return np.array(rows)

    f, r = stats(FastEngine, 40), stats(ReferenceEngine, 20)
    se = np.sqrt(f.var(axis=0, ddof=1) / len(f) + r.var(axis=0, ddof=1) / len(r))
    gap = np.abs(f.mean(axis=0) - r.mean(axis=0))
    assert (gap <= 4 * se).all(), (gap / se).round(2)


def test_the_window_is_lower_than_without_pull_forward():
    """Same seeds, the plan without pull-forward: the window's units are lower by about what went
    missing (within 4 SE), the hours after the window alike."""
    with_pf, without = build_model(_plan()), build_model(_plan(None))
    per = with_pf.grid.period
    win = np.unique(per[slice(*with_pf.pull.windows[0])])
    diffs, missing = [], []
    for i in range(30):
        x, y = (FastEngine(m).run(replication_seed(6, i)) for m in (with_pf, without))
        diffs.append(y.by_sku["units"][win].sum() - x.by_sku["units"][win].sum())
        missing.append(x.by_sku["pull_missing"].sum())
    d, mi = np.array(diffs), np.array(missing)
    se = (d - mi).std(ddof=1) / math.sqrt(d.size)
    assert abs((d - mi).mean()) <= 4 * max(se, 1e-9), (d.mean(), mi.mean(), se)
    assert mi.mean() > 0


def test_busy_hours_pay_the_debt_order_by_order():
    """The bundled Double 11 with its big day pulling 20 % forward for 2 days: the identity per SKU
    holds where the debt meets busy hours (coarse buyers placed on their ticks)."""
    sc = load_scenario(Path(__file__).parents[2] / "scenarios" / "double11_beauty_flagship.yaml")
    data = sc.model_dump(mode="json", exclude_unset=True)
    phases = data["calendar"]["phases"]
    big = max(range(len(phases)), key=lambda i: phases[i].get("intent", 1.0))
    phases[big]["pull_forward"] = {"share": 0.2, "days": 2}
    model = build_model(Scenario.model_validate(data))
    rec = FastEngine(model).run(replication_seed(4, 0))
    owed = rec.by_sku["pulled_forward"].sum(axis=0)
    missing = rec.by_sku["pull_missing"].sum(axis=0)
    after = rec.by_sku["units"][np.unique(model.grid.period[slice(*model.pull.windows[0])])].sum(axis=0)
    paid = after > 3 * owed                                   # SKUs with demand enough to pay their debt
    assert paid.sum() >= 10
    extra = (missing - owed)[paid]
    assert (extra >= -1e-9).all() and (extra < 40).all(), extra


def test_the_expected_engine_refuses_pull_forward_by_name():
    with pytest.raises(ScenarioError, match=r"calendar\.phases\.big\.pull_forward"):
        ExpectedEngine(build_model(_plan()))
