"""Orders one by one where promotions need them: coupon classes, basket sizes, top-up, and
what each order's basket is worth to a coupon and to the platform's full reduction.

Shapes: L lines, O orders (grouped by line, in line order), G coupon classes, K SKUs,
S segments, C channels. Money in the scenario's currency.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.lines import POOLED, Lines
from simulator.engine.poisson import sparse_poisson
from simulator.promotions import Promotions, Regime


def split_classes(rng: np.random.Generator, lines: Lines, reg: Regime, alpha: np.ndarray, C: int,
                  start: int) -> Lines:
    """Split new buyer lines (c < C or POOLED) into coupon classes.

    A buyer of SKU k, segment s from channel c at tick t holds class g with probability
    ∝ shares[t, g, k, s] · base[g, c, k, s]; pooled lines mix channels by their weights
    `alpha` (C,). Lines that already carry a class (carts, c ≥ C) keep it. Sequential
    binomials per class. `start`: the stretch's first tick.
    """
    G = reg.W.shape[0]
    if G == 1 or not lines.size or not reg.W[1:].any():          # no coupon can be claimed now
        return Lines(lines.t, lines.k, lines.s, lines.c, lines.n, None, lines.cls)
    fresh = lines.c < C
    pooled_base = np.einsum("c,gcks->gks", alpha, reg.base)              # (G, K, S)
    chan = np.where(lines.c == POOLED, 0, np.minimum(lines.c, C - 1))
    b = np.where((lines.c == POOLED)[None, :], pooled_base[:, lines.k, lines.s], reg.base[:, chan, lines.k, lines.s])
    share = (reg.Wt[lines.t - start, :, lines.k, lines.s].T if reg.Wt is not None
             else reg.W[:, lines.k, lines.s])                            # (G, L)
    w = share * b
    tot = w.sum(axis=0)
    w = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), np.r_[1.0, np.zeros(G - 1)][:, None])
    left = lines.n.copy()
    counts = np.zeros((G, lines.size), dtype=np.int64)
    rest = np.ones(lines.size)
    for g in range(G - 1, 0, -1):
        p = np.clip(np.where(rest > 0, w[g] / np.maximum(rest, 1e-300), 0.0), 0.0, 1.0)
        counts[g] = np.where(fresh, rng.binomial(left, p), 0)
        left -= counts[g]
        rest -= w[g]
    counts[0] = left
    old = ~fresh
    counts[:, old] = 0
    counts[lines.cls[old], np.flatnonzero(old)] = lines.n[old]
    g, j = np.nonzero(counts)
    order = np.argsort(j, kind="stable")
    g, j = g[order], j[order]
    return Lines(lines.t[j], lines.k[j], lines.s[j], lines.c[j], counts[g, j], None, g.astype(np.int64))


def order_sizes(rng: np.random.Generator, lines: Lines, extra: np.ndarray, basket_units: np.ndarray) -> np.ndarray:
    """(O,) units of each order: 1 + Poisson((units_per_order − 1) × the segment's basket_units)
    (most orders hold one unit: `sparse_poisson`)."""
    mean = np.repeat(extra[lines.k] * basket_units[lines.s], lines.n)
    sizes = np.ones(mean.size, dtype=np.int64)
    more, x = sparse_poisson(rng, mean)
    sizes[more] += x
    return sizes


def order_lines(lines: Lines) -> np.ndarray:
    """(O,) the line of each order (orders grouped by line, in line order)."""
    return np.repeat(np.arange(lines.size), lines.n)


def top_up(rng: np.random.Generator, lines: Lines, sizes: np.ndarray, price: np.ndarray, reg: Regime,
           promo: Promotions, eligible: np.ndarray, line: np.ndarray) -> np.ndarray:
    """凑单: an order whose basket lies just below a usable threshold reaches it.

    `eligible` (L,) bool: lines whose orders may top up (not deposits); `line` (O,) the line of
    each order (`order_lines`). Returns new sizes.
    """
    if promo.topup_probability <= 0 or not sizes.size:
        return sizes
    k = lines.k[line]
    p = price[k]
    v = sizes * p
    best = np.full(sizes.size, np.inf)
    g = lines.cls[line]
    has = g > 0
    if has.any():
        j = g[has] - 1
        thr = promo.threshold[j]
        usable = reg.valid[j] & promo.applies[j, k[has]] & (v[has] < thr)
        best[has] = np.where(usable, thr, np.inf)
    if reg.red_live:
        nxt = (np.floor(v / promo.red_every) + 1) * promo.red_every
        best = np.where(promo.red_applies[k], np.minimum(best, nxt), best)
    ok = np.isfinite(best) & eligible[line] & (best - v <= promo.topup_reach * best)
    hit = np.flatnonzero(ok)
    if not hit.size:
        return sizes
    go = hit[rng.random(hit.size) < promo.topup_probability]
    out = sizes.copy()
    out[go] += np.ceil((best[go] - v[go]) / p[go] - 1e-9).astype(np.int64)
    return out


def order_money(lines: Lines, got: np.ndarray, price: np.ndarray, reg: Regime, promo: Promotions,
                line: np.ndarray, k: np.ndarray):
    """Per order of `lines` with `got` (O,) units — `line` (O,) its line, `k` (O,) its SKU: (coupon
    class redeemed, 0: none) and the platform reduction R = ⌊basket / every⌋ × off (0 where it
    does not apply)."""
    v = got * price[k]
    g = lines.cls[line]
    redeemed = np.zeros(got.size, dtype=np.int64)
    has = (g > 0) & (got > 0)
    if has.any():
        j = g[has] - 1
        ok = reg.valid[j] & promo.applies[j, k[has]] & (v[has] >= promo.threshold[j] - 1e-9)
        redeemed[np.flatnonzero(has)[ok]] = g[has][ok]
    red = np.zeros(got.size)
    if reg.red_live:
        red = np.where(promo.red_applies[k], np.floor(v / promo.red_every + 1e-9) * promo.red_off, 0.0)
    return redeemed, red
