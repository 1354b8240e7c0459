"""The reference engine: every visitor is a SimPy process. Slow, plain, and the oracle.

It reads the scenario itself (nothing from the fast engine: not its model arrays, not
its time grid) so that agreement between the two engines means something. A reader
should be able to check it line by line against DESIGN.md:

* channels are SimPy processes that, tick by tick, send Poisson visitors at random
  moments inside the tick (a Poisson process with a rate constant within a tick);
* a paid-search visitor is a click: it happens only while the day's and the campaign's
  budgets can pay for it;
* a visitor picks a segment (the channel's mix) and a SKU (by attractiveness), and buys
  with probability min(1, base conversion × channel quality × phase intent × segment
  conversion × promotion lift × (price after discount / list price) ** (elasticity ×
  price sensitivity)); the lift applies in phases that list the SKU under `promo`;
  in a warm-up phase it adds to cart instead (priced at the next sale phase);
* a buyer wants 1 + Poisson(units_per_order − 1) units and takes them from the SKU's
  `simpy.Container`; if fewer are left it takes what is left, and the rest is lost;
* replenishment orders and inbound shipments are SimPy processes that put units into the
  container at the start of their tick, before that tick's visitors;
* warm-up carts pay at the start of the next sale phase with the pay-through rate, after
  a delay drawn from the same exponential profile.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from simulator.record import RunRecord
from simulator.scenario.schema import CrmPush, Display, PaidSearch, Scenario

TAOBAO_2017_SHAPE = [
    0.860, 0.212, 0.260, 0.109, 0.106, 0.109, 0.568, 0.664, 0.711, 0.568, 1.009, 0.762,
    1.309, 1.295, 1.274, 1.266, 1.181, 1.099, 1.125, 1.070, 2.086, 2.668, 2.325, 1.364,
]   # page views by hour of the Taobao UserBehavior sample (see tests/simulator/test_real_data.py)


class ReferenceEngine:
    """`ReferenceEngine(model).run(seed)`: uses only `model.scenario` and `model.scale`."""

    name = "reference"

    def __init__(self, model):
        self.sc: Scenario = model.scenario
        self.scale = model.scale

    def run(self, seed) -> RunRecord:
        return _Campaign(self.sc, self.scale, seed).play()


class _Campaign:
    def __init__(self, sc: Scenario, scale: float, seed):
        self.sc, self.scale = sc, scale
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.rng = np.random.Generator(np.random.PCG64(ss))
        meta = sc.meta
        self.m = meta.tick_minutes
        self.start = meta.local(meta.start)
        self.T = round((meta.local(meta.end) - self.start).total_seconds() / 60 / self.m)
        self.period_minutes = max(60, self.m)
        self.H = (self.T * self.m - 1) // self.period_minutes + 1
        self.channels = list(sc.channels)
        self.skus = list(sc.skus)
        self.segments = list(sc.segments)
        self.rec = RunRecord.empty(self.H, len(self.channels), len(self.skus),
                                   [sc.skus[k].stock for k in self.skus])
        self.phases = sorted(sc.calendar.phases, key=lambda p: meta.local(p.start))
        self.env = simpy.Environment()
        self.stock = {k: simpy.Container(self.env, init=sc.skus[k].stock) for k in self.skus}
        self.on_order = {k: 0 for k in self.skus}
        self.out_since = {k: False for k in self.skus}     # an open stock-out episode
        self.out_tick = {k: -1 for k in self.skus}         # last tick counted as stock-out
        self.open_event: dict[str, tuple[int, int]] = {}   # sku → (event index, tick)
        weights = np.array([sc.skus[k].attractiveness for k in self.skus])
        self.sku_weights = weights / weights.sum()
        self.mixes = {c: self.mix(c) for c in self.channels}
        self.phase_at = [self.phase_index(t) for t in range(self.T)]
        self.carts: list[tuple[int, str, str, str]] = []   # (warm-up phase index, channel, sku, segment)

    # --------------------------------------------------------------- time
    def minute(self, t) -> float:
        return (self.sc.meta.local(t) - self.start).total_seconds() / 60

    def tick_of(self, t) -> int:
        return min(max(math.floor(self.minute(t) / self.m + 1e-9), 0), self.T)

    def local(self, tick: float):
        import datetime as dt

        return self.start + dt.timedelta(minutes=tick * self.m)

    def hour(self, tick: float) -> int:
        return int(int(tick) * self.m // self.period_minutes)

    def phase_index(self, tick: int) -> int | None:
        minute = tick * self.m
        for i, p in enumerate(self.phases):
            if self.minute(p.start) <= minute < self.minute(p.end):
                return i
        return None

    def intraday(self, tick: int) -> float:
        spec = self.sc.calendar.intraday
        w = TAOBAO_2017_SHAPE if spec == "taobao_2017" else [1.0] * 24 if spec == "flat" else list(spec)
        mean = sum(w) / 24
        h0 = self.local(tick).hour
        hours = max(1, self.m // 60)
        return sum(w[(h0 + j) % 24] for j in range(hours)) / hours / mean

    @staticmethod
    def mass(lo: float, hi: float, at: float, tau: float, window: float = math.inf) -> float:
        """Share of an exponential response starting at `at` that falls in [lo, hi) minutes."""
        lo, hi = min(max(lo, at), at + window), min(max(hi, at), at + window)
        return (math.exp(-(lo - at) / tau) - math.exp(-(hi - at) / tau)) / (1 - math.exp(-window / tau))

    def volume(self, name: str, tick: int) -> float:
        """Expected visits of a non-CRM channel in `tick` before budgets (impressions for display)."""
        ch = self.sc.channels[name]
        base = {"paid_search": "clicks_per_hour", "display": "impressions_per_hour"}.get(ch.kind, "visits_per_hour")
        i = self.phase_at[tick]
        mult = 1.0 if i is None else self.phases[i].traffic.get(name, self.phases[i].traffic.get("default", 1.0))
        lo, hi = tick * self.m, (tick + 1) * self.m
        spike = 1.0
        for sp in self.sc.calendar.spikes:
            if name in (sp.channels or [c for c in self.channels if self.sc.channels[c].kind != "crm_push"]):
                spike += sp.amplitude * sp.decay_minutes * self.mass(lo, hi, self.minute(sp.at), sp.decay_minutes) / self.m
        return getattr(ch, base) * self.m / 60 * self.intraday(tick) * mult * spike * self.scale

    # ---------------------------------------------------------- the model
    def conversion(self, sku: str, seg: str, channel: str, tick: int) -> tuple[float, bool, int | None]:
        """(probability the visit buys or carts, is it a cart, phase whose price applies)."""
        i = self.phase_at[tick]
        warm = i is not None and self.phases[i].kind == "warmup"
        pay = i
        if warm:
            pay = next(j for j in range(i + 1, len(self.phases)) if self.phases[j].kind == "sale")
        s, g = self.sc.skus[sku], self.sc.segments[seg]
        intent = 1.0 if i is None else self.phases[i].intent
        rel = 1 - s.discount_in(None if pay is None else self.phases[pay].name)
        lift = s.promo_lift if pay is not None and self.phases[pay].on_promo(sku) else 1.0
        p = s.base_conversion * intent * g.conversion * lift * rel ** (s.elasticity * g.price_sensitivity)
        return min(1.0, self.sc.channels[channel].quality * p), warm, pay

    def price(self, sku: str, phase: int | None) -> float:
        s = self.sc.skus[sku]
        return s.price * (1 - s.discount_in(None if phase is None else self.phases[phase].name))

    def mix(self, channel: str) -> list[float]:
        ch = self.sc.channels[channel]
        return [ch.segments.get(s, 0.0) if ch.segments else self.sc.segments[s].share for s in self.segments]

    # ----------------------------------------------------------- processes
    def play(self) -> RunRecord:
        env = self.env
        env.process(self.calendar())
        for name, ch in self.sc.channels.items():
            env.process(self.crm(name, ch) if isinstance(ch, CrmPush) else self.channel(name, ch))
        for k, s in self.sc.skus.items():
            for sh in s.inbound:                      # on the shelf from the first tick at or after `at`
                tick = math.ceil(self.minute(sh.at) / self.m - 1e-9)
                if tick < self.T:
                    env.process(self.delivery(k, sh.quantity, tick, reorder=False))
        env.process(self.opening_reorders())
        for i, p in enumerate(self.phases):
            if p.kind == "warmup":
                env.process(self.pay_carts(i))
        env.run(until=self.T)
        self.finish()
        return self.rec

    def calendar(self):
        """Phase starts and launch moments, logged at their tick."""
        marks = [(self.tick_of(p.start), "phase_start", p.name, 0.0) for p in self.phases]
        marks += [(self.tick_of(s.at), "launch", ",".join(s.channels or ["all"]), s.amplitude)
                  for s in self.sc.calendar.spikes]
        for tick, kind, subject, value in sorted(marks, key=lambda e: e[0]):
            yield self.env.timeout(tick - self.env.now)
            self.rec.events.append((tick, kind, subject, value))

    def channel(self, name: str, ch):
        """Visitors of one channel, tick by tick, at uniform random moments in the tick."""
        c = self.channels.index(name)
        day, spent_today, spent_total, exhausted, shown = None, 0.0, 0.0, False, 0.0
        for tick in range(self.T):
            if self.local(tick).date() != day:
                day, spent_today = self.local(tick).date(), 0.0
                allowed = min(_inf(getattr(ch, "daily_budget", None)), _inf(getattr(ch, "total_budget", None)) - spent_total)
                exhausted = allowed <= 0
            lam = self.volume(name, tick)
            if isinstance(ch, Display):
                cost = lam * ch.cpm / 1000
                room = allowed - spent_today
                kept = 1.0 if cost <= room else max(room, 0.0) / cost
                if kept < 1.0 and not exhausted:
                    self.rec.events.append((tick, "budget_exhausted", name, float(allowed)))
                    exhausted = True
                spent_today += cost * kept
                spent_total += cost * kept
                self.rec.by_channel["ad_spend"][self.hour(tick), c] += cost * kept
                if ch.audience is None:
                    lam = lam * kept * ch.ctr
                else:                                # only newly reached people click
                    before = ch.audience * (1 - math.exp(-shown / ch.audience))
                    shown += lam * kept
                    lam = (ch.audience * (1 - math.exp(-shown / ch.audience)) - before) * ch.ctr
            n = self.rng.poisson(lam)
            for offset in np.sort(self.rng.random(n)):
                yield self.env.timeout(tick + offset - self.env.now)
                if isinstance(ch, PaidSearch):
                    room = allowed - spent_today
                    if room < ch.cpc - 1e-9:
                        continue                     # the budget cannot pay for this click
                    spent_today += ch.cpc
                    spent_total += ch.cpc
                    self.rec.by_channel["ad_spend"][self.hour(tick), c] += ch.cpc
                    room -= ch.cpc
                    if room < ch.cpc - 1e-9:
                        self.rec.events.append((tick, "budget_exhausted", name, spent_today))
                self.env.process(self.visitor(name, tick))
            yield self.env.timeout(tick + 1 - self.env.now)

    def crm(self, name: str, ch: CrmPush):
        """A push: fees at each send; openers visit over the response window."""
        c = self.channels.index(name)
        audience = ch.audience * self.scale
        for t in sorted(ch.send_times):
            self.rec.events.append((self.tick_of(t), "crm_send", name, float(audience)))
            self.rec.by_channel["fees"][self.hour(self.tick_of(t)), c] += audience * ch.cost_per_message
        for tick in range(self.T):
            lam = sum(audience * ch.open_rate * self.mass(tick * self.m, (tick + 1) * self.m, self.minute(t),
                                                           ch.response_minutes, 10 * ch.response_minutes)
                      for t in ch.send_times)
            for offset in np.sort(self.rng.random(self.rng.poisson(lam))):
                yield self.env.timeout(tick + offset - self.env.now)
                self.env.process(self.visitor(name, tick))
            yield self.env.timeout(tick + 1 - self.env.now)

    def visitor(self, channel: str, tick: int):
        """One visit: choose a segment and a SKU, then buy, cart, or leave."""
        yield self.env.timeout(0)                    # the visitor arrives
        c = self.channels.index(channel)
        self.rec.by_channel["visits"][self.hour(tick), c] += 1
        seg = self.segments[self.rng.choice(len(self.segments), p=self.mixes[channel])]
        sku = self.skus[self.rng.choice(len(self.skus), p=self.sku_weights)]
        p, warm, pay = self.conversion(sku, seg, channel, tick)
        if self.rng.random() >= p:
            return
        if warm:
            self.carts.append((self.phase_at[tick], channel, sku, seg))
            self.rec.by_channel["carts"][self.hour(tick), c] += 1
            self.rec.by_sku["carts"][self.hour(tick), self.skus.index(sku)] += 1
            return
        self.buy(channel, sku, tick, pay)

    def buy(self, channel: str, sku: str, tick: int, phase: int | None):
        """Take units from stock; what is missing is lost demand."""
        c, k = self.channels.index(channel), self.skus.index(sku)
        h = self.hour(tick)
        want = 1 + int(self.rng.poisson(self.sc.skus[sku].units_per_order - 1))
        box = self.stock[sku]
        got = min(want, int(box.level))
        if got:
            box.get(got)
        if got < want:
            self.rec.by_sku["lost_units"][h, k] += want - got
            if self.out_tick[sku] != tick:
                self.out_tick[sku] = tick
                self.rec.by_sku["stockout_ticks"][h, k] += 1
            if not self.out_since[sku]:             # a stock-out episode opens: its value is
                self.out_since[sku] = True           # the units lost in its first tick
                self.open_event[sku] = (len(self.rec.events), tick)
                self.rec.events.append((tick, "stockout", sku, 0.0))
            at, first = self.open_event[sku]
            if first == tick:
                t0, kind, subject, value = self.rec.events[at]
                self.rec.events[at] = (t0, kind, subject, value + want - got)
        if got == 0:
            return
        price = self.price(sku, phase)
        returned = int(self.rng.binomial(got, self.sc.skus[sku].return_rate))
        for flows, i in ((self.rec.by_channel, c), (self.rec.by_sku, k)):
            flows["orders"][h, i] += 1
            flows["units"][h, i] += got
            flows["gmv"][h, i] += got * price
            flows["returns"][h, i] += returned
            flows["refunds"][h, i] += returned * price
        self.rec.by_channel["commissions"][h, c] += (got - returned) * price * getattr(self.sc.channels[channel], "commission_rate", 0.0)
        self.check_reorder(sku)

    def opening_reorders(self):
        """At the start, after the deliveries of tick 0, a SKU at or below s orders."""
        yield self.env.timeout(0)
        for sku in self.skus:
            self.check_reorder(sku)

    def check_reorder(self, sku: str):
        """(s, Q): while stock on hand + on order ≤ s, order Q; it arrives lead time later."""
        rule = self.sc.skus[sku].reorder
        if rule is None:
            return
        tick = int(self.env.now)
        while self.stock[sku].level + self.on_order[sku] <= rule.point:
            self.on_order[sku] += rule.quantity
            self.rec.events.append((tick, "reorder", sku, float(rule.quantity)))
            lead = max(1, math.ceil(rule.lead_time_hours * 60 / self.m))
            if tick + lead < self.T:
                self.env.process(self.delivery(sku, rule.quantity, tick + lead, reorder=True))

    def delivery(self, sku: str, units: int, tick: int, reorder: bool):
        """Units put on the shelf at the start of `tick` (visitors come strictly later)."""
        yield self.env.timeout(tick - self.env.now)
        self.stock[sku].put(units)
        if reorder:
            self.on_order[sku] -= units
        self.out_since[sku] = False
        self.rec.by_sku["inbound"][self.hour(tick), self.skus.index(sku)] += units
        self.rec.events.append((tick, "arrival", sku, float(units)))
        self.check_reorder(sku)

    def pay_carts(self, warm: int):
        """At the first tick of the next sale phase, each cart pays with the pay-through rate."""
        pay = next(j for j in range(warm + 1, len(self.phases)) if self.phases[j].kind == "sale")
        first = self.tick_of(self.phases[pay].start)
        last = self.tick_of(self.phases[pay].end)
        cal = self.sc.calendar
        width = max(1, min(last - first, math.ceil(10 * cal.cart_pay_minutes / self.m)))
        profile = np.array([self.mass(i * self.m, (i + 1) * self.m, 0.0, cal.cart_pay_minutes) for i in range(width)])
        yield self.env.timeout(first - self.env.now)
        for phase, channel, sku, _seg in [c for c in self.carts if c[0] == warm]:
            if self.rng.random() < cal.cart_pay_through:
                delay = self.rng.choice(width, p=profile / profile.sum()) + self.rng.random()
                self.env.process(self.cart_payment(channel, sku, first + delay, pay))

    def cart_payment(self, channel: str, sku: str, at: float, phase: int):
        yield self.env.timeout(at - self.env.now)
        self.buy(channel, sku, int(at), phase)

    def finish(self):
        """Stock at the end of every hour, from the flows (checked against the containers)."""
        rec = self.rec
        level = rec.initial_stock + np.cumsum(rec.by_sku["inbound"] - rec.by_sku["units"], axis=0)
        rec.stock[:] = level
        assert np.array_equal(level[-1], [self.stock[k].level for k in self.skus]), "stock flows do not add up"


def _inf(x: float | None) -> float:
    return math.inf if x is None else x
