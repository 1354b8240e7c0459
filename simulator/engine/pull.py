"""Demand a phase pulls forward from the days after it (docs/model.md, "Pull-forward"), in the
fast engine.

A unit paid in a phase with `pull_forward` puts `share` of a unit on its SKU's debt to the
window after the phase. In that window the SKU's first buyers — whole orders in their order of
arrival, the one that crosses the rest of the debt too, a tick's orders in a uniform random
order (`orders.allot`) — are shoppers who already bought: they do not come (no stock, no money,
not lost demand) until the debt is paid; what is left at the window's end lapses. Deposits are
neither owed nor repaid. Shapes: K SKUs, I windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.lines import Lines
from simulator.engine.orders import Orders, allot


@dataclass
class Missing:
    """Orders a stretch's debt took away: SKU, tick and units of each class row piece."""

    k: np.ndarray
    t: np.ndarray
    units: np.ndarray

    @classmethod
    def none(cls) -> "Missing":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z)


class PullState:
    """The debts of one replication: (I, K) units owed to each window."""

    def __init__(self, model):
        self.m, self.plan = model, model.pull
        self.C = len(model.channels)
        self.debt = np.zeros((len(self.plan.windows), len(model.skus)))

    def owed(self, a: int) -> np.ndarray:
        """(K,) units owed by the buyers of a stretch from tick `a` (its windows' debts)."""
        live = self.plan.active(a)
        owed = self.debt[live].sum(axis=0) if live else np.zeros(self.debt.shape[1])
        return np.where(owed > 1e-9, owed, 0.0)                  # a rounding's worth owes nothing

    def suppress(self, gen: np.random.Generator, lines: Lines, orders: Orders, a: int,
                 deposit: np.ndarray) -> tuple[Lines, Orders, Missing]:
        """`lines` (sorted by SKU, tick; units drawn) and their class rows less the orders the debt
        takes away, first come first; `deposit` (K,) SKUs taking deposits (not repaid by them).
        Returns (lines, orders, what was taken)."""
        owed = self.owed(a)
        owed[deposit] = 0.0
        if not (owed > 0).any() or not lines.size:
            return lines, orders, Missing.none()
        carts = lines.c >= self.C                                  # carts made before: not repaid by them
        orders = Orders(orders.line, orders.want, orders.n.copy(), orders.key, orders.got.copy(), orders.mask)
        offs = np.r_[0, np.cumsum(np.bincount(orders.line, minlength=lines.size))]
        taken = np.zeros(orders.size, dtype=np.int64)          # orders of each row taken away
        extra: list[Orders] = []                                # crossing ticks' orders left
        gone_parts: list[Orders] = []                           # … and the one that crosses
        for k in np.flatnonzero(owed > 0):
            mine = np.flatnonzero((lines.k == k) & ~carts)             # by tick
            if not mine.size:
                continue
            t = lines.t[mine]
            head = np.flatnonzero(np.r_[True, np.diff(t) != 0])
            cum = np.cumsum(np.add.reduceat(lines.units[mine], head))
            whole = int(np.searchsorted(cum, owed[k], side="left"))   # ticks before it: every order goes
            rows = _rows(offs, mine[:head[whole] if whole < head.size else mine.size])
            taken[rows] = orders.n[rows]
            if whole < head.size:                                      # the crossing tick: a random order
                left = owed[k] - (cum[whole - 1] if whole else 0.0)
                end = head[whole + 1] if whole + 1 < head.size else mine.size
                rows = _rows(offs, mine[head[whole]:end])
                sub = orders.take(rows)
                parts = allot(gen, sub, 0, sub.size, int(np.ceil(left - 1e-9)))
                taken[rows] = sub.n                                    # served in full: taken away
                orders.n[rows] = 0
                for part in parts:
                    (gone_parts if (part.got > 0).all() else extra).append(part)
        gone = Orders.concat([orders.take(taken > 0), *gone_parts])
        if gone.size:
            gone.n = np.concatenate([taken[taken > 0], *[p.n for p in gone_parts]])
        orders.n = orders.n - np.minimum(taken, orders.n)       # whole ticks' rows: none left
        back = Orders.concat(extra)
        back.got = back.want.copy()                             # the orders left wait for the stock
        kept = Orders.concat([orders.take(orders.n > 0), back])
        kept = kept.take(np.argsort(kept.line, kind="stable"))
        lines = lines.take(slice(None))
        lines.n = kept.per_line(kept.n, lines.size)
        lines.units = kept.per_line(kept.n * kept.want, lines.size)
        keep = lines.n > 0
        return lines.take(keep), kept.of_lines(keep), Missing(lines.k[gone.line], lines.t[gone.line],
                                                               gone.n * gone.want)

    def commit(self, missing: Missing, cut: int, rec) -> None:
        """Book what the debt took away in ticks before `cut` (the rest is drawn again) and pay
        the debts with it, the earliest-ending window first."""
        on = missing.t < cut
        if not on.any():
            return
        k, t, units = missing.k[on], missing.t[on], missing.units[on]
        np.add.at(rec.by_sku["pull_missing"], (self.m.grid.period[t], k), units)
        paid = np.bincount(k, weights=units, minlength=self.debt.shape[1])
        for i in self.plan.active(int(t.min())):
            d = np.minimum(self.debt[i], paid)
            self.debt[i] -= d
            paid -= d

    def owe(self, ch, lines: Lines, served: np.ndarray, deposit: np.ndarray, rec) -> None:
        """Units paid in a stretch of a pulling phase (sale lines: not `deposit` (L,)) put their
        share on the debt of the window after it."""
        src = int(self.plan.source[ch.start])
        if src < 0 or not lines.size:
            return
        sale = ~deposit
        share = self.plan.share[ch.start]
        units = np.bincount(lines.k[sale], weights=served[sale], minlength=self.debt.shape[1])
        self.debt[src] += units * share
        np.add.at(rec.by_sku["pulled_forward"], (self.m.grid.period[lines.t[sale]], lines.k[sale]),
                  served[sale] * share)


def _rows(offs: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The class rows of `lines` (their rows are offs[l] … offs[l + 1] − 1)."""
    if not lines.size:
        return np.zeros(0, dtype=np.int64)
    n = offs[lines + 1] - offs[lines]
    return np.repeat(offs[lines], n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
