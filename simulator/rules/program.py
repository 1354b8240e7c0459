"""Compiled rules and the rule book an engine keeps during one replication.

`compile_rules(scenario)` turns the scenario's `rules:` into `CompiledRule`s — pure,
frozen data (picklable, for worker processes). An engine then keeps one `RuleBook` per
replication and calls `step` at every tick where `due` says a rule is evaluated:

    rules = compile_rules(scenario)                     # once, at model build
    plan = initial_plan(scenario, rules)                # per replication: {path: value}
    book = RuleBook(rules)                              # per replication
    for tick in range(n_ticks):
        if book.due(tick):
            for outcome in book.step(tick, metrics_at(tick), plan):
                record.events.append(outcome.event())   # rule_fired / rule_failed
            # plan now holds the budgets, bids and pacing in force from this tick on
        ...simulate tick...

Semantics (see docs/rules.md): a rule is evaluated at the moments t = start + k·every
(k ≥ 1) that fall before the end — at the end of each cadence period, which is the
start of tick k·every/tick. At one moment, the due rules are evaluated in declaration
order against the same metrics, then the actions of those that fire are applied in that
order; they take effect from tick t on. `max_firings` caps firings per replication;
`once_per_day` allows one firing per local calendar day (the `day` of t).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from simulator.rules.check import Environment, check_action, check_condition
from simulator.rules.errors import RuleError
from simulator.rules.evaluate import (
    Action,
    MetricsLike,
    PlanState,
    RuleRuntimeError,
    apply_actions,
    evaluate,
    lookup,
    next_values,
)
from simulator.rules.nodes import Assign, Expr
from simulator.rules.parser import parse_action, parse_condition


class RuleCompileError(ValueError):
    """A rule that does not compile; `part` is where in the rule (`when`, `then.1`, `every`)."""

    def __init__(self, rule: str, part: str, message: str):
        super().__init__(f"rule {rule!r}: {part}: {message}")
        self.rule = rule
        self.part = part
        self.message = message

    def __reduce__(self):
        return (type(self), (self.rule, self.part, self.message))


@dataclass(frozen=True)
class Outcome:
    """What one evaluation of a rule gave: fired or not, the actions, or why it failed."""

    fired: bool
    actions: tuple[Action, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class CompiledRule:
    """A checked rule, ready to evaluate. Times are in ticks of `tick_minutes` and in
    minutes since the campaign start."""

    name: str
    condition: Expr
    action_trees: tuple[Assign, ...]
    targets: tuple[str, ...]          # scenario path set by each action
    every_ticks: int
    tick_minutes: int
    max_firings: int | None = None
    once_per_day: bool = False
    start_minute: float | None = None  # live at moments t with start ≤ t < end
    end_minute: float | None = None
    phases: tuple[str, ...] | None = None
    source: str = field(default="", compare=False)  # the `when` text, for messages

    # -------------------------------------------------------------- timing
    def evaluates_at(self, tick: int) -> bool:
        """True when `tick` starts at one of this rule's evaluation moments inside its
        active window (the phase filter needs the phase: see `RuleBook.step`)."""
        if tick <= 0 or tick % self.every_ticks:
            return False
        minute = tick * self.tick_minutes
        if self.start_minute is not None and minute < self.start_minute:
            return False
        if self.end_minute is not None and minute >= self.end_minute:
            return False
        return True

    # ---------------------------------------------------------- evaluation
    def when(self, metrics: MetricsLike) -> bool:
        """The condition's value. Raises `RuleRuntimeError` (division by zero, undefined)."""
        return bool(evaluate(self.condition, metrics))

    def actions(self, metrics: MetricsLike) -> list[Action]:
        """The actions with their values computed now. Raises `RuleRuntimeError`."""
        out = []
        for tree, path in zip(self.action_trees, self.targets, strict=True):
            v = evaluate(tree.value, metrics)
            out.append(Action(path, tree.op, v if isinstance(v, str) else float(v)))
        return out

    def evaluate(self, metrics: MetricsLike) -> Outcome:
        """Condition and actions together; never raises for a run-time value problem."""
        try:
            if not self.when(metrics):
                return Outcome(False)
            return Outcome(True, tuple(self.actions(metrics)))
        except RuleRuntimeError as e:
            return Outcome(False, (), f"rule {self.name!r}: {e}")


def compile_rule(rule, scenario, env: Environment | None = None) -> CompiledRule:
    """Parse and check one rule (a `Rule` of the scenario) against `scenario`.

    Raises `RuleCompileError` naming the part of the rule that is wrong."""
    env = env or Environment.from_scenario(scenario)
    meta = scenario.meta
    tick = meta.tick_minutes
    minutes = rule.every_minutes
    if minutes % tick:
        raise RuleCompileError(rule.name, "every",
                               f"every {rule.every} is not a whole number of ticks of "
                               f"{tick} minutes")
    period = max(60, tick)
    if minutes % period:
        raise RuleCompileError(rule.name, "every",
                               f"every {rule.every}: rules are evaluated on whole reporting periods "
                               f"of {period} minutes (the engines read the record hour by hour); "
                               f"use a multiple, such as {'1h' if period == 60 else f'{period}min'}")
    try:
        condition = parse_condition(rule.when)
        check_condition(condition, env)
    except RuleError as e:
        raise RuleCompileError(rule.name, "when", str(e)) from None
    trees, targets = [], []
    texts = rule.actions_text
    for j, text in enumerate(texts):
        part = "then" if isinstance(rule.then, str) else f"then.{j}"
        try:
            tree = parse_action(text)
            target = check_action(tree, env)
        except RuleError as e:
            raise RuleCompileError(rule.name, part, str(e)) from None
        trees.append(tree)
        targets.append(target.path)

    start_minute = end_minute = None
    window = rule.active
    if window is not None:
        t0, t1 = meta.local(meta.start), meta.local(meta.end)
        for which in ("start", "end"):
            t = getattr(window, which)
            if t is None:
                continue
            lt = meta.local(t)
            if not (t0 <= lt <= t1):
                raise RuleCompileError(rule.name, f"active.{which}",
                                       f"{t} lies outside the campaign ({meta.start} – {meta.end})")
            m = meta.minutes_from_start(lt)
            if which == "start":
                start_minute = m
            else:
                end_minute = m
        if start_minute is not None and end_minute is not None and end_minute <= start_minute:
            raise RuleCompileError(
                rule.name, "active.end",
                f"the window ends ({window.end}) before it starts ({window.start})")
    phases = None
    if rule.phases is not None:
        from simulator.naming import did_you_mean

        known = list(env.phases)
        for j, ph in enumerate(rule.phases):
            if ph not in known:
                hint = did_you_mean(ph, known) or (
                    f"; the phases are {', '.join(map(repr, known))}" if known else
                    "; the scenario declares no phases")
                raise RuleCompileError(rule.name, f"phases.{j}", f"unknown phase {ph!r}{hint}")
        phases = tuple(rule.phases)
    return CompiledRule(
        name=rule.name, condition=condition, action_trees=tuple(trees), targets=tuple(targets),
        every_ticks=minutes // tick, tick_minutes=tick, max_firings=rule.max_firings,
        once_per_day=rule.once_per_day, start_minute=start_minute, end_minute=end_minute,
        phases=phases, source=rule.when,
    )


def compile_rules(scenario) -> tuple[CompiledRule, ...]:
    """Every rule of `scenario`, compiled, in declaration order."""
    env = Environment.from_scenario(scenario)
    return tuple(compile_rule(r, scenario, env) for r in getattr(scenario, "rules", ()))


def initial_plan(scenario, rules: Sequence[CompiledRule]) -> PlanState:
    """The scenario's value of every path the rules set (None where not set), as the
    starting plan state of a replication. Keys in first-use order."""
    plan: PlanState = {}
    for r in rules:
        for path in r.targets:
            if path not in plan:
                plan[path] = _read(scenario, path)
    return plan


def _read(obj, path: str):
    for step in path.split("."):
        obj = obj[step] if isinstance(obj, dict) else getattr(obj, step)
    return obj if obj is None or isinstance(obj, str) else float(obj)


# --------------------------------------------------------------- the book
@dataclass(frozen=True)
class Firing:
    """A rule fired at `tick`: its `count` of firings so far (this one included), the
    actions, and the plan values they changed."""

    rule: str
    tick: int
    count: int
    actions: tuple[Action, ...]
    changes: dict = field(default_factory=dict)

    def event(self) -> tuple[int, str, str, float]:
        """The `events.parquet` row: (tick, "rule_fired", rule name, firings so far)."""
        return (self.tick, "rule_fired", self.rule, float(self.count))


@dataclass(frozen=True)
class RuleFailure:
    """A rule could not be evaluated at `tick` (division by zero, an undefined metric) and
    did not fire; `count` failures of this rule so far; `message` says why."""

    rule: str
    tick: int
    count: int
    message: str

    def event(self) -> tuple[int, str, str, float]:
        """The `events.parquet` row: (tick, "rule_failed", rule name, failures so far)."""
        return (self.tick, "rule_failed", self.rule, float(self.count))


class RuleBook:
    """The firing state of a scenario's rules in one replication (counts, last day).

    Not shared between replications or threads: make one per replication."""

    def __init__(self, rules: Sequence[CompiledRule]):
        self.rules = tuple(rules)
        self.firings = [0] * len(self.rules)
        self.failures = [0] * len(self.rules)
        self._last_day: list[float | None] = [None] * len(self.rules)

    def due(self, tick: int) -> bool:
        """True when some rule is evaluated at the start of `tick`."""
        return any(r.evaluates_at(tick) for r in self.rules)

    def ticks(self, n_ticks: int) -> list[int]:
        """Every tick in [0, n_ticks) at whose start some rule is evaluated, ascending."""
        out: set[int] = set()
        for r in self.rules:
            out.update(t for t in range(r.every_ticks, n_ticks, r.every_ticks) if r.evaluates_at(t))
        return sorted(out)

    @property
    def total_firings(self) -> int:
        """The KPI `rule_firings` of this replication so far."""
        return sum(self.firings)

    def step(
        self, tick: int, metrics: MetricsLike, plan_state: PlanState
    ) -> list[Firing | RuleFailure]:
        """Evaluate the rules due at the start of `tick`, then apply the actions of those
        that fire to `plan_state` (in place). Returns one `Firing` or `RuleFailure` per rule
        that fired or failed, in declaration order. Reads `phase` and `day` from `metrics`
        when a rule has `phases:` or `once_per_day`. Never raises for a run-time value
        problem: a rule that cannot be evaluated does not fire."""
        decided: list[tuple[int, Outcome]] = []
        for i, r in enumerate(self.rules):
            if not r.evaluates_at(tick):
                continue
            if r.max_firings is not None and self.firings[i] >= r.max_firings:
                continue
            if r.phases is not None and lookup(metrics, "phase", None) not in r.phases:
                continue
            day = None
            if r.once_per_day:
                day = float(lookup(metrics, "day", None))
                if self._last_day[i] is not None and self._last_day[i] == day:
                    continue
            outcome = r.evaluate(metrics)
            if outcome.fired:
                try:
                    next_values(plan_state, outcome.actions)    # a value past what a plan holds
                except RuleRuntimeError as e:                   # fails the rule, as `= inf` does
                    outcome = Outcome(False, (), f"rule {r.name!r}: {e}")
            if outcome.fired or outcome.error:
                decided.append((i, outcome))
            if outcome.fired and r.once_per_day:
                self._last_day[i] = day
        out: list[Firing | RuleFailure] = []
        for i, outcome in decided:
            r = self.rules[i]
            if outcome.error:
                self.failures[i] += 1
                out.append(RuleFailure(r.name, tick, self.failures[i], outcome.error))
                continue
            self.firings[i] += 1
            changes = apply_actions(plan_state, outcome.actions)
            out.append(Firing(r.name, tick, self.firings[i], outcome.actions, changes))
        return out


def unexecuted(scenario, i: int, rule) -> tuple[str, str] | None:
    """(part, message) for a compiled rule (`rules.<i>`) the engines cannot execute yet: one
    that changes a display channel (its spend is planned before the run), gives an auction
    channel or ad group a budget it does not have (budgets sit on the channel or on its
    groups), or switches a channel to or from roi_target pacing; None when they can. Checked
    when the scenario is loaded (`check_rules`), so `validate` and `run` agree."""
    for j, path in enumerate(rule.targets):
        parts = path.split(".")
        ch = scenario.channels[parts[1]]
        problem = None
        if ch.kind == "display":
            problem = (f"changes display channel {parts[1]!r}: the engines plan display spend before "
                       "the run and do not execute rules on it yet; change paid search instead")
        elif getattr(ch, "ad_groups", None) is not None and parts[-1] in ("daily_budget", "total_budget"):
            holder = ch.ad_groups[parts[3]] if len(parts) == 5 else ch
            has = holder.has_budget if len(parts) == 5 else (ch.daily_budget is not None or
                                                              ch.total_budget is not None)
            if not has:
                problem = (f"sets a budget on {'ad group ' + repr(parts[3]) if len(parts) == 5 else 'channel'} "
                           f"of {parts[1]!r}, which has none in the scenario: an auction channel keeps its "
                           "budgets where the scenario puts them (the channel or its groups)")
        if parts[-1] == "pacing":
            new = getattr(rule.action_trees[j].value, "value", None)
            if new == "roi_target" or getattr(ch, "pacing", None) == "roi_target":
                problem = (f"switches channel {parts[1]!r} to or from roi_target pacing, which the engines "
                           "set up before the run; give the channel `pacing: roi_target` in the scenario")
        if problem:
            part = "then" if isinstance(scenario.rules[i].then, str) else f"then.{j}"
            return part, f"rule {rule.name!r} {problem}"
    return None
