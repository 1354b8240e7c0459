"""Running the rules in an engine: the metrics a rule reads, from the run's record so far.

Both engines fill a `RunRecord` hour by hour; at an evaluation moment t (a whole reporting
hour: the cadence is a whole number of hours) every metric of `simulator.rules.metrics` is a
sum over the hours before t, so the two engines read the same numbers the same way:

    runner = RuleRunner(scenario)                  # per replication
    for tick in runner.ticks:                      # before the tick's visitors
        for path, value in runner.fire(tick, record):
            ...the engine applies the change from this tick on...

Shapes: H reporting periods, C channels, K SKUs.
"""

from __future__ import annotations

from simulator.rules.metrics import NO_PHASE
from simulator.rules.program import RuleBook, compile_rules, initial_plan
from simulator.timegrid import TimeGrid


class RecordMetrics:
    """The metrics snapshot at the start of tick `tick` (see docs/rules.md, "Metrics").

    `plan` holds the budgets in force (after earlier firings); budget metrics read the
    media spend (`ad_spend`) against them."""

    def __init__(self, scenario, grid: TimeGrid, rec, tick: int, plan: dict):
        self.sc, self.grid, self.rec, self.tick, self.plan = scenario, grid, rec, tick, plan
        self.channels = list(scenario.channels)
        self.skus = list(scenario.skus)
        p = int(grid.period[tick])
        day_start = int(grid.day_starts()[grid.day[tick - 1]])
        self.windows = {"1h": slice(max(p - 1, 0), p), "today": slice(int(grid.period[day_start]), p),
                        "total": slice(0, p)}
        self.p = p

    def _flow(self, flow: str, window: str, subject: str | None) -> float:
        ch, sk = self.rec.by_channel, self.rec.by_sku
        rows = self.windows[window]
        if flow == "spend":
            return self._flow("ad_spend", window, subject) + self._flow("fees", window, subject) \
                + self._flow("commissions", window, subject)
        if subject is None:
            return float(ch[flow][rows].sum())
        if subject in self.channels:
            return float(ch[flow][rows, self.channels.index(subject)].sum())
        return float(sk[flow][rows, self.skus.index(subject)].sum())

    def _budget(self, name: str, which: str) -> float | None:
        v = self.plan.get(f"channels.{name}.{which}", getattr(self.sc.channels[name], which, None))
        return None if v is None else float(v)

    def _left(self, name: str) -> tuple[float, float] | None:
        """(money left today, the budget it is a share of) of one channel; None without budgets."""
        daily, total = self._budget(name, "daily_budget"), self._budget(name, "total_budget")
        if daily is None and total is None:
            return None
        today = self._flow("ad_spend", "today", name)
        left = [daily - today] if daily is not None else []
        if total is not None:
            left.append(total - self._flow("ad_spend", "total", name))
        return max(0.0, min(left)), (daily if daily is not None else total)

    def get(self, name: str, subject: str | None):
        head, _, window = name.rpartition("_")
        if window in self.windows and head in ("gmv", "orders", "units", "visits", "spend"):
            return self._flow({"orders": "orders", "units": "units"}.get(head, head), window, subject)
        if window in self.windows and head == "roi":
            spend = self._flow("spend", window, subject)
            return self._flow("gmv", window, subject) / spend if spend else None
        if name in ("budget_left", "budget_left_share"):
            parts = [self._left(c) for c in ([subject] if subject else self.channels)]
            parts = [x for x in parts if x is not None]
            left, base = sum(x[0] for x in parts), sum(x[1] for x in parts)
            return left if name == "budget_left" else (left / base if base else None)
        if name in ("daily_budget", "total_budget"):
            values = [self._budget(c, name) for c in ([subject] if subject else self.channels)]
            values = [v for v in values if v is not None]
            return float(sum(values)) if values else None
        if name in ("stock_left", "stock_share"):
            sk = self.rec.by_sku
            rows = slice(0, self.p)
            level = self.rec.initial_stock + (sk["inbound"][rows] + sk["released"][rows] - sk["taken"][rows]).sum(axis=0)
            k = None if subject is None else self.skus.index(subject)
            on_hand = float(level.sum() if k is None else level[k])
            if name == "stock_left":
                return on_hand
            initial = float(self.rec.initial_stock.sum() if k is None else self.rec.initial_stock[k])
            return on_hand / initial if initial else None
        g = self.grid
        if name == "hour":
            return float(g.local_hour[self.tick])
        if name == "day":
            return float(g.day[self.tick])
        if name == "minutes_since_start":
            return float(self.tick * g.tick_minutes)
        if name == "phase":
            return _phase_at(self.sc, g, self.tick)
        raise KeyError(name)


def _phase_at(scenario, grid: TimeGrid, tick: int) -> str:
    meta = scenario.meta
    for p in scenario.calendar.phases:
        if grid.tick_of(p.start, meta) <= tick < grid.tick_of(p.end, meta):
            return p.name
    return NO_PHASE


class RuleRunner:
    """The rules of one replication: when they are evaluated, what fired, the plan in force.

    `ticks` are the evaluation moments (a rule's cadence within its window and phases);
    `fire(tick, rec)` evaluates the rules due at `tick`, logs `rule_fired` / `rule_failed`
    events into `rec` and returns the changed plan values {path: value}, applied from `tick`
    on. `changes` keeps every change as (tick, path, value)."""

    def __init__(self, scenario, grid: TimeGrid | None = None, compiled: RuleRunner | None = None):
        """`compiled`: another runner of the same scenario whose compiled rules and ticks to reuse."""
        self.sc = scenario
        self.grid = grid or TimeGrid.from_meta(scenario.meta)
        self.rules = compile_rules(scenario) if compiled is None else compiled.rules
        self.book = RuleBook(self.rules)
        self.plan = initial_plan(scenario, self.rules)
        self.changes: list[tuple[int, str, float | str]] = []
        if compiled is not None:
            self.ticks = compiled.ticks
            return
        phases = {r.name: r.phases for r in self.rules}
        self.ticks = [t for t in self.book.ticks(self.grid.n_ticks)
                      if any(r.evaluates_at(t) and (phases[r.name] is None or _phase_at(scenario, self.grid, t)
                                                    in phases[r.name]) for r in self.rules)]

    def fire(self, tick: int, rec) -> dict:
        """Evaluate the rules due at the start of `tick` against the record so far."""
        metrics = RecordMetrics(self.sc, self.grid, rec, tick, self.plan)
        changed: dict = {}
        for outcome in self.book.step(tick, metrics, self.plan):
            rec.events.append(outcome.event())
            for path, value in getattr(outcome, "changes", {}).items():
                changed[path] = value
                self.changes.append((tick, path, value))
        rec.plan_changes.extend((tick, p, v) for p, v in changed.items())
        return changed


def evaluation_ticks(scenario, grid: TimeGrid) -> list[int]:
    """Every tick at whose start some rule may be evaluated (the engines cut there)."""
    return RuleRunner(scenario, grid).ticks if scenario.rules else []



def refuse_unexecuted(scenario) -> None:
    """Raise a `ScenarioError` for a rule the engines cannot execute yet (`unexecuted`)."""
    from simulator.rules.program import unexecuted
    from simulator.scenario.errors import Issue, ScenarioError

    for i, rule in enumerate(compile_rules(scenario)):
        found = unexecuted(scenario, i, rule)
        if found:
            raise ScenarioError([Issue("<scenario>", None, f"rules.{i}.{found[0]}", found[1])])
