"""Booking: a stretch's buyer lines per hour × SKU × segment × channel, and flows by index.

Every line carries its channel (a cart, c ≥ C, its channel c − C), so booking is a count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.lines import Lines


@dataclass
class Attributed:
    """Per hour (chunk-local) × SKU × segment × channel: buyers, orders and units served."""

    buyers: np.ndarray     # (h, K, S, C) every buyer, served or not
    orders: np.ndarray     # (h, K, S, C) orders served
    units: np.ndarray      # (h, K, S, C) units served


def attribute(lines: Lines, served: np.ndarray, served_n: np.ndarray, hour: np.ndarray, n_hours: int,
              K: int, S: int, C: int) -> Attributed:
    """Count `lines` (their buyers `lines.n`, orders `served_n` and units `served`, each (L,))
    into (h, K, S, C) cubes; `hour` (L,) is each line's chunk-local hour."""
    shape = (n_hours, K, S, C)
    size = n_hours * K * S * C
    at = ((hour * K + lines.k) * S + lines.s) * C + lines.c % C
    cube = (lambda w: np.bincount(at, weights=w, minlength=size).reshape(shape))
    return Attributed(cube(lines.n), cube(served_n), cube(served))


def book(flow: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights) -> None:
    """flow[rows, cols] += weights, repeated indices adding up (a bincount over the flat index)."""
    if not np.size(rows):
        return
    W = flow.shape[1]
    lo, hi = int(rows.min()), int(rows.max()) + 1                   # only the periods touched
    key = (rows - lo) * W + cols
    if np.ndim(weights) == 0:
        add = np.bincount(key, minlength=(hi - lo) * W) * float(weights)
    else:
        add = np.bincount(key, weights=weights, minlength=(hi - lo) * W)
    flow[lo:hi] += add.reshape(hi - lo, W)


def book_reduction(rec, rows: np.ndarray, skus: np.ndarray, red: np.ndarray, platform: float) -> None:
    """Book the full reduction `red` of orders in periods `rows` of SKUs `skus`, split into the
    platform's subsidy (share `platform`) and the store's cost."""
    total = np.zeros_like(rec.by_sku["platform_subsidy"])
    book(total, rows, skus, red)
    rec.by_sku["platform_subsidy"] += total * platform
    rec.by_sku["reduction_cost"] += total * (1 - platform)
