"""Coarse lines: the buyers of a busy reporting period split by category once per visit row,
their ticks resolved only where a tick matters (docs/model.md, "Busy hours").

A busy slot (tick × visit row with more buyers than `visitors.ONE_BY_ONE`) splits its B_t
buyers over the categories by one multinomial. The purchase tables being constant over each
reporting period (one table per period where they vary), that multinomial is drawn in two
steps, exactly: per slot over the *fine* categories
(the SKUs whose tick matters: stock that may run out or reach its reorder point, an empty
shelf's first demand; coupon classes whose pool may empty), each SKU out of stock as one
*pool*, and one *rest* pool; then per group — reporting period × row × pool — the pool's
buyers of all the group's slots over its categories by one multinomial (a sum of multinomials
of one law is a multinomial). A *coarse* line holds a category's buyers of a group, at the
group's first tick; records keep hours, so booking needs nothing finer, and cost follows
groups × categories instead of busy slots × categories.

Each group keeps its slots' ticks and how many of its pool's buyers each slot holds (`free`).
Given the group's category counts, which slot holds which buyer is a uniform arrangement
(exchangeability of the per-slot draws), so a tick is resolved exactly where one is needed
after all: `place` draws a label's buyers over the slots' free places (a multivariate
hypergeometric, slot by slot), label after label; `split_at` divides a group's labels at a
cut (a hypergeometric per label). Places taken are removed, so resolutions in several steps
of a stretch stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.keyed import keyed_ids
from simulator.engine.lines import Lines
from simulator.engine.orders import Orders, by_sku_tick


@dataclass
class Coarse:
    """The groups of a stretch: group h's slots are `ptr[h]:ptr[h+1]`, in tick order, with their
    absolute `tick` (M,) and `free` (M,): the group's buyers each slot holds that are still on
    coarse lines."""

    tick: np.ndarray
    free: np.ndarray
    ptr: np.ndarray

    @classmethod
    def none(cls) -> "Coarse":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, np.zeros(1, dtype=np.int64))

    def _slots(self, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(len(hs), width) indices of groups `hs`' slots and the mask of real ones."""
        size = self.ptr[hs + 1] - self.ptr[hs]
        col = np.arange(int(size.max()) if hs.size else 0)
        valid = col[None, :] < size[:, None]
        return np.where(valid, self.ptr[hs][:, None] + col[None, :], 0), valid

    def per_tick(self, grp: np.ndarray, k: np.ndarray, K: int, start: int, n: int) -> np.ndarray:
        """(K, n) buyers per tick of the groups `grp` (distinct), each of SKU `k` (a stock-out pool)."""
        out = np.zeros((K, n), dtype=np.int64)
        if grp.size:
            idx, valid = self._slots(grp)
            t = np.where(valid, self.tick[idx] - start, n)
            valid &= t < n                                       # slots after a cut: emptied, dropped
            kk = np.broadcast_to(k[:, None], idx.shape)[valid]
            np.add.at(out, (kk, t[valid]), self.free[idx[valid]])
        return out

    def place(self, grp: np.ndarray, count: np.ndarray, gen: np.random.Generator):
        """Ticks of `count` (N,) buyers of N labels, label i in group `grp[i]`, label after label
        (each a multivariate hypergeometric over its group's free places, vectorized over groups):
        returns pieces (label, tick, buyers) and takes their places."""
        order = np.argsort(grp, kind="stable")
        g = grp[order]
        start = np.r_[True, g[1:] != g[:-1]] if g.size else g.astype(bool)
        rank = np.arange(g.size) - np.maximum.accumulate(np.where(start, np.arange(g.size), 0))
        out = ([], [], [])
        for i in range(int(rank.max()) + 1 if g.size else 0):
            lab = order[rank == i]                                   # one label per group
            idx, valid = self._slots(grp[lab])
            free = np.where(valid, self.free[idx], 0)
            after = np.cumsum(free[:, ::-1], axis=1)[:, ::-1] - free
            left = count[lab].astype(np.int64)
            x = np.zeros_like(free)
            for j in range(free.shape[1]):
                on = left > 0
                if not on.any():
                    break
                x[on, j] = gen.hypergeometric(free[on, j], after[on, j], left[on])
                left -= x[:, j]
            self.free[idx[valid]] -= x[valid]
            r, c = np.nonzero(x)
            for part, v in zip(out, (lab[r], self.tick[idx[r, c]], x[r, c])):
                part.append(v)
        return tuple(np.concatenate(p) if p else np.zeros(0, dtype=np.int64) for p in out)

    def split_at(self, grp: np.ndarray, count: np.ndarray, cut: int, gen: np.random.Generator) -> np.ndarray:
        """(N,) the buyers of each label (`grp`, `count` as in `place`; every coarse label of its
        group) in the group's slots before tick `cut`; the slots from `cut` on are emptied (their
        buyers go with the rest of the stretch). Per group the labels share the places before
        the cut by a multivariate hypergeometric, label after label."""
        hs, gi = np.unique(grp, return_inverse=True)
        idx, valid = self._slots(hs)
        before = valid & (self.tick[idx] < cut)
        left = np.where(before, self.free[idx], 0).sum(axis=1)            # places before the cut
        remaining = np.bincount(gi, weights=count, minlength=hs.size).astype(np.int64)
        self.free[idx[valid & ~before]] = 0
        order = np.argsort(gi, kind="stable")
        g = gi[order]
        start = np.r_[True, g[1:] != g[:-1]] if g.size else g.astype(bool)
        rank = np.arange(g.size) - np.maximum.accumulate(np.where(start, np.arange(g.size), 0))
        out = np.zeros(grp.size, dtype=np.int64)
        for i in range(int(rank.max()) + 1 if g.size else 0):
            lab = order[rank == i]                                   # one label per group
            h, c = gi[lab], count[lab].astype(np.int64)
            remaining[h] -= c
            out[lab] = gen.hypergeometric(c, remaining[h], left[h])
            left[h] -= out[lab]
        return out

    def straddling(self, lines: Lines, cut: int) -> np.ndarray:
        """(L,) bool: coarse lines whose group has slots both before `cut` and from it on."""
        on = lines.coarse
        out = np.zeros(lines.size, dtype=bool)
        if on.any():
            last = self.tick[self.ptr[1:] - 1]
            out[on] = (lines.t[on] < cut) & (last[lines.grp[on]] >= cut)
        return out

    def cut_lines(self, lines: Lines, cut: int, gen: np.random.Generator) -> Lines:
        """`lines` with the coarse lines of groups that straddle `cut` keeping only their buyers
        before it (`split_at`); lines left empty are dropped."""
        on = np.flatnonzero(self.straddling(lines, cut))
        if not on.size:
            return lines
        lines = lines.take(slice(None))
        lines.n = lines.n.copy()
        lines.n[on] = self.split_at(lines.grp[on], lines.n[on], cut, gen)
        return lines.take(lines.n > 0)

    def cut_orders(self, lines: Lines, orders: Orders, cut: int, gen: np.random.Generator,
                   carts: Lines) -> tuple[Lines, Orders, Lines]:
        """`cut_lines` for a stretch's lines with class rows `orders` and its warm-up `carts`
        (no rows), which may share groups: the rows of straddling coarse lines and the straddling
        carts keep their buyers before `cut`, in one split per group; rows and lines left empty
        are dropped."""
        on, on_c = self.straddling(lines, cut), np.flatnonzero(self.straddling(carts, cut))
        if not on.any() and not on_c.size:
            return lines, orders, carts
        rows = np.flatnonzero(on[orders.line])
        kept = self.split_at(np.r_[lines.grp[orders.line[rows]], carts.grp[on_c] if on_c.size else []].astype(np.int64),
                             np.r_[orders.n[rows], carts.n[on_c]].astype(np.int64), cut, gen)
        orders = orders.take(slice(None))
        orders.n = orders.n.copy()
        orders.n[rows] = kept[:rows.size]
        orders = orders.take(orders.n > 0)
        lines = lines.take(slice(None))
        lines.n = orders.per_line(orders.n, lines.size)
        lines.units = orders.per_line(orders.n * orders.want, lines.size)
        keep = lines.n > 0
        carts = carts.take(slice(None))
        carts.n = carts.n.copy()
        carts.n[on_c] = kept[rows.size:]
        return lines.take(keep), orders.of_lines(keep), carts.take(carts.n > 0)

    def pooled_per_tick(self, lines: Lines, K: int, start: int, n: int) -> np.ndarray:
        """(K, n) buyers per tick of the coarse lines of SKUs pooled in a stock-out (`engine.busy`,
        segments lumped: s = −1): their groups' slots hold them."""
        mine = lines.coarse & (lines.s < 0)
        if not mine.any():
            return np.zeros((K, n), dtype=np.int64)
        grp, at = np.unique(lines.grp[mine], return_index=True)
        return self.per_tick(grp, lines.k[mine][at], K, start, n)

    def refine_orders(self, lines: Lines, orders: Orders, which: np.ndarray, gen: np.random.Generator,
                      n_ticks: int) -> tuple[Lines, Orders]:
        """`lines` (sorted by SKU, tick) and their class rows `orders` with the coarse lines where
        `which` (L,) placed on their ticks order by order (`place`): a piece of a class row per
        tick, a line per coarse line × tick, a piece's row key its row's and tick's; lines
        sorted by SKU, tick again (`n_ticks` the campaign's), their rows with them."""
        pick = which & lines.coarse
        if not pick.any():
            return lines, orders
        rows = np.flatnonzero(pick[orders.line])
        lab, tick, n = self.place(lines.grp[orders.line[rows]], orders.n[rows], gen)
        row = rows[lab]
        src = orders.line[row]
        pair, new_line = np.unique(src * (int(tick.max()) + 1) + tick, return_inverse=True)
        first = np.zeros(pair.size, dtype=np.int64)
        first[new_line] = np.arange(new_line.size)                               # a piece of each new line
        new = lines.take(src[first])
        new.t = tick[first]
        new.n = np.bincount(new_line, weights=n, minlength=pair.size).astype(np.int64)
        new.grp = np.full(pair.size, -1, dtype=np.int64)
        kept = lines.size - int(pick.sum())
        pieces = Orders(new_line + kept, orders.want[row], n, keyed_ids(np.uint64(0), orders.key[row], tick),
                        orders.got[row], orders.mask[row])
        return by_sku_tick(Lines.concat([lines.take(~pick), new]), Orders.concat([orders.of_lines(~pick), pieces]),
                           n_ticks)
