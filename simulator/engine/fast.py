"""The fast engine: SimPy owns the clock and the decisive moments; visitors come in batches.

Per chunk (one local day within one phase) the engine draws, with numpy:
  * buyers per tick × SKU × segment: Poisson(Σ_c traffic[t, c] · reach[phase, c, k·s]),
    split over channels by a multinomial on the non-zero cells only;
  * visitors who buy nothing per tick × channel: Poisson(traffic · (1 − buy_prob)).
By Poisson thinning these are exactly the buyers and non-buyers of Poisson visits,
so a budget that stops a channel at tick τ simply drops that channel's later draws.
Inside the chunk, stock is played forward with cumsum + searchsorted: SimPy jumps
to the exact tick of the next stock-out, reorder or delivery; deliveries are SimPy
processes. Cost grows with ticks × SKUs × segments (+ channels), not with visitors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from simulator.engine.streams import Streams
from simulator.model import Chunk, Model
from simulator.record import RunRecord


@dataclass
class Lines:
    """Order (or cart) lines: n orders of SKU k by segment s from channel c at tick t.

    All arrays have shape (L,); `units` (≥ n) is drawn once the chunk's lines are final.
    """

    t: np.ndarray
    k: np.ndarray
    s: np.ndarray
    c: np.ndarray
    n: np.ndarray
    units: np.ndarray | None = None

    @classmethod
    def empty(cls) -> "Lines":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, z)

    def take(self, idx) -> "Lines":
        return Lines(self.t[idx], self.k[idx], self.s[idx], self.c[idx], self.n[idx],
                     None if self.units is None else self.units[idx])

    @classmethod
    def concat(cls, parts: list["Lines"]) -> "Lines":
        parts = [p for p in parts if p.t.size]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("t", "k", "s", "c", "n")))


class _State:
    """Mutable per-run state: stock, budgets, carts waiting to pay, deliveries."""

    def __init__(self, model: Model, env: simpy.Environment):
        self.on_hand = model.stock.astype(np.int64).copy()
        self.on_order = np.zeros_like(self.on_hand)
        self.in_stockout = np.zeros(self.on_hand.size, dtype=bool)
        self.total_left = model.total_budget.copy()
        self.daily_left = model.daily_budget.copy()
        self.day = -1
        self.cart_pool: dict[int, np.ndarray] = {}
        self.pending_carts = Lines.empty()
        self.inbox: list[tuple[int, int, int, bool]] = []   # (tick, sku, units, is_reorder)
        self.signal = env.event()


class FastEngine:
    """Vectorized engine. `run(seed)` plays one replication and returns its `RunRecord`."""

    name = "fast"

    def __init__(self, model: Model):
        self.m = model
        m = model
        self.K, self.S, self.C = len(m.skus), len(m.segments), len(m.channels)
        self.paid = [c for c in range(self.C) if m.cpc[c] > 0]
        self.budgeted = [c for c in self.paid if np.isfinite(m.daily_budget[c]) or np.isfinite(m.total_budget[c])]
        self.n_periods = int(m.grid.period[-1]) + 1

    # ------------------------------------------------------------------ run
    def run(self, seed) -> RunRecord:
        m = self.m
        env = simpy.Environment()
        rng = Streams(seed)
        st = _State(m, env)
        rec = RunRecord.empty(self.n_periods, self.C, self.K, m.stock)
        env.process(self._announce(env, rec))
        for tick, k, units in m.inbound:
            env.process(self._deliver(env, st, rec, tick, k, units, False))
        env.process(self._campaign(env, rng, st, rec))
        env.run()
        return rec

    def _announce(self, env, rec):
        """Calendar process: phase starts, launch moments, CRM sends, display budget caps."""
        for tick, kind, subject, value in self.m.fixed_events:
            yield env.timeout(tick - env.now)
            rec.events.append((tick, kind, subject, value))

    def _deliver(self, env, st: _State, rec: RunRecord, tick: int, k: int, units: int, reorder: bool):
        """A shipment arriving at the start of `tick` (before that tick's demand)."""
        yield env.timeout(tick - env.now)
        st.inbox.append((tick, k, units, reorder))
        rec.events.append((tick, "arrival", self.m.skus[k], float(units)))
        if not st.signal.triggered:
            st.signal.succeed()

    def _campaign(self, env, rng: Streams, st: _State, rec: RunRecord):
        m = self.m
        for ch in m.chunks:
            if ch.day != st.day:
                st.day = ch.day
                st.daily_left = m.daily_budget.copy()
            lines, nonbuy, active = self._draw(ch, rng, st)
            lines, nonbuy = self._click_budgets(ch, rng, st, rec, lines, nonbuy, active)
            self._record_traffic(ch, rec, lines, nonbuy)
            if m.warmup[ch.phase]:
                self._add_carts(ch, st, rec, lines)
                lines = Lines.empty()
            else:
                self._release_carts(ch, rng, st)
                due = (st.pending_carts.t >= ch.start) & (st.pending_carts.t < ch.end)
                lines = Lines.concat([lines, st.pending_carts.take(due)])
                st.pending_carts = st.pending_carts.take(~due)
            if lines.t.size:
                extra = m.extra_units[lines.k]
                lines.units = lines.n + (rng.units.poisson(lines.n * extra) if extra.any() else 0)
            else:
                lines.units = lines.n.copy()
            yield from self._play_stock(env, ch, rng, st, rec, lines)

    # ---------------------------------------------------------------- draws
    def _draw(self, ch: Chunk, rng: Streams, st: _State):
        """Buyer lines and per-tick non-buyers for one chunk. Returns (Lines, (n, C), active mask)."""
        m, K, S, C = self.m, self.K, self.S, self.C
        lam = m.traffic[ch.start:ch.end].copy()                      # (n, C)
        active = np.ones(C, dtype=bool)
        for c in self.budgeted:
            if np.floor(min(st.daily_left[c], st.total_left[c]) / m.cpc[c] + 1e-9) <= 0:
                active[c] = False
        lam[:, ~active] = 0.0
        reach = m.reach[ch.phase]                                      # (C, KS)
        n = ch.end - ch.start
        rate = (lam @ reach).reshape(n, K, S).transpose(1, 0, 2)       # (K, n, S)
        counts = rng.orders.poisson(rate)
        idx = np.flatnonzero(counts)                                   # sorted by SKU, tick, segment
        k, rest = np.divmod(idx, n * S)
        t_rel, s = np.divmod(rest, S)
        n_cell = counts.ravel()[idx]
        nonbuy = rng.traffic.poisson(lam * (1.0 - m.buy_prob[ch.phase]))   # (n, C)
        if active.sum() > 1 and idx.size:
            p = lam[t_rel] * reach[:, k * S + s].T                     # (L, C)
            p /= p.sum(axis=1, keepdims=True)
            split = rng.split.multinomial(n_cell, p)                   # (L, C)
            li, c = np.nonzero(split)                                  # keeps the (SKU, tick) order
            t_rel, k, s, n_cell = t_rel[li], k[li], s[li], split[li, c]
        else:
            c = np.full(idx.size, int(np.flatnonzero(active)[0]) if active.any() else 0)
        return Lines(t_rel + ch.start, k, s, c, n_cell.astype(np.int64)), nonbuy, active

    def _click_budgets(self, ch: Chunk, rng: Streams, st: _State, rec: RunRecord,
                       lines: Lines, nonbuy: np.ndarray, active: np.ndarray):
        """Stop each paid channel at the exact tick its daily or total budget runs out."""
        m, n = self.m, ch.end - ch.start
        keep = np.ones(lines.t.size, dtype=bool)
        for c in self.paid:
            mine = lines.c == c
            buyers = np.bincount(lines.t[mine] - ch.start, weights=lines.n[mine], minlength=n).astype(np.int64)
            visits = nonbuy[:, c] + buyers
            left = min(st.daily_left[c], st.total_left[c])
            allowed = int(np.floor(left / m.cpc[c] + 1e-9)) if np.isfinite(left) else None
            cum = np.cumsum(visits)
            if allowed is None or cum[-1] <= allowed:
                spent = float(cum[-1] * m.cpc[c]) if cum.size else 0.0
            else:
                i = int(np.searchsorted(cum, allowed, side="right"))
                kept = allowed - (int(cum[i - 1]) if i else 0)
                at = np.flatnonzero(mine & (lines.t == ch.start + i))
                b_kept = int(rng.budget.hypergeometric(buyers[i], nonbuy[i, c], kept)) if kept else 0
                if at.size:
                    lines.n[at] = rng.budget.multivariate_hypergeometric(lines.n[at], b_kept) if b_kept else 0
                nonbuy[i, c] = kept - b_kept
                nonbuy[i + 1:, c] = 0
                keep &= ~(mine & (lines.t > ch.start + i))
                spent = allowed * float(m.cpc[c])
                rec.events.append((ch.start + i, "budget_exhausted", m.channels[c], spent))
            st.daily_left[c] -= spent
            st.total_left[c] -= spent
        keep &= lines.n > 0
        return (lines if keep.all() else lines.take(keep)), nonbuy

    def _record_traffic(self, ch: Chunk, rec: RunRecord, lines: Lines, nonbuy: np.ndarray):
        m, C = self.m, self.C
        per = m.grid.period
        p_tick = per[ch.start:ch.end]
        n = ch.end - ch.start
        visits = nonbuy + np.bincount((lines.t - ch.start) * C + lines.c, weights=lines.n,
                                      minlength=n * C).reshape(n, C)
        rec.by_channel["visits"][p_tick[0]:p_tick[-1] + 1] += _by_period(visits, p_tick)
        rec.by_channel["ad_spend"][p_tick[0]:p_tick[-1] + 1] += _by_period(
            visits * m.cpc[None, :] + m.media_spend[ch.start:ch.end], p_tick)
        rec.by_channel["fees"][p_tick[0]:p_tick[-1] + 1] += _by_period(m.fees[ch.start:ch.end], p_tick)

    # ---------------------------------------------------------------- carts
    def _add_carts(self, ch: Chunk, st: _State, rec: RunRecord, lines: Lines):
        """Warm-up: buyer lines become carts, pooled by (SKU, segment, channel) until the burst."""
        K, S, C = self.K, self.S, self.C
        cell = (lines.k * S + lines.s) * C + lines.c
        pool = st.cart_pool.setdefault(ch.phase, np.zeros(K * S * C, dtype=np.int64))
        pool += np.bincount(cell, weights=lines.n, minlength=K * S * C).astype(np.int64)
        per = self.m.grid.period[lines.t]
        H = self.n_periods
        rec.by_channel["carts"] += _scatter(per, lines.c, lines.n, (H, C))
        rec.by_sku["carts"] += _scatter(per, lines.k, lines.n, (H, K))

    def _release_carts(self, ch: Chunk, rng: Streams, st: _State):
        """At the first tick of a sale phase, pooled carts pay through, spread over minutes."""
        K, S, C = self.K, self.S, self.C
        for phase, (first_tick, profile) in self.m.pay_start.items():
            if first_tick != ch.start or phase not in st.cart_pool:
                continue
            paying = rng.carts.binomial(st.cart_pool.pop(phase), self.m.cart_pay_through)
            cells = np.flatnonzero(paying)
            spread = rng.carts.multinomial(paying[cells], profile)      # (cells, W)
            ci, w = np.nonzero(spread)
            cell = cells[ci]
            ks, c = np.divmod(cell, C)
            k, s = np.divmod(ks, S)
            new = Lines(first_tick + w, k, s, c, spread[ci, w].astype(np.int64))
            st.pending_carts = Lines.concat([st.pending_carts, new])

    # ---------------------------------------------------------------- stock
    def _play_stock(self, env, ch: Chunk, rng: Streams, st: _State, rec: RunRecord, lines: Lines):
        """Serve the chunk's orders from stock, jumping the SimPy clock from event to event."""
        m, K = self.m, self.K
        a, b = ch.start, ch.end
        n = b - a
        key = lines.k * n + (lines.t - a)
        if key.size and (np.diff(key) < 0).any():                 # cart payments were appended
            order = np.argsort(key, kind="stable")
            lines = lines.take(order)
            key = key[order]
        demand = np.bincount(key, weights=lines.units, minlength=K * n).astype(np.int64).reshape(K, n)
        cum = np.zeros((K, n + 1), dtype=np.int64)
        np.cumsum(demand, axis=1, out=cum[:, 1:])
        served = lines.units.copy()
        served_n = lines.n.copy()
        done = np.zeros(K, dtype=np.int64)
        start_stock = st.on_hand.copy()
        arrivals = np.zeros((K, n), dtype=np.int64)
        lost_ticks: list[tuple[int, int, int]] = []     # (sku, from, to) relative ticks with no stock

        def rows(k, x, y):
            return slice(np.searchsorted(key, k * n + x), np.searchsorted(key, k * n + y))

        def next_event(k) -> int:
            """Relative tick of SKU k's next stock-out or reorder in this chunk (n: none)."""
            if st.on_hand[k] == 0:
                return n
            base = cum[k, done[k]]
            ev = int(np.searchsorted(cum[k], base + st.on_hand[k], side="right")) - 1
            if m.reorder_point[k] >= 0:
                need = st.on_hand[k] + st.on_order[k] - m.reorder_point[k]
                r = done[k] if need <= 0 else int(np.searchsorted(cum[k], base + need, side="left")) - 1
                ev = min(ev, r)
            return min(ev, n)

        def advance(k, to):
            """Consume SKU k's demand in [done, to): served while stock lasts (no event inside)."""
            x = done[k]
            if to <= x:
                return
            if st.on_hand[k] > 0:
                st.on_hand[k] -= cum[k, to] - cum[k, x]
            else:
                lost_ticks.append((k, x, to))
                r = rows(k, x, to)
                served[r] = 0
                served_n[r] = 0
                if not st.in_stockout[k]:
                    hit = np.flatnonzero(demand[k, x:to])
                    if hit.size:
                        st.in_stockout[k] = True
                        rec.events.append((a + x + int(hit[0]), "stockout", m.skus[k], 0.0))
            done[k] = to

        def event_at(k, i):
            """Tick i of SKU k holds a stock-out and/or a reorder trigger."""
            advance(k, i)
            need = demand[k, i]
            if need > st.on_hand[k]:
                r = rows(k, i, i + 1)
                served[r], served_n[r] = self._allot(rng, lines.n[r], lines.units[r], int(st.on_hand[k]))
                lost_ticks.append((k, i, i + 1))
                st.on_hand[k] = 0
                if not st.in_stockout[k]:
                    st.in_stockout[k] = True
                    rec.events.append((a + i, "stockout", m.skus[k], float(need - served[r].sum())))
            else:
                st.on_hand[k] -= need
            done[k] = i + 1
            self._reorder(env, st, rec, k, a + i)

        nxt = np.array([next_event(k) for k in range(K)])
        while True:
            target = min(a + int(nxt.min()), b)
            yield env.timeout(target - env.now) | st.signal
            yield env.timeout(0)                      # same-tick deliveries land first
            now = env.now
            if st.signal.triggered:
                st.signal = env.event()
            for tick, k, units, reorder in st.inbox:
                rel = max(tick - a, 0)
                advance(k, rel)
                if rel < n:
                    arrivals[k, rel] += units
                st.on_hand[k] += units
                if reorder:
                    st.on_order[k] -= units
                st.in_stockout[k] = False
                self._reorder(env, st, rec, k, tick)
                nxt[k] = next_event(k)
            st.inbox.clear()
            if now >= b:
                break
            for k in np.flatnonzero(a + nxt == now):
                event_at(k, now - a)
                nxt[k] = next_event(k)
        for k in range(K):
            advance(k, n)

        self._record_sales(ch, rng, rec, lines, served, served_n, demand, start_stock, arrivals, lost_ticks)

    def _reorder(self, env, st: _State, rec: RunRecord, k: int, tick: int):
        """(s, Q): while stock on hand + on order ≤ s, order Q (arrives lead time later)."""
        m = self.m
        if m.reorder_point[k] < 0:
            return
        while st.on_hand[k] + st.on_order[k] <= m.reorder_point[k]:
            q = int(m.reorder_qty[k])
            st.on_order[k] += q
            rec.events.append((tick, "reorder", m.skus[k], float(q)))
            if tick + m.lead_ticks[k] < m.n_ticks:
                env.process(self._deliver(env, st, rec, tick + int(m.lead_ticks[k]), k, q, True))

    @staticmethod
    def _allot(rng: Streams, n: np.ndarray, units: np.ndarray, stock: int):
        """The last `stock` units go to this tick's orders in random order.

        Lines hold n orders with `units` in all; each order gets 1 unit plus an even
        multinomial share of the extras. Returns served units and served orders per line.
        """
        sizes = []
        owner = []
        for j, (nj, uj) in enumerate(zip(n.tolist(), units.tolist())):
            q = 1 + (rng.stockout.multinomial(uj - nj, np.full(nj, 1.0 / nj)) if uj > nj else np.zeros(nj, dtype=np.int64))
            sizes.append(q)
            owner.append(np.full(nj, j))
        sizes = np.concatenate(sizes)
        owner = np.concatenate(owner)
        perm = rng.stockout.permutation(sizes.size)
        sizes, owner = sizes[perm], owner[perm]
        before = np.cumsum(sizes) - sizes
        got = np.clip(stock - before, 0, sizes)
        return (np.bincount(owner, weights=got, minlength=n.size).astype(np.int64),
                np.bincount(owner, weights=got > 0, minlength=n.size).astype(np.int64))

    def _record_sales(self, ch, rng, rec, lines, served, served_n, demand, start_stock, arrivals, lost_ticks):
        m, K, C = self.m, self.K, self.C
        a, b = ch.start, ch.end
        n = b - a
        per = m.grid.period
        p_tick = per[a:b]
        lo, hi = p_tick[0], p_tick[-1] + 1
        price = m.price[ch.phase][lines.k]
        returned = rng.returns.binomial(served, m.return_rate[lines.k])
        cell = ((per[lines.t] - lo) * K + lines.k) * C + lines.c          # (hour, SKU, channel)
        size = (hi - lo) * K * C
        kept_gmv = 0.0
        for name, vals in (("orders", served_n), ("units", served), ("gmv", served * price),
                           ("returns", returned), ("refunds", returned * price)):
            cube = np.bincount(cell, weights=vals, minlength=size).reshape(hi - lo, K, C)
            by_channel = cube.sum(axis=1)
            rec.by_channel[name][lo:hi] += by_channel
            rec.by_sku[name][lo:hi] += cube.sum(axis=2)
            if name in ("gmv", "refunds"):
                kept_gmv = kept_gmv + (by_channel if name == "gmv" else -by_channel)
        rec.by_channel["commissions"][lo:hi] += kept_gmv * m.commission[None, :]
        lost = demand - np.bincount(lines.k * n + (lines.t - a), weights=served, minlength=K * n).reshape(K, n)
        sold = demand - lost
        out_ticks = np.zeros((K, n))
        for k, x, y in lost_ticks:
            out_ticks[k, x:y] = demand[k, x:y] > 0
        rec.by_sku["lost_units"][lo:hi] += _by_period(lost.T, p_tick)
        rec.by_sku["stockout_ticks"][lo:hi] += _by_period(out_ticks.T, p_tick)
        rec.by_sku["inbound"][lo:hi] += _by_period(arrivals.T, p_tick)
        level = start_stock[:, None] + np.cumsum(arrivals - sold, axis=1)      # (K, n) after each tick
        last = np.r_[np.flatnonzero(np.diff(p_tick)), n - 1]
        rec.stock[p_tick[last]] = level[:, last].T


def _by_period(x: np.ndarray, p_tick: np.ndarray) -> np.ndarray:
    """Sum rows of x (n, ·) into consecutive reporting periods; returns (periods, ·)."""
    starts = np.r_[0, np.flatnonzero(np.diff(p_tick)) + 1]
    return np.add.reduceat(x, starts, axis=0) if x.shape[0] else x


def _scatter(rows: np.ndarray, cols: np.ndarray, vals, shape) -> np.ndarray:
    """Dense (rows × cols) sums of vals."""
    flat = np.bincount(rows * shape[1] + cols, weights=vals, minlength=shape[0] * shape[1])
    return flat.reshape(shape)
