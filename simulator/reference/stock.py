"""Stock in the reference engine (docs/model.md, "Stock"): each SKU's shelf is a
`simpy.Container`; shipments, replenishment and returns back in stock arrive at the start of a
tick, before its visitors. Opening stock, (s, Q) policies, lead times, shipments and restock
ticks are the plan's (`Model.inventory`).
"""

from __future__ import annotations

import simpy


class Stock:
    """Shelves, the start of every tick, taking units, deliveries and reorders."""

    def init_stock(self):
        inv, K = self.plan.inventory, len(self.skus)
        self.stock = [simpy.Container(self.env, init=int(n)) for n in inv.stock]
        self.on_order = [0] * K
        self.out_since = [False] * K          # an open stock-out episode
        self.out_tick = [-1] * K              # last tick counted as stock-out
        self.open_event: dict[int, tuple[int, int]] = {}   # SKU → (event index, tick)
        self.out_at: list[int | None] = [None] * K          # tick the shelf ran empty (payment mode)
        self.after_end = [0] * K              # returned units back in stock after the campaign
        self.due: dict[int, list[tuple[int, int, str]]] = {}   # tick → deliveries (SKU, units, kind)
        for tick, k, units in inv.inbound:
            self.due.setdefault(tick, []).append((k, units, "inbound"))

    def mornings(self):
        """The start of every tick, before its visitors (they come at tick + a uniform offset),
        in this order: held-back flash stock returns (the sale ends, or falls back to the
        regular price the tick after its sell-out), forfeited deposits come back, flash sales
        starting now set their allotment aside, deliveries arrive (each followed by a reorder
        check; at tick 0 the opening reorders follow; a flash SKU's join its held-back stock)."""
        flash, presales = self.promo.flash, self.promo.presales
        for tick in range(self.T):
            yield self.env.timeout(tick - self.env.now)
            for i, f in enumerate(flash):
                if tick == f.t1:
                    self.end_flash(i, tick)
                elif f.regular_after and self.sold_out[i] == tick - 1:
                    self.return_held(f.k)
            for i, ps in enumerate(presales):
                if ps.b1 == tick:
                    self.forfeit(i, tick)
            for i, f in enumerate(flash):
                if f.t0 == tick:
                    self.start_flash(i, tick)
            for k, units, kind in self.due.pop(tick, []):
                self.delivery(k, units, tick, kind)
            if tick == 0:                           # after the deliveries of tick 0, a SKU at or below s orders
                for k in range(len(self.skus)):
                    self.check_reorder(k)

    def take(self, k: int, want: int, tick: int, price: float) -> int:
        """Step 6: take up to `want` units off the shelf; what is missing is lost demand or, in
        payment mode, oversold (the order that empties the shelf, and orders in the ⌈payment
        minutes / tick⌉ ticks after the tick it ran empty) and cancelled; lost units are worth
        `price` each (the activity price the order would have paid). Returns the units taken."""
        h, box = self.hour(tick), self.stock[k]
        got = min(want, int(box.level))
        if got:
            box.get(got)
            self.rec.by_sku["taken"][h, k] += got
            if box.level == 0:
                self.out_at[k] = tick               # the shelf runs empty: the oversell window opens
                if self.on_flash[k] is None:        # (a flash allotment logs its sell-out instead)
                    self.rec.events.append((tick, "sold_out", self.skus[k], 0.0))
        short, sale = want - got, self.on_flash[k]
        if short:
            self.short(k, tick, got, short, sale, price)
        if sale is not None and self.sold_out[sale] is None and box.level == 0:
            self.sold_out[sale] = tick               # took the last unit, or found fewer than it wanted
            name = self.promo.flash[sale].name
            self.rec.events.append((tick, "flash_sellout", name, float(self.allotment[sale])))
            self.rec.flash[name]["sold_out"] = 1.0
            self.rec.flash[name]["sellout_tick"] = float(tick)
        return got

    def short(self, k: int, tick: int, got: int, short: int, sale: int | None, price: float,
              switched: bool = False):
        """Units an order wanted and did not get: switched to another SKU (`switched`), oversold
        or lost; a stock-out tick, and the stock-out event of an episode's first tick (its
        value: the units short then)."""
        h, tau = self.hour(tick), self.out_at[k]
        if switched:
            self.rec.by_sku["switched_units"][h, k] += short
        elif self.promo.payment_mode and (got or (tau is not None and tick <= tau + self.promo.oversell_ticks)):
            self.rec.by_sku["oversold_units"][h, k] += short
            self.rec.by_sku["cancellations"][h, k] += 1
        else:
            self.rec.by_sku["lost_units"][h, k] += short
            self.rec.by_sku["lost_gmv"][h, k] += short * price
        if self.out_tick[k] != tick:
            self.out_tick[k] = tick
            self.rec.by_sku["stockout_ticks"][h, k] += 1
        if sale is not None:                         # a flash allotment's stock-out is its sell-out instead
            return
        if not self.out_since[k]:                    # a stock-out episode opens
            self.out_since[k] = True
            self.open_event[k] = (len(self.rec.events), tick)
            self.rec.events.append((tick, "stockout", self.skus[k], 0.0))
        at, first = self.open_event[k]
        if first == tick:
            t0, kind, subject, value = self.rec.events[at]
            self.rec.events[at] = (t0, kind, subject, value + short)

    def check_reorder(self, k: int):
        """(s, Q): while stock on hand (held-back flash stock included) + on order ≤ s, order Q;
        it arrives lead time later."""
        inv = self.plan.inventory
        point = int(inv.reorder_point[k])
        if point < 0:
            return
        tick = int(self.env.now)
        gap = point - (self.stock[k].level + self.held[k] + self.on_order[k])
        if gap >= 0:                                  # every lot this check places, at once
            q = int(inv.reorder_qty[k])
            units = (gap // q + 1) * q
            self.on_order[k] += units
            self.rec.events.append((tick, "reorder", self.skus[k], float(units)))
            lead = int(inv.lead_ticks[k])
            if tick + lead < self.T:
                self.due.setdefault(tick + lead, []).append((k, units, "reorder"))

    def shelve(self, k: int, units: int):
        """Units back on the shelf: a stock-out episode and an oversell window end."""
        if units:
            self.stock[k].put(units)
            self.out_since[k] = False
            self.out_at[k] = None

    def delivery(self, k: int, units: int, tick: int, kind: str):
        """Units arriving at the start of `tick` (visitors come strictly later): a shipment
        (`inbound`, `reorder`: an `arrival` event) or returned units back in stock (`restock`);
        during a flash sale they join the held-back stock."""
        if self.on_flash[k] is not None:
            self.held[k] += units
            self.out_since[k] = False
        else:
            self.shelve(k, units)
        if kind == "reorder":
            self.on_order[k] -= units
        flow = "restocked" if kind == "restock" else "inbound"
        self.rec.by_sku[flow][self.hour(tick), k] += units
        if kind != "restock":
            self.rec.events.append((tick, "arrival", self.skus[k], float(units)))
        self.check_reorder(k)
