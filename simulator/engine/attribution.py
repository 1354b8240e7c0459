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
    fixed = lines.c != POOLED
    cell = ((hour * K + lines.k) * S + lines.s) * C

    def cube(sel, weights, c):
        return np.bincount(cell[sel] + c, weights=weights, minlength=size).reshape(shape)

    channel = lines.c % C                                             # carts (c ≥ C) → their channel
    visiting = fixed & (lines.c < C)
    buyers = cube(visiting, lines.n[visiting], channel[visiting])
    sold = cube(fixed, served_n[fixed], channel[fixed])
    units = cube(fixed, served[fixed], channel[fixed])

    pooled = ~fixed & ~direct
    if pooled.any():
        hks = cell[pooled] // C                                       # (hour, k, s) index
        n_hks = n_hours * K * S
        s_n = np.bincount(hks, weights=served_n[pooled], minlength=n_hks).astype(np.int64)
        s_u = np.bincount(hks, weights=served[pooled], minlength=n_hks).astype(np.int64)
        lost = np.bincount(hks, weights=lines.n[pooled] - served_n[pooled], minlength=n_hks).astype(np.int64)
        pi = np.broadcast_to(pooled_pi.reshape(1, K * S, C), (n_hours, K * S, C)).reshape(n_hks, C)
        flat_b = buyers.reshape(n_hks, C)
        flat_o = sold.reshape(n_hks, C)
        flat_u = units.reshape(n_hks, C)
        rows = np.flatnonzero(s_n)
        if rows.size:
            o = rng.multinomial(s_n[rows], pi[rows])                  # (rows, C)
            flat_o[rows] += o
            flat_b[rows] += o
            flat_u[rows] += o
            extra = s_u[rows] - s_n[rows]
            more = np.flatnonzero(extra)
            if more.size:
                flat_u[rows[more]] += rng.multinomial(extra[more], o[more] / s_n[rows[more], None])
        rows = np.flatnonzero(lost)
        if rows.size:
            flat_b[rows] += rng.multinomial(lost[rows], pi[rows])
    for t, k, s, labels, got in orders:
        h = hour_of_tick(t)
        np.add.at(buyers[h, k, s], labels, 1)
        np.add.at(sold[h, k, s], labels, got > 0)
        np.add.at(units[h, k, s], labels, got)
    return Attributed(buyers, sold, units)
