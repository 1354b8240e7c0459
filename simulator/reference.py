"""The reference engine: every visitor is a SimPy process. Slow, plain, and the oracle.

It reads the scenario itself (nothing from the fast engine: not its model arrays, not
its time grid) so that agreement between the two engines means something. A reader
should be able to check it line by line against docs/model.md and docs/promotions.md:

* channels are SimPy processes that, tick by tick, send Poisson visitors at random
  moments inside the tick (a Poisson process with a rate constant within a tick);
* a paid-search visitor is a click: it happens only while the day's and the campaign's
  budgets can pay for it;
* a visitor picks a segment (the channel's mix) and a SKU (by attractiveness), and buys
  with probability min(1, base conversion × channel quality × phase intent × segment
  conversion × promotion lift × (effective price / list price) ** (elasticity ×
  price sensitivity)); the lift applies in phases that list the SKU under `promo`;
  in a warm-up phase it adds to cart instead (priced at the next sale phase);
* a buyer wants 1 + Poisson((units_per_order − 1) × basket_units) units and takes them
  from the SKU's `simpy.Container`; if fewer are left it takes what is left, and the
  rest is lost (or, in payment mode, oversold and cancelled);
* at the start of every tick, before its visitors (`mornings`): held-back flash-sale
  stock returns, forfeited deposits come back to the shelf, replenishment orders and
  inbound shipments arrive, flash sales set their allotment aside;
* warm-up carts pay at the start of the next sale phase with the pay-through rate, after
  a delay drawn from the same exponential profile.

Promotions (docs/promotions.md, followed step by step in `visitor`):

* the activity price is the phase price, or the flash price while a flash sale is live
  (and, with `after_sellout: regular`, until the tick after its sell-out);
* a flash sale's surge adds Poisson visits to its SKU from every channel without a budget;
* a visit of a segment with `customers` belongs to a uniform random customer; it may claim
  one store coupon (one uniform draw over the claimable coupons, first come first served,
  per-customer limits), which lowers its effective price and is redeemed at payment if the
  basket reaches the threshold; the platform's full reduction lowers the effective price
  and is split between the platform and the store at payment; top-up (凑单) adds units to
  reach a threshold;
* a buyer of a pre-sale SKU in its deposit window places a deposit order that takes stock
  at once; the balance is paid from `balance_from` (or the deposit is forfeited at
  `balance_to` and its units come back);
* returns rise with the discount depth of the price paid.

Readings of docs/promotions.md chosen where it leaves room (each also noted at its code):

* intent and promotion lift follow docs/model.md (the visit's phase, its pay phase for a
  warm-up); the pay tick moves only the activity price, coupon validity and reduction
  window — a warm-up visit's conversion reads them at the first tick of the next sale phase
  (what the shopper sees coming), and its cart pays at those in force at the tick it is
  paid (a flash price and allotment too, if a sale is live then);
* a coupon belongs to the visit that claimed it: a customer's later visits only meet the
  per-customer limit;
* a visit to a pre-sale SKU in its deposit window places a deposit even in a warm-up phase;
* with `after_sellout: lost` the flash price stands for the whole window (its later buyers
  are lost anyway); surge visits come in every tick of the sale's window, also after a
  sell-out; any order while a sale sells the shelf takes its units from the allotment;
* a flash allotment is set aside before the start tick's deliveries (deliveries of every
  tick of the sale join the held-back stock); `flash_end` is logged at the window's end;
* a balance payment reads the reduction at the tick it is paid (the pre-sale section's
  "payment tick"); its price and the deposit's conversion read them at `balance_from`;
* an event whose moment is the campaign's end (a sale or balance window closing at `end`)
  is logged at the last tick, T − 1, so every event lies in [0, T);
* a stock-out event's value is the units its first tick could not supply (lost, or in
  payment mode oversold or lost); oversold ticks count as stock-out ticks;
* the discount depth of returns is at least 0; money thresholds allow 1e-9 for rounding.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import simpy

from simulator.record import RunRecord
from simulator.rules.snapshot import RuleRunner
from simulator.scenario.schema import OWN_AUDIENCE, CrmPush, Display, LiveStream, PaidSearch, Scenario

TAOBAO_2017_SHAPE = [
    0.860, 0.212, 0.260, 0.109, 0.106, 0.109, 0.568, 0.664, 0.711, 0.568, 1.009, 0.762,
    1.309, 1.295, 1.274, 1.266, 1.181, 1.099, 1.125, 1.070, 2.086, 2.668, 2.325, 1.364,
]   # page views by hour of the Taobao UserBehavior sample (see tests/simulator/test_real_data.py)
FLOOR = 0.05      # the effective price never falls below 5 % of the activity price
EPS = 1e-9        # float rounding allowance in money comparisons


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
        self._minutes: dict = {}                        # `minute` of each time asked for
        self._volume: dict = {}                         # `volume` by (channel, tick)
        self._worth_of_visit: dict = {}                 # `worth` by (channel, phase)
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.rng = np.random.Generator(np.random.PCG64(ss))
        meta = sc.meta
        self.m = meta.tick_minutes
        self.T = round(self.minute(meta.end) / self.m)
        self.period_minutes = max(60, self.m)
        self.H = (self.T * self.m - 1) // self.period_minutes + 1
        self.channels = list(sc.channels)
        self.spiked = [c for c in self.channels if sc.channels[c].kind not in OWN_AUDIENCE]
        self.skus = list(sc.skus)
        self.segments = list(sc.segments)
        self.rec = RunRecord.empty(self.H, len(self.channels), len(self.skus),
                                   [sc.skus[k].stock for k in self.skus],
                                   coupons=list(sc.coupons), flash_sales=list(sc.flash_sales),
                                   ad_groups={n: len(c.ad_groups) for n, c in sc.channels.items()
                                              if getattr(c, "ad_groups", None) is not None})
        self.phases = sorted(sc.calendar.phases, key=lambda p: self.minute(p.start))
        self.env = simpy.Environment()
        self.stock = {k: simpy.Container(self.env, init=sc.skus[k].stock) for k in self.skus}
        self.on_order = {k: 0 for k in self.skus}
        self.out_since = {k: False for k in self.skus}     # an open stock-out episode
        self.out_tick = {k: -1 for k in self.skus}         # last tick counted as stock-out
        self.open_event: dict[str, tuple[int, int]] = {}   # sku → (event index, tick)
        weights = np.array([sc.skus[k].attractiveness for k in self.skus])
        self.sku_weights = weights / weights.sum()
        self.sku_cum = np.cumsum(self.sku_weights).tolist()            # one uniform picks a SKU (bisect)
        self.mixes = {c: self.mix(c) for c in self.channels}
        self.mix_cum = {c: np.cumsum(w).tolist() for c, w in self.mixes.items()}
        self.clock = [self.local(t) for t in range(self.T)]            # local time of each tick's start
        self.phase_at = [self.phase_index(t) for t in range(self.T)]
        self.carts: list[tuple] = []   # (warm-up phase index, channel, sku, segment, coupon)
        self.due: dict[int, list[tuple[str, int, str]]] = {}    # tick → deliveries (sku, units, inbound|reorder|restock)
        self.after_end = {k: 0 for k in self.skus}       # returned units back in stock after the campaign
        self.budgets: dict[str, _Budget] = {}          # channel or "channel/ad group" → its budget
        self.bids: dict[str, dict[str, float]] = {}    # auction channel → ad group → bid in force
        self.rules = RuleRunner(sc) if sc.rules else None

        # stock deduction: in payment mode the shelf keeps taking orders for a while after it runs empty
        self.payment_mode = sc.stock_deduction.mode == "payment"
        self.oversell_ticks = math.ceil(sc.stock_deduction.payment_minutes / self.m - 1e-9)
        self.out_at: dict[str, int | None] = {k: None for k in self.skus}   # tick the shelf ran empty
        # store coupons: windows [a, b) in ticks, pools, claims per (coupon, segment, customer)
        T = self.T
        self.claim_window = {n: (self.at_tick(c.claim_from, 0), self.at_tick(c.claim_to, T))
                             for n, c in sc.coupons.items()}
        self.valid_window = {n: (self.at_tick(c.valid_from, self.claim_window[n][0]), self.at_tick(c.valid_to, T))
                             for n, c in sc.coupons.items()}
        self.pool = {n: c.quantity for n, c in sc.coupons.items()}
        self.held_coupons: dict[tuple[str, str, int], int] = {}
        # the platform's cross-store full reduction
        r = sc.platform_reduction
        self.reduction_window = (0, 0) if r is None else (self.at_tick(r.start, 0), self.at_tick(r.end, T))
        # flash sales: window, the sale currently selling a SKU's shelf, held-back stock, sell-out tick
        self.flash_window = {n: (self.at_tick(f.start, 0), self.at_tick(f.end, T)) for n, f in sc.flash_sales.items()}
        self.flash_of = {k: [n for n, f in sc.flash_sales.items() if f.sku == k] for k in self.skus}
        self.on_flash: dict[str, str | None] = {k: None for k in self.skus}   # the shelf holds this sale's allotment
        self.held = {k: 0 for k in self.skus}
        self.allotment = {n: 0 for n in sc.flash_sales}
        self.sold_out: dict[str, int | None] = {n: None for n in sc.flash_sales}
        # pre-sales: windows, deposit orders (channel, sku, units) and the unpaid ones
        self.deposit_window = {n: (self.at_tick(p.deposit_from, 0), self.at_tick(p.deposit_to, T))
                               for n, p in sc.presales.items()}
        self.balance_window = {n: (self.at_tick(p.balance_from, 0), self.at_tick(p.balance_to, T))
                               for n, p in sc.presales.items()}
        self.presale_of = {k: n for n, p in sc.presales.items() for k in p.skus}
        self.deposit_orders: dict[str, list[tuple[str, str, int]]] = {n: [] for n in sc.presales}
        self.unpaid: dict[str, list[tuple[str, str, int]]] = {n: [] for n in sc.presales}
        self._worth: dict[tuple, float] = {}            # `saving_share` by (SKU, segment, price, coupon, reduction, top-up)

    # --------------------------------------------------------------- time
    def minute(self, t) -> float:
        """Real minutes from the campaign's start to `t` (through UTC: DST changes count)."""
        if t not in self._minutes:
            self._minutes[t] = self.sc.meta.minutes_from_start(t)
        return self._minutes[t]

    def tick_of(self, t) -> int:
        return min(max(math.floor(self.minute(t) / self.m + 1e-9), 0), self.T)

    def at_tick(self, t, default: int) -> int:
        """The tick of a promotion window's bound, or `default` when it is unset."""
        return default if t is None else self.tick_of(t)

    def local(self, tick: float):
        """The local wall-clock time of the start of `tick` (real minutes from the start)."""
        return self.sc.meta.at_minute(tick * self.m)

    def pick(self, cum: list[float]) -> int:
        """An index drawn with the probabilities whose running sums are `cum` (one uniform)."""
        return min(bisect.bisect_right(cum, self.rng.random() * cum[-1]), len(cum) - 1)

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
        h0 = self.clock[tick].hour
        hours = max(1, self.m // 60)
        return sum(w[(h0 + j) % 24] for j in range(hours)) / hours / mean

    @staticmethod
    def mass(lo: float, hi: float, at: float, tau: float, window: float = math.inf) -> float:
        """Share of an exponential response starting at `at` that falls in [lo, hi) minutes."""
        lo, hi = min(max(lo, at), at + window), min(max(hi, at), at + window)
        return (math.exp(-(lo - at) / tau) - math.exp(-(hi - at) / tau)) / (1 - math.exp(-window / tau))

    def profile(self, mean_minutes: float, window_ticks: int) -> np.ndarray:
        """Share of payments in each tick after a window opens: an exponential of mean
        `mean_minutes`, cut at max(1, min(window, ⌈10 × mean / tick⌉)) ticks."""
        width = max(1, min(window_ticks, math.ceil(10 * mean_minutes / self.m)))
        p = np.array([self.mass(i * self.m, (i + 1) * self.m, 0.0, mean_minutes) for i in range(width)])
        return p / p.sum()

    def volume(self, name: str, tick: int) -> float:
        """Expected visits of a non-CRM channel in `tick` before budgets (impressions for display;
        for paid search with ad groups, auctions per unit of `auctions_per_hour`)."""
        key = (name, tick)
        if key not in self._volume:
            self._volume[key] = self._volume_of(name, tick)
        return self._volume[key]

    def _volume_of(self, name: str, tick: int) -> float:
        ch = self.sc.channels[name]
        base = {"paid_search": "clicks_per_hour", "display": "impressions_per_hour"}.get(ch.kind, "visits_per_hour")
        base = 1.0 if getattr(ch, "ad_groups", None) is not None else getattr(ch, base)
        i = self.phase_at[tick]
        mult = 1.0 if i is None else self.phases[i].traffic.get(name, self.phases[i].traffic.get("default", 1.0))
        lo, hi = tick * self.m, (tick + 1) * self.m
        spike = 1.0
        for sp in self.sc.calendar.spikes:            # the channels a spike names, else all but own audiences
            if name in (sp.channels or self.spiked):
                spike += sp.amplitude * sp.decay_minutes * self.mass(lo, hi, self.minute(sp.at), sp.decay_minutes) / self.m
        return base * self.m / 60 * self.intraday(tick) * mult * spike * self.scale

    def surge(self, name: str, tick: int, lam: float) -> list[tuple[float, str]]:
        """Step 1: extra visits (offset in the tick, flash SKU) of a channel without a budget.

        Per live flash sale with a surge: Poisson(lam × SKU choice share × (surge − 1)), where
        surge − 1 = amplitude·τ·(share of an exponential of mean τ from the sale's start that
        falls in the tick)/tick minutes. Reading: only ticks inside the sale's window surge;
        "without a budget" is every kind but paid search and display."""
        if self.sc.channels[name].kind in ("paid_search", "display"):
            return []
        extra = []
        for sale, f in self.sc.flash_sales.items():
            t0, t1 = self.flash_window[sale]
            if f.surge is None or not t0 <= tick < t1:
                continue
            tau = f.surge.decay_minutes
            boost = f.surge.amplitude * tau * self.mass(tick * self.m, (tick + 1) * self.m, self.minute(f.start), tau) / self.m
            n = self.rng.poisson(lam * self.sku_weights[self.skus.index(f.sku)] * boost)
            extra += [(float(o), f.sku) for o in self.rng.random(n)]
        return extra

    # ---------------------------------------------------------- the model
    def activity_price(self, sku: str, tick: int) -> tuple[float, str | None]:
        """(price, flash sale selling at it or None) of `sku` at `tick`: the flash price while a
        flash sale of the SKU is live and has not fallen back to the regular price (`regular`:
        from the tick after its sell-out), else list price × (1 − the phase's discount).
        Reading: with `after_sellout: lost` the flash price stands for the whole window."""
        for sale in self.flash_of[sku]:
            f, (t0, t1), out = self.sc.flash_sales[sale], self.flash_window[sale], self.sold_out[sale]
            if t0 <= tick < t1 and not (f.after_sellout == "regular" and out is not None and out < tick):
                return f.price, sale
        s, i = self.sc.skus[sku], self.phase_at[tick]
        return s.price * (1 - s.discount_in(None if i is None else self.phases[i].name)), None

    def coupon_valid(self, coupon: str | None, sku: str, tick: int) -> bool:
        a, b = self.valid_window[coupon] if coupon is not None else (0, 0)
        return coupon is not None and a <= tick < b and self.sc.coupons[coupon].applies_to(sku)

    def reduction_live(self, sku: str, tick: int) -> bool:
        r, (a, b) = self.sc.platform_reduction, self.reduction_window
        return r is not None and a <= tick < b and r.applies_to(sku)

    def deposit_sale(self, sku: str, tick: int) -> str | None:
        """The pre-sale taking deposits for `sku` at `tick` (None: none)."""
        name = self.presale_of.get(sku)
        if name is None:
            return None
        a, b = self.deposit_window[name]
        return name if a <= tick < b else None

    def conversion(self, sku: str, seg: str, channel: str, tick: int, coupon: str | None) -> tuple[float, str, int]:
        """(probability the visit buys, what a buyer does: "buy", "cart" or "deposit", pay tick).

        Step 4: the effective price at the pay tick replaces the price after discount. Reading:
        intent and lift follow docs/model.md (the visit's phase, its pay phase for a warm-up),
        also for a deposit; a deposit is placed even in a warm-up phase."""
        i = self.phase_at[tick]
        warm = i is not None and self.phases[i].kind == "warmup"
        pay = i
        if warm:
            pay = next(j for j in range(i + 1, len(self.phases)) if self.phases[j].kind == "sale")
        s, g = self.sc.skus[sku], self.sc.segments[seg]
        intent = 1.0 if i is None else self.phases[i].intent
        lift = s.promo_lift if pay is not None and self.phases[pay].on_promo(sku) else 1.0
        presale = self.deposit_sale(sku, tick)
        if presale is not None:                      # p_eff of a deposit, read at balance_from
            ps = self.sc.presales[presale]
            kind, pay_tick = "deposit", self.balance_window[presale][0]
            balance, _ = self.activity_price(sku, pay_tick)
            d_r = self.saving_share(sku, seg, balance, None, self.reduction_live(sku, pay_tick), topup=False)
            eff = max(FLOOR * balance, balance * max(FLOOR, 1 - d_r) - ps.deposit * (ps.multiplier - 1))
        else:
            kind = "cart" if warm else "buy"
            pay_tick = self.tick_of(self.phases[pay].start) if warm else tick
            price, _ = self.activity_price(sku, pay_tick)
            usable = coupon if self.coupon_valid(coupon, sku, pay_tick) else None
            eff = price * max(FLOOR, 1 - self.saving_share(sku, seg, price, usable, self.reduction_live(sku, pay_tick)))
        rel = eff / s.price
        p = s.base_conversion * intent * g.conversion * lift * rel ** (s.elasticity * g.price_sensitivity)
        return min(1.0, self.sc.channels[channel].quality * p), kind, pay_tick

    def saving_share(self, sku: str, seg: str, price: float, coupon: str | None, reduction: bool, topup: bool = True) -> float:
        """What a coupon and the platform's reduction are worth to a buyer, as a share of the
        basket: E[saving / basket] over the buyer's basket of 1 + Poisson((units_per_order − 1)
        × basket_units) units at `price`, after top-up (凑单) to the smallest usable threshold
        within reach (with its probability; not for a deposit), saving = the coupon's amount if
        the basket reaches its threshold + ⌊basket / every⌋ × off. Step 4; computed here by a
        plain sum over basket sizes (the fast engine's model computes it apart)."""
        key = (sku, seg, price, coupon, reduction, topup)
        if key not in self._worth:
            lam = (self.sc.skus[sku].units_per_order - 1) * self.sc.segments[seg].basket_units
            b, r = self.sc.baskets, self.sc.platform_reduction
            c = None if coupon is None else self.sc.coupons[coupon]
            q = b.topup_probability if topup else 0.0

            def saving(v: float) -> float:
                out = c.amount if c is not None and v >= c.threshold - EPS else 0.0
                return out + (math.floor(v / r.every + EPS) * r.off if reduction else 0.0)

            total, units, pmf, mass = 0.0, 1, math.exp(-lam), 0.0
            while mass < 1 - 1e-12 and units < 10_000:
                v = units * price
                thresholds = ([c.threshold] if c is not None and v < c.threshold else []) + \
                             ([(math.floor(v / r.every + EPS) + 1) * r.every] if reduction else [])
                target = min(thresholds, default=math.inf)
                worth = saving(v) / v
                if q > 0 and math.isfinite(target) and target - v <= b.topup_reach * target:
                    up = (units + math.ceil((target - v) / price - EPS)) * price
                    worth = (1 - q) * worth + q * saving(up) / up
                total += pmf * worth
                mass += pmf
                pmf *= lam / units
                units += 1
            self._worth[key] = total
        return self._worth[key]

    def mix(self, channel: str) -> list[float]:
        ch = self.sc.channels[channel]
        return [ch.segments.get(s, 0.0) if ch.segments else self.sc.segments[s].share for s in self.segments]

    def return_rate(self, sku: str, price: float) -> float:
        """min(1, return_rate + return_rate_per_discount × depth), depth = 1 − `price` (what the
        buyer paid per unit) / list price (reading: at least 0, for a price above the list price)."""
        s = self.sc.skus[sku]
        return min(1.0, s.return_rate + s.return_rate_per_discount * max(0.0, 1 - price / s.price))

    # ----------------------------------------------------------- processes
    def play(self) -> RunRecord:
        env = self.env
        env.process(self.calendar())
        for name, ch in self.sc.channels.items():
            env.process(self.crm(name, ch) if isinstance(ch, CrmPush) else
                        self.live(name, ch) if isinstance(ch, LiveStream) else
                        self.auctions(name, ch) if getattr(ch, "ad_groups", None) is not None else
                        self.channel(name, ch))
        for k, s in self.sc.skus.items():
            for sh in s.inbound:                      # on the shelf from the first tick at or after `at`
                tick = math.ceil(self.minute(sh.at) / self.m - 1e-9)
                if tick < self.T:
                    self.due.setdefault(tick, []).append((k, sh.quantity, "inbound"))
        env.process(self.mornings())
        if self.rules is not None:
            env.process(self.rule_moments())
        for i, p in enumerate(self.phases):
            if p.kind == "warmup":
                env.process(self.pay_carts(i))
        for name in self.sc.presales:
            env.process(self.pay_balances(name))
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

    def mornings(self):
        """The start of every tick, before its visitors (they come at tick + a uniform offset),
        in this order: held-back flash stock returns (the sale ends, or falls back to the
        regular price the tick after its sell-out), forfeited deposits come back, flash sales
        starting now set their allotment aside, deliveries arrive (each followed by a reorder
        check; at tick 0 the opening reorders follow; a flash SKU's join its held-back stock)."""
        for tick in range(self.T):
            yield self.env.timeout(tick - self.env.now)
            for sale, f in self.sc.flash_sales.items():
                if tick == self.flash_window[sale][1]:
                    self.end_flash(sale, tick)
                elif f.after_sellout == "regular" and self.sold_out[sale] == tick - 1:
                    self.return_held(f.sku)
            for name in self.sc.presales:
                if self.balance_window[name][1] == tick:
                    self.forfeit(name, tick)
            for sale in self.sc.flash_sales:
                if self.flash_window[sale][0] == tick:
                    self.start_flash(sale, tick)
            for sku, units, kind in self.due.pop(tick, []):
                self.delivery(sku, units, tick, kind)
            if tick == 0:                           # after the deliveries of tick 0, a SKU at or below s orders
                for sku in self.skus:
                    self.check_reorder(sku)

    def channel(self, name: str, ch):
        """Visitors of one channel, tick by tick, at uniform random moments in the tick."""
        c = self.channels.index(name)
        day, shown = None, 0.0
        b = self.budgets[name] = _Budget(_inf(getattr(ch, "daily_budget", None)), _inf(getattr(ch, "total_budget", None)),
                                         getattr(ch, "pacing", "asap"))
        b.share = self.pace_share(name, b.pacing, b.daily, b.total) if isinstance(ch, (PaidSearch, Display)) else None
        boost = 1.0
        for tick in range(self.T):
            if self.clock[tick].date() != day:
                if getattr(ch, "sales_boost", None) is not None and day is not None:
                    boost = self.ranking(name, ch.sales_boost, tick)
                b.new_day(getattr(ch, "carry_over", False) and day is not None)
                day = self.clock[tick].date()
            lam = self.volume(name, tick) * boost
            roi = getattr(ch, "pacing", None) == "roi_target"
            if roi and isinstance(ch, PaidSearch) and self.worth(name, tick) < ch.roi_target * ch.cpc:
                lam = 0.0                            # a click would not return the target in this phase
            if isinstance(ch, Display):
                cost = lam * ch.cpm / 1000
                r = b.room(tick)
                kept = 1.0 if cost <= r else max(r, 0.0) / cost
                by_budget = kept
                if roi:                              # impressions while the next one returns the target
                    ratio = ch.ctr * self.worth(name, tick) / (ch.roi_target * ch.cpm / 1000)
                    cap = 0.0 if ratio <= 1 else (ch.audience * math.log(ratio) if ch.audience else math.inf)
                    kept = min(kept, max(0.0, cap - shown) / lam if lam > 0 else 1.0)
                if kept < 1.0 and kept >= by_budget and not b.exhausted and \
                        b.spent_today + cost * kept >= b.allowed * (1 - 1e-12):
                    self.rec.events.append((tick, "budget_exhausted", name, float(b.allowed)))
                    b.exhausted = True
                b.spend(cost * kept)
                self.rec.by_channel["ad_spend"][self.hour(tick), c] += cost * kept
                if ch.audience is None:
                    shown += lam * kept
                    lam = lam * kept * ch.ctr
                else:                                # only newly reached people click
                    before = ch.audience * (1 - math.exp(-shown / ch.audience))
                    shown += lam * kept
                    lam = (ch.audience * (1 - math.exp(-shown / ch.audience)) - before) * ch.ctr
            for offset, sku in self.arrivals(name, tick, lam):
                yield self.env.timeout(tick + offset - self.env.now)
                if isinstance(ch, PaidSearch):
                    if b.room(tick) < ch.cpc - 1e-9:
                        continue                     # the budget (or the pacing line) cannot pay for this click
                    b.spend(ch.cpc)
                    self.rec.by_channel["ad_spend"][self.hour(tick), c] += ch.cpc
                    if b.allowed - b.spent_today < ch.cpc - 1e-9:
                        self.rec.events.append((tick, "budget_exhausted", name, b.spent_today))
                self.env.process(self.visitor(name, tick, sku))
            yield self.env.timeout(tick + 1 - self.env.now)

    def ranking(self, name: str, sales_boost, tick: int) -> float:
        """Organic feedback at a local midnight: the day's multiplier from the store's orders in
        the 24 hours before (scaled to a day when fewer hours have passed); logged as `ranking`."""
        hi = self.hour(tick)
        per_day = 24 * 60 // self.period_minutes
        lo = max(0, hi - per_day)
        orders = float(self.rec.by_channel["orders"][lo:hi].sum()) * per_day / (hi - lo)
        boost = sales_boost.multiplier(orders)
        self.rec.events.append((tick, "ranking", name, boost))
        return boost

    def pace_share(self, name: str, pacing: str, daily: float, total: float) -> list[float] | None:
        """Pacing (docs/pacing.md): per tick, the share of the period's budget that may be spent
        by the tick's end — the local day with a daily budget, else the campaign; `even` counts
        ticks, `launch_weighted` the channel's expected volume. None: `asap` or no budget
        (budgets given as inf when unset)."""
        if pacing in ("asap", "roi_target") or (math.isinf(daily) and math.isinf(total)):
            return None
        w = [1.0 if pacing == "even" else self.volume(name, t) for t in range(self.T)]
        key = [self.clock[t].date() if math.isfinite(daily) else 0 for t in range(self.T)]
        out, t = [0.0] * self.T, 0
        while t < self.T:
            end = t
            while end < self.T and key[end] == key[t]:
                end += 1
            total, run = sum(w[t:end]), 0.0
            for u in range(t, end):
                run += w[u]
                out[u] = run / total if total > 0 else 1.0
            t = end
        return out

    def auctions(self, name: str, ch: PaidSearch):
        """Search-ad auctions one by one (docs/auctions.md). Each ad group's auctions come at
        uniform moments of the tick; a group whose budget (or pacing line) has no room left sits
        the auction out. Otherwise its rivals' ranks are drawn, it is shown at position 1 + (rivals
        above it) if that is a slot and its bid reaches the reserve, a click follows with the
        position's CTR, and the click pays the highest rival rank below it over its quality score
        (at least the reserve) — or only what is left of the room, which then closes."""
        c = self.channels.index(name)
        groups = list(ch.ad_groups)
        shared = ch.daily_budget is not None or ch.total_budget is not None
        specs = [ch] if shared else [a for a in ch.ad_groups.values() if a.has_budget]
        subject = [name] if shared else [f"{name}/{g}" for g, a in ch.ad_groups.items() if a.has_budget]
        owner = [0 if shared else (subject.index(f"{name}/{g}") if f"{name}/{g}" in subject else -1) for g in groups]
        budgets = [_Budget(_inf(s.daily_budget), _inf(s.total_budget), ch.pacing) for s in specs]
        for bg in budgets:
            bg.share = self.pace_share(name, bg.pacing, bg.daily, bg.total)
        self.budgets.update(zip(subject, budgets))
        bids = self.bids[name] = {g: a.bid for g, a in ch.ad_groups.items()}
        rates = np.array([grp.auctions_per_hour for grp in ch.ad_groups.values()])
        book = self.rec.ad_groups[name]
        slots = len(ch.ctr_by_position)
        day = None
        for tick in range(self.T):
            if self.clock[tick].date() != day:
                for bg in budgets:
                    bg.new_day(ch.carry_over and day is not None)
                day = self.clock[tick].date()
            i = self.phase_at[tick]
            phase = None if i is None else self.phases[i].name
            unit = self.volume(name, tick)
            count = self.rng.poisson(unit * rates)            # each group's auctions in the tick,
            who = np.repeat(np.arange(len(rates)), count)     # at uniform moments, in time order
            moment = self.rng.random(who.size)
            order = np.argsort(moment, kind="stable")
            events = zip(moment[order].tolist(), who[order].tolist())
            h = self.hour(tick)
            for offset, g in events:
                yield self.env.timeout(tick + offset - self.env.now)
                o, grp = owner[g], ch.ad_groups[groups[g]]
                bg = budgets[o] if o >= 0 else None
                if bg is not None and bg.room(tick) <= 1e-9:
                    continue                                  # no room: the group sits this auction out
                book["auctions"][h, g] += 1
                riv = grp.rivals_in(phase)
                ranks = (self.rng.lognormal(math.log(riv.median), riv.sigma, riv.count) if riv.sigma > 0
                         else np.full(riv.count, riv.median))
                bid = bids[groups[g]]
                if ch.pacing == "roi_target":                 # at most what a click returns / the target
                    bid = min(bid, self.worth(name, tick) / ch.roi_target)
                rank = bid * grp.quality_score
                above = int((ranks > rank).sum())
                if bid < ch.reserve_price or above >= slots:
                    continue                                  # not shown
                book["impressions"][h, g] += 1
                if self.rng.random() >= ch.ctr_by_position[above]:
                    continue
                below = ranks[ranks <= rank]
                price = min(bid, max(ch.reserve_price, below.max() / grp.quality_score) if below.size
                            else ch.reserve_price)
                if bg is not None:
                    price = min(price, bg.room(tick))
                    bg.spend(price)
                    if not bg.exhausted and bg.allowed - bg.spent_today <= 1e-9 * max(1.0, bg.allowed):
                        self.rec.events.append((tick, "budget_exhausted", subject[o], bg.spent_today))
                        bg.exhausted = True
                book["clicks"][h, g] += 1
                book["ad_spend"][h, g] += price
                self.rec.by_channel["ad_spend"][h, c] += price
                self.env.process(self.visitor(name, tick))
            yield self.env.timeout(tick + 1 - self.env.now)

    def worth(self, name: str, tick: int) -> float:
        """Expected GMV of a visit of channel `name` in the phase of `tick`, what roi_target weighs
        a click or an impression by (docs/pacing.md): Σ over SKUs and segments of where the visit
        lands × P(buy) at the phase's price (its pay phase's, for a warm-up) without promotion
        mechanics × price × units_per_order. Computed here, from the scenario, by plain sums."""
        i = self.phase_at[tick]
        key = (name, i)
        if key not in self._worth_of_visit:
            pay = i
            if i is not None and self.phases[i].kind == "warmup":
                pay = next(j for j in range(i + 1, len(self.phases)) if self.phases[j].kind == "sale")
            phase = None if pay is None else self.phases[pay]
            intent = 1.0 if i is None else self.phases[i].intent
            ch, total = self.sc.channels[name], 0.0
            for sku, share in zip(self.skus, self.sku_weights):
                s = self.sc.skus[sku]
                price = s.price * (1 - s.discount_in(None if phase is None else phase.name))
                lift = s.promo_lift if phase is not None and phase.on_promo(sku) else 1.0
                for seg, w in zip(self.segments, self.mixes[name]):
                    g = self.sc.segments[seg]
                    p = s.base_conversion * intent * g.conversion * lift * (price / s.price) ** (s.elasticity * g.price_sensitivity)
                    total += share * w * min(1.0, ch.quality * p) * price * s.units_per_order
            self._worth_of_visit[key] = total
        return self._worth_of_visit[key]

    def rule_moments(self):
        """Mid-campaign rules (docs/rules.md): at each evaluation moment, before the tick's
        visitors, the rules read the record so far; what fires changes budgets, bids or pacing
        from this tick on."""
        for tick in self.rules.ticks:
            yield self.env.timeout(tick - self.env.now)
            yield self.env.timeout(0)                     # after every channel has started the tick (a new day)
            for path, value in self.rules.fire(tick, self.rec).items():
                parts = path.split(".")
                name = parts[1]
                ch = self.sc.channels[name]
                if len(parts) == 5 and parts[4] == "bid":
                    self.bids[name][parts[3]] = float(value)
                    continue
                key = f"{name}/{parts[3]}" if len(parts) == 5 else name
                targets = ([self.budgets[key]] if parts[-1] != "pacing" else
                           [bg for k, bg in self.budgets.items() if k == name or k.startswith(name + "/")])
                for bg in targets:
                    if parts[-1] == "daily_budget":
                        bg.daily = float(value)
                    elif parts[-1] == "total_budget":
                        bg.total = float(value)
                    else:
                        bg.pacing = value
                    bg.share = self.pace_share(name, bg.pacing, bg.daily, bg.total) if isinstance(
                        ch, (PaidSearch, Display)) else None
                    bg.reset_day()

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
            yield from self.send(name, tick, lam)

    def live(self, name: str, ch: LiveStream):
        """Live-stream sessions: the slot's fee at its start; viewers × visit_rate visits spread
        by the audience curve over the session (opening: an exponential from the start, cut at
        the end; flat: evenly)."""
        c = self.channels.index(name)
        spans = []
        for ses in ch.sessions:
            a, b = self.tick_of(ses.start), self.tick_of(ses.end)
            spans.append((a, b, ses))
            self.rec.events.append((a, "live_start", name, float(ses.viewers * self.scale)))
            self.rec.by_channel["fees"][self.hour(a), c] += ses.fee
        for tick in range(self.T):
            lam = 0.0
            for a, b, ses in spans:
                if a <= tick < b:
                    share = (1.0 / (b - a) if ses.curve == "flat" else
                             self.mass(tick * self.m, (tick + 1) * self.m, a * self.m, ses.decay_minutes,
                                       (b - a) * self.m))
                    lam += ses.viewers * self.scale * ses.visit_rate * share
            yield from self.send(name, tick, lam)

    def arrivals(self, name: str, tick: int, lam: float) -> list[tuple[float, str | None]]:
        """Poisson(lam) visits at uniform moments of the tick, and a flash sale's surge visits
        (their SKU fixed), in time order: (offset in the tick, SKU or None)."""
        arrivals = [(float(o), None) for o in np.sort(self.rng.random(self.rng.poisson(lam)))]
        return sorted(arrivals + self.surge(name, tick, lam), key=lambda a: a[0])

    def send(self, name: str, tick: int, lam: float):
        """The tick's visitors of a channel without a budget, each a process; then the tick ends."""
        for offset, sku in self.arrivals(name, tick, lam):
            yield self.env.timeout(tick + offset - self.env.now)
            self.env.process(self.visitor(name, tick, sku))
        yield self.env.timeout(tick + 1 - self.env.now)

    def visitor(self, channel: str, tick: int, sku: str | None = None):
        """One visit (docs/promotions.md, "A visit, step by step"): a segment and a SKU (a surge
        visit comes for its flash SKU), a customer, a coupon claim, then buy, cart, deposit or leave."""
        yield self.env.timeout(0)                    # the visitor arrives
        c = self.channels.index(channel)
        self.rec.by_channel["visits"][self.hour(tick), c] += 1
        seg = self.segments[self.pick(self.mix_cum[channel])]
        if sku is None:
            sku = self.skus[self.pick(self.sku_cum)]
        people = self.sc.segments[seg].customers    # step 2 (unset: every visit is a new person)
        customer = None if people is None else int(self.rng.integers(people))
        coupon = self.claim(sku, seg, customer, tick)
        p, kind, pay_tick = self.conversion(sku, seg, channel, tick, coupon)
        if self.rng.random() >= p:
            return
        if kind == "cart":                           # the cart keeps its coupon class
            self.carts.append((self.phase_at[tick], channel, sku, seg, coupon))
            self.rec.by_channel["carts"][self.hour(tick), c] += 1
            self.rec.by_sku["carts"][self.hour(tick), self.skus.index(sku)] += 1
            return
        if kind == "deposit":
            self.deposit(channel, sku, seg, tick)
            return
        self.buy(channel, sku, seg, tick, pay_tick, coupon)

    def claim(self, sku: str, seg: str, customer: int | None, tick: int) -> str | None:
        """Step 3: the store coupon this visit claims (None: none).

        Claimable: claim window holds the tick, applies to the SKU, not a pre-sale SKU in its
        deposit window. Shares wⱼ = min(1, claim_rate × coupon_use), scaled to add up to 1 if
        they add up to more; one uniform draw picks one in the order written (or none). The
        claim fails when the pool is empty or the customer is at the limit."""
        if self.deposit_sale(sku, tick) is not None:
            return None
        able = [n for n, cp in self.sc.coupons.items()
                if self.claim_window[n][0] <= tick < self.claim_window[n][1] and cp.applies_to(sku)]
        if not able:
            return None
        use = self.sc.segments[seg].coupon_use
        w = [min(1.0, self.sc.coupons[n].claim_rate * use) for n in able]
        if sum(w) > 1:
            w = [x / sum(w) for x in w]
        u, acc, pick = self.rng.random(), 0.0, None
        for n, x in zip(able, w):
            acc += x
            if u < acc:
                pick = n
                break
        if pick is None or self.pool[pick] == 0:
            return None
        key = (pick, seg, customer)
        if customer is not None and self.held_coupons.get(key, 0) >= self.sc.coupons[pick].per_customer:
            return None
        if customer is not None:
            self.held_coupons[key] = self.held_coupons.get(key, 0) + 1
        self.pool[pick] -= 1
        self.rec.by_sku["coupons_claimed"][self.hour(tick), self.skus.index(sku)] += 1
        self.rec.coupons[pick]["claimed"] += 1
        if self.pool[pick] == 0:                     # the pool's last coupon
            quantity = self.sc.coupons[pick].quantity
            self.rec.events.append((tick, "coupon_empty", pick, float(quantity)))
            self.rec.coupons[pick]["empty_tick"] = float(tick)
        return pick

    def units(self, sku: str, seg: str) -> int:
        """Step 5: 1 + Poisson((units_per_order − 1) × the segment's basket_units)."""
        return 1 + int(self.rng.poisson((self.sc.skus[sku].units_per_order - 1) * self.sc.segments[seg].basket_units))

    def topup(self, sku: str, units: int, price: float, coupon: str | None, pay_tick: int) -> int:
        """Step 5, 凑单: units added to reach the smallest usable threshold T > v = units × price
        with T − v ≤ topup_reach × T, with probability topup_probability (else 0)."""
        b = self.sc.baskets
        if not b.topup_probability:
            return 0
        v = units * price
        usable = []
        if self.coupon_valid(coupon, sku, pay_tick):
            usable.append(self.sc.coupons[coupon].threshold)
        if self.reduction_live(sku, pay_tick):
            every = self.sc.platform_reduction.every
            usable.append((math.floor(v / every + EPS) + 1) * every)   # the next full multiple above v
        above = [t for t in usable if t > v + EPS]
        if not above:
            return 0
        target = min(above)
        if target - v > b.topup_reach * target or self.rng.random() >= b.topup_probability:
            return 0
        return math.ceil((target - v) / price - EPS)

    def buy(self, channel: str, sku: str, seg: str, tick: int, pay_tick: int, coupon: str | None):
        """An order paid at `tick`, priced at `pay_tick`: units, top-up, stock, money."""
        want = self.units(sku, seg)
        price, sale = self.activity_price(sku, pay_tick)
        want += self.topup(sku, want, price, coupon, pay_tick)
        got = self.take(sku, want, tick)
        if got == 0:
            return
        self.money(channel, sku, tick, got, price, coupon, pay_tick, sale)
        self.check_reorder(sku)

    def take(self, sku: str, want: int, tick: int) -> int:
        """Step 6: take up to `want` units off the shelf; what is missing is lost demand or, in
        payment mode, oversold (the order that empties the shelf, and orders in the ⌈payment
        minutes / tick⌉ ticks after the tick it ran empty) and cancelled. Returns the units taken."""
        k, h = self.skus.index(sku), self.hour(tick)
        box = self.stock[sku]
        got = min(want, int(box.level))
        if got:
            box.get(got)
            self.rec.by_sku["taken"][h, k] += got
            if box.level == 0:
                self.out_at[sku] = tick               # the shelf runs empty: the oversell window opens
                if self.on_flash[sku] is None:        # (a flash allotment logs its sell-out instead)
                    self.rec.events.append((tick, "sold_out", sku, 0.0))
        short = want - got
        sale = self.on_flash[sku]
        if short:
            tau = self.out_at[sku]
            if self.payment_mode and (got or (tau is not None and tick <= tau + self.oversell_ticks)):
                self.rec.by_sku["oversold_units"][h, k] += short
                self.rec.by_sku["cancellations"][h, k] += 1
            else:
                self.rec.by_sku["lost_units"][h, k] += short
            if self.out_tick[sku] != tick:
                self.out_tick[sku] = tick
                self.rec.by_sku["stockout_ticks"][h, k] += 1
            if sale is None:                         # a flash allotment's stock-out is its sell-out instead
                if not self.out_since[sku]:         # a stock-out episode opens: its value is
                    self.out_since[sku] = True       # the units short in its first tick
                    self.open_event[sku] = (len(self.rec.events), tick)
                    self.rec.events.append((tick, "stockout", sku, 0.0))
                at, first = self.open_event[sku]
                if first == tick:
                    t0, kind, subject, value = self.rec.events[at]
                    self.rec.events[at] = (t0, kind, subject, value + short)
        if sale is not None and self.sold_out[sale] is None and box.level == 0:
            self.sold_out[sale] = tick               # took the last unit, or found fewer than it wanted
            self.rec.events.append((tick, "flash_sellout", sale, float(self.allotment[sale])))
            self.rec.flash[sale]["sold_out"] = 1.0
            self.rec.flash[sale]["sellout_tick"] = float(tick)
        return got

    def money(self, channel: str, sku: str, tick: int, units: int, price: float, coupon: str | None,
              pay_tick: int, sale: str | None, expansion: float = 0.0, deposit: float = 0.0):
        """Step 7: an order paid at `tick` with `units` at `price`; the coupon's validity and the
        reduction's window are read at `pay_tick`; a balance payment's deposit `expansion` and the
        `deposit` paid before. Then its returns: each unit comes back with the probability of its discount
        depth by what the buyer paid, refunded pro rata; the platform takes back its share of
        their reduction; a resaleable share is back in stock `return_days` later."""
        c, k = self.channels.index(channel), self.skus.index(sku)
        h = self.hour(tick)
        gmv = units * price
        off = 0.0
        if self.coupon_valid(coupon, sku, pay_tick) and gmv >= self.sc.coupons[coupon].threshold - EPS:
            off = self.sc.coupons[coupon].amount
            self.rec.by_sku["coupons_redeemed"][h, k] += 1
            self.rec.by_sku["coupon_cost"][h, k] += off
            self.rec.coupons[coupon]["redeemed"] += 1
            self.rec.coupons[coupon]["cost"] += off
        cut, share = 0.0, 0.0
        if self.reduction_live(sku, pay_tick):
            r = self.sc.platform_reduction
            cut, share = math.floor(gmv / r.every + EPS) * r.off, r.platform_share
            self.rec.by_sku["platform_subsidy"][h, k] += share * cut
            self.rec.by_sku["reduction_cost"][h, k] += (1 - share) * cut
        paid = gmv - off - cut - expansion                       # what the buyer pays for the units
        returned = int(self.rng.binomial(units, self.return_rate(sku, paid / units)))
        rate = getattr(self.sc.channels[channel], "commission_rate", 0.0)
        for flows, i in ((self.rec.by_channel, c), (self.rec.by_sku, k)):
            flows["orders"][h, i] += 1
            flows["units"][h, i] += units
            flows["gmv"][h, i] += gmv
            flows["returns"][h, i] += returned
            flows["refunds"][h, i] += returned / units * paid
        self.rec.by_sku["subsidy_clawback"][h, k] += returned / units * share * cut
        self.rec.by_sku["paid"][h, k] += paid - deposit                 # paid now
        self.rec.by_channel["commissions"][h, c] += (units - returned) * price * rate
        again = int(self.rng.binomial(returned, self.sc.skus[sku].resaleable_returns)) if returned else 0
        if again:
            back = self.restock_tick(tick)
            if back < self.T:
                self.due.setdefault(back, []).append((sku, again, "restock"))
            else:
                self.after_end[sku] += again
        if sale is not None:
            self.rec.flash[sale]["units"] += units

    def check_reorder(self, sku: str):
        """(s, Q): while stock on hand (held-back flash stock included) + on order ≤ s, order Q;
        it arrives lead time later."""
        rule = self.sc.skus[sku].reorder
        if rule is None:
            return
        tick = int(self.env.now)
        while self.stock[sku].level + self.held[sku] + self.on_order[sku] <= rule.point:
            self.on_order[sku] += rule.quantity
            self.rec.events.append((tick, "reorder", sku, float(rule.quantity)))
            lead = max(1, math.ceil(rule.lead_time_hours * 60 / self.m))
            if tick + lead < self.T:
                self.due.setdefault(tick + lead, []).append((sku, rule.quantity, "reorder"))

    def shelve(self, sku: str, units: int):
        """Units back on the shelf: a stock-out episode and an oversell window end."""
        if units:
            self.stock[sku].put(units)
            self.out_since[sku] = False
            self.out_at[sku] = None

    def delivery(self, sku: str, units: int, tick: int, kind: str):
        """Units arriving at the start of `tick` (visitors come strictly later): a shipment
        (`inbound`, `reorder`: an `arrival` event) or returned units back in stock (`restock`);
        during a flash sale they join the held-back stock."""
        if self.on_flash[sku] is not None:
            self.held[sku] += units
            self.out_since[sku] = False
        else:
            self.shelve(sku, units)
        if kind == "reorder":
            self.on_order[sku] -= units
        flow = "restocked" if kind == "restock" else "inbound"
        self.rec.by_sku[flow][self.hour(tick), self.skus.index(sku)] += units
        if kind != "restock":
            self.rec.events.append((tick, "arrival", sku, float(units)))
        self.check_reorder(sku)

    def restock_tick(self, tick: int) -> int:
        """The tick a returned unit sold at `tick` is back in stock: the first tick at or after the
        local midnight `return_days` after the sale's local day (≥ T: after the campaign)."""
        import datetime as dt

        day = self.local(tick).date() + dt.timedelta(days=self.sc.meta.return_days)
        return math.ceil(self.minute(dt.datetime.combine(day, dt.time())) / self.m - 1e-9)

    # ------------------------------------------------------------ flash sales
    def start_flash(self, sale: str, tick: int):
        """min(quantity, on hand) stays on the shelf for the sale; the rest is held back."""
        f = self.sc.flash_sales[sale]
        box = self.stock[f.sku]
        self.allotment[sale] = min(f.quantity, int(box.level))
        self.held[f.sku] = int(box.level) - self.allotment[sale]
        if self.held[f.sku]:
            box.get(self.held[f.sku])
        self.on_flash[f.sku] = sale
        self.rec.events.append((tick, "flash_start", sale, float(self.allotment[sale])))

    def return_held(self, sku: str):
        """The sale no longer sells this shelf: held-back units come back to it."""
        units, self.held[sku] = self.held[sku], 0
        self.on_flash[sku] = None
        self.shelve(sku, units)

    def end_flash(self, sale: str, tick: int):
        """The window closes (at `tick` = its end, or at T for a sale that lasts to the end):
        `flash_end` with the allotment's units left, and the held-back stock returns."""
        f = self.sc.flash_sales[sale]
        left = int(self.stock[f.sku].level) if self.on_flash[f.sku] == sale else 0
        if self.on_flash[f.sku] == sale:
            self.return_held(f.sku)
        self.rec.events.append((min(tick, self.T - 1), "flash_end", sale, float(left)))

    # --------------------------------------------------------------- pre-sales
    def deposit(self, channel: str, sku: str, seg: str, tick: int):
        """A deposit order: its units leave the shelf now (in either deduction mode)."""
        got = self.take(sku, self.units(sku, seg), tick)
        if got == 0:
            return
        name = self.presale_of[sku]
        k, h = self.skus.index(sku), self.hour(tick)
        self.rec.by_sku["deposits"][h, k] += 1
        self.rec.by_sku["deposit_amount"][h, k] += self.sc.presales[name].deposit * got
        self.rec.by_sku["paid"][h, k] += self.sc.presales[name].deposit * got
        self.deposit_orders[name].append((channel, sku, got))
        self.check_reorder(sku)

    def pay_balances(self, name: str):
        """From balance_from, each deposit order pays its balance with probability pay_through,
        after a delay from the exponential profile of mean pay_minutes (cut at the window)."""
        ps = self.sc.presales[name]
        b0, b1 = self.balance_window[name]
        profile = self.profile(ps.pay_minutes, b1 - b0)
        yield self.env.timeout(b0 - self.env.now)
        orders = self.deposit_orders[name]
        self.rec.events.append((b0, "balance_open", name, float(len(orders))))
        for order in orders:
            if self.rng.random() < ps.pay_through:
                delay = self.rng.choice(len(profile), p=profile) + self.rng.random()
                self.env.process(self.balance_payment(name, order, b0 + delay))
            else:
                self.unpaid[name].append(order)

    def balance_payment(self, name: str, order: tuple[str, str, int], at: float):
        """The order counts now, at the activity price of balance_from; no store coupon; the
        reduction if live at the tick it is paid (docs: "the payment tick")."""
        yield self.env.timeout(at - self.env.now)
        channel, sku, units = order
        ps, tick = self.sc.presales[name], int(at)
        price, _ = self.activity_price(sku, self.balance_window[name][0])
        expansion = ps.deposit * (ps.multiplier - 1) * units
        self.money(channel, sku, tick, units, price, None, tick, None, expansion, ps.deposit * units)
        self.rec.by_sku["deposit_expansion"][self.hour(tick), self.skus.index(sku)] += expansion

    def forfeit(self, name: str, tick: int):
        """At balance_to the unpaid deposits are forfeited and their units come back to the
        shelf (at the start of `tick`; at T, into the ending stock, booked in the last hour)."""
        at = min(tick, self.T - 1)
        h, ps = self.hour(at), self.sc.presales[name]
        for _channel, sku, units in self.unpaid[name]:
            k = self.skus.index(sku)
            self.rec.by_sku["deposit_forfeits"][h, k] += 1
            self.rec.by_sku["forfeited_amount"][h, k] += ps.deposit * units
            self.rec.by_sku["released"][h, k] += units
            self.shelve(sku, units)
        self.rec.events.append((at, "forfeits", name, float(len(self.unpaid[name]))))

    # ------------------------------------------------------------------ carts
    def pay_carts(self, warm: int):
        """At the first tick of the next sale phase, each cart pays with the pay-through rate."""
        pay = next(j for j in range(warm + 1, len(self.phases)) if self.phases[j].kind == "sale")
        first = self.tick_of(self.phases[pay].start)
        last = self.tick_of(self.phases[pay].end)
        cal = self.sc.calendar
        profile = self.profile(cal.cart_pay_minutes, last - first)
        yield self.env.timeout(first - self.env.now)
        for phase, channel, sku, seg, coupon in [c for c in self.carts if c[0] == warm]:
            if self.rng.random() < cal.cart_pay_through:
                delay = self.rng.choice(len(profile), p=profile) + self.rng.random()
                self.env.process(self.cart_payment(channel, sku, seg, first + delay, coupon))

    def cart_payment(self, channel: str, sku: str, seg: str, at: float, coupon: str | None):
        """A cart pays at `at`, at the price, coupon validity and reduction in force then (a
        flash price and allotment too, if a sale of its SKU is on)."""
        yield self.env.timeout(at - self.env.now)
        self.buy(channel, sku, seg, int(at), int(at), coupon)

    def finish(self):
        """The campaign's end, then the stock at the end of every hour from the flows (checked
        against the containers plus held-back stock, and returns back after the end)."""
        for sale in self.sc.flash_sales:              # a sale lasting to the end returns its held-back stock
            if self.flash_window[sale][1] == self.T:
                self.end_flash(sale, self.T)
        for name in self.sc.presales:                 # forfeits of a balance window closing at the end
            if self.balance_window[name][1] == self.T:
                self.forfeit(name, self.T)
        rec = self.rec
        sk = rec.by_sku
        for k, sku in enumerate(self.skus):           # returns back after the campaign: its ending stock
            sk["restocked"][self.H - 1, k] += self.after_end[sku]
        level = rec.initial_stock + np.cumsum(sk["inbound"] + sk["released"] + sk["restocked"] - sk["taken"], axis=0)
        rec.stock[:] = level
        on_hand = [self.stock[k].level + self.held[k] + self.after_end[k] for k in self.skus]
        assert np.array_equal(level[-1], on_hand), "stock flows do not add up"


class _Budget:
    """One budget of a channel (or of an ad group) in the reference engine: the budgets in
    force, the pacing line, and spend today and so far."""

    def __init__(self, daily: float, total: float, pacing: str):
        self.daily, self.total, self.pacing = daily, total, pacing
        self.share: list[float] | None = None
        self.allowed = self.spent_today = self.spent_total = self.carried = 0.0
        self.exhausted = False

    def new_day(self, carry: bool) -> None:
        """Local midnight: the day's budget (plus what yesterday left, with carry-over)."""
        self.carried = self.allowed - self.spent_today if carry else 0.0
        self.spent_today = 0.0
        self.reset_day()

    def reset_day(self) -> None:
        """The day's budget from the budgets in force (spend so far today counts)."""
        self.allowed = min(self.daily + self.carried, self.total - (self.spent_total - self.spent_today))
        self.exhausted = self.allowed - self.spent_today <= 1e-9 * max(1.0, abs(self.allowed))

    def room(self, tick: int) -> float:
        """What may still be spent in this tick: the budget, and the pacing line."""
        left = self.allowed - self.spent_today
        if self.share is None:
            return left
        if math.isfinite(self.daily):
            return min(left, self.allowed * self.share[tick] - self.spent_today)
        return min(left, self.total * self.share[tick] - self.spent_total)

    def spend(self, amount: float) -> None:
        self.spent_today += amount
        self.spent_total += amount


def _inf(x: float | None) -> float:
    return math.inf if x is None else x
