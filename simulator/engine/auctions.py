"""Search-ad auctions in the fast engine (docs/auctions.md), one stretch of ticks at a time.

Per reporting period inside the stretch ("cell") and ad group, with Λ the expected auctions:
  * impressions ~ Poisson(Λ · P(shown)) drawn by the inverse CDF of one uniform per cell
    (`streams.auctions`, nothing else drawn from it), so the same seed couples plans and
    impressions never fall when the bid rises;
  * impressions split over positions (multinomial), clicks per position (binomial), and the
    auctions not won (Poisson) for the win rate;
  * each click placed in a tick by the channel's calendar shape, with a uniform moment in it,
    and priced by the generalized second price (`AuctionChannel.price`).
Budgets and pacing: per budget owner, cumulative spend S_t = min(S_{t−1} + planned_t, line_t)
in closed form (`paced`). In a tick where the line (or the budget) binds, clicks are served in
time order until the room is used: the click that crosses pays only what is left, so spend
reaches the line exactly, and the owner sits out the rest of that tick. Cost grows with
clicks and cells, not with auctions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from simulator.auctions import AuctionChannel
from simulator.pacing import paced

EPS = 1e-9


def poisson_quantile(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Inverse CDF of Poisson(lam) at u (same shapes): the least k with P(X ≤ k) ≥ u.
    A Cornish–Fisher start, then exact steps on the CDF (`scipy.special.pdtr`); monotone in
    lam for a fixed u, which is what couples plans on one seed."""
    u, lam = np.broadcast_arrays(np.asarray(u, float), np.asarray(lam, float))
    out = np.zeros(u.shape, dtype=np.int64)
    live = lam > 0
    if not live.any():
        return out
    lv, uv = lam[live], u[live]
    z = special.ndtri(uv)
    k = np.maximum(0, np.floor(lv + np.sqrt(lv) * z + (z * z - 1) / 6)).astype(np.int64)
    up = special.pdtr(k, lv) < uv
    while up.any():                                            # F(k) < u: step up
        k[up] += 1
        up[up] = special.pdtr(k[up], lv[up]) < uv[up]
    down = (k > 0) & (special.pdtr(np.maximum(k - 1, 0), lv) >= uv)
    while down.any():                                          # F(k − 1) ≥ u: step down
        k[down] -= 1
        down[down] = (k[down] > 0) & (special.pdtr(np.maximum(k[down] - 1, 0), lv[down]) >= uv[down])
    out[live] = k
    return out


class AuctionBudgets:
    """Budget state of one auction channel in one replication, per owner (O,)."""

    def __init__(self, au: AuctionChannel):
        self.au = au
        self.total_left = au.total.copy()
        self.daily_left = au.daily.copy()
        self.day_allow = np.minimum(self.daily_left, self.total_left)
        self.spent_today = np.zeros_like(self.daily_left)
        self.started = False

    def new_day(self) -> None:
        """Local midnight: the daily budget resets (plus what the day before left, with carry-over)."""
        left = self.daily_left if self.au.carry_over and self.started else 0.0
        self.daily_left = self.au.daily + left
        self.day_allow = np.minimum(self.daily_left, self.total_left)
        self.spent_today[:] = 0.0
        self.started = True

    def lines(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, O) how much each owner may have spent by the end of each tick from now, and the
        (O,) budget left (the day's, within the campaign's)."""
        au = self.au
        allowed = np.minimum(self.daily_left, self.total_left)
        share = au.pace[start:end]
        with np.errstate(invalid="ignore"):                    # inf − inf where a budget is unset
            daily_line = self.day_allow[None, :] * share - self.spent_today[None, :]
            total_line = au.total[None, :] * share - (au.total - self.total_left)[None, :]
            line = np.where(np.isfinite(au.daily)[None, :], daily_line, total_line)
        line = np.where(np.isfinite(share), line, np.inf)
        return np.clip(np.minimum(line, allowed[None, :]), 0.0, None), allowed


@dataclass
class AuctionDraw:
    """One stretch of one auction channel: served clicks, spend, and per-cell counts."""

    start: int
    clicks: np.ndarray          # (n,) served clicks per tick
    spend: np.ndarray           # (n,) money per tick
    t: np.ndarray               # (N,) served clicks: relative tick
    g: np.ndarray               # (N,) ad group
    charge: np.ndarray          # (N,) money paid
    S: np.ndarray               # (n, O) cumulative spend per owner
    keep: np.ndarray            # (n, G) share of each tick a group takes part in
    cell: np.ndarray            # (n,) cell of each tick
    period0: int                # reporting period of cell 0
    nonclick: np.ndarray        # (H', G) impressions without a click
    lost: np.ndarray            # (H', G) auctions not won
    exhausted: list             # (relative tick, owner, the period's spend) budgets reached

    def truncate(self, keep: int) -> None:
        """Keep the first `keep` ticks (the rest is drawn again)."""
        mine = self.t < keep
        self.t, self.g, self.charge = self.t[mine], self.g[mine], self.charge[mine]
        self.clicks, self.spend, self.S = self.clicks[:keep], self.spend[:keep], self.S[:keep]
        self.keep = self.keep.copy()
        self.keep[keep:] = 0.0
        self.exhausted = [e for e in self.exhausted if e[0] < keep]


def draw_auctions(au: AuctionChannel, phase: int, start: int, end: int, period: np.ndarray,
                  volume_rng: np.random.Generator, rng: np.random.Generator, budgets: AuctionBudgets) -> AuctionDraw:
    """The auctions of ticks [start, end) (one phase); `period` (n,) the reporting period of
    each tick. Budget state is read, not changed (`commit_auctions` books the ticks kept)."""
    n, G = end - start, au.G
    shape = au.shape[start:end]
    starts = np.r_[0, np.flatnonzero(np.diff(period)) + 1]
    cell = np.cumsum(np.isin(np.arange(n), starts)) - 1
    lam = np.add.reduceat(au.rate[start:end], starts, axis=0)                 # (H', G) auctions
    shown = au.shown[phase]                                                    # (G, J)
    w = shown.sum(axis=1)
    imps = poisson_quantile(volume_rng.random(lam.shape), lam * w[None, :])   # (H', G)
    lost = rng.poisson(lam * np.clip(1.0 - w, 0.0, 1.0)[None, :])
    pos_p = np.where(w[:, None] > 0, shown / np.where(w > 0, w, 1.0)[:, None], 1.0 / shown.shape[1])
    by_pos = rng.multinomial(imps, np.broadcast_to(pos_p, imps.shape + pos_p.shape[1:]))   # (H', G, J)
    clicks = rng.binomial(by_pos, au.ctr)
    nonclick = imps - clicks.sum(axis=2)

    # each click: a cell, group and position; a tick by the calendar shape; a price
    flat = clicks.ravel()
    idx = np.repeat(np.arange(flat.size), flat)
    h, rest = np.divmod(idx, G * clicks.shape[2])
    g, j = np.divmod(rest, clicks.shape[2])
    cum = np.r_[0.0, np.cumsum(shape)]
    ends = np.r_[starts[1:], n]
    lo, hi = cum[starts[h]], cum[ends[h]]
    x = lo + rng.random(idx.size) * (hi - lo)
    t = np.clip(np.searchsorted(cum, x, side="right") - 1, starts[h], ends[h] - 1)
    offset = np.clip((x - cum[t]) / np.where(shape[t] > 0, shape[t], 1.0), 0.0, 1.0)
    price = au.price(phase, g, j, rng.random(idx.size))

    # budgets: the closed-form line per owner, then the ticks where it binds, click by click
    O = len(au.owners)
    owner = au.owner[g]
    charge = price.copy()
    served = np.ones(idx.size, dtype=bool)
    keep_o = np.ones((n, O))
    S = np.zeros((n, O))
    exhausted = []
    if O:
        mine = owner >= 0
        planned = np.bincount(t[mine] * O + owner[mine], weights=price[mine], minlength=n * O).reshape(n, O)
        line, allowed = budgets.lines(start, end)
        S = np.maximum(paced(planned, line), 0.0)
        before = np.vstack([np.zeros((1, O)), S[:-1]])
        room = line - before                                                    # at each tick's start
        allowance = S - before
        binding = allowance < planned - EPS * np.maximum(1.0, planned)
        keep_o = np.where(room <= EPS, 0.0, 1.0)
        hit = np.flatnonzero(mine & binding[t, np.maximum(owner, 0)])
        if hit.size:
            order = hit[np.lexsort((offset[hit], t[hit], owner[hit]))]
            key = t[order] * O + owner[order]
            cs = np.cumsum(price[order])
            first = np.r_[True, key[1:] != key[:-1]]
            base = np.maximum.accumulate(np.where(first, cs - price[order], 0.0))
            excl = cs - price[order] - base                                     # spent in the tick before it
            room_t = allowance[t[order], owner[order]]
            ok = excl < room_t - EPS
            served[order] = ok
            charge[order] = np.where(ok, np.minimum(price[order], room_t - excl), 0.0)
            tb, ob = np.nonzero(binding & (room > EPS))
            keep_o[tb, ob] = 0.0                                                # no click served: out at once
            last = np.flatnonzero(ok & np.r_[~ok[1:] | (key[1:] != key[:-1]), True])
            keep_o[t[order[last]], owner[order[last]]] = offset[order[last]]   # out after the crossing click
        for o in np.flatnonzero(np.isfinite(allowed) & (allowed > 0)):
            reached = np.flatnonzero(S[:, o] >= allowed[o] * (1 - 1e-12))
            if reached.size:
                exhausted.append((int(reached[0]), int(o), float(budgets.spent_today[o] + allowed[o])))
    keep = np.ones((n, G))
    has = au.owner >= 0
    keep[:, has] = keep_o[:, au.owner[has]]
    t, g, charge = t[served], g[served], charge[served]
    return AuctionDraw(
        start=start, clicks=np.bincount(t, minlength=n).astype(np.int64),
        spend=np.bincount(t, weights=charge, minlength=n), t=t, g=g, charge=charge, S=S, keep=keep,
        cell=cell, period0=int(period[0]), nonclick=nonclick, lost=lost, exhausted=exhausted)


def commit_auctions(au: AuctionChannel, d: AuctionDraw, budgets: AuctionBudgets, rng: np.random.Generator,
                    rec, keep: int) -> None:
    """Book the first `keep` ticks of a draw: budgets, spend, events, ad-group counts
    (impressions without a click and lost auctions of a cell are thinned by the share of the
    cell's auctions that fell while the group took part)."""
    if keep < d.clicks.size:
        d.truncate(keep)
    if d.S.shape[1] and keep:
        spent = d.S[keep - 1]
        budgets.spent_today += spent
        budgets.daily_left -= spent
        budgets.total_left -= spent
    for rel, o, value in d.exhausted:
        rec.events.append((d.start + rel, "budget_exhausted", au.owners[o], value))
    Hc = d.nonclick.shape[0]
    shape = au.shape[d.start:d.start + d.cell.size]
    mass = np.bincount(d.cell, weights=shape, minlength=Hc)
    took = np.stack([np.bincount(d.cell, weights=shape * d.keep[:, g], minlength=Hc) for g in range(au.G)], axis=1)
    frac = np.clip(np.where(mass[:, None] > 0, took / np.where(mass > 0, mass, 1.0)[:, None], 0.0), 0.0, 1.0)
    used = slice(0, int(d.cell[keep - 1]) + 1 if keep else 0)
    nonclick = rng.binomial(d.nonclick[used], frac[used])
    lost = rng.binomial(d.lost[used], frac[used])
    rows = d.period0 + np.arange(nonclick.shape[0])
    book = rec.ad_groups[au.name]
    cell_t = d.cell[d.t]
    clicks = np.bincount(cell_t * au.G + d.g, minlength=Hc * au.G).reshape(Hc, au.G)[used]
    spend = np.bincount(cell_t * au.G + d.g, weights=d.charge, minlength=Hc * au.G).reshape(Hc, au.G)[used]
    book["clicks"][rows] += clicks
    book["impressions"][rows] += clicks + nonclick
    book["auctions"][rows] += clicks + nonclick + lost
    book["ad_spend"][rows] += spend
    rec.by_channel["ad_spend"][rows, au.c] += spend.sum(axis=1)
