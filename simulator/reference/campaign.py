"""One replication of the reference engine: the state every mechanism shares, the SimPy
environment, and the processes started at tick 0 (docs/model.md).

The mechanisms are small classes, one file each, that the campaign is made of: visitors and
channels (`traffic`), budgets and rules (`budgets`), search-ad auctions (`auctions`), what a
promotion does to one visit (`offers`), flash sales, pre-sales and warm-up carts (`sales`),
an order and its money (`orders`), and stock (`stock`).
"""

from __future__ import annotations

import bisect

import numpy as np
import simpy

from simulator.record import RunRecord
from simulator.reference.auctions import Auctions
from simulator.reference.budgets import Budgets
from simulator.reference.offers import Offers
from simulator.reference.orders import Orders
from simulator.reference.sales import Sales
from simulator.reference.stock import Stock
from simulator.reference.traffic import Traffic
from simulator.rules.snapshot import RuleRunner


class Campaign(Traffic, Budgets, Auctions, Offers, Sales, Orders, Stock):
    """A replication of the plan `model` on `seed` (an int or a `SeedSequence`)."""

    def __init__(self, model, seed):
        self.plan = model
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.rng = np.random.Generator(np.random.PCG64(ss))
        grid = model.grid
        self.m, self.T = grid.tick_minutes, grid.n_ticks
        self.period, self.day = grid.period.tolist(), grid.day.tolist()
        self.H = int(grid.period[-1]) + 1
        self.channels, self.skus, self.segments = model.channels, model.skus, model.segments
        self.promo = model.promotions
        self.regimes = model.regimes
        conv = model.buying.conversion
        self.sku_cum = np.cumsum(conv.choice).tolist()                 # one uniform picks a SKU (bisect)
        self.mix_cum = [np.cumsum(w).tolist() for w in conv.mix]
        self.phase_at = model.phase_of_tick.tolist()
        self.rec = RunRecord.empty(self.H, len(self.channels), len(self.skus), model.inventory.stock,
                                   coupons=self.promo.coupons, flash_sales=[f.name for f in self.promo.flash],
                                   ad_groups={au.name: au.G for au in model.auctions})
        self.env = simpy.Environment()
        self.init_stock()
        self.init_sales()
        self.init_offers()
        self.debt = np.zeros((len(model.pull.windows), len(model.skus)))   # pull-forward: units owed per window
        self.auction_of = {au.name: au for au in model.auctions}
        self.budgets: dict = {}        # channel or "channel/ad group" → its `Budget`
        self.bids: dict[str, dict[str, float]] = {}    # auction channel → ad group → bid in force
        self.rules = RuleRunner(model.scenario) if model.scenario.rules else None   # the rules program

    def pick(self, cum: list[float]) -> int:
        """An index drawn with the probabilities whose running sums are `cum` (one uniform)."""
        return min(bisect.bisect_right(cum, self.rng.random() * cum[-1]), len(cum) - 1)

    def hour(self, tick: float) -> int:
        """The reporting period of `tick`."""
        return self.period[int(tick)]

    def play(self) -> RunRecord:
        env = self.env
        env.process(self.calendar())
        for c, kind in enumerate(self.plan.kinds):
            name = self.channels[c]
            env.process(self.auctions(name) if name in self.auction_of else
                        self.send_all(c) if kind in ("crm_push", "live_stream") else self.channel(c))
        env.process(self.mornings())
        if self.rules is not None:
            env.process(self.rule_moments())
        for cart in self.plan.carts:
            env.process(self.pay_carts(cart))
        for i in range(len(self.promo.presales)):
            env.process(self.pay_balances(i))
        env.run(until=self.T)
        self.finish()
        return self.rec

    def calendar(self):
        """Phase starts and launch moments, logged at their tick."""
        for tick, kind, subject, value in self.plan.fixed_events:
            if kind in ("phase_start", "launch"):
                yield self.env.timeout(tick - self.env.now)
                self.rec.events.append((tick, kind, subject, value))

    def finish(self):
        """The campaign's end, then the stock at the end of every hour from the flows (checked
        against the containers plus held-back stock, and returns back after the end)."""
        for i, f in enumerate(self.promo.flash):      # a sale lasting to the end returns its held-back stock
            if f.t1 == self.T:
                self.end_flash(i, self.T)
        for i, ps in enumerate(self.promo.presales):  # forfeits of a balance window closing at the end
            if ps.b1 == self.T:
                self.forfeit(i, self.T)
        rec = self.rec
        sk = rec.by_sku
        sk["restocked"][self.H - 1] += self.after_end   # returns back after the campaign: its ending stock
        level = rec.initial_stock + np.cumsum(sk["inbound"] + sk["released"] + sk["restocked"] - sk["taken"], axis=0)
        rec.stock[:] = level
        on_hand = [self.stock[k].level + self.held[k] + self.after_end[k] for k in range(len(self.skus))]
        assert np.array_equal(level[-1], on_hand), "stock flows do not add up"
