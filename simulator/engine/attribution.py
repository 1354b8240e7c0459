"""Attributing a chunk's buyers to channels.

Lines of an explicit channel (budgeted paid search, CRM pushes, carts that pay) carry
it. Pooled lines come from the chunk's pooled channels, whose traffic has one shape
over the chunk (traffic[t, c] = α_c · g(t)); a pooled buyer of SKU k in segment s then
comes from channel c with probability π[k·s, c] ∝ α_c · reach[c, k·s], whatever the
tick. Channel labels are independent of which orders the stock could serve, so the
served and the lost pooled buyers of each hour × SKU × segment are split over
channels by two multinomials, and the extra units of served orders (Poisson per
order) by a third, in proportion to the orders — exactly, and at a cost that does not
grow with the number of visitors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.lines import POOLED, Lines


@dataclass
class Attributed:
    """Per hour (chunk-local) × SKU × segment × channel: buyers, orders and units served."""

    buyers: np.ndarray     # (h, K, S, C) every buyer, served or not (they all visited)
    orders: np.ndarray     # (h, K, S, C) orders served
    units: np.ndarray      # (h, K, S, C) units served


def attribute(rng: np.random.Generator, lines: Lines, served: np.ndarray, served_n: np.ndarray,
              direct: np.ndarray, orders: list, hour: np.ndarray, n_hours: int,
              pooled_pi: np.ndarray, K: int, S: int, C: int, hour_of_tick) -> Attributed:
    """Attribute lines to channels. `hour` is (L,) chunk-local hour of each line;
    `orders` lists (t, k, s, labels, got) for pooled lines served order by order."""
    shape = (n_hours, K, S, C)
    size = n_hours * K * S * C
    n_ks = K * S
    hks = (hour * K + lines.k) * S + lines.s                          # (L,) hour × SKU × segment
    fixed = np.flatnonzero(lines.c != POOLED)
    c_fixed = lines.c[fixed]
    at = hks[fixed] * C + c_fixed % C                                 # carts (c ≥ C) → their channel
    visiting = c_fixed < C
    buyers = np.bincount(at[visiting], weights=lines.n[fixed][visiting], minlength=size).reshape(shape)
    sold = np.bincount(at, weights=served_n[fixed], minlength=size).reshape(shape)
    units = np.bincount(at, weights=served[fixed], minlength=size).reshape(shape)

    pooled = np.flatnonzero((lines.c == POOLED) & ~direct)
    if pooled.size:
        h_p = hks[pooled]
        n_hks = n_hours * n_ks
        s_n = np.bincount(h_p, weights=served_n[pooled], minlength=n_hks).astype(np.int64)
        s_u = np.bincount(h_p, weights=served[pooled], minlength=n_hks).astype(np.int64)
        lost = np.bincount(h_p, weights=lines.n[pooled], minlength=n_hks).astype(np.int64) - s_n
        flat_b = buyers.reshape(n_hks, C)
        flat_o = sold.reshape(n_hks, C)
        flat_u = units.reshape(n_hks, C)
        rows = np.flatnonzero(s_n)
        if rows.size:
            o = rng.multinomial(s_n[rows], pooled_pi[rows % n_ks])      # (rows, C)
            flat_o[rows] += o
            flat_b[rows] += o
            flat_u[rows] += o
            extra = s_u[rows] - s_n[rows]
            more = np.flatnonzero(extra)
            if more.size:
                flat_u[rows[more]] += rng.multinomial(extra[more], o[more] / s_n[rows[more], None])
        rows = np.flatnonzero(lost)
        if rows.size:
            flat_b[rows] += rng.multinomial(lost[rows], pooled_pi[rows % n_ks])
    for t, k, s, labels, got in orders:
        h = hour_of_tick(t)
        np.add.at(buyers[h, k, s], labels, 1)
        np.add.at(sold[h, k, s], labels, got > 0)
        np.add.at(units[h, k, s], labels, got)
    return Attributed(buyers, sold, units)
