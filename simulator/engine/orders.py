"""Orders as classes: the orders of a line, counted by what they want (docs/model.md, "Orders
as classes").

A line holds n buyers of one SKU × segment × coupon class at one tick from one visit row.
Their orders are kept as a handful of *class rows* — (units wanted, topped up or not, units
got) with a count — never one by one. The counts are drawn by inverse CDFs on uniforms keyed
to the line and the class (`engine.keyed`), so two plans on one seed split a line alike:

  * basket size: U = 1 + Poisson(mean) per order; the line's n orders split over the values
    1, 2, … by one binomial after another (P(U = 1 + i | U ≥ 1 + i), a handful of steps);
  * top-up (凑单): of the orders of a size within reach of a usable threshold, Binomial(count,
    q) top up (one more class row);
  * stock: in a tick where stock runs short, the tick's orders are served in a uniform random
    order (`allot`): multivariate hypergeometric draws of orders over the classes.

Money per class row is one order's, times its count: coupons, reductions, refunds and units
add up exactly. Shapes: L lines, O class rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from simulator.engine.keyed import keyed_ids, keyed_uniforms
from simulator.engine.quantiles import binomial_quantile, poisson_quantile

FIELDS = ("line", "want", "n", "key", "got", "mask")


@dataclass
class Orders:
    """Class rows of a stretch's lines, grouped by line in line order (stock play appends the
    rows it splits at the end)."""

    line: np.ndarray      # (O,) the line of each row
    want: np.ndarray      # (O,) units each order of the row wants (top-up included)
    n: np.ndarray         # (O,) orders in the row
    key: np.ndarray       # (O,) uint64 identity of the row: its keyed draws
    got: np.ndarray       # (O,) units each order of the row got (stock play; `want` before it)
    mask: np.ndarray | None = None   # (O,) add-ons of each order: bit i, its SKU's add-on i (`engine.baskets`)

    def __post_init__(self):
        if self.mask is None:
            self.mask = np.zeros(self.line.size, dtype=np.int64)

    @classmethod
    def empty(cls) -> "Orders":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z.astype(np.uint64), z)

    @property
    def size(self) -> int:
        return self.line.size

    def take(self, idx) -> "Orders":
        return Orders(*(getattr(self, f)[idx] for f in FIELDS))

    @classmethod
    def concat(cls, parts: list["Orders"]) -> "Orders":
        parts = [p for p in parts if p.size]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))

    def of_lines(self, keep: np.ndarray) -> "Orders":
        """Rows of the lines where `keep` (L,) bool, lines renumbered as in `lines.take(keep)`."""
        new = np.cumsum(keep) - 1
        rows = self.take(keep[self.line])
        rows.line = new[rows.line]
        return rows

    def per_line(self, weights: np.ndarray, L: int) -> np.ndarray:
        """(L,) sum of `weights` (O,) over each line's rows."""
        return np.bincount(self.line, weights=weights, minlength=L).astype(np.int64)

    def served(self, L: int) -> tuple[np.ndarray, np.ndarray]:
        """(L,) units got and (L,) orders that got at least one unit, per line."""
        return self.per_line(self.n * self.got, L), self.per_line(self.n * (self.got > 0), L)


def by_sku_tick(lines, orders: Orders, n_ticks: int):
    """`lines` sorted by SKU, tick (`n_ticks` the campaign's) and their class rows with them,
    grouped by line in line order; each line's units from its rows. Returns (lines, orders)."""
    order = np.argsort(lines.k * n_ticks + lines.t, kind="stable")
    renumber = np.empty_like(order)
    renumber[order] = np.arange(order.size)
    orders = Orders(renumber[orders.line], orders.want, orders.n, orders.key, orders.got, orders.mask)
    lines = lines.take(order)
    orders = orders.take(np.argsort(orders.line, kind="stable"))
    lines.units = orders.per_line(orders.n * orders.want, lines.size)
    return lines, orders


def line_keys(key: np.uint64, lines, S: int, slots: int) -> np.ndarray:
    """(L,) uint64 identity of each line: its slot (tick × visit row), cell, coupon class and
    `j0` (0 for a category's buyers, else the index of the line's first buyer among them); a
    line of buyers who switched SKU (`Lines.via`) chains the SKU they came from."""
    who = ((((lines.k * S + lines.s) << 8) + lines.cls) << 32) + lines.j0
    out = keyed_ids(key, lines.t * slots + lines.row, who)
    via = getattr(lines, "via", None)
    if via is not None and (via >= 0).any():
        out = np.where(via >= 0, keyed_ids(np.uint64(0), out, via + 1), out)
    return out


def basket_classes(keys: dict, lines, S: int, slots: int, mean: np.ndarray) -> Orders:
    """Class rows by basket size of every line: each order wants 1 + Poisson(`mean` (L,)) units.

    A line of one order reads one keyed uniform (the Poisson inverse CDF); a line of n > 1
    orders splits them over sizes 1, 2, … by conditional binomials, one keyed uniform per step."""
    L = lines.size
    lk = line_keys(keys["line"], lines, S, slots)
    out_line, out_want, out_n = [], [], []
    one = np.flatnonzero(lines.n == 1)
    if one.size:
        u = keyed_uniforms(keys["units"], lk[one], 0)
        out_line.append(one)
        out_want.append(1 + poisson_quantile(u, mean[one]))
        out_n.append(np.ones(one.size, dtype=np.int64))
    flat = np.flatnonzero((lines.n > 1) & (mean <= 0))          # one unit per order
    out_line.append(flat)
    out_want.append(np.ones(flat.size, dtype=np.int64))
    out_n.append(lines.n[flat])
    idx = np.flatnonzero((lines.n > 1) & (mean > 0))
    left, lam = lines.n[idx].copy(), mean[idx]
    i = 0
    while idx.size:
        pmf = np.exp(special.xlogy(i, lam) - lam - special.gammaln(i + 1.0))
        tail = special.pdtrc(i - 1, lam) if i else np.ones(lam.size)
        p = np.where(tail > pmf * 1e-12, pmf / np.maximum(tail, 1e-300), 1.0)
        p = np.where(tail < 1e-15, 1.0, p)                      # the last of the tail: all left
        c = binomial_quantile(keyed_uniforms(keys["units"], lk[idx], i + 1), left, p)
        hit = c > 0
        out_line.append(idx[hit])
        out_want.append(np.full(int(hit.sum()), 1 + i, dtype=np.int64))
        out_n.append(c[hit])
        left = left - c
        live = left > 0
        idx, left, lam = idx[live], left[live], lam[live]
        i += 1
    if not out_line:
        return Orders.empty()
    line, want, n = (np.concatenate(x) for x in (out_line, out_want, out_n))
    order = np.argsort(line, kind="stable")
    line, want, n = line[order], want[order], n[order].astype(np.int64)
    key = keyed_ids(np.uint64(0), lk[line], want << 1)
    return Orders(line, want, n, key, want.copy()) if L else Orders.empty()


def top_up_target(k: np.ndarray, g: np.ndarray, want: np.ndarray, price: np.ndarray, reg, promo,
                  addons=None) -> tuple[np.ndarray, np.ndarray]:
    """How an order of SKU `k`, coupon class `g` wanting `want` units tops up (凑单) to the
    smallest usable threshold within `topup_reach` above its basket: (units it tops up to — 0
    where no threshold is within reach —, the add-on slot that tops it up instead, −1: its own
    units). An add-on of the SKU (`addons`, `plan.baskets.AddOns`) tops it up where one unit of
    it closes the gap and counts toward that threshold (the coupon applies to it; the reduction
    is live for it): the cheapest such add-on, the first written on a tie; its own units stay."""
    p = price[k]
    v = want * p
    best = np.full(want.size, np.inf)
    j = np.full(want.size, -1)
    has = g > 0
    if has.any():
        j[has] = promo.coupon_of[g[has]]
        thr = promo.threshold[j[has]]
        usable = reg.valid[j[has]] & promo.applies[j[has], k[has]] & (v[has] < thr)
        best[has] = np.where(usable, thr, np.inf)
    by_coupon = np.isfinite(best)
    if reg.red_live:
        nxt = (np.floor(v / promo.red_every) + 1) * promo.red_every
        red = promo.red_applies[k] & (nxt < best)
        best = np.where(red, nxt, best)
        by_coupon &= ~red
    ok = np.isfinite(best) & (best - v <= promo.topup_reach * best)
    add = np.ceil((np.where(ok, best, v) - v) / p - 1e-9).astype(np.int64)
    slot = np.full(want.size, -1)
    if addons is not None and addons.on and ok.any():
        gap, cheapest = best - v, np.full(want.size, np.inf)
        for i in range(addons.sku.shape[1]):
            a = np.maximum(addons.sku[k, i], 0)                     # (−1: no add-on, masked below)
            pa = price[a]
            counts = reg.red_live & promo.red_applies[a]
            if by_coupon.any():
                counts = np.where(by_coupon, promo.applies[np.maximum(j, 0), a], counts)
            take = ok & (addons.sku[k, i] >= 0) & counts & (pa >= gap - 1e-9) & (pa < cheapest)
            slot, cheapest = np.where(take, i, slot), np.where(take, pa, cheapest)
    return np.where(ok, np.where(slot >= 0, want, want + add), 0), slot


def top_up_classes(key: np.uint64, lines, orders: Orders, price: np.ndarray, reg, promo,
                   eligible: np.ndarray, addons=None) -> Orders:
    """凑单: of a class row whose basket lies just below a usable threshold (within
    `topup_reach` of it), Binomial(count, q) orders top up to it — a row of their own, with
    more units of its SKU or with the add-on that closes the gap (`top_up_target`: its bit set
    in `mask`, so `baskets.Baskets.draw` gives it to every order of the row).

    `eligible` (L,) bool: lines whose orders may top up (not deposits)."""
    if promo.topup_probability <= 0 or not orders.size:
        return orders
    target, slot = top_up_target(lines.k[orders.line], lines.cls[orders.line], orders.want, price, reg, promo,
                                 addons)
    hit = np.flatnonzero((target > 0) & eligible[orders.line])
    if not hit.size:
        return orders
    up = binomial_quantile(keyed_uniforms(key, orders.key[hit]), orders.n[hit], promo.topup_probability)
    go = up > 0
    hit, up = hit[go], up[go]
    if not hit.size:
        return orders
    more = orders.take(hit)
    more.n = up
    more.want = target[hit]
    more.got = more.want.copy()
    forced = slot[hit] >= 0
    more.mask = np.where(forced, more.mask | (1 << np.maximum(slot[hit], 0)), more.mask)
    more.key = keyed_ids(np.uint64(1), more.key, np.where(forced, (1 << 40) + slot[hit], more.want))
    orders = Orders(orders.line, orders.want, orders.n.copy(), orders.key, orders.got, orders.mask)
    orders.n[hit] -= up
    both = Orders.concat([orders, more])
    both = both.take(both.n > 0)
    return both.take(np.argsort(both.line, kind="stable"))


def units_pmf(mean: np.ndarray, G: int, price: np.ndarray, reg, promo, addons=None) -> np.ndarray:
    """(K·S·G·2, V) the law of one order's units, top-up included, per SKU × segment × coupon
    class × (0: may not top up — a deposit —, 1: may), over the values 0 … V − 1: 1 +
    Poisson(`mean` (K, S)), then the top-up of `top_up_target` with its probability (none
    without promotions: `promo` None). With `addons`, an order an add-on tops up keeps its own
    units (the law of its SKU's units); without, every top-up is counted in units of its SKU
    (the law of whether its basket reaches the threshold)."""
    K, S = mean.shape
    top = int(np.ceil(mean.max() + 12 * np.sqrt(mean.max()) + 12))
    i = np.arange(top + 1)
    base = np.exp(special.xlogy(i[None, :], mean.reshape(-1, 1)) - mean.reshape(-1, 1) - special.gammaln(i + 1.0))
    base[:, -1] += np.maximum(0.0, 1.0 - base.sum(axis=1))                    # (K·S, top + 1) over sizes 1 + i
    k, s, g, e = (x.ravel() for x in np.meshgrid(np.arange(K), np.arange(S), np.arange(G), np.arange(2), indexing="ij"))
    rows = np.repeat(np.arange(k.size), i.size)
    size = np.tile(1 + i, k.size)
    mass = base[(k * S + s)[rows], size - 1]
    q = 0.0 if promo is None else promo.topup_probability
    target = np.zeros(size.size, dtype=np.int64)
    if q > 0:
        target = top_up_target(k[rows], g[rows], size, price, reg, promo)[0] * e[rows]
        if addons is not None and addons.on:                                   # its add-on's: its own units
            target = np.where(top_up_target(k[rows], g[rows], size, price, reg, promo, addons)[1] >= 0, 0, target)
    V = int(max(size.max(), target.max())) + 1
    pmf = np.zeros((k.size, V))
    moved = np.where(target > 0, q, 0.0) * mass
    np.add.at(pmf, (rows, size), mass - moved)
    np.add.at(pmf, (rows, target), moved)
    return pmf


def cell_units(key: np.uint64, ident: np.ndarray, n: np.ndarray, pmf: np.ndarray) -> np.ndarray:
    """(N,) units of N cells of `n` (N,) orders each, every order's units drawn from its cell's
    law `pmf` (N, V): the count at each value by a conditional binomial on a uniform keyed to
    the cell `ident` (N,) and the value, a handful of steps."""
    units = np.zeros(n.size, dtype=np.int64)
    left = n.astype(np.int64).copy()
    tail = np.ones(n.size)
    idx = np.flatnonzero(left > 0)
    for v in range(pmf.shape[1]):
        if not idx.size:
            break
        pv = pmf[idx, v]
        p = np.where(tail[idx] > 1e-15, pv / np.maximum(tail[idx], 1e-300), 1.0)
        c = binomial_quantile(keyed_uniforms(key, ident[idx], v), left[idx], np.minimum(p, 1.0))
        units[idx] += c * v
        left[idx] -= c
        tail[idx] -= pv
        idx = idx[left[idx] > 0]
    return units


def order_money(lines, orders: Orders, items, price: np.ndarray, reg, promo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class row, for ONE order of the row — its primary's `orders.got` units and its
    add-ons, the basket's `items` (`baskets.Items`) — (O,) the coupon class redeemed (0: none;
    a claim's or a held coupon's class, `Promotions.coupon_of` its coupon: valid at the pay
    tick, applying to the primary SKU, the items it applies to reaching its threshold), and per
    item (N,) its share of that coupon (its value over the value of the items it applies to)
    and its part of the platform reduction ⌊value of the items it applies to / every⌋ × off,
    split pro rata to value (0 where it does not apply)."""
    O, N = orders.size, items.row.size
    k = lines.k[orders.line]
    g = lines.cls[orders.line]
    v = items.units * price[items.k]                                # (N,) one order's value of each item
    redeemed = np.zeros(O, dtype=np.int64)
    share = np.zeros(N)
    has = (g > 0) & (orders.got > 0)
    if has.any():
        j_item = promo.coupon_of[g[items.row]]
        on = has[items.row] & promo.applies[j_item, items.k]
        base = np.bincount(items.row, weights=np.where(on, v, 0.0), minlength=O)
        r = np.flatnonzero(has)
        j = promo.coupon_of[g[r]]
        ok = reg.valid[j] & promo.applies[j, k[r]] & (base[r] >= promo.threshold[j] - 1e-9)
        redeemed[r[ok]] = g[r[ok]]
        use = on & (redeemed[items.row] > 0)
        share[use] = v[use] / base[items.row[use]]
    red = np.zeros(N)
    if reg.red_live:
        on = promo.red_applies[items.k]
        base = np.bincount(items.row, weights=np.where(on, v, 0.0), minlength=O)
        total = np.floor(base / promo.red_every + 1e-9) * promo.red_off
        red[on] = total[items.row[on]] * v[on] / base[items.row[on]]
    return redeemed, share, red


def allot(rng: np.random.Generator, orders: Orders, r0: int, r1: int, stock: int) -> list[Orders]:
    """Serve the orders of rows [r0, r1) (one SKU's orders of one tick) from `stock` units in a
    uniform random order: an order that finds fewer units than it wants takes what is left, the
    ones after it get nothing.

    Exact by class counts: while every remaining order still fits (stock ≥ the largest want),
    the next ⌊stock / largest⌋ orders of the queue are a multivariate hypergeometric draw over
    the rows; then one order at a time. Rows [r0, r1) keep the orders served in full (`got` =
    `want`); returns the rows split off: the one partly served order, and those served nothing
    (`got` 0)."""
    want, left = orders.want[r0:r1], orders.n[r0:r1].copy()
    full = np.zeros_like(left)
    split: list[Orders] = []
    while stock > 0 and left.any():
        biggest = int(want[left > 0].max())
        m = min(stock // biggest, int(left.sum()))
        d = rng.multivariate_hypergeometric(left, max(m, 1))
        if m >= 1:
            full += d
            left -= d
            stock -= int(d @ want)
            continue
        i = int(np.flatnonzero(d)[0])                          # the next order in the queue
        left[i] -= 1
        if want[i] <= stock:
            full[i] += 1
            stock -= int(want[i])
            continue
        part = orders.take(np.array([r0 + i]))
        part.n[:] = 1
        part.got[:] = stock
        split.append(part)
        stock = 0
    rest = np.flatnonzero(left)
    if rest.size:
        none = orders.take(r0 + rest)
        none.n = left[rest]
        none.got = np.zeros(rest.size, dtype=np.int64)
        split.append(none)
    orders.n[r0:r1] = full
    return split
