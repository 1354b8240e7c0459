"""Orders one by one where promotions need them: coupon classes, basket sizes, top-up, and
what each order's basket is worth to a coupon and to the platform's full reduction.

Shapes: L lines, O orders (grouped by line, in line order), G coupon classes, K SKUs,
S segments, C channels. Money in the scenario's currency.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.keyed import keyed_uniforms
from simulator.engine.lines import Lines
from simulator.engine.quantiles import poisson_quantile
from simulator.promotions import Promotions, Regime


def order_sizes(key, slot: np.ndarray, who: np.ndarray, k: np.ndarray, s: np.ndarray, extra: np.ndarray,
                basket_units: np.ndarray) -> np.ndarray:
    """(O,) units of each order: 1 + Poisson((units_per_order − 1) × the segment's basket_units),
    by the inverse CDF on the buyer's keyed uniform (`slot`, `who`: `Lines.order_ids`); most
    orders hold one unit (u below e^−mean: no extra unit)."""
    mean = extra[k] * basket_units[s]
    sizes = np.ones(mean.size, dtype=np.int64)
    live = np.flatnonzero(mean > 0)
    if live.size:
        u = keyed_uniforms(key, slot[live], who[live])
        more = u > np.exp(-mean[live])
        sizes[live[more]] += poisson_quantile(u[more], mean[live[more]])
    return sizes


def line_units(key, lines: Lines, S: int, slots: int, extra: np.ndarray) -> np.ndarray:
    """(L,) units of each line where orders are not followed one by one: n + Poisson(n ×
    (units_per_order − 1)), by the inverse CDF on the line's keyed uniform."""
    mean = lines.n * extra[lines.k]
    units = lines.n.copy()
    live = np.flatnonzero(mean > 0)
    if live.size:
        u = keyed_uniforms(key, lines.t[live] * slots + lines.row[live],
                           ((lines.k[live] * S + lines.s[live]) << 32) + lines.j0[live])
        units[live] += poisson_quantile(u, mean[live])
    return units


def top_up(key, slot: np.ndarray, who: np.ndarray, lines: Lines, sizes: np.ndarray, price: np.ndarray,
           reg: Regime, promo: Promotions, eligible: np.ndarray, line: np.ndarray) -> np.ndarray:
    """凑单: an order whose basket lies just below a usable threshold reaches it, with the top-up
    probability on the buyer's keyed uniform (`slot`, `who`).

    `eligible` (L,) bool: lines whose orders may top up (not deposits); `line` (O,) the line of
    each order (`Lines.order_ids`). Returns new sizes.
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
    go = hit[keyed_uniforms(key, slot[hit], who[hit]) < promo.topup_probability]
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
