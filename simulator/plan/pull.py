"""The plan's pull-forward part: which ticks' sales owe demand to which window after them
(docs/model.md, "Pull-forward"). Shapes: T ticks, I phases with `pull_forward`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.plan.calendar import Calendar


@dataclass(frozen=True)
class Pull:
    """Pull-forward by tick. A unit sold (paid) at tick t puts `share[t]` of a unit on its SKU's
    debt to window `source[t]`; the debt of window i is repaid by the SKU's buyers of ticks
    [start_i, end_i) — from the phase's end for its `days` — and lapses after it."""

    share: np.ndarray            # (T,) share of a unit sold at tick t owed to the days after (0: none)
    source: np.ndarray           # (T,) the window a sale at tick t owes to (−1: none)
    windows: list[tuple[int, int]]   # (I,) [start, end) ticks of each window

    @property
    def on(self) -> bool:
        return bool(self.windows)

    def active(self, t: int) -> list[int]:
        """The windows whose debt tick t's buyers repay, the earliest-ending first."""
        live = [i for i, (a, b) in enumerate(self.windows) if a <= t < b]
        return sorted(live, key=lambda i: self.windows[i][1])

    @property
    def cuts(self) -> list[int]:
        """Ticks where a window opens or closes: a stretch never straddles them."""
        return sorted({t for w in self.windows for t in w})


def build_pull(cal: Calendar) -> Pull:
    """The windows of the phases with `pull_forward`, clipped to the campaign."""
    grid = cal.grid
    T = grid.n_ticks
    share, source, windows = np.zeros(T), np.full(T, -1, dtype=np.int64), []
    per_day = 24 * 60 / grid.tick_minutes
    for j, p in enumerate(cal.phases, start=1):
        if p.pull_forward is None:
            continue
        ticks = np.flatnonzero(cal.phase_of_tick == j)
        if not ticks.size:
            continue
        end = int(ticks[-1]) + 1
        share[ticks] = p.pull_forward.share
        source[ticks] = len(windows)
        windows.append((min(end, T), min(T, end + round(p.pull_forward.days * per_day))))
    return Pull(share, source, windows)
