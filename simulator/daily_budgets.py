"""Daily budget use per channel (docs/kpis.md, "Daily budget used"): for each media channel
with a budget and each local day of the campaign, what it spent, the budget in force that
day, the share used and when the budget ran out.

One replication (`day_rows`) gives per channel a list of D days (D = the scenario's local
days, `model.grid.day_starts()`); `summarize` averages them over replications. Money in the
scenario's currency.

- budget of a day: the most the channel could spend that day — the daily budget in force at
  the day's end (after rules, `rec.plan_changes`), plus what the day before left with
  `carry_over`, and never more than what the total budget in force left at the day's start
  (a channel with only a total budget: what it left). None for a channel without a budget.
- spend: the ad spend the budget covers (a channel's media spend; for an auction channel
  with budgets on its ad groups, the spend of those groups). Budgets of ad groups add up to
  their channel's.
- ran out: the day ended with the budget spent: a `budget_exhausted` event that day with no
  rule changing the budget later that day (for ad groups: every budgeted group ran out,
  at the last one's time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.formats import clock
from simulator.kpis import ratio
from simulator.model import Model
from simulator.record import RunRecord

FIELDS = ("daily_budget", "total_budget")


@dataclass(frozen=True)
class Owner:
    """One budget: of a channel (`group` None) or of one ad group of an auction channel.
    `path`: its scenario parameter path; `subject`: its `budget_exhausted` events' subject."""

    channel: str
    group: str | None
    spec: object
    path: str
    subject: str


def owners(model: Model) -> dict[str, list[Owner]]:
    """Per media channel that has a budget — in the scenario, or set by a rule — its budgets."""
    ruled = _ruled_paths(model.scenario)
    out: dict[str, list[Owner]] = {}
    for name in model.channels:
        ch = model.scenario.channels[name]
        if ch.kind not in ("paid_search", "display"):
            continue
        path = f"channels.{name}"
        groups = getattr(ch, "ad_groups", None) or {}
        own = [g for g, a in groups.items() if a.has_budget]
        if own:
            out[name] = [Owner(name, g, groups[g], f"{path}.ad_groups.{g}", f"{name}/{g}") for g in own]
        elif ch.daily_budget is not None or ch.total_budget is not None or any(f"{path}.{f}" in ruled for f in FIELDS):
            out[name] = [Owner(name, None, ch, path, name)]
    return out


def _ruled_paths(scenario) -> set[str]:
    """The budget paths the scenario's rules set."""
    if not getattr(scenario, "rules", None):
        return set()
    from simulator.rules.program import compile_rules

    return {p for r in compile_rules(scenario) for p in r.targets if p.rsplit(".", 1)[-1] in FIELDS}


def day_rows(rec: RunRecord, model: Model, by_channel: dict[str, list[Owner]] | None = None) -> dict[str, list[dict]]:
    """Per channel with a budget, one row per local day of one replication: spend, budget,
    used (spend ÷ budget; None for a budget of 0), ran_out (1.0 / 0.0), ran_out_tick (None:
    did not run out). `by_channel`: `owners(model)`, when the caller has it."""
    by_channel = owners(model) if by_channel is None else by_channel
    g = model.grid
    n_days = len(g.day_starts())
    first = np.r_[0, np.flatnonzero(np.diff(g.period)) + 1]
    period_day = g.day[first]                                          # (H,) local day of each period
    out = {}
    for name, parts in by_channel.items():
        spend = np.zeros(n_days)
        budget = np.zeros(n_days)
        unbounded = np.zeros(n_days, dtype=bool)
        stops: list[list[int | None]] = []
        for o in parts:
            s = np.bincount(period_day, weights=_spend(rec, model, o), minlength=n_days)
            b = _budgets(o, rec, model, s)
            spend += s
            unbounded |= np.isnan(b)
            budget += np.nan_to_num(b)
            stops.append(_ran_out(o, rec, model, n_days))
        rows = []
        for d in range(n_days):
            ticks = [s[d] for s in stops]
            out_all = all(t is not None for t in ticks)
            b = None if unbounded[d] else float(budget[d])
            rows.append({"spend": float(spend[d]), "budget": b, "used": ratio(spend[d], b) if b is not None else None,
                         "ran_out": float(out_all), "ran_out_tick": max(ticks) if out_all else None})
        out[name] = rows
    return out


def _spend(rec: RunRecord, model: Model, o: Owner) -> np.ndarray:
    """(H,) the owner's ad spend per reporting period."""
    if o.group is None:
        return rec.by_channel["ad_spend"][:, model.channels.index(o.channel)]
    groups = list(model.scenario.channels[o.channel].ad_groups)
    return rec.ad_groups[o.channel]["ad_spend"][:, groups.index(o.group)]


def _in_force(o: Owner, rec: RunRecord, model: Model, which: str, n_days: int) -> list:
    """(D,) the value of `which` budget in force at each day's end (None: unset)."""
    day_of = model.grid.day
    values = [getattr(o.spec, which)] * n_days
    for tick, path, v in sorted(rec.plan_changes, key=lambda e: e[0]):
        if path == f"{o.path}.{which}":
            d = int(day_of[min(tick, day_of.size - 1)])
            values[d:] = [v] * (n_days - d)
    return values


def _budgets(o: Owner, rec: RunRecord, model: Model, spend: np.ndarray) -> np.ndarray:
    """(D,) the owner's budget of each day (module docstring); NaN where it has none."""
    n_days = spend.size
    daily, total = _in_force(o, rec, model, "daily_budget", n_days), _in_force(o, rec, model, "total_budget", n_days)
    carry = bool(getattr(o.spec, "carry_over", False) or
                 getattr(model.scenario.channels[o.channel], "carry_over", False))
    out = np.full(n_days, np.nan)
    carried = 0.0
    spent = 0.0
    for d in range(n_days):
        cap = np.inf
        if daily[d] is not None:
            cap = float(daily[d]) + carried
            carried = max(cap - spend[d], 0.0) if carry else 0.0
        else:
            carried = 0.0
        if total[d] is not None:
            cap = min(cap, max(float(total[d]) - spent, 0.0))
        out[d] = cap if np.isfinite(cap) else np.nan
        spent += spend[d]
    return out


def _ran_out(o: Owner, rec: RunRecord, model: Model, n_days: int) -> list[int | None]:
    """(D,) the tick the owner's budget ran out on each day, None where the day ended with
    budget left: its last `budget_exhausted` event of the day, unless a rule changed its budget
    after it (which reopens the channel)."""
    day_of = model.grid.day
    last_stop: dict[int, int] = {}
    for tick, kind, subject, _v in rec.events:
        if kind == "budget_exhausted" and subject == o.subject:
            d = int(day_of[min(int(tick), day_of.size - 1)])
            last_stop[d] = max(last_stop.get(d, -1), int(tick))
    last_change: dict[int, int] = {}
    for tick, path, _v in rec.plan_changes:
        if path in (f"{o.path}.daily_budget", f"{o.path}.total_budget"):
            d = int(day_of[min(int(tick), day_of.size - 1)])
            last_change[d] = max(last_change.get(d, -1), int(tick))
    return [last_stop[d] if d in last_stop and last_stop[d] >= last_change.get(d, -1) else None
            for d in range(n_days)]


def days(model: Model) -> list[str]:
    """(D,) the local date of each campaign day, 'YYYY-MM-DD'."""
    g = model.grid
    return [f"{_time(model, int(t)):%Y-%m-%d}" for t in g.day_starts()]


def _time(model: Model, tick: float) -> pd.Timestamp:
    """The local time of `tick` (a fraction of a tick: that far into it)."""
    g = model.grid
    utc = pd.Timestamp(g.start).tz_convert("UTC") + pd.Timedelta(minutes=float(tick) * g.tick_minutes)
    return utc.tz_convert(g.timezone)


def summarize(per_run: list[dict[str, list[dict]]], model: Model) -> dict[str, list[dict]]:
    """Per channel, one row per day over replications: day (local date), spend and budget
    (means), used (the mean of each replication's share; None where no budget was above 0),
    ran_out_share (share of replications in which the budget ran out that day) and
    ran_out_median (the median time it did, as a clock time "11-11 14:05"; None: never)."""
    dates = days(model)
    out = {}
    for name in per_run[0] if per_run else []:
        rows = []
        for d, date in enumerate(dates):
            runs = [r[name][d] for r in per_run]
            budgets = [r["budget"] for r in runs if r["budget"] is not None]
            used = [r["used"] for r in runs if r["used"] is not None]
            ticks = [r["ran_out_tick"] for r in runs if r["ran_out_tick"] is not None]
            rows.append({"day": date, "spend": float(np.mean([r["spend"] for r in runs])),
                         "budget": float(np.mean(budgets)) if budgets else None,
                         "used": float(np.mean(used)) if used else None,
                         "ran_out_share": float(np.mean([r["ran_out"] for r in runs])),
                         "ran_out_median": clock(_time(model, float(np.median(ticks)))) if ticks else None})
        out[name] = rows
    return out
