"""Buyers who find the SKU they chose out of stock and take another SKU of its category, in the
fast engine (docs/model.md, "When a SKU is out of stock"; the reference engine follows each
buyer in `Orders.switch_to`).

A buyer switches only where the order would be lost (no unit for it, not oversold), with the
`switch_share` of the SKU's category, to one of the category's *available* SKUs — on the shelf,
not in a flash sale or a deposit window — drawn by the logit weights a_j × T_j at the buyer's
effective price (`Conversion.switch_weights`). Their units are drawn afresh for the SKU they
take; the units they wanted of the first SKU are its `switched_units`, not lost.

Within a stretch the SKUs' availability stays as it was at its start but for its last tick:
the engine cuts a stretch at the tick after a switchable SKU's shelf empties (`sellout_cut`)
and where an empty one's state changes (`empty_cut`: a delivery, the end of an oversell
window). So buyers switch at two moments:
  * a SKU out of stock for the whole stretch (`Replenishment.dead`): of each of its lines' n
    buyers, Binomial(n, share) switch (`split`) and pay at their tick;
  * the orders of a stretch's last tick that got nothing (`after_play`): likewise, and they pay
    in the next stretch's first tick (one tick later).
Counts are inverse CDFs on keyed uniforms of the line (or class row); the SKU taken is one
multinomial per line, as conditional binomials over the category's SKUs. A switched line
carries `Lines.via` and never switches again. Shapes: K SKUs, S segments, G coupon classes,
M the most SKUs of a category but one.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.keyed import keyed_uniforms
from simulator.engine.lines import Lines
from simulator.engine.orders import line_keys
from simulator.engine.quantiles import binomial_quantile
from simulator.engine.stock import shelf_at
from simulator.engine.visitors import resolve_segments


class Switching:
    """The switching part of one model (`on` False: no category lets its buyers switch; every
    method then passes its input through)."""

    def __init__(self, model, slots: int):
        conv = model.buying.conversion
        K = len(model.skus)
        self.K, self.S, self.C, self.slots, self.T = K, len(model.segments), len(model.channels), slots, model.n_ticks
        self.warm = model.warmup[model.phase_of_tick]                                     # (T,) warm-up ticks
        self.conv = conv
        self.share = np.zeros(K) if conv.switch is None else conv.switch                 # (K,)
        cat = np.full(K, -1) if conv.category is None else conv.category
        self.mates = ((cat[:, None] == cat[None, :]) & (cat[:, None] >= 0) & ~np.eye(K, dtype=bool)
                      & (self.share > 0)[:, None])                                        # (K, K)
        self.switchable = self.mates.any(axis=1)                                          # (K,)
        self.on = bool(self.switchable.any())
        self.primary = (model.addons.sku >= 0).any(axis=1)       # (K,) SKUs with add-ons: cut where they sell
        self.watch = self.switchable | self.primary              # out or restock too (`engine.baskets`)
        M = max(1, int(self.mates.sum(axis=1).max()))
        self.nbr = np.full((K, M), -1, dtype=np.int64)                                   # (K, M) neighbours
        for k in np.flatnonzero(self.switchable):
            j = np.flatnonzero(self.mates[k])
            self.nbr[k, :j.size] = j

    def apart(self, dead: np.ndarray | None) -> np.ndarray:
        """(K,) SKUs whose buyers busy hours must keep per slot in a stock-out: switchable ones
        with a neighbour not `dead` (K,) in the stretch (its switchers need their ticks)."""
        if not self.on or dead is None:
            return np.zeros(self.K, dtype=bool)
        return self.switchable & (self.mates & ~dead[None, :]).any(axis=1)

    # ------------------------------------------------------------------ cuts
    def empty_cut(self, st, repl, a: int, b: int) -> int:
        """The first tick in (a, b) where a switchable SKU with nothing on the shelf gets a
        delivery or leaves its oversell window (b: none), and tick 1 where one starts the
        campaign empty (the first tick is never `dead`) — so that such a SKU is out of stock for
        a whole stretch or not at all. SKUs with add-ons likewise (their add-ons meet the shelf
        only with orders that can be served)."""
        if not self.watch.any():
            return b
        empty = self.watch & (st.on_hand + st.held == 0) & ~st.flash_live
        at = [b, 1] if a == 0 and empty.any() and b > 1 else [b]
        due = repl.first_due[empty]
        at += due[(due > a) & (due < b)].tolist()
        if st.oversell_ticks >= 0:
            z = st.zero_at[empty]
            end = z + st.oversell_ticks + 1
            at += end[(z >= 0) & (end > a) & (end < b)].tolist()
        return int(min(at))

    def sellout_cut(self, st, lines: Lines, deposit: np.ndarray, a: int, b: int,
                    addons: tuple = ()) -> tuple[int, np.ndarray]:
        """(the tick after the first in which the stretch's `lines` (sorted by SKU, tick, units
        drawn) of a switchable SKU with stock reach what it has on the shelf (b: none), the
        ticks after the other such SKUs' — where the next stretches may end: `horizon`);
        `deposit` (K,) SKUs taking deposits (no one switches from them). The shelf is what a
        stretch from `a` finds (`stock.shelf_at`: a delivery landing at `a` included, so a SKU
        restocked there and sold out again within the stretch cuts it). SKUs with add-ons count
        too, a flash sale's allotment included (their orders may be unserved only in a
        stretch's last tick); the add-on
        units `addons` (SKU, tick, units) the stretch's orders take count in their SKU's demand
        (`Baskets.demand`)."""
        none = np.zeros(0, dtype=np.int64)
        if not self.watch.any() or not lines.size:
            return b, none
        shelf = shelf_at(st, a)
        which = ((self.switchable & ~st.flash_live) | self.primary) & ~deposit & (shelf > 0)
        lines = self._with_addons(lines, addons)
        mine = np.flatnonzero(which[lines.k])
        if not mine.size:
            return b, none
        k, u = lines.k[mine], lines.units[mine]
        cum = np.cumsum(u)
        first = np.r_[True, k[1:] != k[:-1]]
        before = (cum - u)[np.maximum.accumulate(np.where(first, np.arange(k.size), 0))]
        reach = cum - before >= shelf[k]
        if not reach.any():
            return b, none
        at = np.minimum.reduceat(lines.t[mine][reach], np.flatnonzero(np.r_[True, np.diff(k[reach]) != 0])) + 1
        at = np.unique(at)
        return min(b, int(at[0])), at[1:]

    def _with_addons(self, lines: Lines, addons: tuple) -> Lines:
        """`lines` (sorted by SKU, tick; units drawn) and a line per entry of `addons` (SKU,
        tick, units), sorted again (SKU, tick)."""
        if not addons or not addons[0].size:
            return lines
        k, t, n = addons
        extra = Lines(t, k, np.zeros_like(k), np.zeros_like(k), n)
        both = Lines.concat([lines, extra])
        both.units = np.r_[lines.units, n]
        return both.take(np.argsort(both.k * self.T + both.t, kind="stable"))

    @staticmethod
    def horizon(ticks: np.ndarray, a: int, b: int) -> int:
        """Where a stretch from `a` should end at the latest (b: the chunk's end): the first of
        `ticks` (later sell-outs foreseen by an earlier stretch, `sellout_cut`) after `a` — so
        that a sell-out's cut does not redraw the rest of a day for each SKU selling out in it.
        Any end is exact (a stretch may be cut anywhere); this one only saves work."""
        later = ticks[ticks > a]
        return int(min(b, later[0])) if later.size else b

    # --------------------------------------------------------------- switches
    def available(self, st, repl, a: int, dead: np.ndarray, deposit: np.ndarray) -> np.ndarray:
        """(K,) SKUs a switcher may take in a stretch from tick `a`: not `dead`, stock on the
        shelf or landing at `a`, no flash sale on, not taking deposits (`deposit` (K,))."""
        if not self.on:
            return np.zeros(self.K, dtype=bool)
        due = st.on_hand > 0
        due |= repl.first_due <= a
        for tick, k, _, _ in st.inbox:
            due[k] |= tick <= a
        for k, _ in st.restocks.get(a, []):
            due[k] = True
        return due & ~dead & ~st.flash_live & ~deposit

    def split(self, keys: dict, lines: Lines, avail: np.ndarray, deposit: np.ndarray, rel: np.ndarray, tab,
              gen: np.random.Generator, channel: np.ndarray) -> tuple[Lines, Lines, Lines]:
        """The lines of SKUs out of stock for the whole stretch: (lines whose buyers stay lost,
        the switching part of lines at their first SKU, the switchers' lines at the SKU each
        takes). `avail` (K,) as `available`; `deposit` (K,) SKUs taking deposits; `rel` (G, K, S)
        the regime's effective price / list price; lumped segments are drawn first (`tab`,
        `gen`, `channel` (R,) as `visitors.resolve_segments`)."""
        none = Lines.empty()
        if not self.on or not lines.size:
            return lines, none, none
        reach = (self.mates & avail[None, :]).any(axis=1)
        cand = reach[lines.k] & ~lines.switched & ~(deposit[lines.k] & (lines.c < self.C))
        if not cand.any():
            return lines, none, none
        part = resolve_segments(lines.take(cand), tab, gen, self.S, channel)
        lk = line_keys(keys["line"], part, self.S, self.slots)
        x = binomial_quantile(keyed_uniforms(keys["switch"], lk, 0), part.n, self.share[part.k])
        stay, moved = part.take(part.n > x), part.take(x > 0)
        stay.n, moved.n = (part.n - x)[part.n > x], x[x > 0]
        targets = self._targets(keys["switch"], moved, lk[x > 0], avail, rel, moved.t, moved.k)
        return Lines.concat([lines.take(~cand), stay]), moved, targets

    def after_play(self, keys: dict, out, st, deposit: np.ndarray, rel: np.ndarray, a: int, cut: int) -> Lines:
        """The orders of a played stretch (`stock.Outcome`) that got nothing, were not oversold,
        and wanted a switchable SKU not in a flash sale (its state all stretch long): Binomial(orders, share) of each class row switch — their
        units go from the outcome's lost demand to `out.switched` — to a SKU on the shelf now,
        paying at `cut` (the next stretch's first tick). Returns their lines (none at the
        campaign's end or before a warm-up phase, where nobody pays at once: those orders stay
        lost)."""
        if not self.on or cut >= self.T or self.warm[cut]:
            return Lines.empty()
        lines, rows = out.lines, out.orders
        native = ((self.switchable & ~st.flash_live)[lines.k] & ~lines.switched & ~lines.is_addon
                  & ~(deposit[lines.k] & (lines.c < self.C))
                  & (out.oversold == 0) & (out.cancelled == 0))
        r = np.flatnonzero((rows.got == 0) & (rows.n > 0) & native[rows.line])
        avail = (st.on_hand > 0) & ~st.flash_live & ~deposit
        r = r[(self.mates[lines.k[rows.line[r]]] & avail[None, :]).any(axis=1)]
        if not r.size:
            return Lines.empty()
        line = rows.line[r]
        x = binomial_quantile(keyed_uniforms(keys["switch"], rows.key[r], 0), rows.n[r], self.share[lines.k[line]])
        on = x > 0
        r, line, x = r[on], line[on], x[on]
        np.add.at(out.switched, (lines.k[line], lines.t[line] - a), x * rows.want[r])
        moved = lines.take(line)
        moved.n = x
        t = np.full(line.size, cut, dtype=np.int64)
        targets = self._targets(keys["switch"], moved, rows.key[r], avail, rel, t,
                                moved.k + self.K)
        return _merge(targets, self.S)

    def _targets(self, key: np.uint64, moved: Lines, ident: np.ndarray, avail: np.ndarray, rel: np.ndarray,
                 t: np.ndarray, via: np.ndarray) -> Lines:
        """Lines at the SKUs the `moved` buyers take: per line one multinomial over its SKU's
        available neighbours by the weights a_j T_j (`rel` (G, K, S)), drawn as conditional
        binomials on keyed uniforms of `ident` (L,); at ticks `t`, from `via` (L,)."""
        if not moved.size:
            return Lines.empty()
        nb = self.nbr[moved.k]                                                            # (L, M)
        j = np.maximum(nb, 0)
        w = self.conv.switch_weights(rel)                                                 # (G, K, S)
        wl = np.where((nb >= 0) & avail[j], w[moved.cls[:, None], j, moved.s[:, None]], 0.0)
        tail = np.cumsum(wl[:, ::-1], axis=1)[:, ::-1]
        left = moved.n.copy()
        parts = []
        for m in range(nb.shape[1]):
            on = np.flatnonzero((left > 0) & (wl[:, m] > 0))
            if not on.size:
                continue
            c = binomial_quantile(keyed_uniforms(key, ident[on], m + 1), left[on], wl[on, m] / tail[on, m])
            left[on] -= c
            hit = on[c > 0]
            part = moved.take(hit)
            part.k, part.n, part.t, part.via = nb[hit, m], c[c > 0], t[hit], via[hit]
            parts.append(part)
        return Lines.concat(parts)


def _merge(lines: Lines, S: int) -> Lines:
    """Lines with one identity (tick, row, SKU, segment, class, j0, via) merged into one (their
    buyers added): the class rows of one line that switch to one SKU."""
    if not lines.size:
        return lines
    ident = np.stack([lines.t, lines.row, lines.k * S + lines.s, lines.cls, lines.j0, lines.via, lines.c])
    _, first, inv = np.unique(ident, axis=1, return_index=True, return_inverse=True)
    out = lines.take(first)
    out.n = np.bincount(inv.ravel(), weights=lines.n, minlength=first.size).astype(np.int64)
    return out
