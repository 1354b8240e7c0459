"""Several-SKU baskets in the fast engine (docs/promotions.md, "Baskets of several SKUs").

An order of SKU k takes one unit of each of its add-ons a_i (`Model.addons`) with probability
r_i, independently. By class rows (`engine.orders`): before the stock play, a sale row of n
orders splits by one keyed binomial per add-on slot into rows by *mask* (bit i: the order
takes add-on i), and each row's add-ons become lines of their own at SKU a_i — same tick,
segment, channel and coupon class, one unit per order — that meet a_i's shelf in the same play
as every other line. An add-on of a SKU out of stock for the whole stretch is lost demand of it.

After the play (`pair`) the add-ons are matched with their orders. Where every order of a row
got its primary and every add-on unit was served — all ticks but the one a shelf runs out in —
nothing moves. In a stock-out tick the served orders and the served add-ons are uniform random
subsets of the row's orders (the play serves a tick's orders in a uniform random order, the
shelves independently): a hypergeometric split tells which served orders got each add-on. An
add-on served to an order whose primary found no stock goes back on its shelf (the shopper
does not check out): the reference engine takes an add-on only after its primary, so the fast
engine differs from it only when an add-on's shelf runs out in the very tick of its primary's.

Money is per basket (`items`): a coupon's threshold reads the items it applies to, the
reduction the items it is live for, each split over those items pro rata to their value.
Shapes: L lines, O class rows, M add-on slots, N items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.keyed import keyed_ids, keyed_uniforms
from simulator.engine.lines import Lines
from simulator.engine.orders import Orders
from simulator.engine.quantiles import binomial_quantile

_SPLIT, _LINE, _PAIRED, _ITEM = (np.uint64(s) for s in (2, 3, 4, 5))   # salts of the keys made here


@dataclass
class Items:
    """The items of N (row, item) pairs of served class rows: `row` (N,) the class row, `slot`
    (N,) −1 for the primary, else the add-on slot, `k` (N,) SKU, `units` (N,) units per order."""

    row: np.ndarray
    slot: np.ndarray
    k: np.ndarray
    units: np.ndarray

    @property
    def primary(self) -> np.ndarray:
        return self.slot < 0


class Baskets:
    """The add-ons of one model's SKUs, for the fast engine."""

    def __init__(self, model):
        self.ad = model.addons
        self.on = self.ad.on
        self.M = self.ad.sku.shape[1]
        self.n_ticks = model.n_ticks
        self.period = model.grid.period

    # ------------------------------------------------------------ before the play
    def add(self, key: np.uint64, lines: Lines, orders: Orders, sale: np.ndarray, lost,
            a: int) -> tuple[Lines, Orders]:
        """The stretch's `lines` (sorted by SKU, tick) and class rows with the add-ons of the
        rows of `sale` (L,) lines (not deposits) split off by mask and their add-on lines added,
        sorted again; add-ons of SKUs `lost.dead` go to `lost` (its (K, n) orders and units,
        ticks from `a`) instead."""
        if not self.on or not orders.size:
            return lines, orders
        ad = self.ad
        rows = orders
        for i in range(self.M):
            slot = ad.sku[lines.k[rows.line], i]
            hit = np.flatnonzero((slot >= 0) & sale[rows.line] & (rows.n > 0))
            if not hit.size:
                continue
            ident = keyed_ids(_SPLIT, rows.key[hit], rows.mask[hit])
            x = binomial_quantile(keyed_uniforms(key, ident, i), rows.n[hit], ad.rate[lines.k[rows.line[hit]], i])
            go = x > 0
            hit, x = hit[go], x[go]
            more = rows.take(hit)
            more.n, more.mask = x, more.mask | (1 << i)
            rows = Orders(rows.line, rows.want, rows.n.copy(), rows.key, rows.got, rows.mask)
            rows.n[hit] -= x
            rows = Orders.concat([rows, more])
            rows = rows.take(rows.n > 0)
        split = rows.mask > 0
        rows.key = np.where(split, keyed_ids(_SPLIT, rows.key, rows.mask), rows.key)
        parts, new_rows = [], []
        base = lines.size
        for i in range(self.M):
            r = np.flatnonzero(rows.mask & (1 << i))
            if not r.size:
                continue
            src = rows.line[r]
            extra = lines.take(src)
            extra.k = self.ad.sku[lines.k[src], i]
            extra.n = rows.n[r]
            extra.addon = np.full(r.size, i, dtype=np.int64)
            extra.units = None
            dead = lost.dead[extra.k]
            if dead.any():                                        # its shelf empty all stretch: lost demand
                self._lose(lost, extra.take(dead), a)
                rows.mask[r[dead]] &= ~(1 << i)
            keep = ~dead
            extra = extra.take(keep)
            n_new = extra.size
            new_rows.append(Orders(base + np.arange(n_new), np.ones(n_new, dtype=np.int64), extra.n,
                                   keyed_ids(_LINE, rows.key[r[keep]], i), np.ones(n_new, dtype=np.int64)))
            parts.append(extra)
            base += n_new
        if not parts:
            return lines, rows.take(np.argsort(rows.line, kind="stable"))
        lines = Lines.concat([lines, *parts])
        rows = Orders.concat([rows, *new_rows])
        order = np.argsort(lines.k * self.n_ticks + lines.t, kind="stable")
        renumber = np.empty_like(order)
        renumber[order] = np.arange(order.size)
        rows.line = renumber[rows.line]
        lines = lines.take(order)
        rows = rows.take(np.argsort(rows.line, kind="stable"))
        lines.units = rows.per_line(rows.n * rows.want, lines.size)
        return lines, rows

    @staticmethod
    def _lose(lost, gone: Lines, a: int) -> None:
        """Add-on units of a SKU out of stock for the stretch: its lost demand (orders = units)."""
        at = (gone.k, gone.t - a)
        for name in ("orders", "units"):
            arr = getattr(lost, name).copy()
            np.add.at(arr, at, gone.n)
            setattr(lost, name, arr)
        first = lost.first.copy()
        for k in np.unique(gone.k):
            first[k] = int(lost.units[k][np.flatnonzero(lost.orders[k])[0]])
        lost.first = first

    # ------------------------------------------------------------- after the play
    def pair(self, gen: np.random.Generator, out, st, rec, a: int) -> None:
        """Match the played stretch's add-ons (`stock.Outcome` `out`, ticks from `a`) with their
        orders: where a row's orders or add-ons were partly served, which served orders got
        which add-ons (hypergeometric), rows split by what they got (`mask` then holds the
        add-ons got); add-ons of orders that got nothing go back on the shelf (`st`, and out of
        the outcome's served units and demand). Add-on lines book their units as add-ons, their
        orders none."""
        lines = out.lines
        add = lines.is_addon
        if not add.any():
            return
        rows = out.orders
        served = rows.n * rows.got
        a_rows = np.flatnonzero(add[rows.line])
        a_key = rows.key[a_rows]
        uniq, inv = np.unique(a_key, return_inverse=True)
        a_served = np.bincount(inv, weights=served[a_rows], minlength=uniq.size).astype(np.int64)
        a_total = np.bincount(inv, weights=rows.n[a_rows], minlength=uniq.size).astype(np.int64)
        p_rows = np.flatnonzero(~add[rows.line] & (rows.mask > 0))
        gkey, ginv = np.unique(rows.key[p_rows], return_inverse=True)
        g_tot = np.bincount(ginv, weights=rows.n[p_rows], minlength=gkey.size).astype(np.int64)
        g_got = np.bincount(ginv, weights=rows.n[p_rows] * (rows.got[p_rows] > 0), minlength=gkey.size).astype(np.int64)
        short_a = a_served < a_total
        trouble = g_got < g_tot
        if short_a.any():                                            # groups with an add-on partly served
            first = np.zeros(gkey.size, dtype=np.int64)
            first[ginv] = p_rows
            for i in range(self.M):
                ak = keyed_ids(_LINE, gkey, i)
                pos = np.searchsorted(uniq, ak).clip(0, max(uniq.size - 1, 0))
                has = (rows.mask[first] & (1 << i)) > 0
                trouble |= has & (uniq[pos] == ak) & short_a[pos]
        back = np.zeros(lines.size, dtype=np.int64)                  # add-on units back on the shelf, per line
        if trouble.any():
            self._split(gen, out, rows, p_rows[trouble[ginv]], uniq, a_served, a_rows, inv, back)
        if back.any():
            np.add.at(st.on_hand, lines.k, back)
            np.add.at(out.demand, (lines.k, lines.t - a), -back)
            out.served = out.served - back
        out.served_n = np.where(add, 0, out.served_n)
        np.add.at(rec.by_sku["addon_units"], (self.period[lines.t[add]], lines.k[add]), out.served[add])

    def _split(self, gen, out, rows: Orders, p_rows: np.ndarray, uniq, a_served, a_rows, inv,
               back: np.ndarray) -> None:
        """The rows `p_rows` of orders whose primary or an add-on was partly served: per row
        group (one key) and add-on, the served add-ons fall on a uniform random subset of the
        group's orders (a multivariate hypergeometric over its pieces); pieces that got their
        primary split by what they got, the others' add-ons go `back` (per add-on line)."""
        a_line_of = {}
        for r in a_rows.tolist():
            a_line_of.setdefault(int(rows.key[r]), int(rows.line[r]))
        groups: dict[int, list[int]] = {}
        for r in p_rows.tolist():
            groups.setdefault(int(rows.key[r]), []).append(r)
        new: list[Orders] = []
        drop = np.zeros(rows.size, dtype=bool)
        for key, members in groups.items():
            mask0 = int(rows.mask[members[0]])
            pieces = [(rows.take(np.array([r])), int(rows.got[r]) > 0) for r in members]
            for i in range(self.M):
                if not mask0 & (1 << i):
                    continue
                ak = int(keyed_ids(_LINE, np.uint64(key), i))
                j = int(np.searchsorted(uniq, np.uint64(ak)))
                n_a = int(a_served[j]) if j < uniq.size and int(uniq[j]) == ak else 0
                counts = np.array([int(p.n[0]) for p, _ in pieces])
                x = gen.multivariate_hypergeometric(counts, min(n_a, int(counts.sum())))
                nxt = []
                for (p, ok), xi in zip(pieces, x):
                    if not ok:
                        if xi:
                            back[a_line_of[ak]] += xi
                        nxt.append((p, ok))
                        continue
                    for cnt, bit in ((xi, True), (int(p.n[0]) - xi, False)):
                        if cnt:
                            q = p.take(np.array([0]))
                            q.n[:] = cnt
                            q.mask[:] = (int(p.mask[0]) | (1 << i)) if bit else (int(p.mask[0]) & ~(1 << i))
                            nxt.append((q, ok))
                pieces = nxt
            drop[members] = True
            for p, ok in pieces:
                p.key = keyed_ids(_PAIRED, p.key, p.mask)
                new.append(p)
        kept = rows.take(~drop)
        both = Orders.concat([kept, *new])
        out.orders = both.take(np.argsort(both.line, kind="stable"))

    # ------------------------------------------------------------------ money
    def items(self, k_row: np.ndarray, rows: Orders) -> Items:
        """The items of served class rows `rows` (primary SKU `k_row` (O,)): the primary's `got`
        units, and one unit of each add-on in the row's mask."""
        O = rows.size
        row, slot, k, units = [np.arange(O)], [np.full(O, -1)], [k_row], [rows.got]
        for i in range(self.M):
            r = np.flatnonzero(rows.mask & (1 << i))
            if r.size:
                row.append(r)
                slot.append(np.full(r.size, i))
                k.append(self.ad.sku[k_row[r], i])
                units.append(np.ones(r.size, dtype=np.int64))
        return Items(*(np.concatenate(x).astype(np.int64) for x in (row, slot, k, units)))

    def item_keys(self, rows: Orders, items: Items) -> tuple[np.ndarray, np.ndarray]:
        """(key, salt) of each item's keyed draws (returns): the primary's its row's, an add-on's
        its own."""
        key = rows.key[items.row]
        add = ~items.primary
        key = np.where(add, keyed_ids(_ITEM, key, items.slot), key)
        salt = np.where(add, 1, rows.got[items.row])
        return key, salt
