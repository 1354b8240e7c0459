"""The `optimize:` block of a scenario: the decisions a planner lets the optimizer take, what
to maximize, and the limits the plan must respect.

```yaml
optimize:
  variables:                                   # parameter path → range (or choices)
    channels.paid_search.daily_budget: {low: 200000, high: 1500000, step: 50000}
    skus.*.discount.burst: {low: 0.1, high: 0.5, step: 0.01}       # one tied decision
    skus.*.stock: {low: 1000, high: 90000, each: true}             # one decision per SKU
    skus.*.discount.peak: {low: 0.5, high: 1.5, step: 0.05, scale: true}  # × the plan's values
  splits:                                      # a fixed total shared between paths
    - {total: 12000000, paths: [channels.paid_search.total_budget, channels.display.total_budget]}
  objective: gross_profit                      # or {kpi, measure: mean|cvar, alpha}, or a list of two
  constraints:
    - {kpi: roi, min: 3}
    - {kpi: stockout_probability, before: "2026-11-11 12:00", max: 0.1}
  replications: 8
```

A wildcard path is one tied decision (the same value at every match) unless `each: true`,
which makes one decision per match. `scale: true` makes the decision a factor applied to the
value each match has in the plan as written (1 = as written), so SKUs with different discounts
deepen together. Everything here is checked when the scenario is loaded: every path must name
something a value can be set at, both ends of every range must be valid values there, KPIs must
exist. The decisions themselves (`resolve`) are plain data shared by the validator and by
`simulator.optimize`, which turns them into Optuna distributions.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from simulator.naming import RUN_KPIS, did_you_mean
from simulator.scenario.numbers import Finite, Replications, Seed, Trials, When, bounded
from simulator.scenario.numbers import Strict as _Strict
from simulator.scenario.overrides import PathError, field_locations, probe_values, value_at

Scalar = bool | int | float | str


class Variable(_Strict):
    """One decision: a range `low`–`high` (with an optional grid `step`, or `log` scale), or a
    list of `choices`. `each`: one decision per match of a wildcard path (default: one tied
    decision). `scale`: the decision multiplies the value each match has in the plan."""

    low: Finite | None = None
    high: Finite | None = None
    step: bounded(gt=0, le=1e15, unit="a grid step") | None = None
    log: bool = False
    choices: list[Scalar] | None = None
    each: bool = False
    scale: bool = False

    @model_validator(mode="after")
    def _range(self) -> Variable:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("choices: give either choices or a range (low, high), not both")
            if not self.choices:
                raise ValueError("choices: the list is empty; give at least one value")
            if self.scale:
                raise ValueError("scale: a scaled decision needs a range of factors (low, high), not choices")
            return self
        if self.low is None or self.high is None:
            missing = "low" if self.low is None else "high"
            raise ValueError(f"{missing}: a decision needs a range (low and high) or a list of choices")
        if not self.low < self.high:
            raise ValueError(f"high: empty range: low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.step is not None:
            raise ValueError("log: a log-scale range cannot also have a step")
        if self.log and self.low <= 0:
            raise ValueError(f"low: a log-scale range needs low > 0, got {self.low:g}")
        if self.step is not None and self.step > self.high - self.low:
            raise ValueError(f"step: the step ({self.step:g}) is wider than the range "
                             f"({self.low:g}–{self.high:g})")
        return self


class Split(_Strict):
    """A fixed `total` shared between `paths` (e.g. a media budget between channels): the
    optimizer chooses the shares, the values always add up to `total`."""

    total: bounded(gt=0, le=1e15, unit="the total shared")
    paths: Annotated[list[str], Field(min_length=2)]


class Objective(_Strict):
    """What to maximize (or minimize): the `mean` of a KPI over replications, or its CVaR —
    the mean of the worst `alpha` share of replications (a risk-averse planner's profit)."""

    kpi: str = "gross_profit"
    measure: Literal["mean", "cvar"] = "mean"
    alpha: bounded(gt=0, le=1, unit="the share of worst replications") = 0.1
    direction: Literal["maximize", "minimize"] = "maximize"


class Constraint(_Strict):
    """A limit on the expected value of a KPI over replications: `min` and/or `max`.

    `stockout_probability` is the share of replications in which any SKU (or one of `skus`)
    runs out before `before` (default: the end of the campaign)."""

    kpi: str
    min: Finite | None = None
    max: Finite | None = None
    before: When | None = None
    skus: list[str] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Constraint:
        if self.min is None and self.max is None:
            raise ValueError("kpi: a constraint needs a bound: min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"max: max ({self.max:g}) is below min ({self.min:g})")
        if self.kpi != "stockout_probability" and (self.before is not None or self.skus is not None):
            field = "before" if self.before is not None else "skus"
            raise ValueError(f"{field}: only a stockout_probability constraint takes {field!r}")
        return self


class Optimize(_Strict):
    """Decisions, objective(s), constraints and the evaluation budget of an optimization."""

    variables: dict[str, Variable] = Field(default_factory=dict)
    splits: list[Split] = Field(default_factory=list)
    objective: str | Objective | Annotated[list[str | Objective], Field(min_length=1)] = "gross_profit"
    constraints: list[Constraint] = Field(default_factory=list)
    replications: Replications = Field(8, description="replications per trial (the same seeds for every trial)")
    trials: Trials = Field(100, description="trials per run of `promosim optimize` (`--trials`)")
    seed: Seed | None = Field(None, description="base seed of the trials (default: meta.seed)")
    sampler: Literal["tpe", "random", "nsga2"] = "tpe"
    prune: bool = True
    prune_after: bounded(ge=2, le=1_000_000, unit="replications", whole=True) = Field(
        2, description="replications before a trial can be pruned")
    compare_replications: bounded(ge=2, le=1_000_000, unit="replications", whole=True) = Field(
        20, description="fresh replications comparing best and start")

    @property
    def objectives(self) -> list[Objective]:
        """The objective(s) as a list of `Objective`."""
        items = self.objective if isinstance(self.objective, list) else [self.objective]
        return [Objective(kpi=o) if isinstance(o, str) else o for o in items]


# ------------------------------------------------------------------ decisions
@dataclass(frozen=True)
class Decision:
    """One Optuna parameter and the scenario locations it sets.

    `name` is the parameter's name: the path as written for a tied decision, the concrete
    path for `each`. `start` holds each location's value in the plan as written (None where
    unset). `kind` is 'float', 'int' or 'choice'."""

    name: str
    source: str
    locs: tuple[tuple, ...]
    start: tuple
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple | None = None
    scale: bool = False

    def values(self, x) -> list:
        """The value to set at each location when the parameter is `x`."""
        if not self.scale:
            return [x] * len(self.locs)
        out = []
        for s in self.start:
            v = (s or 0) * x
            out.append(round(v) if isinstance(s, int) and not isinstance(s, bool) else tidy(v))
        return out

    def start_param(self):
        """The parameter value that reproduces the plan as written, or None when there is none
        inside the search space (matches that differ, a value outside the range or the grid)."""
        if self.scale:
            return 1.0 if self.low <= 1.0 <= self.high and _on_grid(1.0, self.low, self.step) else None
        if len(set(map(repr, self.start))) != 1 or self.start[0] is None:
            return None
        v = self.start[0]
        if self.kind == "choice":
            return v if v in self.choices else None
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None
        if not (self.low <= v <= self.high) or not _on_grid(v, self.low, self.step):
            return None
        return int(v) if self.kind == "int" else float(v)


@dataclass(frozen=True)
class SplitDecision:
    """A fixed total shared between locations, parametrized by stick-breaking: parameter j
    (`share:<path j>`) is the fraction of what is left after parts 0..j−1 that part j takes;
    the last part takes the rest."""

    index: int
    total: float
    locs: tuple[tuple, ...]
    start: tuple
    integer: bool

    @property
    def paths(self) -> list[str]:
        return [dotted(loc) for loc in self.locs]

    @property
    def names(self) -> list[str]:
        return [f"share:{p}" for p in self.paths[:-1]]

    def values(self, shares: list[float]) -> list:
        """The value of each part for stick-breaking fractions `shares` (len = parts − 1)."""
        left, out = 1.0, []
        for u in shares:
            out.append(left * u)
            left -= left * u
        out.append(left)
        if self.integer:
            ints = [math.floor(f * self.total) for f in out]
            ints[-1] = round(self.total) - sum(ints[:-1])
            return ints
        return [tidy(f * self.total) for f in out]

    def start_param(self) -> list[float] | None:
        """Stick-breaking fractions that reproduce the plan as written, or None when its values
        are unset or do not add up to the total."""
        if any(not isinstance(s, int | float) or isinstance(s, bool) or s < 0 for s in self.start):
            return None
        if abs(sum(self.start) - self.total) > 1e-9 * max(1.0, self.total):
            return None
        left, shares = self.total, []
        for s in self.start[:-1]:
            shares.append(tidy(min(1.0, s / left)) if left > 0 else 0.0)
            left -= s
        return shares


def tidy(x: float) -> float:
    """`x` rounded to 10 significant digits (0.30000000000000004 → 0.3), so a plan reads well
    and a written plan reproduces the evaluated one exactly."""
    return float(f"{x:.10g}")


def dotted(loc: tuple) -> str:
    return ".".join(str(k) for k in loc)


def _on_grid(v: float, low: float, step: float | None) -> bool:
    if step is None:
        return True
    k = (v - low) / step
    return abs(k - round(k)) < 1e-8


# ------------------------------------------------------------------- checks
DERIVED_KPIS = ("margin", "stockout_probability")


def kpi_names() -> tuple[str, ...]:
    """Every KPI an objective or constraint may name: the run KPIs and the derived ones."""
    return tuple(RUN_KPIS) + DERIVED_KPIS


class OptimizeError(PathError):
    """A problem in the `optimize:` block at `loc` (a tuple: a variable's path is one key)."""


def _plain_data(scenario) -> dict:
    data = scenario.model_dump(mode="python")
    data.pop("optimize", None)
    return data


def _locations(scenario, data, path: str, where: tuple) -> list[tuple]:
    head = path.split(".")[0]
    if head == "optimize":
        raise OptimizeError(where, "a decision cannot change the optimize block itself")
    if head == "meta":
        raise OptimizeError(where, f"{path} is a setting of the campaign (its clock, dates, seed and "
                            "replications), not a decision: an optimizer choosing meta.seed would pick lucky "
                            "draws, one choosing meta.tick_minutes a coarser model; decide budgets, bids, "
                            "discounts or stock")
    if head == "calibrate":
        raise OptimizeError(where, "a decision cannot change the calibrate block (it is not part of the plan)")
    return field_locations(scenario, data, path, where, OptimizeError)


def resolve(scenario) -> tuple[list[Decision], list[SplitDecision]]:
    """The decisions and splits of `scenario.optimize`, checked against the scenario.

    Raises `OptimizeError` (located in the optimize block) for a path that names nothing, a
    range end that is not a valid value at its path, or two decisions setting one value."""
    opt = scenario.optimize
    data = _plain_data(scenario)
    decisions: list[Decision] = []
    rounds: dict[tuple, list] = {}
    for path, var in opt.variables.items():
        where = ("optimize", "variables", path)
        locs = _locations(scenario, data, path, where)
        start = tuple(value_at(data, loc) for loc in locs)
        groups = [(dotted(loc), (loc,), (s,)) for loc, s in zip(locs, start)] if var.each else [
            (path, tuple(locs), start)]
        for name, g_locs, g_start in groups:
            if var.choices is not None:
                d = Decision(name, path, g_locs, g_start, "choice", choices=tuple(var.choices))
            else:
                ints = all(isinstance(s, int) and not isinstance(s, bool) for s in g_start)
                integral = all(float(x).is_integer() for x in (var.low, var.high, var.step or 1))
                kind = "int" if ints and integral and not var.scale and not var.log else "float"
                d = Decision(name, path, g_locs, g_start, kind, low=var.low, high=var.high,
                             step=var.step, log=var.log, scale=var.scale)
            decisions.append(d)
        # both ends of the range (or every choice) must be valid values at every match
        probe = decisions[-len(groups):]
        ends = [(("choice", k), c) for k, c in enumerate(var.choices)] if var.choices is not None else [
            (("low",), var.low), (("high",), var.high)]
        for key, x in ends:
            label = key[0]
            sets = [(loc, v) for d in probe for loc, v in zip(d.locs, d.values(
                int(x) if d.kind == "int" else x))]
            what = f"{label} {x!r}" if label == "choice" else f"{label} = {x:g}"
            if var.scale:
                what = f"{label} = {x:g} (× the plan's values)"
            at = where + ((label,) if label != "choice" else ("choices",))
            rounds.setdefault(key, []).append((at, what, sets))

    splits: list[SplitDecision] = []
    for i, sp in enumerate(opt.splits):
        where = ("optimize", "splits", i, "paths")
        locs: list[tuple] = []
        for path in sp.paths:
            locs.extend(_locations(scenario, data, path, where))
        if len(locs) < 2:
            raise OptimizeError(where, "a split needs at least two values to share the total")
        twice = next((loc for k, loc in enumerate(locs) if loc in locs[:k]), None)
        if twice is not None:
            raise OptimizeError(where, f"{dotted(twice)} is named twice in the split: each share must be a "
                                "value of its own, or the values would not add up to the total")
        start = tuple(value_at(data, loc) for loc in locs)
        integer = all(isinstance(s, int) and not isinstance(s, bool) for s in start)
        split = SplitDecision(i, sp.total, tuple(locs), start, integer)
        for j in range(len(locs)):   # each part may get the whole total
            shares = [0.0] * (len(locs) - 1)
            if j < len(locs) - 1:
                shares[j] = 1.0
            rounds.setdefault(("split", j), []).append(
                (where, f"the whole total ({sp.total:g}) at {dotted(locs[j])}",
                 list(zip(locs, split.values(shares)))))
        splits.append(split)

    seen: dict[tuple, str] = {}
    for owner, locs, where in ([(d.source, d.locs, ("optimize", "variables", d.source)) for d in decisions]
                               + [(f"splits.{s.index}", s.locs, ("optimize", "splits", s.index, "paths"))
                                  for s in splits]):
        for loc in locs:
            if loc in seen and seen[loc] != owner:
                raise OptimizeError(where, f"{dotted(loc)} is already set by the decision {seen[loc]!r}")
            seen[loc] = owner
    probe_values(type(scenario), data, rounds, OptimizeError)
    return decisions, splits


def _kpi_hint(name: str, valid) -> str:
    hint = did_you_mean(name, valid)
    return hint or "; expected a KPI such as gross_profit, gmv, net_sales, roi or margin (docs/kpis.md)"


def check_optimize(scenario) -> None:
    """Every check of the optimize block that needs the scenario (raises `OptimizeError`)."""
    opt = scenario.optimize
    if not opt.variables and not opt.splits:
        raise OptimizeError(("optimize", "variables"), "no decisions: give at least one variable or split")
    names = kpi_names()
    objectives = opt.objective if isinstance(opt.objective, list) else [opt.objective]
    listed: dict[tuple, int] = {}
    for i, o in enumerate(opt.objectives):
        key = (o.kpi, o.measure, o.alpha if o.measure == "cvar" else None)
        if key in listed:
            raise OptimizeError(("optimize", "objective", i), f"objective {o.kpi!r} ({o.measure}) is listed twice "
                                f"(also item {listed[key]}): a second copy adds nothing but a flat Pareto front")
        listed[key] = i
    for i, o in enumerate(objectives):
        kpi = o if isinstance(o, str) else o.kpi
        loc = ("optimize", "objective") + ((i,) if isinstance(opt.objective, list) else ())
        loc += () if isinstance(o, str) else ("kpi",)
        valid = [k for k in names if k != "stockout_probability"]
        if kpi not in valid:
            raise OptimizeError(loc, f"unknown KPI {kpi!r}{_kpi_hint(kpi, valid)}")
    m = scenario.meta
    for i, c in enumerate(opt.constraints):
        loc = ("optimize", "constraints", i)
        if c.kpi not in names:
            raise OptimizeError(loc + ("kpi",), f"unknown KPI {c.kpi!r}{_kpi_hint(c.kpi, names)}")
        if c.before is not None and not (m.local(m.start) < m.local(c.before) <= m.local(m.end)):
            raise OptimizeError(loc + ("before",), f"{c.before} lies outside the campaign ({m.start} – {m.end})")
        for sku in c.skus or []:
            if sku not in scenario.skus:
                raise OptimizeError(loc + ("skus",), f"unknown SKU {sku!r}{did_you_mean(sku, scenario.skus)}")
    resolve(scenario)
