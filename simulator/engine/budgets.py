"""Paid search at a flat cpc: clicks as far as the budgets pay, and budget exhaustion as a SimPy
event (docs/pacing.md; docs/model.md, "Traffic").

`FlatBudgets` is the part: per stretch it cuts each budgeted channel's offered clicks at the
exact tick its daily or total budget runs out (`clicks`), books the spend of the ticks kept
(`commit`) and, when a budget ran out, schedules the moment (`engine.moments`,
("budget_exhausted", channel)) that the channel's own process (`watch`) waits on: at that tick
it logs `budget_exhausted` and stops the channel until the next local day
(`new_day`) or a rule that changes its budget (`engine.plan_changes`). The budget state lives in
the run (`fast._Run`): daily and total budgets in force, what is left, spent, carried over.

An auction channel's budget owner (the channel, or an ad group with budgets of its own) reaching
its budget is a moment too (("budget_exhausted", owner)), succeeded at that
tick for the processes that wait on it; the auctions' booking logs it (`commit_auctions`), and
the stop itself is their budget line: spend reaches the budget exactly at that tick, so nothing
of it is left to serve and no process has to close it.
"""

from __future__ import annotations

import numpy as np

from simulator.model import Chunk
from simulator.pacing import paced


class FlatBudgets:
    """The flat-cpc paid-search channels of a model and what their budgets do."""

    def __init__(self, model):
        self.m = model
        self.channels = [c for c in range(len(model.channels)) if model.cpc[c] > 0]

    def start(self, env, run, rec) -> None:
        """One waiting process per channel."""
        for c in self.channels:
            env.process(self.watch(env, run, rec, c))

    def watch(self, env, run, rec, c: int):
        """Channel c's process: waits for the moment its budget runs out (("budget_exhausted",
        channel), `engine.moments`), logs it and stops the channel (no click of it is drawn
        until a new day or a rule reopens it)."""
        while True:
            spent = yield run.moments.next("budget_exhausted", self.m.channels[c])
            rec.events.append((int(env.now), "budget_exhausted", self.m.channels[c], spent))
            run.open[c] = False

    def new_day(self, run, day: int) -> None:
        """A local midnight: today's budgets (what yesterday left where it carries over); every
        channel open again."""
        run.carried = np.where(self.m.carry_over & (run.day >= 0), run.daily_left, 0.0)
        run.day = day
        run.daily_left = run.daily_budget + run.carried
        run.day_allow = np.minimum(run.daily_left, run.total_left)
        run.spent_today[:] = 0.0
        run.open[:] = True

    def budgeted(self, run) -> tuple[list[int], list[int]]:
        """Channels with a budget: (open — their clicks are cut by `clicks` —, stopped by their
        exhaustion event — they draw none)."""
        has = [c for c in self.channels if np.isfinite(run.daily_budget[c]) or np.isfinite(run.total_budget[c])]
        return [c for c in has if run.open[c]], [c for c in has if not run.open[c]]

    def clicks(self, ch: Chunk, run, c: int, offered: np.ndarray):
        """(n,) clicks of budgeted channel c out of the `offered` (n,) clicks, stopped at the
        exact tick its daily or total budget runs out: that tick keeps the clicks the budget
        still pays for (visitors are exchangeable, so which of them is a uniform choice); spend ≤
        budget, short of it by less than one click. Returns (clicks, relative tick of the last
        paid click or −1)."""
        m = self.m
        allowed = int(np.floor(min(run.daily_left[c], run.total_left[c]) / m.cpc[c] + 1e-9))
        if allowed <= 0:                                               # nothing left to spend
            return np.zeros(offered.size, dtype=np.int64), -1
        visits = offered.copy()
        share = run.pace_share[ch.start:ch.end, c]
        if np.isfinite(share).all():                                   # pacing: never ahead of the line
            cpc = float(m.cpc[c])
            if np.isfinite(run.daily_budget[c]):
                line = run.day_allow[c] * share - run.spent_today[c]
            else:
                line = run.total_budget[c] * share - run.spent_total[c]
            cap = np.clip(np.floor(line / cpc + 1e-9), 0, allowed)
            paid = paced(visits, cap).astype(np.int64)
            kept = np.diff(paid, prepend=0)
            cut = np.flatnonzero(paid >= allowed)                      # the last click the budget pays
            return kept, (int(cut[0]) if cut.size else -1)
        cum = np.cumsum(visits)
        if not cum.size or cum[-1] < allowed:
            return visits, -1
        i = int(np.searchsorted(cum, allowed, side="left"))           # tick i: the last paid click
        visits[i] = allowed - (int(cum[i - 1]) if i else 0)
        visits[i + 1:] = 0
        return visits, i

    def commit(self, run, ch: Chunk, paid: dict) -> None:
        """Book the clicks `paid` {channel: (clicks, stop)} of the ticks kept; a budget that ran
        out is a moment at that tick (its value the day's spend)."""
        for c, (visits, stop) in paid.items():
            spent = float(visits.sum() * self.m.cpc[c])
            if 0 <= stop < visits.size:
                run.moments.at(ch.start + stop, "budget_exhausted", self.m.channels[c], run.spent_today[c] + spent)
            run.spent_today[c] += spent
            run.daily_left[c] -= spent
            run.total_left[c] -= spent
            run.spent_total[c] += spent

