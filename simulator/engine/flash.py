"""Flash sales (秒杀) in the fast engine: a SimPy process per sale waiting on its moments.

A sale's moments (`engine.moments`, subject the sale's name, kind "flash"): its start and end,
fixed by the plan and opened by the campaign process at those ticks; its sell-out, a stopping
time of a stretch's draws (`cut`) succeeded at its tick; with `after_sellout: regular`, its
fall-back to the regular price at the next tick. The sale's process reacts to each: at the
start it sets the allotment aside from the stock on hand (the rest is held back), at the
sell-out it marks the sale sold out and asks for the fall-back, at the fall-back or the end it
puts the held-back stock back on the shelf (docs/promotions.md, "Flash sales").
"""

from __future__ import annotations

import numpy as np

from simulator.engine.lines import Lines
from simulator.engine.moments import FLASH


class FlashSales:
    """The flash sales of one replication: their state, processes and what they book."""

    def __init__(self, model, moments, st, rec):
        self.m, self.moments, self.st, self.rec = model, moments, st, rec
        self.sales = model.promo.flash
        self.status = ["waiting"] * len(self.sales)      # waiting | live | sold_out | done (stock back) | ended
        self.allot = np.zeros(len(self.sales), dtype=np.int64)
        self.pending: list[tuple[int, int]] = []          # (sale, tick) sell-outs found in the stretch
        self.sold_out: list[tuple[int, int]] = []         # (sale, tick) sell-outs that happened, to book
        T = model.n_ticks
        for i, f in enumerate(self.sales):
            for tick, kind in ((f.t0, "start"), (f.t1, "end")):
                if tick < T:
                    moments.due(tick, (FLASH, i), "flash", f.name, kind)
            moments.env.process(self._sale(i))

    def _sale(self, i: int):
        """Sale i's process: waits on its next moment and reacts to it."""
        react = {"start": self._start, "sellout": self._sellout, "fallback": self._give_back, "end": self._end}
        while True:
            kind = yield self.moments.next("flash", self.sales[i].name)
            react[kind](i, int(self.moments.env.now))

    def _start(self, i: int, now: int) -> None:
        """The allotment (at most the stock on hand) goes on the shelf; the rest is held back."""
        f, st = self.sales[i], self.st
        if self.status[i] != "waiting":
            return
        k = f.k
        self.allot[i] = min(f.quantity, int(st.on_hand[k]))
        st.held[k] += st.on_hand[k] - self.allot[i]
        st.on_hand[k] = self.allot[i]
        st.flash_live[k] = True
        self.status[i] = "live"
        self.rec.events.append((now, "flash_start", f.name, float(self.allot[i])))

    def _sellout(self, i: int, now: int) -> None:
        """The allotment is gone: the sale is sold out (booked with the stretch) and, with
        `after_sellout: regular`, falls back at the next tick (the end does it if that is its end)."""
        f = self.sales[i]
        self.status[i] = "sold_out"
        self.sold_out.append((i, now))
        if f.regular_after and now + 1 != f.t1:
            self.moments.due(now + 1, (FLASH, i), "flash", f.name, "fallback")

    def _give_back(self, i: int, now: int) -> None:
        """The held-back stock goes back on the shelf: the SKU sells at its regular price."""
        if self.status[i] not in ("live", "sold_out"):
            return
        st, k = self.st, self.sales[i].k
        st.on_hand[k] += st.held[k]
        st.held[k] = 0
        st.flash_live[k] = False
        if st.on_hand[k] > 0:
            st.in_stockout[k] = False
            st.zero_at[k] = -1
        self.status[i] = "done"

    def _end(self, i: int, now: int) -> None:
        """The window closes: `flash_end` with what is left of the allotment (0 after a fall-back)."""
        f = self.sales[i]
        if self.status[i] in ("live", "sold_out"):
            self.rec.events.append((now, "flash_end", f.name, float(self.st.on_hand[f.k])))
            self._give_back(i, now)
        elif self.status[i] == "done":
            self.rec.events.append((now, "flash_end", f.name, 0.0))
            self.status[i] = "ended"

    # ------------------------------------------------------------------ per stretch
    def prices(self, price: np.ndarray, pay_tick: int, a: int) -> None:
        """Flash prices into `price` (K,) for orders paid at `pay_tick` in a stretch from `a`
        (a warm-up's: its sale's first pay tick, read from the sales' windows)."""
        for i, f in enumerate(self.sales):
            live = self.status[i] in ("live", "sold_out") if pay_tick == a else f.t0 <= pay_tick < f.t1
            if live:
                price[f.k] = f.price

    def cut(self, ch, lines: Lines) -> int:
        """Sell-out ticks of live sales in the stretch (cumulated units against the allotment on
        the shelf); returns the tick after the first sell-out of a sale that falls back to the
        regular price (ch.end: none)."""
        n = ch.end - ch.start
        found = []
        for i, f in enumerate(self.sales):
            if self.status[i] != "live":
                continue
            mine = lines.k == f.k
            cum = np.cumsum(np.bincount(lines.t[mine] - ch.start, weights=lines.units[mine], minlength=n))
            hit = np.flatnonzero((cum >= self.st.on_hand[f.k]) & (cum > 0))
            if hit.size:
                found.append((i, ch.start + int(hit[0])))
        cut = min([t + 1 for i, t in found if self.sales[i].regular_after], default=ch.end)
        self.pending = [(i, t) for i, t in found if t < cut]
        return cut

    def schedule(self, cut: int) -> None:
        """The stretch is played up to `cut`: its sell-outs before it happen at their ticks."""
        for i, t in self.pending:
            if t < cut:
                self.moments.at(t, "flash", self.sales[i].name, "sellout")
        self.pending = []

    def units(self, rec, reg, k: np.ndarray, units: np.ndarray) -> None:
        """Units sold at a live sale's flash price (`k`, `units` per order row)."""
        for i, f in enumerate(self.sales):
            if self.status[i] in ("live", "sold_out") and reg.price[f.k] == f.price:
                rec.flash[f.name]["units"] += float(units[k == f.k].sum())

    def book(self, rec) -> None:
        """The stretch's sell-outs: `flash_sellout` events and the sales' sell-out fields."""
        for i, t in self.sold_out:
            f = self.sales[i]
            rec.events.append((t, "flash_sellout", f.name, float(self.allot[i])))
            rec.flash[f.name]["sold_out"] = 1.0
            rec.flash[f.name]["sellout_tick"] = float(t)
        self.sold_out = []

    def finish(self, st, rec) -> None:
        """Sales that run to the campaign's end log `flash_end` at its last tick."""
        T = self.m.n_ticks
        for i, f in enumerate(self.sales):
            if f.t1 >= T and self.status[i] in ("live", "sold_out", "done"):
                rec.events.append((T - 1, "flash_end", f.name,
                                   float(st.on_hand[f.k]) if self.status[i] != "done" else 0.0))
