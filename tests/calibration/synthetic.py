"""A synthetic store whose true parameters are known: the parameter-recovery test and
benchmarks/bench_calibrate.py simulate its history with the fast engine, then fit it back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.history import History, history_from_frame
from calibration.replay import Replay
from simulator.scenario import parse_scenario

TRUTH = {
    "channels.organic_search.visits_per_hour": 2000.0,
    "skus.*.base_conversion": 0.03,
    "skus.*.elasticity": -2.5,
    "skus.*.promo_lift": 1.4,
    "calendar.spikes.0.amplitude": 4.0,
    "skus.*.return_rate": 0.08,
}
"""The six parameters of the recovery test and their true values."""

START = {
    "channels.organic_search.visits_per_hour": 1400.0,
    "skus.*.base_conversion": 0.045,
    "skus.*.elasticity": -1.6,
    "skus.*.promo_lift": 1.1,
    "calendar.spikes.0.amplitude": 2.0,
    "skus.*.return_rate": 0.12,
}
"""The perturbed start the calibration begins from (30–50 % off)."""

RANGES = {
    "channels.organic_search.visits_per_hour": "{low: 100, high: 20000, log: true}",
    "skus.*.base_conversion": "{low: 0.001, high: 0.3, log: true}",
    "skus.*.elasticity": "{low: -6, high: -0.2}",
    "skus.*.promo_lift": "{low: 0.5, high: 4, log: true}",
    "calendar.spikes.0.amplitude": "{low: 0, high: 20}",
    "skus.*.return_rate": "{low: 0, high: 0.5}",
}

DAYS = 120


def scenario_text(values: dict, *, parameters=RANGES, targets="{units: 1, visits: 0.5, returns: 0.5}",
                  method: str = "least_squares", extra: str = "") -> str:
    """A three-SKU daily store with `values` at the six paths, and a calibrate block."""
    v = {k.split(".")[-1] if k.startswith("skus") else k: x for k, x in values.items()}
    params = "\n".join(f"    {p}: {r}" for p, r in parameters.items())
    skus = "\n".join(
        f"  {sid}: {{price: {price}, unit_cost: {price / 2}, base_conversion: {v['base_conversion']}, "
        f"elasticity: {v['elasticity']}, promo_lift: {v['promo_lift']}, return_rate: {v['return_rate']}, "
        f"stock: 1000000}}"
        for sid, price in (("tee", 99), ("hoodie", 299), ("cap", 59)))
    return f"""meta:
  name: synthetic_store
  timezone: Asia/Shanghai
  start: 2026-01-01 00:00
  end: 2026-05-01 00:00
  tick_minutes: 1440
  seed: 3
calendar:
  intraday: flat
  spikes:
    - {{at: 2026-02-10 00:00, amplitude: {values['calendar.spikes.0.amplitude']}, decay_minutes: 180}}
channels:
  organic_search: {{kind: organic_search, visits_per_hour: {values['channels.organic_search.visits_per_hour']}}}
skus:
{skus}
calibrate:
  parameters:
{params}
  targets: {targets}
  method: {method}
{extra}"""


def plan_frame(seed: int = 7) -> pd.DataFrame:
    """Prices and promotion flags per day × SKU: 0–30 % off, one day in five on promotion."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2026-01-01", periods=DAYS, freq="D", tz="Asia/Shanghai")
    rows = []
    for t in periods:
        for sid, price in (("tee", 99), ("hoodie", 299), ("cap", 59)):
            off = rng.choice([0.0, 0.1, 0.2, 0.3])
            rows.append({"period": t, "sku": sid, "price": round(price * (1 - off), 2),
                         "promo": float(rng.random() < 0.2), "units": 0.0})
    return pd.DataFrame(rows).set_index(["period", "sku"])


def synthetic_history(seed: int = 1) -> tuple[object, History]:
    """(the true scenario, a history simulated from it by the fast engine: units, visits,
    returns, price, promo per day × SKU)."""
    truth = parse_scenario(scenario_text(TRUTH))
    plan = history_from_frame(plan_frame(), "day")
    replay = Replay(truth, plan)
    tab = replay.simulate(replay.scenario_from(), ["units", "visits", "returns"], engine="fast", reps=1, seed=seed)
    frame = plan.frame.copy()
    k = {s: i for i, s in enumerate(replay.skus)}
    pos = {t: i for i, t in enumerate(plan.periods)}
    i_t = [pos[t] for t in frame.index.get_level_values("period")]
    i_k = [k[s] for s in frame.index.get_level_values("sku")]
    frame["units"] = tab.values["units"][0][i_t, i_k]
    frame["returns"] = tab.values["returns"][0][i_t, i_k]
    frame["visits"] = tab.values["visits"][0][i_t]
    return truth, history_from_frame(frame, "day", "synthetic")
