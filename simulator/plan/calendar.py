"""The plan's calendar part: phases on the tick grid, the intraday curve and the launch
spikes (docs/model.md, "Time" and "Traffic").

Shapes: T ticks, C channels, P phases (index 0 is the time outside any declared phase).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.scenario.schema import OWN_AUDIENCE, Scenario
from simulator.timegrid import TimeGrid

# Page views by local hour (0–23), Asia/Shanghai, from the Taobao UserBehavior sample
# (Alibaba Tianchi, 2017-11-25 – 2017-12-03; ../shared/data), normalized to mean 1.
TAOBAO_2017 = np.array([
    0.860, 0.212, 0.260, 0.109, 0.106, 0.109, 0.568, 0.664, 0.711, 0.568, 1.009, 0.762,
    1.309, 1.295, 1.274, 1.266, 1.181, 1.099, 1.125, 1.070, 2.086, 2.668, 2.325, 1.364,
])
NO_PHASE = "(none)"


@dataclass(frozen=True)
class Calendar:
    """Phases and the traffic shape every channel shares."""

    grid: TimeGrid
    phases: list                 # (P − 1,) the scenario's phases in time order
    names: list[str]             # (P,) index 0 = outside any phase
    phase_of_tick: np.ndarray    # (T,) int
    bounds: list[int]            # start and end tick of every phase
    warmup: np.ndarray           # (P,) bool: visits add to cart
    intent: np.ndarray           # (P,) purchase-intent multiplier
    pay_phase: np.ndarray        # (P,) the sale phase whose prices a phase's buyers pay (itself, or the
                                 #   next sale phase for a warm-up)
    intraday: np.ndarray         # (T,) intraday weight (mean 1 over a day)
    spike: np.ndarray            # (T, C) launch-spike multiplier (1 outside spikes)
    events: list                 # phase_start and launch events (tick, kind, subject, value)

    def phase_traffic(self, channel: str) -> np.ndarray:
        """(T,) the phases' traffic multiplier of `channel` (its own, else the phase's default)."""
        per_phase = np.array([1.0] + [p.traffic.get(channel, p.traffic.get("default", 1.0)) for p in self.phases])
        return per_phase[self.phase_of_tick]


def intraday_weights(scenario: Scenario, grid: TimeGrid) -> np.ndarray:
    """(T,) intraday weight of each tick (mean 1 over a day): the hourly curve at the tick's
    local hour, averaged over the hours of a tick longer than one."""
    spec = scenario.calendar.intraday
    w = TAOBAO_2017 if spec == "taobao_2017" else np.ones(24) if spec == "flat" else np.asarray(spec, float)
    w = w / w.mean()
    hours_per_tick = grid.tick_minutes // 60
    if hours_per_tick <= 1:
        return w[grid.local_hour]
    idx = (grid.local_hour[:, None] + np.arange(hours_per_tick)[None, :]) % 24
    return w[idx].mean(axis=1)


def decay_mass(grid: TimeGrid, at_minute: float, tau: float, window: float = np.inf) -> np.ndarray:
    """(T,) share of an exponential response (mean τ minutes, starting at `at`) in each
    tick; with a finite `window` the response stops after it and is renormalized."""
    m = grid.tick_minutes
    u0 = np.arange(grid.n_ticks) * m
    lo = np.clip(u0, at_minute, at_minute + window)
    hi = np.clip(u0 + m, at_minute, at_minute + window)
    mass = np.exp(-(lo - at_minute) / tau) - np.exp(-(hi - at_minute) / tau)
    return mass / (1 - np.exp(-window / tau))


def build_calendar(scenario: Scenario, grid: TimeGrid, channels: list[str]) -> Calendar:
    """Phases by tick, warm-up pay phases, the intraday curve and the spikes of `scenario`."""
    meta, cal = scenario.meta, scenario.calendar
    T, m = grid.n_ticks, grid.tick_minutes
    events: list[tuple[int, str, str, float]] = []
    phases = sorted(cal.phases, key=lambda p: meta.local(p.start))
    names = [NO_PHASE] + [p.name for p in phases]
    P = len(names)
    phase_of_tick = np.zeros(T, dtype=np.int64)
    bounds = []
    for j, p in enumerate(phases, start=1):
        a, b = grid.tick_of(p.start, meta), grid.tick_of(p.end, meta)
        phase_of_tick[a:b] = j
        bounds += [a, b]
        events.append((a, "phase_start", p.name, 0.0))
    warmup = np.array([False] + [p.kind == "warmup" for p in phases])
    intent = np.array([1.0] + [p.intent for p in phases])
    pay_phase = np.arange(P)
    for j in range(1, P):
        if warmup[j]:
            pay_phase[j] = next(i for i in range(j + 1, P) if not warmup[i])

    spike = np.ones((T, len(channels)))
    for sp in cal.spikes:                       # the channels a spike names, else all but own audiences
        at = meta.minutes_from_start(sp.at)
        bump = sp.amplitude * sp.decay_minutes * decay_mass(grid, at, sp.decay_minutes) / m
        targets = sp.channels or [c for c in channels if scenario.channels[c].kind not in OWN_AUDIENCE]
        for c in targets:
            spike[:, channels.index(c)] += bump
        events.append((grid.tick_of(sp.at, meta), "launch", ",".join(sp.channels or ["all"]), sp.amplitude))
    return Calendar(grid, phases, names, phase_of_tick, bounds, warmup, intent, pay_phase,
                    intraday_weights(scenario, grid), spike, events)
