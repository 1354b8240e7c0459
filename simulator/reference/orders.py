"""An order in the reference engine (docs/promotions.md, steps 5–7): its units and top-up, the
stock it takes, its money, and its returns.
"""

from __future__ import annotations

import math

from simulator.reference.offers import EPS


class Orders:
    """Buying, booking the money, returns."""

    def units(self, k: int, s: int) -> int:
        """Step 5: 1 + Poisson((units_per_order − 1) × the segment's basket_units)."""
        return 1 + int(self.rng.poisson(self.promo.extra_units[k] * self.promo.basket_units[s]))

    def buy(self, c: int, k: int, s: int, tick: int, pay_tick: int, coupon: int | None):
        """An order paid at `tick`, priced at `pay_tick`: units, top-up, stock, money. Returns
        (units got, activity price)."""
        want = self.units(k, s)
        price, sale = self.activity_price(k, pay_tick)
        want += self.topup(k, want, price, coupon, pay_tick)
        got = self.take(k, want, tick, price)
        if got == 0:
            return 0, price
        self.money(c, k, tick, got, price, coupon, pay_tick, sale)
        self.check_reorder(k)
        return got, price

    def return_rate(self, k: int, price: float) -> float:
        """min(1, return_rate + return_rate_per_discount × depth), depth = 1 − `price` (what the
        buyer paid per unit) / list price (reading: at least 0, for a price above the list price)."""
        inv = self.plan.inventory
        return min(1.0, inv.return_rate[k] + inv.return_slope[k] * max(0.0, 1 - price / self.plan.buying.list_price[k]))

    def money(self, c: int, k: int, tick: int, units: int, price: float, coupon: int | None,
              pay_tick: int, sale: int | None, expansion: float = 0.0, deposit: float = 0.0):
        """Step 7: an order paid at `tick` with `units` at `price`; the coupon's validity and the
        reduction are read at `pay_tick`; a balance payment's deposit `expansion` and the
        `deposit` paid before. Then its returns (`returns`)."""
        pr, h = self.promo, self.hour(tick)
        gmv = units * price
        off = 0.0
        if self.coupon_valid(coupon, k, pay_tick) and gmv >= pr.threshold[coupon] - EPS:
            off = float(pr.amount[coupon])
            self.rec.by_sku["coupons_redeemed"][h, k] += 1
            self.rec.by_sku["coupon_cost"][h, k] += off
            self.rec.coupons[pr.coupons[coupon]]["redeemed"] += 1
            self.rec.coupons[pr.coupons[coupon]]["cost"] += off
        cut, share = 0.0, 0.0
        if self.reduction_live(k, pay_tick):
            cut, share = math.floor(gmv / pr.red_every + EPS) * pr.red_off, pr.red_platform
            self.rec.by_sku["platform_subsidy"][h, k] += share * cut
            self.rec.by_sku["reduction_cost"][h, k] += (1 - share) * cut
        paid = gmv - off - cut - expansion                       # what the buyer pays for the units
        returned = self.returns(c, k, tick, units, paid, share * cut)
        for flows, i in ((self.rec.by_channel, c), (self.rec.by_sku, k)):
            flows["orders"][h, i] += 1
            flows["units"][h, i] += units
            flows["gmv"][h, i] += gmv
            flows["returns"][h, i] += returned
            flows["refunds"][h, i] += returned / units * paid
        self.rec.by_sku["paid"][h, k] += paid - deposit                 # paid now
        self.rec.by_channel["commissions"][h, c] += (units - returned) * price * self.plan.commission[c]
        if sale is not None:
            self.rec.flash[pr.flash[sale].name]["units"] += units

    def returns(self, c: int, k: int, tick: int, units: int, paid: float, subsidy: float) -> int:
        """Each unit comes back with the probability of its discount depth by what the buyer
        paid, refunded pro rata; the platform takes back its share of their reduction
        (`subsidy`); a resaleable share is back in stock at the plan's restock tick."""
        returned = int(self.rng.binomial(units, self.return_rate(k, paid / units)))
        self.rec.by_sku["subsidy_clawback"][self.hour(tick), k] += returned / units * subsidy
        again = int(self.rng.binomial(returned, self.plan.inventory.resaleable[k])) if returned else 0
        if again:
            back = int(self.plan.inventory.restock_tick[tick])
            if back < self.T:
                self.due.setdefault(back, []).append((k, again, "restock"))
            else:
                self.after_end[k] += again
        return returned
