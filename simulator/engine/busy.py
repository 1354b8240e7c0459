"""Busy slots: a slot (tick × visit row) with more buyers than `visitors.ONE_BY_ONE` splits them
over the categories by a multinomial — per slot, or, where a stretch's purchase tables are
constant, per slot for the fine categories and per group for the rest (`engine.coarse`).

Columns of a slot's multinomial, in order: the categories drawn per slot; the SKUs out of
stock whose first empty-shelf demand is still to come, segments lumped — (SKU, class), the
segment drawn later (`visitors.resolve_segments`); with grouping, the SKUs out of stock and in
a stock-out, one column each (their buyers per tick make the stock-out minutes); and the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.coarse import Coarse
from simulator.engine.lines import Lines

MARGIN_SD = 6.0          # a SKU is fine when its stretch demand could reach its stock within this many sd
MARGIN_UNITS = 20.0      # … plus these units (small counts)
TOP_UP = 1.5             # … with every order's mean units raised by this factor (top-up, 凑单, adds units
                         #   even to one-unit baskets: +34 % on a bundled gift set)


@dataclass(frozen=True)
class Grouping:
    """How a stretch groups its busy slots: `period` (n,) the reporting period of each tick,
    `fine` (K,) bool SKUs drawn per slot, `pooled` (K,) bool SKUs out of stock and in a
    stock-out, `left` (J,) coupons left in each pool (a class whose pool may empty is fine)."""

    period: np.ndarray
    fine: np.ndarray
    pooled: np.ndarray
    left: np.ndarray


def grouping(period: np.ndarray, tab, visits: np.ndarray, st, reorder_point: np.ndarray,
             basket_mean: np.ndarray, dead: np.ndarray | None, left: np.ndarray,
             carts: np.ndarray, apart: np.ndarray | None = None, fine: np.ndarray | None = None) -> Grouping | None:
    """The stretch's `Grouping` (where the tables vary, one per reporting period, a group lies in
    one period, so in one table): a SKU is fine where its
    expected units (visits (n, R) × purchase probabilities, plus the `carts` (K,) paying in the
    stretch, × basket) plus MARGIN_SD standard deviations and MARGIN_UNITS reach what is on the
    shelf or the units to its reorder point. SKUs `apart` (K,) are never pooled in a stock-out
    (their buyers may switch SKU at their ticks: `engine.switching`); SKUs `fine` (K,) are fine
    (their buyers may repay a pull-forward debt: `engine.pull`).
    A SKU found to reach them after all is placed on its ticks then (`Coarse.place`): the margin
    decides the cost, never the law."""
    R = visits.shape[1]
    K = basket_mean.shape[0]
    by_table = np.zeros((tab.buy.shape[0], R))
    np.add.at(by_table, tab.table(np.arange(visits.shape[0])), visits)                # (B, R) visits per table
    orders = np.einsum("br,brk->k", by_table, tab.buy.reshape(-1, R, K, tab.buy.shape[2] // K).sum(axis=3)) + carts
    per = TOP_UP * (1.0 + basket_mean.max(axis=1))
    units = orders * per
    reach = units + MARGIN_SD * np.sqrt(units * per) + MARGIN_UNITS
    room = np.where(reorder_point >= 0,
                    np.minimum(st.on_hand, st.on_hand + st.held + st.on_order - reorder_point), st.on_hand)
    no = np.zeros(K, dtype=bool) if dead is None else dead
    pooled = no & st.in_stockout if apart is None else no & st.in_stockout & ~apart
    fine = (reach >= room) if fine is None else (reach >= room) | fine
    return Grouping(period, fine & ~no, pooled, left)


def at_risk(st, lines: Lines, reorder_point: np.ndarray, owed: np.ndarray | None = None) -> np.ndarray:
    """(L,) bool: lines of SKUs whose stretch demand (`lines.units`) reaches what is on the
    shelf, or the units to the reorder point, or that owe a pull-forward debt (`owed` (K,)) —
    where a coarse line must be placed on its ticks."""
    units = np.bincount(lines.k, weights=lines.units, minlength=st.on_hand.size)
    to_reorder = st.on_hand + st.held + st.on_order - reorder_point
    risky = (units >= st.on_hand) | ((reorder_point >= 0) & (units >= to_reorder))
    if owed is not None:
        risky |= owed > 0
    return risky[lines.k]


@dataclass
class Busy:
    """A stretch's busy slots split: per-slot `keys` (slot · CAT + category) with `counts`,
    per-slot `lumped` lines, and `coarse` lines of the `groups`."""

    keys: np.ndarray
    counts: np.ndarray
    lumped: Lines
    coarse: Lines
    groups: Coarse


def busy_slots(flat, big, tab, rows, gen, start, K, S, dead, how: Grouping | None, fresh_buyers: int,
               claims: np.ndarray) -> Busy:
    """Split the buyers `flat[big]` of busy slots `big` (flat tick × row indices); `dead` (K,)
    SKUs losing their whole demand (segments lumped), `how` the grouping (None: per slot);
    `fresh_buyers` and `claims` (J,) the stretch's totals (a pool they may empty is fine)."""
    R, G = rows.R, tab.G
    CAT = K * S * G
    out = np.zeros(K, dtype=bool) if dead is None else dead           # SKUs out of stock all stretch
    dead = np.zeros(K, dtype=bool) if tab.varies else out              # lumped only under one table
    pooled, risky = np.zeros(K, dtype=bool), np.zeros(G, dtype=bool)
    keep = ~np.repeat(dead, S * G)
    if how is not None:
        pooled = how.pooled & dead
        J = how.left.size                                                       # claim classes 1 … J
        risky[1:J + 1] = (how.left > 0) & (claims + fresh_buyers >= how.left)  # a pool that may empty
        keep = (np.repeat(how.fine | (out & ~dead), S * G) | np.tile(risky, K * S)) & keep   # (not coarse)
        gk = how.period[big // R] * R + big % R
        order = np.argsort(gk, kind="stable")
        big, gk = big[order], gk[order]
    lump = dead[:, None] & (~pooled[:, None] | risky[None, :])                  # (K, G) drawn per slot
    probs = tab.buy.reshape(-1, CAT)                                                # (tables, CAT)
    by_class = probs.reshape(-1, K, S, G).sum(axis=2)                              # (tables, K, G)
    kc = np.flatnonzero(keep)
    cols = [probs[:, kc], by_class[:, lump]]
    if how is not None:
        rest = ~keep & ~np.repeat(dead, S * G)
        cols += [(by_class * ~risky)[:, pooled].sum(axis=2), probs[:, rest].sum(axis=1, keepdims=True)]
    pv = np.concatenate(cols, axis=1)
    pv = (pv / pv.sum(axis=1, keepdims=True))[tab.table(big // R) * R + big % R]       # (m, columns)
    draw = gen.multinomial(flat[big], pv)
    a, b = kc.size, kc.size + int(lump.sum())
    i, c = np.nonzero(draw[:, :a])
    keys, counts = big[i] * CAT + kc[c], draw[i, c]
    i, c = np.nonzero(draw[:, a:b])
    kd, g = np.nonzero(lump)
    t_rel, r = np.divmod(big[i], R)
    lumped = Lines(start + t_rel, kd[c], np.full(c.size, -1), rows.channel[r], draw[i, a + c].astype(np.int64),
                   None, g[c] if G > 1 else None, r)
    if how is None:
        return Busy(keys, counts, lumped, Lines.empty(), Coarse.none())
    head = np.flatnonzero(np.r_[True, gk[1:] != gk[:-1]])
    coarse, groups = _groups(draw[:, b:], big, head, tab, rows, gen, start, K, S, rest, pooled, risky)
    return Busy(keys, counts, lumped, coarse, groups)


def _groups(draw, big, head, tab, rows, gen, start, K, S, rest, pooled, risky) -> tuple[Lines, Coarse]:
    """Coarse lines of the groups (reporting period × row, from `head` in the sorted busy slots
    `big`): the rest pool's buyers over the `rest` (CAT,) categories, and each `pooled` SKU's
    over its classes but the `risky` ones, by one multinomial per group; `draw` (m, pooled + 1)
    the slots' counts."""
    R, G = rows.R, tab.G
    m, H = big.size, head.size
    Dp = draw.shape[1] - 1
    pools = 1 + Dp
    per_slot = np.concatenate([draw[:, -1]] + [draw[:, d] for d in range(Dp)])
    ptr = np.r_[(np.arange(pools)[:, None] * m + head[None, :]).ravel(), pools * m]
    groups = Coarse(np.tile(start + big // R, pools), per_slot.astype(np.int64), ptr)
    first, r_h = start + big[head] // R, big[head] % R
    total = np.add.reduceat(draw, head, axis=0)                                   # (H, pools)
    rc = np.flatnonzero(rest)
    parts = []
    if rc.size:
        t_h = tab.table(big[head] // R)                                           # a group lies in one period
        pr = tab.buy[t_h, r_h][:, rc]
        split = gen.multinomial(np.where(pr.sum(axis=1) > 0, total[:, -1], 0), _norm(pr))
        h, c = np.nonzero(split)
        cell, g = np.divmod(rc[c], G)
        k, s = np.divmod(cell, S)
        parts.append(Lines(first[h], k, s, rows.channel[r_h[h]], split[h, c].astype(np.int64), None,
                           g if G > 1 else None, r_h[h], None, h))
    if Dp:
        kp = np.flatnonzero(pooled)
        pc = tab.buy[tab.table(big[head] // R), r_h].reshape(H, K, S, G)[:, kp].sum(axis=2) * ~risky   # (H, Dp, G)
        n_pool = np.where(pc.sum(axis=2) > 0, total[:, :Dp], 0)
        split = gen.multinomial(n_pool.ravel(), _norm(pc.reshape(-1, G))).reshape(H, Dp, G)
        h, d, g = np.nonzero(split)
        parts.append(Lines(first[h], kp[d], np.full(h.size, -1), rows.channel[r_h[h]],
                           split[h, d, g].astype(np.int64), None, g if G > 1 else None, r_h[h], None,
                           (d + 1) * H + h))
    return Lines.concat(parts), groups


def _norm(p: np.ndarray) -> np.ndarray:
    """Rows of `p` scaled to sum to 1 (a row of zeros: uniform; its count is 0)."""
    s = p.sum(axis=1, keepdims=True)
    return np.where(s > 0, p / np.where(s > 0, s, 1.0), 1.0 / p.shape[1])
