"""The campaign's clock: ticks from `meta.start` to `meta.end` in the scenario's time zone.

Tick i covers [start + i·m, start + (i+1)·m) real minutes: the grid lies on absolute instants
(UTC), and the local hour and calendar day of each tick are read off them, so a day that
gains or loses an hour to daylight saving has 25 or 23 hours of ticks (docs/model.md, "Time").
Reporting periods are hours (or whole ticks when a tick is longer than an hour).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.scenario.schema import Meta


@dataclass(frozen=True)
class TimeGrid:
    """Tick arithmetic. Arrays have shape (ticks,) unless said."""

    start: dt.datetime          # aware, scenario time zone
    tick_minutes: int
    n_ticks: int
    timezone: str
    local_hour: np.ndarray      # (ticks,) local hour 0–23 at the tick's start
    day: np.ndarray             # (ticks,) local calendar day index, 0 = the start's date
    period: np.ndarray          # (ticks,) reporting period index (hours)
    period_start: pd.DatetimeIndex  # (periods,) local start time of each period

    @classmethod
    def from_meta(cls, meta: Meta) -> "TimeGrid":
        start = meta.local(meta.start)
        m = meta.tick_minutes
        n = int(round(meta.minutes_from_start(meta.end) / m))
        utc = pd.Timestamp(start).tz_convert("UTC")
        times = pd.date_range(utc, periods=n, freq=f"{m}min").tz_convert(meta.timezone)   # absolute steps
        local_hour = np.asarray(times.hour, dtype=np.int64)
        dates = times.tz_localize(None).normalize()                   # local calendar dates
        day = np.asarray((dates - dates[0]).days, dtype=np.int64)
        per = max(60, m)
        period = (np.arange(n, dtype=np.int64) * m) // per
        period_start = pd.date_range(utc, periods=int(period[-1]) + 1, freq=f"{per}min").tz_convert(meta.timezone)
        return cls(start, m, n, meta.timezone, local_hour, day, period, period_start)

    def tick_of(self, t: dt.datetime, meta: Meta) -> int:
        """Index of the tick that contains time `t` (clamped to the campaign)."""
        minutes = meta.minutes_from_start(t)
        return min(max(int(math.floor(minutes / self.tick_minutes + 1e-9)), 0), self.n_ticks)

    def first_tick_from(self, t: dt.datetime, meta: Meta) -> int:
        """Index of the first tick that starts at or after time `t` (a delivery's tick)."""
        minutes = meta.minutes_from_start(t)
        return min(max(int(math.ceil(minutes / self.tick_minutes - 1e-9)), 0), self.n_ticks)

    def day_starts(self) -> np.ndarray:
        """Tick indices where a new local day begins (first tick included)."""
        return np.flatnonzero(np.r_[True, np.diff(self.day) != 0])
