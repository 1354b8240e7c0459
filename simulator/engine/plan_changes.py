"""What a rule firing changes in the fast engine's run state (docs/rules.md, "Effect").

A change takes effect from the tick it fires at: today's budget is measured against the new
daily budget (spend so far today counts), a total budget against all spend so far; the
pacing line is redrawn for the channel's budgets in force. Paths are scenario parameter
paths (`channels.paid_search.daily_budget`, `channels.paid_search.ad_groups.brand.bid`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simulator.auctions import with_bid
from simulator.pacing import pace_share


def apply_changes(engine, run, changes: dict) -> None:
    """Apply `changes` {path: value} of one evaluation moment to `run` (a fast-engine `_Run`)."""
    m = engine.m
    for path, value in changes.items():
        parts = path.split(".")
        c = m.channels.index(parts[1])
        if c in run.auction_budgets:
            _auction(m, run, c, parts[2:], value)
        else:
            _flat(m, run, c, parts[2], value)


def _flat(m, run, c: int, field: str, value) -> None:
    """A paid-search channel at a flat cpc."""
    if field == "pacing":
        run.pacing[c] = value
    elif field == "daily_budget":
        run.daily_budget[c] = value
    else:
        run.total_budget[c] = value
    run.open[c] = True                                # a new budget: its own exhaustion will stop it
    pacing = run.pacing.get(c, m.scenario.channels[m.channels[c]].pacing)
    daily, total = run.daily_budget[c], run.total_budget[c]
    run.total_left[c] = total - run.spent_total[c]
    run.daily_left[c] = daily + run.carried[c] - run.spent_today[c]
    run.day_allow[c] = min(daily + run.carried[c], run.total_left[c] + run.spent_today[c])
    if run.pace_share is m.pace_share:
        run.pace_share = m.pace_share.copy()
    run.pace_share[:, c] = pace_share(pacing, _finite(daily), _finite(total), m.traffic[:, c], m.grid)


def _auction(m, run, c: int, rest: list[str], value) -> None:
    """A paid-search channel with ad groups: its budgets, pacing, or a group's bid or budgets."""
    b = run.auction_budgets[c]
    au = b.au
    if rest == ["pacing"]:
        au = replace(au, pacing=value)
    elif rest[0] == "ad_groups" and rest[2] == "bid":
        au = with_bid(au, au.groups.index(rest[1]), float(value))
    else:
        o = 0 if rest[0] != "ad_groups" else au.owners.index(f"{au.name}/{rest[1]}")
        daily, total = au.daily.copy(), au.total.copy()
        (daily if rest[-1] == "daily_budget" else total)[o] = value
        au = replace(au, daily=daily, total=total)
        b.au = au
        b.set_budget(o, daily[o], total[o])
    pace = np.stack([pace_share(au.pacing, _finite(au.daily[o]), _finite(au.total[o]), au.shape, m.grid)
                     for o in range(len(au.owners))], axis=1) if au.owners else au.pace
    b.au = replace(au, pace=pace)


def _finite(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)
