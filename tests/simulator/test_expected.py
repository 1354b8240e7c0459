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


def promotion_case(**blocks) -> Scenario:
    """The fluid case with promotion blocks added (or SKU fields changed: `sku={...}`)."""
    data = fluid_case(stock=100, rate_per_hour=60).model_dump(mode="json", exclude_defaults=True)
    data["skus"]["x"].update(blocks.pop("sku", {}))
    return Scenario.model_validate({**data, **blocks})


@pytest.mark.parametrize(("blocks", "path", "what"), [
    ({"coupons": {"c10_2": {"threshold": 10, "amount": 2, "quantity": 50, "claim_rate": 0.3}}},
     "coupons", "store coupons"),
    ({"platform_reduction": {"every": 10, "off": 1}}, "platform_reduction", "cross-store reduction"),
    ({"flash_sales": {"x_flash": {"sku": "x", "price": 5, "quantity": 20,
                                  "start": "2026-11-11 01:00", "end": "2026-11-11 02:00"}}},
     "flash_sales", "flash sales"),
    ({"presales": {"x_pre": {"skus": ["x"], "deposit": 2, "multiplier": 2,
                             "deposit_from": "2026-11-11 00:00", "deposit_to": "2026-11-11 04:00",
                             "balance_from": "2026-11-11 04:00", "balance_to": "2026-11-11 10:00"}}},
     "presales", "pre-sale deposits"),
    ({"baskets": {"topup_probability": 0.3}}, "baskets.topup_probability", "top-up"),
    ({"stock_deduction": {"mode": "payment"}}, "stock_deduction.mode", "at payment"),
    ({"sku": {"return_rate_per_discount": 0.2}}, "skus.x.return_rate_per_discount", "discount depth"),
])
def test_expected_mode_refuses_promotions_it_does_not_model(blocks, path, what):
    """Calibration's least squares runs the expected engine: a plan with promotions is refused
    up front, naming the block, rather than fitted to a model that ignores it."""
    from simulator.engine import ExpectedEngine
    from simulator.model import build_model
    from simulator.scenario import ScenarioError

    s = promotion_case(**blocks)
    assert s.has_promotions
    for run in (lambda: simulate(s, engine="expected", reps=1),
                lambda: ExpectedEngine(build_model(s))):
        with pytest.raises(ScenarioError) as info:
            run()
        [issue] = info.value.issues
        assert (issue.file, issue.line, issue.path) == ("<scenario>", None, path)
        assert what in issue.message
        assert "expected engine (calibration's `method: least_squares`) does not model" in issue.message
        assert "`method: tpe` or `method: cmaes`" in issue.message


def test_expected_mode_names_the_first_promotion_block():
    s = promotion_case(flash_sales={"x_flash": {"sku": "x", "price": 5, "quantity": 20,
                                                "start": "2026-11-11 01:00", "end": "2026-11-11 02:00"}},
                       stock_deduction={"mode": "payment"})
    from simulator.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"^<scenario>: flash_sales: the expected engine"):
        simulate(s, engine="expected", reps=1)


def test_expected_mode_still_runs_a_plan_without_promotions():
    s = promotion_case(stock_deduction={"mode": "order"}, baskets={"topup_probability": 0.0})
    assert not s.has_promotions
    assert simulate(s, engine="expected", reps=1).kpis().iloc[0]["units"] == pytest.approx(100)
