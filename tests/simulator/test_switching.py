"""Shoppers who find their SKU out of stock and take another SKU of its category (docs/model.md,
"When a SKU is out of stock"): the share who switch and the logit's split among the available
SKUs against their closed forms on both engines; units conserved exactly in the fast engine's
stock play (lost + switched = the demand that met no stock, hour by hour); what the expected
engine refuses. Each check is shown to fail on an injected fault. The interaction with
replenishment, a flash sale, coupons and the reduction is in the equivalence suite
(`tests/scenarios/equivalence/matrix_switch.yaml`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import simulator.engine.fast as fast_module
from simulator.engine.expected import ExpectedEngine
from simulator.engine.fast import FastEngine
from simulator.engine.switching import Switching
from simulator.model import build_model
from simulator.promotions import Conversion
from simulator.reference import ReferenceEngine
from simulator.reference.campaign import Campaign
from simulator.runner import replication_seed
from simulator.scenario import Scenario, load_scenario
from simulator.scenario.errors import ScenarioError
from tests.helpers import at, double11_with_switching

SHARE = 0.4
MATRIX = Path(__file__).parents[1] / "scenarios" / "equivalence" / "matrix_switch.yaml"


def _plan(share: float = SHARE) -> Scenario:
    """`hero` (1.5 units an order) has no stock all campaign; its neighbours `side` (60, 25 % off,
    elasticity −2) and `other` (80, elasticity −1.5, 1.5 × as attractive) have plenty, one unit an
    order; `alone` is in no category. 2,000 visits an hour for 4 hours."""
    return Scenario.model_validate({
        "meta": {"name": "switch", "start": at(0), "end": at(4), "tick_minutes": 5},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 2000.0}},
        "skus": {"hero": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.05, "stock": 0,
                          "units_per_order": 1.5, "attractiveness": 2.0, "category": "lip"},
                 "side": {"price": 60.0, "unit_cost": 20.0, "base_conversion": 0.04, "stock": 10**6,
                          "discount": 0.25, "elasticity": -2.0, "category": "lip"},
                 "other": {"price": 80.0, "unit_cost": 30.0, "base_conversion": 0.04, "stock": 10**6,
                           "elasticity": -1.5, "attractiveness": 1.5, "category": "lip"},
                 "alone": {"price": 50.0, "unit_cost": 20.0, "base_conversion": 0.03, "stock": 10**6}},
        "categories": {"lip": {"inside_share": 0.6, "switch_share": share}},
    })


def _side_share() -> float:
    """Closed form: a switcher takes `side` with a_side T_side / (a_side T_side + a_other T_other),
    T = (price paid / list price) ** elasticity; landing shares a ∝ attractiveness."""
    w_side, w_other = 1.0 * 0.75 ** -2.0, 1.5 * 1.0
    return w_side / (w_side + w_other)


def _fractions(runs) -> tuple[np.ndarray, np.ndarray]:
    """Per replication: switched / (lost + switched) units of hero, and the share of the units
    sold to switchers that went to side."""
    sw = np.array([r.by_sku["switched_units"][:, 0].sum() for r in runs])
    lost = np.array([r.by_sku["lost_units"][:, 0].sum() for r in runs])
    came = np.array([r.by_sku["switched_in"].sum(axis=0) for r in runs])            # (reps, K)
    return sw / (sw + lost), came[:, 1] / came.sum(axis=1)


def _within(x: np.ndarray, target: float, what: str) -> None:
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - target) <= 4 * se, f"{what}: {x.mean():.4f} vs {target:.4f} (se {se:.4f})"


@pytest.mark.parametrize("engine, reps", [(FastEngine, 60), (ReferenceEngine, 30)])
def test_the_share_who_switch_and_where_they_go_follow_the_closed_forms(engine, reps):
    model = build_model(_plan())
    runs = [engine(model).run(replication_seed(3, i)) for i in range(reps)]
    switched, to_side = _fractions(runs)
    _within(switched, SHARE, "share of hero's unmet units switched")
    _within(to_side, _side_share(), "share of switchers taking side")
    for r in runs:                                                    # only hero's buyers switch, to its neighbours
        assert not r.by_sku["switched_units"][:, 1:].any()
        assert not r.by_sku["switched_in"][:, [0, 3]].any()
        assert r.by_sku["units"][:, 0].sum() == 0


def test_switch_share_zero_loses_everything_and_switches_nothing():
    model = build_model(_plan(share=0.0))
    assert not Switching(model, 1).on
    for engine in (FastEngine, ReferenceEngine):
        rec = engine(model).run(replication_seed(3, 0))
        assert rec.by_sku["lost_units"][:, 0].sum() > 0
        assert not rec.by_sku["switched_units"].any() and not rec.by_sku["switched_in"].any()


def test_a_switcher_ignoring_price_fails_the_split(monkeypatch):
    """Injected fault: the fast engine's switchers weigh SKUs by attractiveness alone."""
    monkeypatch.setattr(Conversion, "switch_weights", lambda self, rel: np.broadcast_to(
        self.choice[None, :, None], rel.shape).copy())
    runs = [FastEngine(build_model(_plan())).run(replication_seed(3, i)) for i in range(60)]
    with pytest.raises(AssertionError, match="taking side"):
        _within(_fractions(runs)[1], _side_share(), "share of switchers taking side")


def test_a_reference_switcher_ignoring_price_fails_the_split(monkeypatch):
    """Injected fault: the reference engine's switchers see list prices."""
    monkeypatch.setattr(Campaign, "pay_effective",
                        lambda self, k, s, t, c: float(self.plan.buying.list_price[k]))
    runs = [ReferenceEngine(build_model(_plan())).run(replication_seed(3, i)) for i in range(30)]
    with pytest.raises(AssertionError, match="taking side"):
        _within(_fractions(runs)[1], _side_share(), "share of switchers taking side")


# ------------------------------------------------------------------ exact conservation

def _played(monkeypatch) -> list:
    """Capture every stretch's stock play outcome (`stock.Outcome`) with its chunk."""
    seen = []
    real = fast_module.play

    def play(repl, ch, rng, lines, orders, lost):
        out = yield from real(repl, ch, rng, lines, orders, lost)
        seen.append((ch, out))
        return out

    monkeypatch.setattr(fast_module, "play", play)
    return seen


def _check_units(model, rec, seen) -> None:
    """Hour by hour and per SKU: the demand that met no stock (demand − served − oversold, from
    the stock play) = lost + switched units booked, neither below 0; units sold to switchers =
    what the stock play served to switched lines."""
    K, H = len(model.skus), rec.by_sku["units"].shape[0]
    unmet, came = np.zeros((H, K)), np.zeros((H, K))
    per = model.grid.period
    for ch, out in seen:
        n = ch.end - ch.start
        key = out.lines.k * n + out.lines.t - ch.start
        sold = np.bincount(key, weights=out.served + out.oversold, minlength=K * n).reshape(K, n)
        for k in range(K):
            np.add.at(unmet[:, k], per[ch.start:ch.end], out.demand[k] - sold[k])
        sw = out.lines.switched
        np.add.at(came, (per[out.lines.t[sw]], out.lines.k[sw]), out.served[sw])
    lost, switched = rec.by_sku["lost_units"], rec.by_sku["switched_units"]
    assert (lost >= 0).all() and (switched >= 0).all(), "lost or switched units below 0"
    assert np.array_equal(lost + switched, unmet), "lost + switched != the demand that met no stock"
    assert np.array_equal(rec.by_sku["switched_in"], came), "units sold to switchers not as served"


@pytest.mark.parametrize("path", [MATRIX, "bundled"])
def test_units_are_conserved_exactly_where_shoppers_switch(monkeypatch, path):
    """On the interaction matrix's plan and on the bundled Double 11 (busy hours, 21 sell-outs)."""
    sc = double11_with_switching(0.5, inside=0.05) if path == "bundled" else load_scenario(path)
    model = build_model(sc)
    seen = _played(monkeypatch)
    rec = FastEngine(model).run(replication_seed(11, 0))
    assert rec.by_sku["switched_units"].sum() > 0 and rec.by_sku["switched_in"].sum() > 0
    _check_units(model, rec, seen)


def test_switching_served_orders_breaks_conservation(monkeypatch):
    """Injected fault: the last tick's orders that *got* units switch too."""
    real = Switching.after_play

    def after_play(self, keys, out, st, deposit, rel, a, cut):
        got = out.orders.got.copy()
        out.orders.got[:] = 0
        try:
            return real(self, keys, out, st, deposit, rel, a, cut)
        finally:
            out.orders.got[:] = got

    monkeypatch.setattr(Switching, "after_play", after_play)
    model = build_model(load_scenario(MATRIX))
    seen = _played(monkeypatch)
    rec = FastEngine(model).run(replication_seed(11, 0))
    with pytest.raises(AssertionError):
        _check_units(model, rec, seen)


def test_the_expected_engine_refuses_switching_by_name():
    with pytest.raises(ScenarioError, match=r"categories\.lip\.switch_share.*switching"):
        ExpectedEngine(build_model(_plan()))


@pytest.mark.parametrize("share", [SHARE, 0.0])
def test_the_report_shows_switched_units_where_buyers_switch(tmp_path, share):
    """The stock-out table gains a 'Switched units' column equal to summary.json's, only where
    some buyers switched; the run and SKU KPIs carry both switch counts."""
    from simulator.formats import count
    from simulator.report import data as D
    from simulator.report import html
    from simulator.runner import simulate

    out = tmp_path / "res"
    simulate(_plan(share), reps=2, seed=3).write(out)
    summary = json.loads((out / "summary.json").read_text())
    hero = summary["skus"]["hero"]
    assert {"switched_units", "switched_in_units"} <= set(summary["kpis"]) | set(hero)
    table = html._stockout_table(D.load(out))
    if share:
        assert hero["switched_units"] > 0 and "Switched units" in table
        assert f">{count(hero['switched_units'])}<" in table
    else:
        assert hero["switched_units"] == 0 and "Switched units" not in table


def test_switchers_of_a_stretchs_last_tick_never_pay_in_a_warm_up():
    """A SKU empty from the start and a warm-up from the second hour (hourly ticks): the first
    tick's switchers would pay one tick later — in the warm-up, where nobody pays at once — so
    they stay lost there (found by the property tests)."""
    sc = Scenario.model_validate({
        "meta": {"name": "edge", "start": at(0), "end": at(3), "tick_minutes": 60},
        "calendar": {"intraday": "flat", "phases": [
            {"name": "warm", "kind": "warmup", "start": at(1), "end": at(2)},
            {"name": "sale", "start": at(2), "end": at(3)}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 400.0}},
        "skus": {"a": {"price": 5.0, "unit_cost": 2.5, "base_conversion": 0.25, "stock": 0, "category": "cat"},
                 "b": {"price": 5.0, "unit_cost": 2.5, "base_conversion": 0.25, "stock": 500, "category": "cat"}},
        "categories": {"cat": {"switch_share": 1.0}},
    })
    model = build_model(sc)
    warm = model.warmup[model.phase_of_tick]
    for i in range(5):
        rec = FastEngine(model).run(replication_seed(1, i))
        assert rec.by_sku["lost_units"][0, 0] > 0                        # the first hour's, not switched
        assert not rec.by_sku["orders"][warm].any()


def _restocked(share: float = 1.0) -> Scenario:
    """`hero` starts empty and gets 40 units at 01:00, which its buyers (about 5 a minute) take
    within minutes; every buyer who then finds it empty takes `side` (plenty), with `share`."""
    return Scenario.model_validate({
        "meta": {"name": "restocked", "start": at(0), "end": at(3), "tick_minutes": 1},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 6000.0}},
        "skus": {"hero": {"price": 100.0, "unit_cost": 40.0, "base_conversion": 0.1, "stock": 0,
                          "category": "lip", "inbound": [{"at": at(1), "quantity": 40}]},
                 "side": {"price": 60.0, "unit_cost": 20.0, "base_conversion": 0.02, "stock": 10**6,
                          "category": "lip"}},
        "categories": {"lip": {"inside_share": 0.6, "switch_share": share}},
    })


def _all_switch(rec) -> None:
    """With a switch share of 1 and a neighbour always on the shelf, no unit of hero is lost:
    every buyer who finds it empty — before its delivery and after the delivery sells out —
    switches."""
    hero = rec.by_sku
    assert hero["units"][:, 0].sum() == 40 and hero["switched_units"][:, 0].sum() > 0
    assert hero["lost_units"][:, 0].sum() == 0, f"{hero['lost_units'][:, 0].sum():.0f} units of hero lost"


@pytest.mark.parametrize("engine", [FastEngine, ReferenceEngine])
def test_a_sku_restocked_and_sold_out_again_within_a_stretch_keeps_its_switchers(engine):
    model = build_model(_restocked())
    for i in range(2):
        _all_switch(engine(model).run(replication_seed(3, i)))


def test_a_sell_out_cut_blind_to_the_delivery_loses_the_switchers(monkeypatch):
    """Injected fault: the sell-out cut reads the shelf on hand, not what lands at the stretch's
    first tick — the delivery's sell-out goes unseen and its later buyers are lost."""
    import simulator.engine.switching as switching

    monkeypatch.setattr(switching, "shelf_at", lambda st, a: st.on_hand.copy())
    with pytest.raises(AssertionError, match="units of hero lost"):
        _all_switch(FastEngine(build_model(_restocked())).run(replication_seed(3, 0)))
