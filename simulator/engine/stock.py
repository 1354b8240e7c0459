"""Playing one chunk's orders against stock, jumping the SimPy clock from event to event.

Per SKU, the chunk's demand (units per tick) is cumulated once; the next stock-out
(cumulative demand exceeds stock on hand) and the next reorder trigger (stock on
hand + on order falls to the reorder point) are found with `searchsorted`. SimPy
advances to the earliest of them, or to a delivery, fires it, and continues. Lines
in ticks with no stock lose all their units; in the stock-out tick itself the last
units go to that tick's orders in random order. In payment mode (付款减库存) the units
that found no stock from the tick the stock ran out through the next `oversell_ticks`
ticks are oversold (cancelled) rather than lost. A SKU in a flash sale keeps its
held-back stock apart: deliveries join it and the reorder policy counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.engine.lines import Lines
from simulator.engine.orders import Orders, allot
from simulator.engine.streams import Streams
from simulator.model import Chunk, Model
from simulator.record import RunRecord


@dataclass
class StockState:
    """Stock of every SKU across chunks, and deliveries waiting to be taken in."""

    on_hand: np.ndarray                 # (K,) units
    on_order: np.ndarray                # (K,) units ordered, not yet delivered
    in_stockout: np.ndarray             # (K,) bool: a stock-out episode is open
    inbox: list = field(default_factory=list)   # (tick, sku, units, kind: inbound | reorder | release | restock)
    signal: object = None               # SimPy event a delivery triggers to wake the main process
    held: np.ndarray = None             # (K,) units held back from a live flash sale
    flash_live: np.ndarray = None       # (K,) bool: deliveries go to `held`, no stock-out events
    zero_at: np.ndarray = None          # (K,) tick the stock last ran out by a sale (−1: not out)
    oversell_ticks: int = -1            # payment mode: ticks after running out that oversell (−1: order mode)
    restocks: dict = field(default_factory=dict)   # tick (a local midnight) → [(sku, units)] returns back
    after_end: np.ndarray = None        # (K,) returned units back after the campaign: its ending stock

    def __post_init__(self):
        K = self.on_hand.size
        self.after_end = np.zeros(K, dtype=np.int64) if self.after_end is None else self.after_end
        self.held = np.zeros(K, dtype=np.int64) if self.held is None else self.held
        self.flash_live = np.zeros(K, dtype=bool) if self.flash_live is None else self.flash_live
        self.zero_at = np.full(K, -1, dtype=np.int64) if self.zero_at is None else self.zero_at

    def position(self, k: int) -> int:
        """Stock on hand + held back + on order: what the reorder policy sees."""
        return int(self.on_hand[k] + self.held[k] + self.on_order[k])


class Replenishment:
    """Deliveries and the (s, Q) reorder policy of one replication. A delivery is a SimPy
    process that waits for its tick, puts the units in the inbox and triggers `st.signal`:
    the event stock play waits on beside its own next stock-out or reorder tick. `moments`
    (`engine.moments`): stock play succeeds a SKU's stock-out there at its tick."""

    def __init__(self, model: Model, env, st: StockState, rec: RunRecord, moments):
        self.m, self.env, self.st, self.rec, self.moments = model, env, st, rec, moments
        self.first_due = np.full(len(model.skus), np.iinfo(np.int64).max)   # (K,) next scheduled delivery
        self.scheduled: list[tuple[int, int]] = []                            # (tick, sku) on their way

    def deliver(self, tick: int, k: int, units: int, kind: str) -> None:
        """Schedule `units` of SKU k at the start of `tick` (before its demand): a shipment
        (`inbound`, `reorder`) or reserved units coming back (`release`)."""
        self.scheduled.append((tick, k))
        self.first_due[k] = min(self.first_due[k], tick)
        self.env.process(self._arrive(tick, k, units, kind))

    def dead(self, a: int, b: int) -> np.ndarray:
        """(K,) SKUs whose whole demand in ticks [a, b) is lost: no stock on hand or held back,
        nothing arriving before b (shipments, reorders, releases, restocks), no oversell window
        open, no flash sale on, and not the campaign's first tick (its reorder check)."""
        st = self.st
        out = (st.on_hand + st.held == 0) & (self.first_due >= b) & ~st.flash_live & (a > 0)
        if st.oversell_ticks >= 0:
            out &= (st.zero_at < 0) | (st.zero_at + st.oversell_ticks < a)
        for _, k, _, _ in st.inbox:
            out[k] = False
        for k, _ in st.restocks.get(a, []):
            out[k] = False
        return out

    def _arrive(self, tick: int, k: int, units: int, kind: str):
        yield self.env.timeout(tick - self.env.now)
        self.scheduled.remove((tick, k))
        self.first_due[k] = min((t for t, j in self.scheduled if j == k), default=np.iinfo(np.int64).max)
        self.st.inbox.append((tick, k, units, kind))
        if kind != "release":
            self.rec.events.append((tick, "arrival", self.m.skus[k], float(units)))
        if not self.st.signal.triggered:
            self.st.signal.succeed()

    def check(self, k: int, tick: int) -> None:
        """(s, Q): while stock on hand + held back + on order ≤ s, order Q (arrives lead time later).
        The lots one check places are counted at once (one order, one delivery): never a loop
        per lot, whatever s / Q is."""
        m, st = self.m, self.st
        if m.reorder_point[k] < 0:
            return
        gap = int(m.reorder_point[k]) - int(st.position(k))
        if gap < 0:
            return
        q = (gap // int(m.reorder_qty[k]) + 1) * int(m.reorder_qty[k])
        st.on_order[k] += q
        self.rec.events.append((tick, "reorder", m.skus[k], float(q)))
        if tick + m.lead_ticks[k] < m.n_ticks:
            self.deliver(tick + int(m.lead_ticks[k]), k, q, "reorder")


def shelf_at(st: StockState, a: int) -> np.ndarray:
    """(K,) units a stretch from tick `a` finds on the shelf: on hand, and what lands at `a`
    (deliveries and returns back; a flash sale's deliveries are held back, not shelved)."""
    shelf = st.on_hand.copy()
    for tick, k, units, _ in st.inbox:
        if tick <= a and not st.flash_live[k]:
            shelf[k] += units
    for k, units in st.restocks.get(a, []):
        shelf[k] += units
    return shelf


@dataclass
class Lost:
    """Demand of the SKUs whose whole demand in a stretch is lost (`Replenishment.dead`), drawn
    in bulk rather than as lines: shapes (K,) and (K, n) over the stretch's n ticks."""

    dead: np.ndarray                    # (K,) bool
    orders: np.ndarray                  # (K, n) orders per tick
    units: np.ndarray                   # (K, n) units, each reporting period's at its first tick
    first: np.ndarray                   # (K,) units of the first tick with orders
    switched: np.ndarray = None         # (K, n) of `units`, those whose buyers switched SKU (`engine.switching`)

    def __post_init__(self):
        self.switched = np.zeros_like(self.units) if self.switched is None else self.switched

    @classmethod
    def none(cls, K: int, n: int) -> "Lost":
        z = np.zeros((K, n), dtype=np.int64)
        return cls(np.zeros(K, dtype=bool), z, z, np.zeros(K, dtype=np.int64))


@dataclass
class Outcome:
    """What the stock did to a chunk's lines."""

    lines: Lines                        # sorted by (SKU, tick)
    served: np.ndarray                  # (L,) units served
    served_n: np.ndarray                # (L,) orders served (got at least one unit)
    demand: np.ndarray                  # (K, n) units demanded per tick
    start_stock: np.ndarray             # (K,) on hand at the chunk's start
    arrivals: np.ndarray                # (K, n) units delivered per tick
    out_ticks: np.ndarray               # (K, n) 1 where demand met no stock (fully or partly)
    oversold: np.ndarray = None         # (L,) units oversold (payment mode)
    cancelled: np.ndarray = None        # (L,) orders with an oversold unit
    released: np.ndarray = None         # (K, n) reserved units back on the shelf
    restocked: np.ndarray = None        # (K, n) returned units back in stock
    orders: Orders = None               # class rows of the lines, `got` set (rows split at a stock-out appended)
    switched: np.ndarray = None         # (K, n) units demanded that met no stock and whose buyers switched SKU


def play(repl: Replenishment, ch: Chunk, rng: Streams, lines: Lines, orders: Orders, lost: Lost):
    """SimPy generator: serve `lines` — their orders by class rows `orders`, grouped by line in
    line order, lines sorted by SKU, tick — from stock over the chunk; the SKUs of `lost` lose
    their demand whole. Returns an `Outcome`. Reorders go to `repl`; its deliveries wake the
    play."""
    return (yield from _Play(repl, ch, rng, lines, orders, lost).run())


class _Play:
    """One chunk's stock play (`play`): the demand cumulated per SKU, what has been consumed
    (`done`, (K,) relative ticks) and the outcome being filled."""

    def __init__(self, repl: Replenishment, ch: Chunk, rng: Streams, lines: Lines, orders: Orders, lost: Lost):
        self.repl, self.m, self.rng, self.lost = repl, repl.m, rng, lost
        self.env, self.st, self.rec = repl.env, repl.st, repl.rec
        K = self.K = len(self.m.skus)
        self.a, self.b = ch.start, ch.end
        n = self.n = ch.end - ch.start
        self.key = lines.k * n + (lines.t - self.a)
        orders = Orders(orders.line, orders.want, orders.n.copy(), orders.key, orders.got.copy(), orders.mask)   # play sets n, got
        lines.units = orders.per_line(orders.n * orders.want, lines.size)
        self.lines, self.orders = lines, orders
        demand = np.bincount(self.key, weights=lines.units, minlength=K * n).astype(np.int64).reshape(K, n)
        demand[lost.dead] = lost.units[lost.dead]
        self.demand = demand
        self.present = np.where(lost.dead[:, None], lost.orders > 0, demand > 0)   # (K, n) ticks with orders
        self.cum = np.zeros((K, n + 1), dtype=np.int64)
        np.cumsum(demand, axis=1, out=self.cum[:, 1:])
        st = self.st
        self.out = Outcome(lines, lines.units.copy(), lines.n.copy(), demand, st.on_hand + st.held,
                           np.zeros((K, n), dtype=np.int64), np.zeros((K, n)),
                           oversold=np.zeros(lines.size, dtype=np.int64),
                           cancelled=np.zeros(lines.size, dtype=np.int64),
                           released=np.zeros((K, n), dtype=np.int64), restocked=np.zeros((K, n), dtype=np.int64),
                           switched=lost.switched.copy())        # only out-of-stock SKUs have any
        self.offs = np.r_[0, np.cumsum(np.bincount(orders.line, minlength=lines.size))]
        self.split: list[Orders] = []                   # rows split off in stock-out ticks
        self.done = np.zeros(K, dtype=np.int64)
        self.pay_mode = st.oversell_ticks >= 0

    # ------------------------------------------------------------------ the clock
    def run(self):
        """SimPy generator: from event to event (a stock-out, a reorder trigger, a delivery)
        to the chunk's end; returns the `Outcome`."""
        env, st, a, b = self.env, self.st, self.a, self.b
        for k, units in st.restocks.pop(a, []):   # returns back in stock at a local midnight (a chunk's start)
            st.inbox.append((a, k, units, "restock"))
        yield env.timeout(0)                      # deliveries due at the chunk's first tick land
        if st.signal.triggered:
            st.signal = env.event()
        self.take_in(a + 1)
        if a == 0:                                # a SKU that starts at or below its reorder point
            for k in range(self.K):
                self.repl.check(k, 0)
        nxt = self.next_events()
        while True:
            target = min(a + int(nxt.min()), b)
            yield env.timeout(target - env.now) | st.signal
            yield env.timeout(0)                  # same-tick deliveries land first
            now = env.now
            if st.signal.triggered:
                st.signal = env.event()
            for k in self.take_in(min(now, b - 1) + 1):
                nxt[k] = self.next_event(k)
            if now >= b:
                break
            for k in np.flatnonzero(a + nxt == now):
                self.event_at(k, now - a)
                nxt[k] = self.next_event(k)
        return self.finish()

    def finish(self) -> Outcome:
        """The rest of the chunk, with no event left in it: served from stock or lost."""
        st, cum, done, n, K = self.st, self.cum, self.done, self.n, self.K
        quiet = (st.on_hand > 0) & (done < n)                     # the rest of the chunk served from stock
        take = cum[:, n] - cum[np.arange(K), done]
        quiet &= take < st.on_hand                                # running out exactly is an event: one by one
        st.on_hand[quiet] -= take[quiet]
        done[quiet] = n
        for k in np.flatnonzero(done < n):
            self.advance(k, n)
        out = self.out
        out.orders = Orders.concat([self.orders, *self.split])
        out.served, out.served_n = out.orders.served(self.lines.size)
        return out

    def next_event(self, k) -> int:
        """Relative tick of SKU k's next stock-out or reorder in this chunk (n: none); a SKU
        with nothing on hand: the first tick its demand meets the empty shelf, if that opens a
        stock-out, else n (it waits for a delivery; demand meanwhile is lost)."""
        st, m, cum, n = self.st, self.m, self.cum, self.n
        if st.on_hand[k] == 0:
            if st.in_stockout[k] or st.flash_live[k]:
                return n
            ahead = np.flatnonzero(self.present[k, self.done[k]:])
            return int(self.done[k] + ahead[0]) if ahead.size else n
        base = cum[k, self.done[k]]
        ev = int(np.searchsorted(cum[k], base + st.on_hand[k], side="right")) - 1
        if m.reorder_point[k] >= 0:
            need = st.position(k) - m.reorder_point[k]
            r = self.done[k] if need <= 0 else int(np.searchsorted(cum[k], base + need, side="left")) - 1
            ev = min(ev, r)
        return min(ev, n)

    def next_events(self) -> np.ndarray:
        """(K,) `next_event` of every SKU at once: counts of the cumulated demand at or below
        the stock (and below the reorder need) instead of one search per SKU."""
        st, m, cum, done, n = self.st, self.m, self.cum, self.done, self.n
        base = cum[np.arange(self.K), done]
        ev = (cum <= (base + st.on_hand)[:, None]).sum(axis=1) - 1
        need = st.on_hand + st.held + st.on_order - m.reorder_point
        r = np.where(need <= 0, done, (cum < (base + need)[:, None]).sum(axis=1) - 1)
        ev = np.where(m.reorder_point >= 0, np.minimum(ev, r), ev)
        ahead = self.present & (np.arange(n)[None, :] >= done[:, None])           # an empty shelf's next demand
        empty = np.where(ahead.any(axis=1) & ~st.in_stockout & ~st.flash_live, ahead.argmax(axis=1), n)
        return np.where(st.on_hand == 0, empty, np.minimum(ev, n))

    # ------------------------------------------------------------------ one SKU
    def emptied(self, k, tick) -> None:
        """A sale takes the shelf's last unit at `tick`: `sold_out` (unless a flash sale's
        allotment is on the shelf: its sell-out is logged instead); in payment mode the
        oversell window opens."""
        st = self.st
        if self.pay_mode:
            st.zero_at[k] = tick
        if not st.flash_live[k]:
            self.rec.events.append((tick, "sold_out", self.m.skus[k], 0.0))

    def rows(self, k, x, y) -> slice:
        """The lines of SKU k in relative ticks [x, y)."""
        n = self.n
        return slice(np.searchsorted(self.key, k * n + x), np.searchsorted(self.key, k * n + y))

    def none_served(self, r: slice, oversold: bool) -> None:
        """Lines `r` get nothing: oversold (accepted, then cancelled) or lost."""
        out, lines = self.out, self.lines
        if oversold:
            out.oversold[r] = lines.units[r]
            out.cancelled[r] = lines.n[r]
        self.orders.got[self.offs[r.start]:self.offs[r.stop]] = 0

    def oversell_until(self, k) -> int:
        """Last relative tick whose orders are oversold rather than lost (−1: none)."""
        st = self.st
        if not self.pay_mode or st.zero_at[k] < 0:
            return -1
        return int(st.zero_at[k] + st.oversell_ticks - self.a)

    def advance(self, k, to) -> None:
        """Consume SKU k's demand in [done, to): served while stock lasts (no event inside)."""
        st, cum, a = self.st, self.cum, self.a
        x = self.done[k]
        if to <= x:
            return
        if st.on_hand[k] > 0:
            take = cum[k, to] - cum[k, x]
            if take == st.on_hand[k]:                # the stock runs out exactly, at the last tick with demand
                self.emptied(k, a + int(np.searchsorted(cum[k], cum[k, x] + take, side="left")) - 1)
            st.on_hand[k] -= take
        else:
            self.out.out_ticks[k, x:to] = self.present[k, x:to]
            y = min(max(self.oversell_until(k) + 1, x), to)
            if y > x:
                self.none_served(self.rows(k, x, y), True)
            if to > y:
                self.none_served(self.rows(k, y, to), False)
            if not st.in_stockout[k] and not st.flash_live[k]:
                hit = np.flatnonzero(self.present[k, x:to])
                if hit.size:
                    st.in_stockout[k] = True
                    first = x + int(hit[0])
                    lost = self.lost
                    value = lost.first[k] if lost.dead[k] else self.demand[k, first]
                    self.stockout(k, a + first, float(value))
        self.done[k] = to

    def stockout(self, k, tick: int, lost: float) -> None:
        """SKU k's demand meets an empty shelf at `tick` (now): the `stockout` event, `lost` the
        units it turned away in that tick, and the SimPy moment ("stockout", SKU) succeeded."""
        sku = self.m.skus[k]
        self.rec.events.append((tick, "stockout", sku, lost))
        self.repl.moments.fire("stockout", sku, lost)

    def event_at(self, k, i) -> None:
        """Tick i of SKU k holds a stock-out and/or a reorder trigger (an empty shelf: its
        demand meets it, the stock-out)."""
        st, a = self.st, self.a
        if st.on_hand[k] == 0:
            self.advance(k, i + 1)
            return
        self.advance(k, i)
        need = self.demand[k, i]
        if need > st.on_hand[k]:
            r = self.rows(k, i, i + 1)
            if st.on_hand[k] > 0:
                self.emptied(k, a + i)
            oversell = self.pay_mode and i <= self.oversell_until(k)
            served = _allot(self.rng, self.lines, r, int(st.on_hand[k]), self.orders, self.offs, self.split,
                            self.out, oversell)
            self.out.out_ticks[k, i] = 1
            st.on_hand[k] = 0
            if not st.in_stockout[k] and not st.flash_live[k]:
                st.in_stockout[k] = True
                self.stockout(k, a + i, float(need - served))
        else:
            if need and need == st.on_hand[k]:
                self.emptied(k, a + i)
            st.on_hand[k] -= need
        self.done[k] = i + 1
        self.repl.check(k, a + i)

    def take_in(self, upto: int) -> set:
        """Deliveries due before tick `upto` (absolute) go on hand; later ones wait. Returns the
        SKUs they went to."""
        st, out, a, n = self.st, self.out, self.a, self.n
        due = sorted((d for d in st.inbox if d[0] < upto), key=lambda d: d[0])
        st.inbox[:] = [d for d in st.inbox if d[0] >= upto]
        for tick, k, units, kind in due:
            rel = max(tick - a, 0)
            self.advance(k, rel)
            if rel < n:
                flow = out.released if kind == "release" else out.restocked if kind == "restock" else out.arrivals
                flow[k, rel] += units
            if kind == "reorder":
                st.on_order[k] -= units
            if st.flash_live[k] and kind != "release":
                st.held[k] += units                  # a flash sale's allotment stays as it is
            else:
                st.on_hand[k] += units
                st.in_stockout[k] = False
                st.zero_at[k] = -1
            self.repl.check(k, tick)
        return {d[1] for d in due}


def _allot(rng: Streams, lines: Lines, r: slice, stock: int, orders: Orders, offs: np.ndarray, split: list,
           out: Outcome, oversell: bool) -> int:
    """The last `stock` units go to the orders of lines `r` (one SKU, one tick) in a uniform
    random order (`orders.allot`); the rows it splits off join `split`. With `oversell` what the
    orders did not get is oversold. Returns the units served."""
    o0, o1 = offs[r.start], offs[r.stop]
    parts = allot(rng.stockout, orders, o0, o1, stock)
    split.extend(parts)
    tick = Orders.concat([orders.take(slice(o0, o1)), *parts])
    width = r.stop - r.start
    at = tick.line - r.start
    got = np.bincount(at, weights=tick.n * tick.got, minlength=width).astype(np.int64)
    if oversell:
        whole = np.bincount(at, weights=tick.n * (tick.got == tick.want), minlength=width).astype(np.int64)
        out.oversold[r] = lines.units[r] - got
        out.cancelled[r] = lines.n[r] - whole
    return int(got.sum())
