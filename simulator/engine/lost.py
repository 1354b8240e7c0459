"""Demand lost whole: the SKUs with nothing to sell for a whole stretch (`stock.Replenishment.dead`)
lose every order of it, drawn in bulk rather than as lines (docs/model.md, "What the fast engine
does differently": demand lost whole). Shapes: K SKUs, S segments, G coupon classes, n ticks."""

from __future__ import annotations

import numpy as np

from simulator.engine.keyed import keyed_ids
from simulator.engine.lines import Lines
from simulator.engine.orders import cell_units, units_pmf
from simulator.engine.stock import Lost
from simulator.engine.visitors import resolve_segments
from simulator.model import Chunk


class LostDemand:
    """The lost demand of one model's stretches; one order's law per regime is kept."""

    def __init__(self, model, basket_mean: np.ndarray):
        self.m, self.basket_mean = model, basket_mean                      # (K, S) mean units per order − 1
        self.K, self.S, self.C = len(model.skus), len(model.segments), len(model.channels)
        self.G = 1 if model.promo is None else model.promo.G
        self.laws: dict = {}                                               # regime → `units_pmf`

    def draw(self, rng, ch: Chunk, reg, promo, lines: Lines, dead: np.ndarray, draw, moved: Lines) -> Lost:
        """The demand of SKUs out of stock for the whole stretch (`dead` (K,)), from their
        `lines` and the `moved` part of them whose buyers switched SKU: orders per tick, and
        units by cells of SKU × segment × coupon class × top-up eligibility (× switched, where
        some did) per reporting period (the first tick with orders of each SKU a cell of its
        own: a stock-out event reads it), each cell's units drawn from one order's law
        (`orders.units_pmf`, `orders.cell_units`); `reg` the stretch's regime, `promo` the
        model's promotion arrays (None: none), `draw` the stretch's draws (`promo_state.Draw`)."""
        K, S, G, n = self.K, self.S, self.G, ch.end - ch.start
        F = 2 if moved.size else 1                                    # cells of switchers apart
        both = Lines.concat([lines, moved])
        if not both.size:
            z = np.zeros((K, n), dtype=np.int64)
            return Lost(dead, z, z, np.zeros(K, dtype=np.int64))
        exact = ~both.coarse
        orders = np.bincount(both.k[exact] * n + both.t[exact] - ch.start, weights=both.n[exact], minlength=K * n)
        orders = orders.astype(np.int64).reshape(K, n) + draw.coarse.pooled_per_tick(both, K, ch.start, n)
        has = orders > 0
        first = np.where(has.any(axis=1), has.argmax(axis=1), -1)
        p_tick = self.m.grid.period[ch.start:ch.end]
        starts = np.r_[0, np.flatnonzero(np.diff(p_tick)) + 1]
        p_start = starts[np.searchsorted(starts, np.arange(n), side="right") - 1]   # (n,) first tick of its period

        def time_key(part: Lines) -> Lines:                            # (own first tick?, tick)
            t = part.t - ch.start
            own = (t == first[part.k]) & ~part.coarse
            part = part.take(slice(None))
            part.t = own * n + np.where(own, t, p_start[t])
            return part

        lines = resolve_segments(time_key(lines), draw.tables, rng.split, S)
        flag = np.r_[np.zeros(lines.size, dtype=np.int64), np.ones(moved.size, dtype=np.int64)]
        lines = Lines.concat([lines, time_key(moved)])
        deposit = reg.deposit[lines.k] & (lines.c < self.C)
        W = K * S * G * 2 * F
        law = (((lines.k * S + lines.s) * G + lines.cls) * 2 + ~deposit) * F + flag
        count = np.bincount(lines.t * W + law, weights=lines.n).astype(np.int64)
        cell = np.flatnonzero(count)                                  # (own first tick?, tick, law) cells
        count = count[cell]
        price = reg.price
        law_key = (price.tobytes(), reg.valid.tobytes(), reg.red_live)
        if law_key not in self.laws:                                 # one order's law per regime
            self.laws[law_key] = units_pmf(self.basket_mean, G, price, reg, promo, self.m.addons)
        pmf = self.laws[law_key]
        law_c = cell % W
        units = cell_units(rng.keys["units"], keyed_ids(rng.keys["line"], ch.start, cell), count, pmf[law_c // F])
        tick_c = (cell // W) % n
        k_c = law_c // (S * G * 2 * F)
        per_tick = np.bincount(k_c * n + tick_c, weights=units, minlength=K * n).astype(np.int64).reshape(K, n)
        switched = np.bincount(k_c * n + tick_c, weights=units * (law_c % F), minlength=K * n)
        at_first = cell // W >= n
        first_units = np.bincount(k_c[at_first], weights=units[at_first], minlength=K).astype(np.int64)
        return Lost(dead, orders, per_tick, first_units, switched.astype(np.int64).reshape(K, n))
