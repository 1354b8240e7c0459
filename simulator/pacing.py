"""Pacing lines (docs/pacing.md): how far a budget may be spent by each tick.

Shapes: T ticks; money in the scenario's currency.
"""

from __future__ import annotations

import numpy as np

from simulator.timegrid import TimeGrid


def pace_share(pacing: str, daily: float | None, total: float | None, shape: np.ndarray, grid: TimeGrid) -> np.ndarray:
    """(T,) share of the pacing period's budget spendable by the end of each tick: the local
    day with a daily budget, else the campaign; inf for `asap`, `roi_target` (no line: the
    marginal return decides) or a channel without a budget.
    `even` weighs every tick alike, `launch_weighted` by the channel's traffic shape (T,)."""
    T = grid.n_ticks
    if pacing in ("asap", "roi_target") or (daily is None and total is None):
        return np.full(T, np.inf)
    w = np.ones(T) if pacing == "even" else np.asarray(shape, float)
    period = grid.day if daily is not None else np.zeros(T, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(period)) + 1]
    total = np.add.reduceat(w, starts)[np.searchsorted(starts, np.arange(T), side="right") - 1]
    cum = np.cumsum(w) - np.repeat(np.r_[0.0, np.cumsum(w)[starts[1:] - 1]], np.diff(np.r_[starts, T]))
    return np.where(total > 0, cum / np.where(total > 0, total, 1.0), 1.0)


def paced(planned: np.ndarray, line: np.ndarray, start: float = 0.0) -> np.ndarray:
    """(n,) cumulative spend S_t = min(S_{t−1} + planned_t, line_t) from S_{−1} = `start`:
    spend follows the plan but never runs ahead of the pacing line (2-D: one column per
    budget; closed form with a
    running minimum: S_t = X_t + min(start, min_{k≤t} (line_k − X_k)), X the cumulative plan)."""
    X = np.cumsum(planned, axis=0)
    return X + np.minimum(start, np.minimum.accumulate(line - X, axis=0))


def cap_spend(spend: np.ndarray, day_starts: np.ndarray, daily: float | None, total: float | None,
               name: str, events: list, share: np.ndarray, carry_over: bool) -> np.ndarray:
    """(T,) fraction of each tick's planned spend that budgets and pacing allow.

    The daily cap resets at local midnight (plus what the day before left, with carry-over);
    cumulative spend never passes the pacing line (`share` × the period's budget; inf: asap);
    the tick where a cap binds is prorated so spend reaches the budget exactly.
    """
    kept = np.ones_like(spend)
    left_total = np.inf if total is None else total
    carried = 0.0
    ends = np.r_[day_starts[1:], spend.size]
    for a, b in zip(day_starts, ends):
        allowed = min((np.inf if daily is None else daily) + carried, left_total)
        if allowed <= 0:
            kept[a:b] = 0.0
            continue
        if daily is not None:                                   # the day's line: today's spend
            line = np.minimum(allowed, allowed * share[a:b])
        elif total is not None:                                 # the campaign's line: spend so far counts
            line = np.minimum(left_total, total * share[a:b] - (total - left_total))
        else:
            line = np.full(b - a, np.inf)
        S = paced(spend[a:b], line)
        tol = 1e-12 * max(allowed, float(spend[a:b].sum()))     # X + (line − X) loses the last bits of X
        S[S >= allowed - tol] = allowed                         # exactly the budget once it is reached
        got = np.diff(S, prepend=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.clip(got / np.where(spend[a:b] > 0, spend[a:b], 1.0), 0.0, 1.0)
        kept[a:b] = np.where((spend[a:b] > 0) & (frac < 1 - 1e-12), frac, 1.0)   # a tick the line leaves alone keeps all
        cut = np.flatnonzero((kept[a:b] < 1 - 1e-12) & (S >= allowed * (1 - 1e-12)))
        if cut.size:
            events.append((a + int(cut[0]), "budget_exhausted", name, float(allowed)))
        spent = float(S[-1]) if S.size else 0.0
        left_total -= spent
        carried = (allowed - spent) if carry_over and daily is not None else 0.0
    return kept


def roi_kept(imps: np.ndarray, cost: float, value: np.ndarray, audience: float | None, target: float,
             day_starts: np.ndarray, daily: float | None, total: float | None, carry_over: bool,
             name: str, events: list) -> np.ndarray:
    """(T,) share of each tick's impressions bought under `roi_target` pacing.

    An impression costs `cost`; after I impressions the next one brings value_t × exp(−I /
    audience) of expected GMV (value_t: ctr × GMV of a visit; without an audience every
    impression reaches someone new). It is bought while that is at least `target` × cost —
    so the campaign may hold at most I* = audience × ln(value_t / (target × cost)) impressions
    in the tick (none when the ratio is ≤ 1; no limit without an audience) — and while the
    budgets allow (spent as they come; a day's unspent budget carries over with `carry_over`).
    Closed form per stretch of one day with one value: cumulative impressions min(X_t, cap)."""
    T = imps.size
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = value / (target * cost)
        cap_imps = np.where(ratio > 1, audience * np.log(np.where(ratio > 1, ratio, 2.0)) if audience else np.inf, 0.0)
    bounds = sorted({0, T, *day_starts.tolist(), *(np.flatnonzero(np.diff(cap_imps)) + 1).tolist()})
    starts = set(day_starts.tolist())
    kept = np.zeros(T)
    bought = spent_total = spent_today = carried = 0.0
    day_budget = np.inf
    for a, b in zip(bounds, bounds[1:]):
        if a in starts:
            carried = (day_budget - spent_today) if carry_over and a and np.isfinite(day_budget) else 0.0
            day_budget = (np.inf if daily is None else daily) + carried
            spent_today = 0.0
        money = min(day_budget - spent_today, (np.inf if total is None else total) - spent_total)
        room = max(0.0, min(cap_imps[a] - bought, money / cost))
        X = np.cumsum(imps[a:b])
        got = np.diff(np.minimum(X, room), prepend=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            kept[a:b] = np.where(imps[a:b] > 0, got / np.where(imps[a:b] > 0, imps[a:b], 1.0), 0.0)
        n = float(got.sum())
        if np.isfinite(money) and X.size and X[-1] > room and money / cost <= cap_imps[a] - bought:
            hit = a + int(np.searchsorted(X, room))
            events.append((min(hit, b - 1), "budget_exhausted", name, float(spent_today + money)))
        bought += n
        spent_today += n * cost
        spent_total += n * cost
    return kept
