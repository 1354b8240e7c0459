"""Search-ad auctions one by one in the reference engine (docs/auctions.md).

The plan's `AuctionChannel` gives each ad group's expected auctions per tick, its rivals per
phase, the slots' click-through rates, the reserve and who owns which budget; here every
auction is drawn: rivals' ranks, the position, the click and its second price.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.reference.budgets import Budget


class Auctions:
    """The auction channel processes."""

    def auctions(self, name: str):
        """Each ad group's auctions come at uniform moments of the tick; a group whose budget (or
        pacing line) has no room left sits the auction out; otherwise `one_auction`."""
        au = self.auction_of[name]
        budgets = [Budget(float(d), float(t), au.pacing) for d, t in zip(au.daily, au.total)]
        for bg in budgets:
            bg.share = self.pace_line(au.c, bg)
        self.budgets.update(zip(au.owners, budgets))
        self.bids[name] = dict(zip(au.groups, au.bid.tolist()))
        day = None
        for tick in range(self.T):
            if self.day[tick] != day:
                for bg in budgets:
                    bg.new_day(au.carry_over and day is not None)
                day = self.day[tick]
            count = self.rng.poisson(au.rate[tick])           # each group's auctions in the tick,
            who = np.repeat(np.arange(au.G), count)            # at uniform moments, in time order
            moment = self.rng.random(who.size)
            order = np.argsort(moment, kind="stable")
            for offset, g in zip(moment[order].tolist(), who[order].tolist()):
                yield self.env.timeout(tick + offset - self.env.now)
                o = int(au.owner[g])
                bg = budgets[o] if o >= 0 else None
                if bg is not None and bg.room(tick) <= 1e-9:
                    continue                                  # no room: the group sits this auction out
                if self.one_auction(au, g, tick, bg):
                    self.env.process(self.visitor(au.c, tick, group=(au, g)))
            yield self.env.timeout(tick + 1 - self.env.now)

    def one_auction(self, au, g: int, tick: int, bg: Budget | None) -> bool:
        """One auction of ad group g: rivals' ranks drawn (lognormal around the phase's median),
        shown at position 1 + (rivals above) if that is a slot and the bid reaches the reserve,
        a click with the position's CTR paying the highest rival rank below over the quality
        score (at least the reserve; at most the budget's room, which then closes). True: a click."""
        h, phase = self.hour(tick), self.phase_at[tick]
        book = self.rec.ad_groups[au.name]
        book["auctions"][h, g] += 1
        median, sigma, n = au.median[phase, g], au.sigma[phase, g], int(au.count[phase, g])
        ranks = self.rng.lognormal(math.log(median), sigma, n) if sigma > 0 else np.full(n, median)
        bid = self.bids[au.name][au.groups[g]]
        if au.worth is not None:                              # roi_target: at most what a click returns / the target
            bid = min(bid, au.worth[phase] * au.intent[g] / au.roi_target)
        rank = bid * au.quality[g]
        above = int((ranks > rank).sum())
        if bid < au.reserve or above >= au.ctr.size:
            return False                                      # not shown
        book["impressions"][h, g] += 1
        if self.rng.random() >= au.ctr[above]:
            return False
        below = ranks[ranks <= rank]
        price = min(bid, max(au.reserve, below.max() / au.quality[g]) if below.size else au.reserve)
        if bg is not None:
            price = min(price, bg.room(tick))
            bg.spend(price)
            if not bg.exhausted and bg.allowed - bg.spent_today <= 1e-9 * max(1.0, bg.allowed):
                self.rec.events.append((tick, "budget_exhausted", au.owners[int(au.owner[g])], bg.spent_today))
                bg.exhausted = True
        book["clicks"][h, g] += 1
        book["ad_spend"][h, g] += price
        self.rec.by_channel["ad_spend"][h, au.c] += price
        return True
