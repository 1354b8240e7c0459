"""Warm-up carts in the fast engine: pooled during a warm-up, paid through from the start of
its sale phase (docs/model.md, "Warm-up carts").

The carts of a warm-up stretch are pooled by coupon class × SKU × segment × channel (`pool`).
Each warm-up's payments are a SimPy process waiting on the moment its sale phase starts
(`engine.moments`, ("phase_start", the sale phase), opened by the campaign process at that
tick from the plan's fixed events): then each pooled cart pays with `cart_pay_through`
(binomial), spread over the plan's payment profile (multinomial), and the payments wait as cart
lines (`pending`) for the stretch of their tick.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.lines import Lines, first_of_cell
from simulator.engine.moments import PHASE


class Carts:
    """The carts of one replication: the pools, the payments' processes and the lines due."""

    def __init__(self, model, rows, books, moments, rng, G: int):
        self.m, self.rows, self.books, self.moments, self.rng = model, rows, books, moments, rng
        self.K, self.S, self.C, self.G = len(model.skus), len(model.segments), len(model.channels), G
        self.pooled: dict[int, np.ndarray] = {}        # warm-up phase → (G, K, S, C) carts
        self.pending = Lines.empty()                   # cart lines paying from now on
        starts = {subject: tick for tick, kind, subject, _ in model.fixed_events if kind == "phase_start"}
        sales = [model.phases[int(model.pay_phase[cp.phase])] for cp in model.carts]
        for sale in dict.fromkeys(sales):                              # each sale phase's start, once
            moments.due(starts[sale], (PHASE,), "phase_start", sale)
        for cp, sale in zip(model.carts, sales):
            moments.env.process(self._pay(cp, sale))

    def pool(self, ch, rec, carts: Lines) -> None:
        """A warm-up stretch's carts: recorded per hour, pooled by coupon class (G, K, S, C)."""
        pool = np.zeros((self.G, self.K, self.S, self.C))
        for cls in range(self.G):
            part = carts.take(carts.cls == cls)
            pool[cls] = self.books.attribute(ch, part, part.n, part.n).orders.sum(axis=0)
        self.books.carts(ch, rec, self.books.attribute(ch, carts, carts.n, carts.n).orders)
        self.pooled[ch.phase] = self.pooled.get(ch.phase, 0) + pool

    def _pay(self, cp, sale: str):
        """The payments of a warm-up's carts (`cp`, the plan's `CartPayment`): at the moment its
        sale phase starts, its pooled carts pay through, spread over the plan's profile; a cart
        keeps its coupon class and is a buyer of its channel's cart row."""
        yield self.moments.next("phase_start", sale)
        first, profile, phase = cp.first, cp.profile, cp.phase
        if phase not in self.pooled:
            return
        S, C, K, G = self.S, self.C, self.K, self.G
        rng = self.rng.carts
        paying = rng.binomial(self.pooled.pop(phase).ravel().astype(np.int64), self.m.cart_pay_through)
        cells = np.flatnonzero(paying)
        spread = rng.multinomial(paying[cells], profile)                # (cells, W)
        ci, w = np.nonzero(spread)
        ks, c = np.divmod(cells[ci], C)
        g, ks = np.divmod(ks, K * S)
        t, row = first + w, self.rows.cart_row(c)
        key = ((t * self.rows.slots + row) * (K * S) + ks) * G + g      # slot, cell, class
        order = np.argsort(key, kind="stable")
        n = spread[ci, w].astype(np.int64)[order]
        j0 = first_of_cell(key[order], key[order] // G, n)
        k, s = np.divmod(ks[order], S)
        new = Lines(t[order], k, s, (c + C)[order], n, None, g[order] if G > 1 else None,   # carts: c + C
                    row[order], j0)
        self.pending = Lines.concat([self.pending, new])

    def due(self, a: int, b: int) -> Lines:
        """The cart lines paying in ticks [a, b), taken from the pending ones."""
        mine = (self.pending.t >= a) & (self.pending.t < b)
        out = self.pending.take(mine)
        self.pending = self.pending.take(~mine)
        return out

    def back(self, lines: Lines) -> None:
        """Cart lines of a stretch cut short: they wait for the stretch of their tick."""
        self.pending = Lines.concat([self.pending, lines])
