"""The scenario of the past: a scenario replayed over a history's periods with the plan that was
really set (prices, discounts, promotion flags), and its simulated outputs per period × SKU.

`Replay(scenario, history)` builds, once, what does not depend on the unknowns:

- **clock**: `meta.start`/`end` span the history's periods (missing ones included), one tick
  per period (`tick_minutes` 60, 1440 or 10080). Day and week histories replay in UTC with the
  first period's wall time as the start: a period is matched by its *position*, so a
  daylight-saving change (a 23- or 25-hour day in the history's zone) cannot push a period off
  the tick grid, and with ticks of whole days the intraday profile averages to 1 anyway. Hour
  histories replay in the history's own zone (their periods are 60 real minutes).
- **calendar**: one sale phase per period (`p0001`, …). A period inside one of the scenario's
  own phases inherits its `intent` and `traffic` multipliers. Launch spikes and CRM sends are
  moved to their position in the replay; those outside the history are dropped.
- **plan**: each SKU's `discount` per phase is the history's `discount`, else
  1 − `price` / list price (a price above list is read as list price: discount 0, and
  reported); a period without a value (a missing period, a gap) keeps the SKU's last known
  discount. `promo` lists the SKUs flagged in that period.
- **stock**: 10^12 units, no reorders or inbound shipments. A history has no stock column, so
  nothing says when shelves were empty; a replay where stock binds would fit demand to a
  stock level we made up. Periods of a known stock-out should be left out of the history.

`Replay.scenario_from(data)` then sets the parts that do depend on the unknowns (the scenario
as plain data with the parameters set) and validates the result; `simulate` plays it and
returns a `SimTable`: the simulated value of every target in every period, per SKU.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from calibration.history import History
from simulator.scenario.calibrate_schema import STORE_LEVEL, plain_data

PERIOD_MINUTES = {"hour": 60, "day": 1440, "week": 10080}
NO_LIMIT_STOCK = 10**12
"""Stock in the replay: far above any plausible demand, so it never binds."""

SKU_FLOW = {"units": "units", "orders": "orders", "revenue": "gmv", "returns": "returns",
            "add_to_carts": "carts"}
"""History target → the SKU flow of a `RunRecord` it is compared with."""


def phase_name(i: int) -> str:
    """The replay's phase for period i (0-based): `p0001`, `p0002`, …"""
    return f"p{i + 1:04d}"


@dataclass
class SimTable:
    """Simulated targets per period. `values[t]` is (R, P, K) for a SKU-level target and
    (R, P) for a store-level one (visits, ad_spend, clicks): R replications, P periods of the
    history (missing ones included), K SKUs in the scenario's order."""

    values: dict[str, np.ndarray]
    skus: list[str]

    def mean(self, target: str) -> np.ndarray:
        """(P, K) or (P,): the mean over replications."""
        return self.values[target].mean(axis=0)

    def quantile(self, target: str, q: float) -> np.ndarray:
        return np.quantile(self.values[target], q, axis=0)


@dataclass
class Replay:
    """A history's periods and plan as a scenario (module docstring)."""

    scenario: object            # the Scenario being calibrated
    history: History
    minutes: int = field(init=False)
    timezone: str = field(init=False)
    start: dt.datetime = field(init=False)
    skus: list[str] = field(init=False)
    discounts: dict[str, dict[str, float]] = field(init=False)
    promos: list[list[str]] = field(init=False)
    above_list: dict[str, int] = field(init=False)

    def __post_init__(self):
        h, s = self.history, self.scenario
        self.minutes = PERIOD_MINUTES[h.unit]
        first = h.periods[0]
        if h.unit == "hour":
            self.timezone, self.start = h.timezone, first.to_pydatetime()
        else:
            self.timezone, self.start = "UTC", first.tz_localize(None).to_pydatetime()
        self.skus = list(s.skus)
        self.n = len(h.periods)
        self._plan()

    # ---------------------------------------------------------------- plan
    def _plan(self) -> None:
        h, s = self.history, self.scenario
        frame = h.frame
        if "channel" in frame.index.names:
            raise ValueError("Replay needs a history per period × SKU; sum channel rows first")
        pos = {t: i for i, t in enumerate(h.periods)}
        disc = np.full((self.n, len(self.skus)), np.nan)
        promo = np.zeros((self.n, len(self.skus)), dtype=bool)
        self.above_list = {}
        for k, sid in enumerate(self.skus):
            if sid not in frame.index.get_level_values("sku"):
                continue
            rows = frame.xs(sid, level="sku")
            idx = np.array([pos[t] for t in rows.index])
            d = np.full(len(rows), np.nan)
            if "discount" in rows:
                d = rows["discount"].to_numpy(dtype=float)
            if "price" in rows:
                from_price = 1 - rows["price"].to_numpy(dtype=float) / s.skus[sid].price
                above = from_price < 0
                if above.any():
                    self.above_list[sid] = int(above.sum())
                d = np.where(np.isnan(d), np.clip(from_price, 0.0, 0.999), d)
            disc[idx, k] = d
            if "promo" in rows:
                promo[idx, k] = rows["promo"].to_numpy(dtype=float) == 1
        self.discounts = {}
        for k, sid in enumerate(self.skus):
            last = s.skus[sid].discount_in(None)
            col = {"default": float(last)}
            for i in range(self.n):
                if not np.isnan(disc[i, k]):
                    last = float(disc[i, k])
                col[phase_name(i)] = round(last, 10)
            self.discounts[sid] = col
        self.promos = [[sid for k, sid in enumerate(self.skus) if promo[i, k]] for i in range(self.n)]

    # ---------------------------------------------------------------- times
    def _at(self, t) -> dt.datetime | None:
        """Where time `t` (a scenario time) falls in the replay, or None outside it."""
        s = self.scenario
        aware = pd.Timestamp(s.meta.local(t)).tz_convert(self.history.timezone)
        off = float(self.history.grid.offsets(pd.DatetimeIndex([aware]))[0])
        off -= float(self.history.grid.offsets(self.history.periods[:1])[0])
        if not 0 <= off < self.n:
            return None
        return self.start + dt.timedelta(minutes=off * self.minutes)

    def _end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.n * self.minutes)

    # ------------------------------------------------------------- scenario
    def scenario_from(self, data: dict | None = None):
        """The replay scenario for `data` (the calibrated scenario as plain data, parameters
        set; default: the scenario as it is), validated."""
        from simulator.scenario.schema import Scenario

        data = copy.deepcopy(data if data is not None else plain_data(self.scenario))
        data.pop("optimize", None)
        data.pop("calibrate", None)
        data.pop("catalogue", None)
        data["rules"] = []
        meta = data["meta"]
        meta.update(start=self.start, end=self._end(), tick_minutes=self.minutes, timezone=self.timezone)
        meta.pop("targets", None)
        cal = data["calendar"]
        own = [(pd.Timestamp(self.scenario.meta.local(p["start"])), pd.Timestamp(self.scenario.meta.local(p["end"])), p)
               for p in cal["phases"]]
        phases = []
        for i, t in enumerate(self.history.periods):
            a = self.start + dt.timedelta(minutes=i * self.minutes)
            ph = {"name": phase_name(i), "start": a, "end": a + dt.timedelta(minutes=self.minutes),
                  "promo": self.promos[i]}
            for s0, e0, p in own:
                if s0 <= t < e0:
                    ph.update(intent=p["intent"], traffic=p["traffic"])
                    break
            phases.append(ph)
        cal["phases"] = phases
        spikes = []
        for sp in cal["spikes"]:
            at = self._at(sp["at"])
            if at is not None:
                spikes.append({**sp, "at": at})
        cal["spikes"] = spikes
        for ch in data["channels"].values():
            if ch.get("kind") == "crm_push":
                ch["send_times"] = [x for x in (self._at(t) for t in ch["send_times"]) if x is not None]
            if ch.get("kind") == "live_stream":             # sessions that start inside the replay, cut at its end
                kept = []
                for ses in ch["sessions"]:
                    a = self._at(ses["start"])
                    if a is not None:
                        b = self._at(ses["end"])
                        kept.append({**ses, "start": a, "end": b if b is not None and b > a else self._end()})
                ch["sessions"] = kept or [{**ch["sessions"][0], "start": self.start, "end": self._end(), "viewers": 0.0}]
        for sid, sku in data["skus"].items():
            sku.update(discount=self.discounts[sid], stock=NO_LIMIT_STOCK, reorder=None, inbound=[])
        return Scenario.model_validate(data)

    # ------------------------------------------------------------- simulate
    def simulate(self, scenario, targets, *, engine: str = "expected", reps: int = 1,
                 seed: int = 0) -> SimTable:
        """Play the replay `scenario` (from `scenario_from`) and collect `targets` per period."""
        from simulator.runner import simulate

        res = simulate(scenario, reps=1 if engine == "expected" else reps, seed=seed, engine=engine)
        return collect(res, targets, self.n)


def collect(res, targets, n_periods: int) -> SimTable:
    """`targets` per period from the records of `res` (one reporting period per tick)."""
    model = res.model
    paid = np.array([k in ("paid_search", "display") for k in model.kinds])
    out: dict[str, list] = {t: [] for t in targets}
    for r in res.records:
        for t in targets:
            if t in SKU_FLOW:
                v = r.by_sku[SKU_FLOW[t]]
            elif t == "visits":
                v = r.by_channel["visits"].sum(axis=1)
            elif t == "ad_spend":
                v = r.by_channel["ad_spend"].sum(axis=1)
            elif t == "clicks":
                v = r.by_channel["visits"][:, paid].sum(axis=1)
            else:
                raise ValueError(f"target {t!r} is not simulated")
            if v.shape[0] != n_periods:
                raise RuntimeError(f"the replay has {v.shape[0]} periods, the history {n_periods}")
            out[t].append(np.asarray(v, dtype=float))
    return SimTable({t: np.stack(v) for t, v in out.items()}, list(model.skus))


def observed(history: History, skus: list[str], targets) -> dict[str, np.ndarray]:
    """The history's targets as arrays over all its periods: (P, K) per SKU in `skus` order,
    or (P,) for a store-level target (the mean over the period's rows: the store's value is
    repeated in every SKU's row). NaN where nothing was recorded."""
    out = {}
    for t in targets:
        wide = history.wide(t).reindex(columns=skus)
        arr = wide.to_numpy(dtype=float)
        if t in STORE_LEVEL:
            count = (~np.isnan(arr)).sum(axis=1)
            arr = np.where(count > 0, np.nansum(arr, axis=1) / np.maximum(count, 1), np.nan)
        out[t] = arr
    return out
