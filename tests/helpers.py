"""Small scenario builders and record helpers shared by the engine tests.

Scenarios are built in code with `Scenario.model_validate(dict)`, so each test
states every number it depends on. Times are local wall-clock strings in the
scenario's time zone (Asia/Shanghai, no daylight saving: a day is 24 hours).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from simulator.model import Model
from simulator.record import RunRecord
from simulator.scenario import Scenario, load_scenario

DAY0 = dt.datetime(2026, 11, 10)


def at(hours: float, day0: dt.datetime = DAY0) -> str:
    """The local time `hours` after `day0` (00:00 of 2026-11-10) as 'YYYY-MM-DD HH:MM'."""
    return (day0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")


def deep_merge(base: dict, extra: dict) -> dict:
    """`base` updated by `extra`, recursively for nested dicts (lists and scalars replace)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def one_sku(
    *,
    stock: int,
    hours: float = 10,
    start_hour: float = 0,
    tick_minutes: int = 60,
    visits_per_hour: float = 100.0,
    base_conversion: float = 0.1,
    sku: dict | None = None,
    extra: dict | None = None,
) -> Scenario:
    """One SKU ('item', price 100, cost 40), one organic channel ('organic'), flat intraday
    profile, no phases, one segment: demand per tick is Poisson(visits · conversion · m/60)."""
    data = {
        "meta": {"name": "one_sku", "start": at(start_hour), "end": at(start_hour + hours),
                 "tick_minutes": tick_minutes},
        "calendar": {"intraday": "flat"},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": visits_per_hour}},
        "skus": {"item": {"price": 100.0, "unit_cost": 40.0, "base_conversion": base_conversion,
                          "stock": stock, **(sku or {})}},
    }
    return Scenario.model_validate(deep_merge(data, extra or {}))


def expected_demand(model: Model, sku: int = 0) -> float:
    """Expected orders (buyer visits) of SKU `sku` over the campaign, from the model arrays:
    Σ_t Σ_c traffic[t, c] · reach[phase(t), c, sku·S + s] summed over segments s."""
    S = len(model.segments)
    reach = model.reach[model.phase_of_tick]                       # (T, C, K·S)
    per_sku = reach[:, :, sku * S:(sku + 1) * S].sum(axis=2)       # (T, C)
    return float((model.traffic * per_sku).sum())


def hour_phase(model: Model) -> np.ndarray:
    """(H,) phase index of each reporting hour (phases are cut on whole hours in these tests)."""
    first_tick = np.r_[0, np.flatnonzero(np.diff(model.grid.period)) + 1]
    return model.phase_of_tick[first_tick]


def hour_day(model: Model) -> np.ndarray:
    """(H,) local day index of each reporting hour."""
    first_tick = np.r_[0, np.flatnonzero(np.diff(model.grid.period)) + 1]
    return model.grid.day[first_tick]


def chunk_starts(model: Model) -> set[int]:
    """Ticks (> 0) at which the engine starts a new chunk: local midnights and phase boundaries."""
    return {c.start for c in model.chunks if c.start > 0}


def events_of(rec: RunRecord, kind: str | None = None) -> list[tuple[int, str, str, float]]:
    """The run's events in time order as plain Python tuples, optionally of one kind."""
    return [(int(t), k, s, float(v)) for t, k, s, v in rec.sorted_events() if kind in (None, k)]


def spawned_run(scenario_json: str, reps: int, seed: int) -> tuple[str, bytes]:
    """Simulate in whatever process this runs in (a `spawn` child in the tests).

    Returns summary.json's text and the raw bytes of the per-replication KPI table,
    so the parent compares bit for bit."""
    from simulator.runner import simulate

    res = simulate(Scenario.model_validate_json(scenario_json), reps=reps, seed=seed)
    summary = json.dumps(res.summary(), indent=2, ensure_ascii=False)
    values = res.kpis().to_numpy(dtype=float, na_value=np.nan)
    return summary, values.tobytes()


def busy() -> Scenario:
    """Two days that touch every random source: warm-up carts paying at a spiky burst, three
    channels (one paid search that runs out of budget), two segments, baskets of 1.6 units,
    stock-outs, (s, Q) reorders, an inbound shipment, returns."""
    return Scenario.model_validate({
        "meta": {"name": "busy", "start": at(0), "end": at(48), "tick_minutes": 10,
                 "platform_fee_rate": 0.05, "shipping_cost_per_order": 6.0, "return_cost_per_unit": 3.0},
        "calendar": {"phases": [{"name": "warmup", "kind": "warmup", "start": at(8), "end": at(24)},
                                {"name": "burst", "start": at(24), "end": at(36), "intent": 1.5}],
                     "spikes": [{"at": at(24), "amplitude": 4.0, "decay_minutes": 30.0}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 150.0},
                     "ads": {"kind": "paid_search", "cpc": 1.3, "clicks_per_hour": 80.0, "daily_budget": 400.0},
                     "affiliate": {"kind": "affiliate", "visits_per_hour": 40.0, "commission_rate": 0.1}},
        "skus": {"lipstick": {"price": 199.0, "unit_cost": 60.0, "discount": {"burst": 0.2, "default": 0.05},
                              "base_conversion": 0.04, "units_per_order": 1.6, "stock": 120, "return_rate": 0.1,
                              "reorder": {"point": 20, "quantity": 60, "lead_time_hours": 5}},
                 "serum": {"price": 399.0, "unit_cost": 120.0, "discount": 0.1, "base_conversion": 0.03,
                           "stock": 40, "return_rate": 0.2,
                           "inbound": [{"at": at(30), "quantity": 50}]}},
        "segments": {"new": {"share": 0.6}, "member": {"share": 0.4, "conversion": 1.4, "price_sensitivity": 0.5}},
    })


def reference_run(scenario: Scenario, seed: int = 0) -> tuple[RunRecord, Model]:
    """One replication of `scenario` on the reference engine (every visitor a SimPy process):
    its record and the model (for the KPI functions)."""
    from simulator.model import build_model
    from simulator.reference import ReferenceEngine

    model = build_model(scenario)
    return ReferenceEngine(model).run(seed), model


def sku_totals(rec: RunRecord, sku: int = 0) -> dict[str, float]:
    """Every per-SKU flow of SKU `sku` summed over the campaign."""
    return {f: float(v[:, sku].sum()) for f, v in rec.by_sku.items()}


def money_adds_up(sc, rec, model):
    """The contract's identities (docs/model.md, "Money"): stock flows, what buyers paid booked as
    they paid it against gmv − coupons − the whole reduction − deposit expansion + forfeits, the
    store's receipts, net sales, and — with every unit returned — refunds of everything paid for
    goods and the platform's whole share taken back."""
    sk = rec.by_sku
    assert (rec.stock >= 0).all(), "stock went negative"
    ending = rec.initial_stock + (sk["inbound"] + sk["released"] + sk["restocked"] - sk["taken"]).sum(0)
    assert np.array_equal(ending, rec.ending_stock), "stock flows do not add up"
    # what left the shelf was paid for, or is a deposit whose units came back
    assert np.array_equal(sk["taken"].sum(0), sk["units"].sum(0) + sk["released"].sum(0))
    for f in ("orders", "units", "gmv", "returns", "refunds"):
        assert np.isclose(rec.by_channel[f].sum(), sk[f].sum()), f
    assert (sk["returns"] <= sk["units"]).all() and sk["restocked"].sum() <= sk["returns"].sum()
    from simulator.kpis import run_kpis

    k = run_kpis(rec, model)
    tol = 1e-6 * max(1.0, k["gmv"])
    assert abs(sk["paid"].sum() - k["paid_by_buyers"]) < tol
    assert k["paid_by_buyers"] == pytest.approx(k["gmv"] - k["coupon_cost"] - k["reduction_cost"] - k["platform_subsidy"]
                                                - k["deposit_expansion"] + k["forfeited_amount"], abs=tol)
    assert k["store_receipts"] == pytest.approx(k["paid_by_buyers"] + k["platform_subsidy"], abs=tol)
    assert k["net_sales"] == pytest.approx(k["store_receipts"] - k["refunds"] - k["subsidy_clawback"], abs=tol)
    assert -tol <= k["refunds"] <= k["paid_by_buyers"] - k["forfeited_amount"] + tol
    assert -tol <= k["subsidy_clawback"] <= k["platform_subsidy"] + tol
    if all(s.return_rate == 1.0 for s in sc.skus.values()):
        assert k["returns"] == k["units"]
        assert k["refunds"] == pytest.approx(k["paid_by_buyers"] - k["forfeited_amount"], abs=tol)
        assert k["subsidy_clawback"] == pytest.approx(k["platform_subsidy"], abs=tol)
        assert k["net_sales"] == pytest.approx(k["forfeited_amount"], abs=0.005)
    if all(s.resaleable_returns == 1.0 for s in sc.skus.values()):
        assert k["restocked_units"] == k["returns"] and k["return_writeoff"] == 0
    return k


_REFERENCE_ENGINES: dict[str, object] = {}


def _reference_chunk(task: tuple[str, int, range]) -> list[RunRecord]:
    """Replications `indices` of base seed `seed` of the scenario file `path` on the reference
    engine, in a pool's worker (one engine per file, built on its first chunk)."""
    from simulator import load_scenario
    from simulator.model import build_model
    from simulator.reference import ReferenceEngine
    from simulator.runner import replication_seed

    path, seed, indices = task
    if path not in _REFERENCE_ENGINES:
        _REFERENCE_ENGINES[path] = ReferenceEngine(build_model(load_scenario(path)))
    engine = _REFERENCE_ENGINES[path]
    return [engine.run(replication_seed(seed, i)) for i in indices]


def start_reference_runs(paths, n: int, seed: int, workers: int = 2, chunk: int = 25):
    """Start replications 0 … n−1 of every scenario file in `paths` on the reference engine in
    one pool of `workers` spawned processes (what `simulate(..., engine="reference")` returns,
    without starting a pool per scenario). Returns `collect()` → {path: [RunRecord] × n}, which
    waits for them; meanwhile the caller's process is free."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    tasks = [(str(p), seed, range(i, min(i + chunk, n))) for p in paths for i in range(0, n, chunk)]
    futures = [pool.submit(_reference_chunk, t) for t in tasks]

    def collect() -> dict[str, list[RunRecord]]:
        out: dict[str, list[RunRecord]] = {str(p): [] for p in paths}
        try:
            for (path, _, _), fut in zip(tasks, futures):
                out[path].extend(fut.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return out

    return collect


def double11_with_switching(share: float = 0.5, inside: float = 0.5, baskets: bool = True) -> Scenario:
    """The bundled Double 11 with every category's buyers switching at a sell-out with `share`
    and its inside share set to `inside`; without its add-ons (`bought_with`) unless `baskets`."""
    sc = load_scenario(Path(__file__).parents[1] / "scenarios" / "double11_beauty_flagship.yaml")
    data = sc.model_dump(mode="json", exclude_unset=True)
    data["categories"] = {c: {"inside_share": inside, "switch_share": share} for c in data["categories"]}
    if not baskets:
        for sku in data["skus"].values():
            sku.pop("bought_with", None)
    return Scenario.model_validate(data)
