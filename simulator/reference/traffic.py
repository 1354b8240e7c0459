"""Visitors in the reference engine: channels send Poisson visitors at uniform moments of each
tick, each visitor a SimPy process (docs/model.md, "Traffic" and "A visit").

A channel's expected volume per tick comes from the plan (`Model.volume`, before budgets);
budgets, display reach and organic feedback are played here, draw by draw.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.reference.budgets import Budget


class Traffic:
    """Channel processes, arrivals (a flash sale's surge included) and the visitor process."""

    def channel(self, c: int):
        """Visitors of one channel (paid search, display, organic, recommendation), tick by tick."""
        mb = self.plan.media[c]                      # how a paid channel buys (None: it does not)
        b = Budget(np.inf, np.inf, "asap") if mb is None else Budget(mb.daily, mb.total, mb.pacing)
        self.budgets[self.channels[c]] = b
        b.share = None if mb is None else self.pace_line(c, b)
        paid, display = mb is not None and mb.kind == "paid_search", mb is not None and mb.kind == "display"
        boost = dict(self.plan.boosted).get(c)
        day, mult, reach = None, 1.0, [0.0]
        for tick in range(self.T):
            if self.day[tick] != day:
                if boost is not None and day is not None:
                    mult = self.ranking(c, boost, tick)
                b.new_day(mb is not None and mb.carry_over and day is not None)
                day = self.day[tick]
            lam = self.plan.volume[tick, c] * mult
            if paid and mb.pacing == "roi_target" and self.worth(c, tick) < mb.roi_target * mb.cpc:
                lam = 0.0                            # a click would not return the target in this phase
            if display:
                lam = self.display_clicks(c, mb, b, tick, lam, reach)
            for offset, k in self.arrivals(c, tick, lam):
                yield self.env.timeout(tick + offset - self.env.now)
                if paid and not self.pay_click(c, mb.cpc, b, tick):
                    continue                         # the budget (or the pacing line) cannot pay for this click
                self.env.process(self.visitor(c, tick, k))
            yield self.env.timeout(tick + 1 - self.env.now)

    def pay_click(self, c: int, cpc: float, b: Budget, tick: int) -> bool:
        """A flat-cpc click, if the budget and the pacing line have room for it."""
        if b.room(tick) < cpc - 1e-9:
            return False
        b.spend(cpc)
        self.rec.by_channel["ad_spend"][self.hour(tick), c] += cpc
        if b.allowed - b.spent_today < cpc - 1e-9:
            self.rec.events.append((tick, "budget_exhausted", self.channels[c], b.spent_today))
        return True

    def display_clicks(self, c: int, ch, b: Budget, tick: int, imps: float, reach: list[float]) -> float:
        """Display in one tick: the impressions the budget (and under roi_target, the marginal
        return) allows, paid for; the expected clicks of the people newly reached. `reach[0]`
        counts the impressions shown so far; `ch` is the channel's `MediaBuy`."""
        cost = imps * ch.cpm / 1000
        r = b.room(tick)
        kept = 1.0 if cost <= r else max(r, 0.0) / cost
        by_budget = kept
        roi = ch.pacing == "roi_target"
        if roi:                                  # impressions while the next one returns the target
            ratio = ch.ctr * self.worth(c, tick) / (ch.roi_target * ch.cpm / 1000)
            cap = 0.0 if ratio <= 1 else ch.audience * math.log(ratio)
            kept = min(kept, max(0.0, cap - reach[0]) / imps if imps > 0 else 1.0)
        if kept < 1.0 and kept >= by_budget and not b.exhausted and \
                b.spent_today + cost * kept >= b.allowed * (1 - 1e-12):
            self.rec.events.append((tick, "budget_exhausted", self.channels[c], float(b.allowed)))
            b.exhausted = True
        b.spend(cost * kept)
        self.rec.by_channel["ad_spend"][self.hour(tick), c] += cost * kept
        if math.isinf(ch.audience):
            reach[0] += imps * kept
            return imps * kept * ch.ctr
        before = ch.audience * (1 - math.exp(-reach[0] / ch.audience))   # only newly reached people click
        reach[0] += imps * kept
        return (ch.audience * (1 - math.exp(-reach[0] / ch.audience)) - before) * ch.ctr

    def ranking(self, c: int, sales_boost, tick: int) -> float:
        """Organic feedback at a local midnight: the day's multiplier from the store's orders in
        the 24 hours before (scaled to a day when fewer hours have passed); logged as `ranking`."""
        hi = self.hour(tick)
        per_day = 24 * 60 // max(60, self.m)
        lo = max(0, hi - per_day)
        orders = float(self.rec.by_channel["orders"][lo:hi].sum()) * per_day / (hi - lo)
        boost = sales_boost.multiplier(orders)
        self.rec.events.append((tick, "ranking", self.channels[c], boost))
        return boost

    def worth(self, c: int, tick: int) -> float:
        """Expected GMV of a visit of channel c in the phase of `tick` (the plan's `value`), what
        roi_target weighs a click or an impression by (docs/pacing.md)."""
        return float(self.plan.value[self.phase_at[tick], c])

    def send_all(self, c: int):
        """A channel without a budget or a choice (a CRM push, a live stream): its fees and events
        as the plan has them, then its visitors tick by tick."""
        name = self.channels[c]
        for tick, kind, subject, value in self.plan.fixed_events:
            if subject == name and kind in ("crm_send", "live_start"):
                self.rec.events.append((tick, kind, subject, value))
        for tick in np.flatnonzero(self.plan.fees[:, c]).tolist():
            self.rec.by_channel["fees"][self.hour(tick), c] += self.plan.fees[tick, c]
        for tick in range(self.T):
            for offset, k in self.arrivals(c, tick, float(self.plan.volume[tick, c])):
                yield self.env.timeout(tick + offset - self.env.now)
                self.env.process(self.visitor(c, tick, k))
            yield self.env.timeout(tick + 1 - self.env.now)

    def arrivals(self, c: int, tick: int, lam: float) -> list[tuple[float, int | None]]:
        """Poisson(lam) visits at uniform moments of the tick, and flash sales' surge visits
        (their SKU fixed), in time order: (offset in the tick, SKU index or None)."""
        arrivals = [(float(o), None) for o in np.sort(self.rng.random(self.rng.poisson(lam)))]
        return sorted(arrivals + self.surge(c, tick, lam), key=lambda a: a[0])

    def surge(self, c: int, tick: int, lam: float) -> list[tuple[float, int]]:
        """Extra visits (offset in the tick, flash SKU) of a channel the surge reaches (the plan's
        `surge_reach`): per flash sale surging in the tick, Poisson(lam × the SKU's choice share ×
        (surge − 1)) (the plan's `surge`)."""
        if not self.regimes.surge_reach[c]:
            return []
        extra = []
        for i in np.flatnonzero(self.regimes.surge[tick]).tolist():
            k = self.promo.flash[i].k
            n = self.rng.poisson(lam * self.plan.buying.conversion.choice[k] * self.regimes.surge[tick, i])
            extra += [(float(o), k) for o in self.rng.random(n)]
        return extra

    def visitor(self, c: int, tick: int, k: int | None = None, group: tuple | None = None):
        """One visit (docs/promotions.md, "A visit, step by step"): a segment and a SKU (a surge
        visit comes for its flash SKU), a customer, a coupon claim, then buy, cart, deposit or leave."""
        yield self.env.timeout(0)                    # the visitor arrives
        h = self.hour(tick)
        self.rec.by_channel["visits"][h, c] += 1
        s = self.pick(self.mix_cum[c])
        if k is None:
            k = self.pick(self.sku_cum)
        people = self.promo.customers[s]             # step 2 (inf: every visit is a new person)
        customer = None if math.isinf(people) else int(self.rng.integers(int(people)))
        coupon = self.held_coupon(k, s, customer, tick)   # a coupon from the wallet: no claim, no tilt
        z = 1.0
        if coupon is None:
            z = self.intent_z(k, s, c, tick)         # claims follow intent to buy (1: they do not)
            coupon = self.claim(k, s, customer, tick)
        p, kind, pay_tick = self.conversion(k, s, c, tick, coupon)
        if z != 1.0:
            p = min(1.0, p * (float(self.promo.claim_intent[s]) if coupon is not None else 1.0) / z)
        if group is not None:                        # an ad group's click: its conversion multiplier
            au, g = group
            p = min(1.0, p * float(au.intent[g]))
        if self.rng.random() >= p:
            return
        now = self.plan.buy_now[k]
        if kind == "cart" and now > 0 and self.rng.random() < now:   # a warm-up buyer who pays at once
            kind, pay_tick = "buy", tick
        if kind == "cart":                           # the cart keeps its coupon class
            self.carts.append((self.phase_at[tick], c, k, s, coupon, customer))
            self.rec.by_channel["carts"][h, c] += 1
            self.rec.by_sku["carts"][h, k] += 1
            return
        if kind == "deposit":
            self.deposit(c, k, s, tick)
            return
        got, price = self.buy(c, k, s, tick, pay_tick, coupon, customer=customer)
        if group is not None and got:                # the group's orders and GMV
            book = self.rec.ad_groups[group[0].name]
            book["orders"][h, group[1]] += 1
            book["gmv"][h, group[1]] += got * price
