"""What an optimization searches and how it scores a plan.

Decisions (from `scenario.optimize`, resolved and checked at load by
`simulator.scenario.optimize_schema`) become Optuna parameters; a trial's parameters become
a plan — a mapping of concrete parameter paths to values — that `Scenario.with_overrides`
applies. Objectives and constraints are read from per-replication KPI rows: the run KPIs of
`simulator.kpis` plus the derived `margin` (gross_profit / gmv) and `stockout_probability`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.kpis import ratio, run_kpis
from simulator.model import Model
from simulator.naming import RUN_KPIS
from simulator.record import RunRecord
from simulator.scenario.optimize_schema import (
    Constraint,
    Decision,
    Objective,
    SplitDecision,
    dotted,
    resolve,
    tidy,
)
from simulator.scenario.schema import Scenario

#: KPIs whose value can be undefined (a ratio with a zero denominator): no pruning on them.
RATIO_KPIS = ("aov", "conversion_rate", "roi", "sell_through", "margin")
#: What every KPI row holds besides the run KPIs.
EXTRA_KPIS = ("margin", "stockout_probability")


@dataclass(frozen=True)
class Spec:
    """The decisions, objectives and constraints of one optimization of `scenario`."""

    scenario: Scenario
    decisions: tuple[Decision, ...]
    splits: tuple[SplitDecision, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]

    @classmethod
    def of(cls, scenario: Scenario) -> Spec:
        if scenario.optimize is None:
            raise ValueError(f"scenario {scenario.meta.name!r} has no optimize: block; "
                             "declare the decisions under optimize.variables (see docs/optimize.md)")
        decisions, splits = resolve(scenario)
        opt = scenario.optimize
        return cls(scenario, tuple(decisions), tuple(splits), tuple(opt.objectives), tuple(opt.constraints))

    # ------------------------------------------------------------ search space
    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    def base(self) -> Scenario:
        """The plan as written, without its optimize block (what a trial's overrides apply to)."""
        return self.scenario.model_copy(update={"optimize": None})

    def suggest(self, trial, baseline: bool = False) -> dict[str, object]:
        """Ask `trial` for every decision; return the plan {concrete path: value}.

        For the baseline trial a decision whose starting value lies outside the search space
        is not asked: the plan keeps its value as written."""
        plan: dict[str, object] = {}
        for d in self.decisions:
            if baseline and d.start_param() is None:
                continue
            if d.kind == "choice":
                x = trial.suggest_categorical(d.name, list(d.choices))
            elif d.kind == "int":
                x = trial.suggest_int(d.name, int(d.low), int(d.high), step=int(d.step or 1))
            else:
                x = tidy(trial.suggest_float(d.name, d.low, d.high, step=d.step, log=d.log))
            for loc, v in zip(d.locs, d.values(x)):
                plan[dotted(loc)] = v
        for s in self.splits:
            if baseline and s.start_param() is None:
                continue
            shares = [trial.suggest_float(name, 0.0, 1.0) for name in s.names]
            for loc, v in zip(s.locs, s.values(shares)):
                plan[dotted(loc)] = v
        return plan

    def baseline_params(self) -> dict[str, object]:
        """Optuna parameters of the plan as written (decisions it cannot express are left out)."""
        params: dict[str, object] = {}
        for d in self.decisions:
            p = d.start_param()
            if p is not None:
                params[d.name] = p
        for s in self.splits:
            shares = s.start_param()
            if shares is not None:
                params.update(zip(s.names, shares))
        return params

    # ----------------------------------------------------------------- scoring
    def kpi_row(self, rec: RunRecord, model: Model) -> dict[str, float | None]:
        """One replication's KPIs: the run KPIs, `margin`, `stockout_probability` (any SKU out
        at any time: 0 or 1) and one `constraint:<i>` indicator per stock-out constraint."""
        row = run_kpis(rec, model)
        row["margin"] = ratio(row["gross_profit"], row["gmv"])
        outs = [(int(t), str(subject)) for t, kind, subject, _ in rec.events if kind == "stockout"]
        row["stockout_probability"] = 1.0 if outs else 0.0
        g, meta = model.grid, model.scenario.meta
        for j, c in enumerate(self.constraints):
            if c.kpi == "stockout_probability":
                limit = g.n_ticks if c.before is None else g.tick_of(c.before, meta)
                hit = any(t < limit and (c.skus is None or s in c.skus) for t, s in outs)
                row[f"constraint:{j}"] = 1.0 if hit else 0.0
        return row

    def objective_values(self, rows: list[dict]) -> list[float]:
        """Each objective over the replications in `rows` (NaN when the KPI is undefined)."""
        return [objective_value(o, rows) for o in self.objectives]

    def constraint_key(self, j: int) -> str:
        c = self.constraints[j]
        return f"constraint:{j}" if c.kpi == "stockout_probability" else c.kpi

    def constraint_values(self, rows: list[dict]) -> dict[str, float]:
        """Each constraint's relative violation (≤ 0: met), named like `roi >= 3`."""
        out = {}
        for j, c in enumerate(self.constraints):
            xs = [r[self.constraint_key(j)] for r in rows if r[self.constraint_key(j)] is not None]
            out[constraint_label(c)] = violation(c, float(np.mean(xs)) if xs else None)
        return out

    def means(self, rows: list[dict]) -> dict[str, float | None]:
        """Mean of every KPI in `rows` (None values skipped; all None → None)."""
        keys = list(RUN_KPIS) + list(EXTRA_KPIS) + [
            f"constraint:{j}" for j, c in enumerate(self.constraints) if c.kpi == "stockout_probability"]
        out = {}
        for k in keys:
            xs = [r[k] for r in rows if r.get(k) is not None]
            out[k] = float(np.mean(xs)) if xs else None
        return out


def objective_value(o: Objective, rows: list[dict]) -> float:
    """The mean of `o.kpi` over replications, or its CVaR_α: the mean of the worst
    ⌈α·n⌉ replications (lowest when maximizing, highest when minimizing)."""
    xs = np.array([r[o.kpi] for r in rows if r[o.kpi] is not None], dtype=float)
    if xs.size == 0:
        return math.nan
    if o.measure == "mean":
        return float(xs.mean())
    n = max(1, math.ceil(o.alpha * xs.size))
    worst = np.sort(xs)[:n] if o.direction == "maximize" else np.sort(xs)[::-1][:n]
    return float(worst.mean())


def constraint_label(c: Constraint) -> str:
    parts = []
    if c.min is not None:
        parts.append(f"{c.kpi} >= {c.min:g}")
    if c.max is not None:
        parts.append(f"{c.kpi} <= {c.max:g}")
    label = " and ".join(parts)
    if c.kpi == "stockout_probability":
        label += f" (before {c.before:%Y-%m-%d %H:%M})" if c.before is not None else ""
        label += f" ({', '.join(c.skus)})" if c.skus else ""
    return label


def violation(c: Constraint, value: float | None) -> float:
    """How far `value` lies outside the constraint, relative to the bound (≤ 0: met).
    An undefined value (a ratio over zero) counts as a violation of 1."""
    if value is None:
        return 1.0
    worst = -math.inf
    if c.min is not None:
        worst = max(worst, (c.min - value) / (abs(c.min) or 1.0))
    if c.max is not None:
        worst = max(worst, (value - c.max) / (abs(c.max) or 1.0))
    return float(worst)
