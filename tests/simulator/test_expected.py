"""The expected-value engine: the fast engine's model with every draw replaced by its mean."""

from pathlib import Path

import numpy as np
import pytest

from simulator import load_scenario, simulate
from simulator.scenario.schema import Scenario

EQ = Path(__file__).resolve().parents[1] / "scenarios" / "equivalence"
KPIS = ("visits", "add_to_carts", "orders", "units", "gmv", "returns", "ad_spend", "fees", "commissions")


def test_expected_mode_is_deterministic_and_ignores_the_seed():
    s = load_scenario(EQ / "channels.yaml")
    a = simulate(s, engine="expected", reps=1, seed=1).kpis()
    b = simulate(s, engine="expected", reps=1, seed=99).kpis()
    assert a.drop(columns="replication").equals(b.drop(columns="replication"))


@pytest.mark.parametrize("name", ["price", "channels", "warmup"])
def test_expected_mode_is_the_mean_of_the_fast_engine(name):
    """Where nothing saturates (or stock binds smoothly), expectations match replication means
    within 3 standard errors."""
    s = load_scenario(EQ / f"{name}.yaml")
    e = simulate(s, engine="expected", reps=1).kpis().iloc[0]
    f = simulate(s, reps=60, seed=11).kpis()
    for k in KPIS:
        se = f[k].std(ddof=1) / np.sqrt(len(f))
        if se == 0:
            assert e[k] == pytest.approx(f[k].mean(), rel=1e-9, abs=1e-9), k
        else:
            assert abs(e[k] - f[k].mean()) <= 3 * se, (k, e[k], f[k].mean(), se)


def fluid_case(stock: int, rate_per_hour: float, reorder=None) -> Scenario:
    sku = {"price": 10, "unit_cost": 4, "base_conversion": 1.0, "stock": stock}
    if reorder:
        sku["reorder"] = reorder
    return Scenario.model_validate({
        "meta": {"name": "fluid", "start": "2026-11-11 00:00", "end": "2026-11-11 10:00"},
        "calendar": {"intraday": "flat"},
        "channels": {"organic_search": {"kind": "organic_search", "visits_per_hour": rate_per_hour}},
        "skus": {"x": sku},
    })


def test_fluid_stock_runs_out_at_the_hand_computed_tick():
    res = simulate(fluid_case(stock=125, rate_per_hour=60), engine="expected", reps=1)   # 1 unit a minute
    rec = res.records[0]
    k = res.kpis().iloc[0]
    assert k["units"] == pytest.approx(125)
    assert k["lost_units"] == pytest.approx(600 - 125)
    assert [t for t, kind, *_ in rec.sorted_events() if kind == "stockout"] == [125]
    assert k["stockout_minutes"] == 600 - 125


def test_fluid_reorders_arrive_after_their_lead_time_and_units_add_up():
    res = simulate(fluid_case(stock=100, rate_per_hour=60,
                              reorder={"point": 40, "quantity": 100, "lead_time_hours": 1}),
                   engine="expected", reps=1)
    rec = res.records[0]
    ev = [(t, kind) for t, kind, *_ in rec.sorted_events() if kind in ("reorder", "arrival", "stockout")]
    assert ev[:3] == [(59, "reorder"), (100, "stockout"), (119, "arrival")]   # lead 60 ticks
    k = res.kpis().iloc[0]
    assert k["inbound_units"] > 0
    assert 100 + k["inbound_units"] == pytest.approx(k["units"] + k["ending_stock"])
    assert (rec.stock >= -1e-9).all()
