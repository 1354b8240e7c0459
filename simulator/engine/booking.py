"""The fast engine's books: a stretch's visits, carts, sales, returns and stock per reporting
period (hour) × SKU × channel in the run's record (`RunRecord`). Shapes: n ticks of a stretch,
h periods, K SKUs, S segments, C channels."""

from __future__ import annotations

import numpy as np

from simulator.engine.attribution import Attributed, attribute
from simulator.engine.lines import Lines
from simulator.model import Chunk, Model
from simulator.record import RunRecord


class Books:
    """What a stretch books, for one model."""

    def __init__(self, model: Model):
        self.m = model
        self.K, self.S, self.C = len(model.skus), len(model.segments), len(model.channels)

    def hours(self, ch: Chunk) -> tuple[int, int]:
        """The reporting periods [lo, hi) a stretch touches."""
        per = self.m.grid.period
        return per[ch.start], per[ch.end - 1] + 1

    def attribute(self, ch: Chunk, lines: Lines, served: np.ndarray, served_n: np.ndarray) -> Attributed:
        """(h, K, S, C) cubes of a stretch's lines: buyers, orders and units served."""
        per = self.m.grid.period
        lo, hi = self.hours(ch)
        return attribute(lines, served, served_n, per[lines.t] - lo, hi - lo, self.K, self.S, self.C)

    def traffic(self, ch: Chunk, rec: RunRecord, visits: np.ndarray):
        """Visits (carts paying are not new visits); spend and fees."""
        m = self.m
        lo, hi = self.hours(ch)
        p_tick = m.grid.period[ch.start:ch.end]
        visits = _by_period(visits.astype(float), p_tick)
        rec.by_channel["visits"][lo:hi] += visits
        rec.by_channel["ad_spend"][lo:hi] += visits * m.cpc[None, :] + _by_period(m.media_spend[ch.start:ch.end], p_tick)
        rec.by_channel["fees"][lo:hi] += _by_period(m.fees[ch.start:ch.end], p_tick)

    def carts(self, ch: Chunk, rec: RunRecord, carts: np.ndarray):
        lo, hi = self.hours(ch)
        rec.by_channel["carts"][lo:hi] += carts.sum(axis=(1, 2))
        rec.by_sku["carts"][lo:hi] += carts.sum(axis=(2, 3))

    def sales(self, ch: Chunk, rec: RunRecord, got, price: np.ndarray):
        """Orders, units, GMV and commissions on it per hour × SKU × channel, at `price` (K,) per
        unit (returns are booked apart)."""
        m = self.m
        lo, hi = self.hours(ch)
        orders = got.orders.sum(axis=2)                                # (h, K, C)
        units = got.units.sum(axis=2).astype(np.int64)
        gmv = units * price[None, :, None]
        for name, cube in (("orders", orders), ("units", units), ("gmv", gmv)):
            rec.by_channel[name][lo:hi] += cube.sum(axis=1)
            rec.by_sku[name][lo:hi] += cube.sum(axis=2)
        rec.by_sku["paid"][lo:hi] += gmv.sum(axis=2)
        rec.by_channel["commissions"][lo:hi] += gmv.sum(axis=1) * m.commission[None, :]

    def groups(self, ch: Chunk, rec: RunRecord, out, deposit: np.ndarray, auctions: dict, price: np.ndarray,
               rows) -> None:
        """Orders and GMV of each ad group's clicks: an auction channel's sale lines (not carts,
        not `deposit` (L,)) of the stock play's outcome `out` per hour and visit row — orders
        served, GMV at the activity `price` (K,) — shared among the row's groups by their clicks
        of the stretch in that hour (`auctions`: channel → its `AuctionDraw`; a row's groups
        convert alike; `rows` the engine's `VisitRows`)."""
        per = self.m.grid.period
        lines = out.lines
        for c, d in auctions.items():
            rows_g = rows.group_row[c]                           # (G,) row of each group
            mine = np.flatnonzero(~deposit & (lines.c == c))
            if not mine.size or not d.t.size:
                continue
            h0 = int(per[ch.start])
            H = int(per[ch.end - 1]) - h0 + 1
            R = rows.R
            at = (per[lines.t[mine]] - h0) * R + lines.row[mine]
            orders = np.bincount(at, weights=out.served_n[mine], minlength=H * R).reshape(H, R)
            gmv = np.bincount(at, weights=out.served[mine] * price[lines.k[mine]], minlength=H * R).reshape(H, R)
            kept = d.t < ch.end - ch.start
            G = len(rows_g)
            clicks = np.bincount((per[ch.start + d.t[kept]] - h0) * G + d.g[kept], minlength=H * G).reshape(H, G) * 1.0
            row_clicks = np.bincount(np.repeat(np.arange(H) * R, G) + np.tile(rows_g, H), weights=clicks.ravel(),
                                     minlength=H * R).reshape(H, R)
            share = np.divide(clicks, row_clicks[:, rows_g], out=np.zeros_like(clicks), where=row_clicks[:, rows_g] > 0)
            book = rec.ad_groups[self.m.channels[c]]
            book["orders"][h0:h0 + H] += orders[:, rows_g] * share
            book["gmv"][h0:h0 + H] += gmv[:, rows_g] * share

    def stock(self, ch: Chunk, rec: RunRecord, out, price: np.ndarray):
        """Lost units (and their GMV at the stretch's activity `price` (K,)), stock-out ticks,
        deliveries, and stock at the end of each hour."""
        lo, hi = self.hours(ch)
        p_tick = self.m.grid.period[ch.start:ch.end]
        n = ch.end - ch.start
        lines = out.lines
        key = lines.k * n + (lines.t - ch.start)
        sold = np.bincount(key, weights=out.served, minlength=self.K * n).reshape(self.K, n)
        over = np.bincount(key, weights=out.oversold, minlength=self.K * n).reshape(self.K, n)
        ends = np.flatnonzero(np.diff(p_tick))
        starts = np.r_[0, ends + 1]
        per = {}
        for name, flow in (("lost_units", out.demand - sold - over - out.switched), ("switched_units", out.switched),
                           ("stockout_ticks", out.out_ticks),
                           ("inbound", out.arrivals), ("taken", sold), ("released", out.released),
                           ("restocked", out.restocked)):
            per[name] = np.add.reduceat(flow, starts, axis=1).T            # (K, n) → (periods, K)
            rec.by_sku[name][lo:hi] += per[name]
        rec.by_sku["lost_gmv"][lo:hi] += per["lost_units"] * price[None, :]
        came = lines.switched
        if came.any():                                                  # sold to buyers who switched SKU
            np.add.at(rec.by_sku["switched_in"], (self.m.grid.period[lines.t[came]], lines.k[came]), out.served[came])
        net = per["inbound"] + per["released"] + per["restocked"] - per["taken"]   # whole units: exact in floats
        rec.stock[p_tick[np.r_[ends, n - 1]]] = out.start_stock[None, :] + np.cumsum(net, axis=0)


def _by_period(x: np.ndarray, p_tick: np.ndarray) -> np.ndarray:
    """Sum rows of x (n, ·) into consecutive reporting periods; returns (periods, ·)."""
    starts = np.r_[0, np.flatnonzero(np.diff(p_tick)) + 1]
    return np.add.reduceat(x, starts, axis=0) if x.shape[0] else x
