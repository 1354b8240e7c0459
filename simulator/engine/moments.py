"""The decisive moments of one fast-engine replication, as SimPy events its parts wait on.

A moment is a (kind, subject) pair — ("phase_start", "burst"), ("rule_evaluation", "rules"),
("flash", "hero_flash"), ("coupon_empty", "c50"), ("stockout", "hero"), ("budget_exhausted",
"ads") — and `Moments.next(kind, subject)` is the SimPy event of its next occurrence: the
process of the part that reacts waits on it (docs/decisions.md, "The fast engine"). Who
succeeds it, at exactly its tick:

* the moments the plan fixes (phase starts, rule evaluations, a flash sale's start and end) and
  the ones due at the first tick of a stretch (a flash sale falling back the tick after its
  sell-out) are opened by the campaign process at that tick (`due`, `open`), one at a time,
  so that every waiting process has acted before the stretch is drawn;
* the moments found inside a stretch — stopping times of its draws (a coupon pool empties, a
  flash sale sells out, a budget runs out) — are succeeded by a small process of their own
  when the clock reaches their tick (`at`); stock play succeeds a stock-out as it plays it
  (`fire`).

A moment is processed urgently (`Moment.happen`): its waiting processes act before the
ordinary events SimPy holds for the same tick — the calendar's log, deliveries, timeouts — as
if the process that found it had acted itself; so the moments change no record's order.
The cost is one event per moment, never per visitor.
"""

from __future__ import annotations

import simpy
from simpy.events import PENDING, URGENT

RULES, FLASH, PHASE = 0, 1, 2      # the order of a tick's opened moments: rules, flash sales, phases


class Moment(simpy.Event):
    """A SimPy event that happens urgently: processed before the tick's ordinary events (as
    SimPy processes a process's start, `simpy.events.Initialize`)."""

    def happen(self, value=None) -> Moment:
        """Succeed with `value`, scheduled urgently. Returns the event."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already happened")
        self._ok, self._value = True, value
        self.env.schedule(self, URGENT)
        return self


class Moments:
    """The moments of one replication on the SimPy environment `env`."""

    def __init__(self, env):
        self.env = env
        self._next: dict[tuple[str, str], object] = {}          # (kind, subject) → its pending event
        self._due: dict[int, list] = {}                         # tick → [(rank, kind, subject, value)]

    def next(self, kind: str, subject: str):
        """The SimPy event of the next occurrence of (kind, subject); its value is the moment's."""
        key = (kind, subject)
        if key not in self._next:
            self._next[key] = Moment(self.env)
        return self._next[key]

    def fire(self, kind: str, subject: str, value=None):
        """The moment happens now: its event succeeds with `value` (the processes waiting on it
        resume in the order they began to wait); the next occurrence is a new event."""
        ev = self.next(kind, subject)
        del self._next[(kind, subject)]
        return ev.happen(value)

    def at(self, tick: int, kind: str, subject: str, value=None) -> None:
        """The moment happens at `tick` (≥ now): a process of its own succeeds it then."""
        self.env.process(self._later(tick, kind, subject, value))

    def _later(self, tick: int, kind: str, subject: str, value):
        yield self.env.timeout(tick - self.env.now)
        self.fire(kind, subject, value)

    def due(self, tick: int, rank: tuple, kind: str, subject: str, value=None) -> None:
        """The moment happens at `tick`, the first tick of a stretch: the campaign opens it
        there, after the moments of lower `rank`."""
        self._due.setdefault(tick, []).append((rank, kind, subject, value))

    def open(self, tick: int):
        """SimPy generator for the campaign process at the first tick of a stretch: fire the
        moments due at `tick` in rank order, each waited on so that the processes it wakes have
        acted before the next one fires and before the stretch is drawn."""
        for _, kind, subject, value in sorted(self._due.pop(tick, []), key=lambda d: d[0]):
            yield self.fire(kind, subject, value)
