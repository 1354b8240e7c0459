"""The clicks of budgeted ad groups in one chunk, drawn only as far as a budget can use them.

A pool is one reporting period ("cell") of the chunk and one budget owner. Its clicks per
class (ad group × position) are fixed by the plan; each falls in one of the cell's ticks
independently, by the calendar shape, so the clicks per tick and owner `c` (n, O) are one
multinomial per pool. Given those counts, which click goes where is a uniformly random deal
of the pool's multiset of classes, and a tick's clicks come in a uniformly random (time)
order. `grow` draws the next clicks of chosen ticks in that order: their classes are the next
members of a uniformly random order of the pool's multiset (sampling without replacement,
`_distinct`), their prices fresh by the second price. A tick where the budget binds uses a
prefix of its clicks only, so only that prefix needs drawing: cost follows the clicks bought,
not the clicks on offer.
"""

from __future__ import annotations

import numpy as np

from simulator.auctions import AuctionChannel


class ClickPool:
    """Owned clicks of one chunk of n ticks and O owners (see module docstring)."""

    def __init__(self, au: AuctionChannel, phase: int, clicks: np.ndarray, starts: np.ndarray,
                 widths: np.ndarray, shape: np.ndarray, rng: np.random.Generator):
        """`clicks` (H', G, J) per cell, ad group and position; `starts`, `widths` (H',) the
        cells' first relative tick and length; `shape` (n,) the calendar weight of each tick."""
        H, J, O = starts.size, au.ctr.size, len(au.owners)
        groups = np.flatnonzero(au.owner >= 0)
        groups = groups[np.argsort(au.owner[groups], kind="stable")]
        counts = clicks[:, groups, :].reshape(H, -1)                             # (H', E) entries by owner
        self.O = O
        self.entry_cls = np.tile((groups[:, None] * J + np.arange(J)[None, :]).ravel(), H)   # (H'·E,) entry → class
        pool = (np.arange(H)[:, None] * O + np.repeat(au.owner[groups], J)[None, :]).ravel()
        self.size = np.bincount(pool, weights=counts.ravel(), minlength=H * O).astype(np.int64)
        self.off = np.r_[0, np.cumsum(self.size)[:-1]]                           # (H'·O,) first position
        self.cum = np.cumsum(counts.ravel())                                     # entry e: positions < cum[e]
        self.left = self.size.copy()                                             # not drawn yet
        self.taken = np.zeros(int(self.size.sum()), dtype=bool)
        self.cell = np.repeat(np.arange(H), widths)                              # (n,)
        W = int(widths.max())
        col = np.arange(W)[None, :] - (W - widths)[:, None]                      # the cell's tick, or < 0
        valid = col >= 0
        mass = np.add.reduceat(shape, starts)
        pv = np.zeros((H, W))                                                    # padding first: numpy
        pv[valid] = shape / np.repeat(np.where(mass > 0, mass, 1.0), widths)     # takes the last as the rest
        per_tick = rng.multinomial(self.size.reshape(H, O), np.broadcast_to(pv[:, None, :], (H, O, W)))
        self.c = per_tick.transpose(0, 2, 1)[valid]                              # (n, O) clicks per tick
        self.k = np.zeros_like(self.c)                                           # drawn so far
        self.sums = np.zeros(self.c.shape)                                       # their money
        self.key = np.zeros(0, dtype=np.int64)                                   # drawn clicks: tick·O + owner,
        self.slot = np.zeros(0, dtype=np.int64)                                  #   rank in the tick's order,
        self.cls = np.zeros(0, dtype=np.int64)                                   #   class,
        self.price = np.zeros(0)                                                 #   second price
        self.table = au.price_table(phase)
        mean_cls = au.mean_price(phase)
        money = np.bincount(pool, weights=counts.ravel() * mean_cls[self.entry_cls], minlength=H * O)
        mean_pool = np.where(self.size > 0, money / np.maximum(self.size, 1), 1.0)
        self.mean = np.maximum(mean_pool.reshape(H, O)[self.cell], 1e-12)       # (n, O) a click's mean price

    def complete(self, r0: int) -> np.ndarray:
        """(n − r0, O) whether every click of a tick from `r0` on is drawn."""
        return self.k[r0:] == self.c[r0:]

    def grow(self, r0: int, want: np.ndarray, au: AuctionChannel, rng: np.random.Generator) -> None:
        """Draw clicks of ticks r0… until each (tick, owner) holds `want` (n − r0, O) of them
        (at most `c`): the next in each tick's order."""
        O = self.O
        more = (want - self.k[r0:]).ravel()
        keys = np.flatnonzero(more > 0)
        if not keys.size:
            return
        m = more[keys]
        keys = keys + r0 * O                                                     # chunk keys: tick·O + owner
        pool = self.cell[keys // O] * O + keys % O
        order = np.argsort(pool, kind="stable")                                  # pool by pool, ticks in order
        keys, m, pool = keys[order], m[order], pool[order]
        entry = self._distinct(np.bincount(pool, weights=m, minlength=self.size.size).astype(np.int64), rng)
        key = np.repeat(keys, m)
        first = np.r_[0, np.cumsum(m)[:-1]]
        slot = self.k.ravel()[keys].repeat(m) + np.arange(key.size) - np.repeat(first, m)
        cls = self.entry_cls[entry]
        price = au.price(self.table, cls, rng.random(cls.size))
        self.k.ravel()[keys] += m
        self.sums += np.bincount(key, weights=price, minlength=self.sums.size).reshape(self.sums.shape)
        if self.key.size:
            key, slot, cls, price = (np.r_[a, b] for a, b in ((self.key, key), (self.slot, slot),
                                                               (self.cls, cls), (self.price, price)))
        self.key, self.slot, self.cls, self.price = key, slot, cls, price

    def _distinct(self, need: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Entries of `need` (pools,) further clicks per pool, pool by pool, each pool's in the
        order of a uniformly random permutation of what it has not drawn. A pool that wants
        half or more of what is left orders all of it; the others draw positions with
        replacement and keep those not yet drawn and sighted once."""
        need = need.copy()
        got = []
        while need.any():
            p = np.flatnonzero(need)
            dense = 2 * need[p] >= self.left[p]
            whole = p[dense & (need[p] == self.size[p])]                          # drawn in one go: no bookkeeping
            if whole.size:
                got.append(self._whole(whole, rng))
                self.left[whole] = 0
                need[whole] = 0
                dense &= need[p] > 0
            for pools, all_left in ((p[dense], True), (p[~dense & (need[p] > 0)], False)):
                if not pools.size:
                    continue
                x, entry, pool = self._all_left(pools, rng) if all_left else self._sample(pools, need, rng)
                change = np.r_[True, pool[1:] != pool[:-1]]
                start = np.flatnonzero(change)
                use = np.arange(pool.size) - start[np.cumsum(change) - 1] < need[pool]   # the first `need` of each
                x, entry, pool = x[use], entry[use], pool[use]
                self.taken[x] = True
                n = np.bincount(pool, minlength=need.size)
                need -= n
                self.left -= n
                got.append((entry, pool))
        if len(got) == 1:
            return got[0][0]
        entry, pool = (np.concatenate(a) for a in zip(*got))
        return entry[_by_pool(pool)]

    def _entries(self, pools: np.ndarray) -> np.ndarray:
        """Entry of every position of `pools`, pool by pool."""
        lo = np.searchsorted(self.cum, self.off[pools], side="right")
        hi = np.searchsorted(self.cum, self.off[pools] + self.size[pools] - 1, side="right") + 1
        span = hi - lo
        entry = np.arange(span.sum()) + np.repeat(lo - np.r_[0, np.cumsum(span)[:-1]], span)
        return np.repeat(entry, np.diff(np.r_[0, self.cum])[entry])

    def _whole(self, pools: np.ndarray, rng: np.random.Generator):
        """Every click of `pools`, none drawn before: (entry, pool), each pool's in random order."""
        entry, pool = self._entries(pools), np.repeat(pools, self.size[pools])
        perm = rng.permutation(entry.size)
        order = perm[_by_pool(pool[perm])]
        return entry[order], pool[order]

    def _all_left(self, pools: np.ndarray, rng: np.random.Generator):
        """Every position not yet drawn of `pools` with its entry, each pool's in random order."""
        size = self.size[pools]
        entry, pool = self._entries(pools), np.repeat(pools, size)
        x = np.arange(pool.size) + np.repeat(self.off[pools] - np.r_[0, np.cumsum(size)[:-1]], size)
        free = ~self.taken[x]
        x, entry, pool = x[free], entry[free], pool[free]
        perm = rng.permutation(x.size)
        order = perm[_by_pool(pool[perm])]
        return x[order], entry[order], pool[order]

    def _sample(self, pools: np.ndarray, need: np.ndarray, rng: np.random.Generator):
        """Positions drawn with replacement, a few more than `need` of `pools` asks, in the
        order drawn, with their entries; kept where not drawn before and sighted once only.
        Dropping every position sighted twice treats all positions alike, so what is kept is
        still a uniformly random order of distinct positions (the law of the draws does not
        change when the positions are relabelled)."""
        size, left = self.size[pools], self.left[pools]
        draws = np.ceil(need[pools] * size / left * 1.1).astype(np.int64) + 4
        pool = np.repeat(pools, draws)
        x = self.off[pool] + (rng.random(pool.size) * self.size[pool]).astype(np.int64)
        np.minimum(x, self.off[pool] + self.size[pool] - 1, out=x)
        free = ~self.taken[x]
        x, pool = x[free], pool[free]
        if x.size:
            lo = x.min()
            once = np.bincount(x - lo)[x - lo] == 1
            x, pool = x[once], pool[once]
        return x, np.searchsorted(self.cum, x, side="right"), pool


def _by_pool(pool: np.ndarray) -> np.ndarray:
    """Stable order by pool id (a radix sort when the ids fit 16 bits)."""
    small = pool.size and pool.max() < 2 ** 16
    return np.argsort(pool.astype(np.uint16) if small else pool, kind="stable")
