"""Several-SKU baskets in the fast engine (docs/promotions.md, "Baskets of several SKUs").

An order of SKU k takes one unit of each of its add-ons a_i (`Model.addons`) with probability
r_i, independently. By class rows (`engine.orders`): before the stock play, a sale row of n
orders splits by one keyed binomial per add-on slot into rows by *mask* (bit i: the order
takes add-on i), and each row's add-ons become lines of their own at SKU a_i — same tick,
segment, channel and coupon class, one unit per order — that meet a_i's shelf in the same play
as every other line. An add-on of a SKU out of stock for the whole stretch is lost demand of it.

After the play (`pair`) the add-ons are matched with their orders. A row whose orders might go
unserved gets no add-on lines before the play: its add-ons wait (`late`) — the rows of a SKU
whose shelf is empty at the stretch's start, and those of the stretch's last tick where its
SKU may run short (the stretch ends after the sell-out of a SKU with add-ons, counting a unit
for every order that lists it as an add-on: `Switching.sellout_cut`, so only its last tick can
leave orders unserved). After the play, the served orders of those rows take their add-ons from
what the shelves hold then, in a uniform random order. Every other row's orders were all
served, and where an add-on's shelf ran out in a tick, the served add-ons fall on a uniform
random subset of the row's orders (the play serves a tick's orders in a uniform random order):
a hypergeometric split. The reference engine takes an add-on right after its order's units;
the fast engine takes the last tick's waiting add-ons after the other buyers of that tick.

Money is per basket (`items`): a coupon's threshold reads the items it applies to, the
reduction the items it is live for, each split over those items pro rata to their value.
Shapes: L lines, O class rows, M add-on slots, N items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.keyed import keyed_ids, keyed_uniforms
from simulator.engine.lines import Lines
from simulator.engine.orders import Orders, by_sku_tick
from simulator.engine.quantiles import binomial_quantile
from simulator.engine.stock import shelf_at

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
    def draw(self, key: np.uint64, lines: Lines, orders: Orders, sale: np.ndarray) -> Orders:
        """The class rows of a stretch's lines split by the add-ons their orders take: per add-on
        slot i, of a row of `sale` (L,) lines (not deposits) with n orders, Binomial(n, rate)
        (a keyed inverse CDF) take it — a row of their own with bit i in `mask`. Rows stay
        grouped by line in line order; a split row is keyed by its row and mask."""
        if not self.on or not orders.size:
            return orders
        ad = self.ad
        rows = orders
        for i in range(self.M):
            slot = ad.sku[lines.k[rows.line], i]
            hit = np.flatnonzero((slot >= 0) & sale[rows.line] & (rows.n > 0) & ((rows.mask & (1 << i)) == 0))
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
        rows.key = np.where(rows.mask > 0, keyed_ids(_SPLIT, rows.key, rows.mask), rows.key)
        return rows.take(np.argsort(rows.line, kind="stable"))

    def demand(self, lines: Lines, orders: Orders) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The add-on units the class rows' masks ask for: (SKU, tick, units), one per row and
        add-on taken."""
        k, t, n = [], [], []
        for i in range(self.M):
            r = np.flatnonzero(orders.mask & (1 << i))
            k.append(self.ad.sku[lines.k[orders.line[r]], i])
            t.append(lines.t[orders.line[r]])
            n.append(orders.n[r])
        if not k:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z
        return tuple(np.concatenate(x).astype(np.int64) for x in (k, t, n))

    def add(self, lines: Lines, orders: Orders, lost, a: int, cut: int, st) -> tuple[Lines, Orders, np.ndarray]:
        """The stretch [a, cut)'s `lines` (sorted by SKU, tick) and their class rows split by
        mask (`draw`) with the add-on lines added, sorted again; add-ons of SKUs `lost.dead` go
        to `lost` (its (K, n) orders and units) instead. Rows that may go unserved get no add-on
        lines: their add-ons wait for the play to tell which orders were served (`late`) —
        those of the stretch's last tick whose SKU may run short in it (its stretch demand, its
        add-on units included, reaches its shelf, `stock.shelf_at`; the stretch ends after a
        sell-out of a SKU with add-ons: `Switching.sellout_cut`), and all of a SKU whose shelf
        is empty at the start (a flash allotment sold out, its stock held back). Returns
        (lines, rows, keys of the rows whose add-ons wait)."""
        none = np.zeros(0, dtype=np.uint64)
        if not self.on or not orders.size:
            return lines, orders, none
        rows = orders
        split = rows.mask > 0
        shelf = shelf_at(st, a)
        demand = np.bincount(lines.k, weights=lines.units, minlength=shelf.size)
        k_add, _, n_add = self.demand(lines, rows)
        demand += np.bincount(k_add, weights=n_add, minlength=shelf.size)
        k_row = lines.k[rows.line]
        wait = split & (((lines.t[rows.line] == cut - 1) & (demand >= shelf)[k_row]) | (shelf == 0)[k_row])
        late = np.unique(rows.key[wait])
        parts, new_rows = [], []
        base = lines.size
        for i in range(self.M):
            r = np.flatnonzero(((rows.mask & (1 << i)) > 0) & ~wait)
            if not r.size:
                continue
            extra = self._addon_lines(lines, rows.line[r], i, rows.n[r])
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
            return lines, rows.take(np.argsort(rows.line, kind="stable")), late
        lines, rows = by_sku_tick(Lines.concat([lines, *parts]), Orders.concat([rows, *new_rows]), self.n_ticks)
        return lines, rows, late

    def _addon_lines(self, lines: Lines, src: np.ndarray, i: int, n: np.ndarray) -> Lines:
        """Lines of add-on slot i of the orders of lines `src` (N,), `n` (N,) orders each: the
        primary line's tick, segment, channel, class and group at the add-on's SKU (never a
        switcher's line)."""
        extra = lines.take(src)
        extra.k = self.ad.sku[lines.k[src], i]
        extra.n = n
        extra.addon = np.full(src.size, i, dtype=np.int64)
        extra.via = None if extra.via is None else np.full(src.size, -1, dtype=np.int64)
        extra.units = None
        return extra

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
    def pair(self, gen: np.random.Generator, out, repl, late: np.ndarray) -> None:
        """Match the played stretch's add-ons (`stock.Outcome` `out`) with their orders. The
        add-ons that waited (`late`: keys of the rows that might go unserved) are taken now
        (`_take_late`); every other row's orders were all served, so only an add-on's shelf
        running out leaves some of them without it (`_split`). Add-on lines book their units as
        add-ons, their orders none."""
        if late.size:
            self._take_late(gen, out, repl, late)
        lines = out.lines
        add = lines.is_addon
        if not add.any():
            return
        rows = out.orders
        missed = rows.key[np.flatnonzero(add[rows.line] & (rows.got == 0) & (rows.n > 0))]
        if missed.size:
            self._split(gen, out, np.unique(missed), late)
        out.served_n = np.where(add, 0, out.served_n)
        np.add.at(repl.rec.by_sku["addon_units"], (self.period[lines.t[add]], lines.k[add]), out.served[add])

    def _take_late(self, gen: np.random.Generator, out, repl, late: np.ndarray) -> None:
        """The add-ons of the served orders of rows `late` (the stretch's last tick, their SKU's
        sell-out tick): slot after slot, each add-on SKU's demand served from what its shelf
        holds after the tick's play — all of it, or a uniform random subset of the orders (a
        multivariate hypergeometric over the rows); the rows split by what they got, add-on
        lines appended to the outcome; a shelf they empty logs its sell-out (and stock-out),
        and its (s, Q) policy looks at it."""
        st = repl.st
        rows, lines = out.orders, out.lines
        pick = np.isin(rows.key, late) & (rows.got > 0) & (rows.n > 0) & ~lines.is_addon[rows.line]
        if not pick.any():
            return
        done, rest = rows.take(pick), rows.take(~pick)
        t_last = int(lines.t[done.line[0]])
        new_lines, new_rows, served = [], [], []
        base = lines.size
        for i in range(self.M):
            k_row = lines.k[done.line]
            tgt = self.ad.sku[k_row, i]
            has = np.flatnonzero(((done.mask & (1 << i)) > 0) & (tgt >= 0))
            if not has.size:
                continue
            got = np.zeros(has.size, dtype=np.int64)
            for sku in np.unique(tgt[has]).tolist():
                mine = np.flatnonzero(tgt[has] == sku)
                want = done.n[has[mine]]
                stock = int(st.on_hand[sku])
                x = want if want.sum() <= stock else gen.multivariate_hypergeometric(want, stock)
                got[mine] = x
                self._late_shelf(repl, out, sku, t_last, int(want.sum()), int(x.sum()), stock)
            part = done.take(has)
            keep = done.take(np.setdiff1d(np.arange(done.size), has))
            yes, no = part.take(got > 0), part.take(part.n > got)
            yes.n, no.n = got[got > 0], (part.n - got)[part.n > got]
            no.mask = no.mask & ~(1 << i)
            extra = self._addon_lines(lines, part.line, i, part.n)
            extra.grp = None if extra.grp is None else np.full(has.size, -1, dtype=np.int64)   # at the last tick
            new_lines.append(extra)
            ident = keyed_ids(_LINE, part.key, i)
            for cnt, g in ((got, 1), (part.n - got, 0)):
                on = cnt > 0
                new_rows.append(Orders(base + np.flatnonzero(on), np.ones(int(on.sum()), dtype=np.int64), cnt[on],
                                       ident[on], np.full(int(on.sum()), g, dtype=np.int64)))
            served.append(got)
            base += has.size
            done = Orders.concat([keep, yes, no])
        if not new_lines:
            return
        extra = Lines.concat(new_lines)
        out.lines = Lines.concat([lines, extra])
        got = np.concatenate(served)
        out.served = np.r_[out.served, got]
        out.served_n = np.r_[out.served_n, got]
        z = np.zeros(extra.size, dtype=np.int64)
        out.oversold, out.cancelled = np.r_[out.oversold, z], np.r_[out.cancelled, z]
        both = Orders.concat([rest, done, *new_rows])
        out.orders = both.take(np.argsort(both.line, kind="stable"))

    @staticmethod
    def _late_shelf(repl, out, k: int, tick: int, want: int, got: int, stock: int) -> None:
        """SKU k's shelf after add-ons that waited took `got` of `want` units from its `stock` at
        `tick` (the stretch's last): demand and stock-out tick in the outcome, the shelf's
        sell-out and stock-out events, the (s, Q) check."""
        st, rec, sku = repl.st, repl.rec, repl.m.skus[k]
        rel = out.demand.shape[1] - 1
        out.demand[k, rel] += want
        st.on_hand[k] -= got
        if got and st.on_hand[k] == 0:
            rec.events.append((tick, "sold_out", sku, 0.0))
        if want > got:
            out.out_ticks[k, rel] = 1
            if not st.in_stockout[k]:
                st.in_stockout[k] = True
                rec.events.append((tick, "stockout", sku, float(want - got)))
                repl.moments.fire("stockout", sku, float(want - got))
        repl.check(k, tick)

    def _split(self, gen: np.random.Generator, out, missed: np.ndarray, late: np.ndarray) -> None:
        """Rows whose add-on lines (keys `missed`, sorted) left some orders without their add-on
        (its shelf ran out in the tick): per row group (one key, its pieces) and add-on, the
        served add-ons fall on a uniform random subset of the group's orders (a multivariate
        hypergeometric over its pieces), which split by what they got."""
        rows, lines = out.orders, out.lines
        add = lines.is_addon[rows.line]
        served = {}
        for key in missed.tolist():
            mine = rows.key == np.uint64(key)
            served[key] = int((rows.n * rows.got)[mine & add].sum())
        p_rows = np.flatnonzero(~add & (rows.mask > 0) & ~np.isin(rows.key, late))
        hit = np.zeros(p_rows.size, dtype=bool)
        for i in range(self.M):
            on = (rows.mask[p_rows] & (1 << i)) > 0
            hit |= on & np.isin(keyed_ids(_LINE, rows.key[p_rows], i), missed)
        groups: dict[int, list[int]] = {}
        for r in p_rows[hit].tolist():
            groups.setdefault(int(rows.key[r]), []).append(r)
        new: list[Orders] = []
        drop = np.zeros(rows.size, dtype=bool)
        for key, members in groups.items():
            if (rows.got[members] == 0).any():
                raise RuntimeError("an order with add-ons went unserved outside the ticks its add-ons wait in")
            mask0 = int(rows.mask[members[0]])
            pieces = [rows.take(np.array([r])) for r in members]
            for i in range(self.M):
                ak = int(keyed_ids(_LINE, np.uint64(key), i))
                if not mask0 & (1 << i) or ak not in served:
                    continue
                counts = np.array([int(p.n[0]) for p in pieces])
                x = gen.multivariate_hypergeometric(counts, min(served[ak], int(counts.sum())))
                nxt = []
                for p, xi in zip(pieces, x):
                    for cnt, bit in ((xi, True), (int(p.n[0]) - xi, False)):
                        if cnt:
                            q = p.take(np.array([0]))
                            q.n[:] = cnt
                            q.mask[:] = int(p.mask[0]) if bit else int(p.mask[0]) & ~(1 << i)
                            nxt.append(q)
                pieces = nxt
            drop[members] = True
            for p in pieces:
                p.key = keyed_ids(_PAIRED, p.key, p.mask)
                new.append(p)
        both = Orders.concat([rows.take(~drop), *new])
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
