"""Small scenario builders and record helpers shared by the engine tests.

Scenarios are built in code with `Scenario.model_validate(dict)`, so each test
states every number it depends on. Times are local wall-clock strings in the
scenario's time zone (Asia/Shanghai, no daylight saving: a day is 24 hours).
"""

from __future__ import annotations

import copy
import datetime as dt
import json

import numpy as np

from simulator.model import Model
from simulator.record import RunRecord
from simulator.scenario import Scenario

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
