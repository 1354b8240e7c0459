"""An order in the reference engine (docs/promotions.md, steps 5–7): its units and top-up, the
stock it takes, its money, and its returns.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.reference.offers import EPS


class Orders:
    """Buying, booking the money, returns."""

    def units(self, k: int, s: int) -> int:
        """Step 5: 1 + Poisson((units_per_order − 1) × the segment's basket_units)."""
        return 1 + int(self.rng.poisson(self.promo.extra_units[k] * self.promo.basket_units[s]))

    def buy(self, c: int, k: int, s: int, tick: int, pay_tick: int, coupon: int | None, switched: bool = False,
            cart: bool = False, customer: int | None = None):
        """An order paid at `tick`, priced at `pay_tick`: units, top-up, stock, money (`customer`
        of segment s, where it has customers: the wallet a redeemed coupon leaves). A buyer
        who already bought on a big day that pulled demand forward does not come (`repaid`; not
        a warm-up `cart` paying); one who finds SKU k out of stock may switch to another SKU of
        its category (`switch_to`; not a second time). Returns (units got, activity price)."""
        want = self.units(k, s)
        price, sale = self.activity_price(k, pay_tick)
        want += self.topup(k, want, price, coupon, pay_tick)
        if not cart and self.repaid(k, tick, want):
            return 0, price
        if not switched and sale is None:
            j = self.switch_to(k, s, tick, pay_tick, coupon)
            if j is not None:
                self.short(k, tick, 0, want, None, price, switched=True)
                return self.buy(c, j, s, tick, pay_tick, coupon, switched=True, cart=cart, customer=customer)
        got = self.take(k, want, tick, price)
        if got == 0:
            return 0, price
        if switched:
            self.rec.by_sku["switched_in"][self.hour(tick), k] += got
        self.money(c, k, tick, got, price, coupon, pay_tick, sale, who=(s, customer))
        pull = self.plan.pull
        if pull.source[tick] >= 0:                                  # a big day's unit: owed to the days after
            self.debt[pull.source[tick], k] += got * pull.share[tick]
            self.rec.by_sku["pulled_forward"][self.hour(tick), k] += got * pull.share[tick]
        self.check_reorder(k)
        return got, price

    def repaid(self, k: int, tick: int, want: int) -> bool:
        """In a pull-forward window, while SKU k owes units to it, its buyer is one who already
        bought on the big day: the order does not happen; its `want` units pay the debts, the
        earliest-ending window first (docs/model.md, "Pull-forward")."""
        live = self.plan.pull.active(tick)
        if not live or self.debt[live, k].sum() <= 1e-9:
            return False
        left = float(want)
        for i in live:
            d = min(self.debt[i, k], left)
            self.debt[i, k] -= d
            left -= d
        self.rec.by_sku["pull_missing"][self.hour(tick), k] += want
        return True

    def switch_to(self, k: int, s: int, tick: int, pay_tick: int, coupon: int | None) -> int | None:
        """The SKU a buyer of SKU k takes instead (None: none): only when k's shelf is empty for
        them and the order would be lost (not oversold: payment mode's window), and some other
        SKU of its category is on its shelf, not in a flash sale or a deposit window. Then with
        probability `switch_share` the buyer picks one of those by the logit weights a_j × T_j at
        the effective price they would pay for it (docs/model.md, "When a SKU is out of stock")."""
        conv = self.plan.buying.conversion
        share = float(conv.switch[k])
        if share <= 0 or self.stock[k].level > 0 or self.on_flash[k] is not None:
            return None
        tau = self.out_at[k]
        if self.promo.payment_mode and tau is not None and tick <= tau + self.promo.oversell_ticks:
            return None
        mates = [j for j in np.flatnonzero(conv.category == conv.category[k]).tolist()
                 if j != k and self.stock[j].level > 0 and self.on_flash[j] is None and self.deposit_sale(j, tick) is None]
        if not mates or self.rng.random() >= share:
            return None
        lp = self.plan.buying.list_price
        w = np.array([conv.choice[j] * (self.pay_effective(j, s, pay_tick, coupon) / lp[j]) ** (conv.elast[j] * conv.sens[s])
                      for j in mates])
        return mates[int(np.searchsorted(np.cumsum(w), self.rng.random() * w.sum(), side="right").clip(0, len(mates) - 1))]

    def return_rate(self, k: int, price: float) -> float:
        """min(1, return_rate + return_rate_per_discount × depth), depth = 1 − `price` (what the
        buyer paid per unit) / list price (reading: at least 0, for a price above the list price)."""
        inv = self.plan.inventory
        return min(1.0, inv.return_rate[k] + inv.return_slope[k] * max(0.0, 1 - price / self.plan.buying.list_price[k]))

    def money(self, c: int, k: int, tick: int, units: int, price: float, coupon: int | None,
              pay_tick: int, sale: int | None, expansion: float = 0.0, deposit: float = 0.0,
              who: tuple[int, int | None] = (0, None)):
        """Step 7: an order paid at `tick` with `units` at `price`; the coupon's validity and the
        reduction are read at `pay_tick`; a balance payment's deposit `expansion` and the
        `deposit` paid before. Then its returns (`returns`). `who` (segment, customer): a coupon
        that stays in the wallet is redeemed only while that customer still holds it (a cart and
        a later visit cannot both use one coupon), and leaves the wallet."""
        pr, h = self.promo, self.hour(tick)
        gmv = units * price
        off = 0.0
        key = None if coupon is None or who[1] is None or not pr.wallet[coupon] else (coupon, *who)
        if key is not None and self.wallet.get(key, 0) <= 0:
            coupon = None                                        # used already by another order
        if self.coupon_valid(coupon, k, pay_tick) and gmv >= pr.threshold[coupon] - EPS:
            if key is not None:
                self.wallet[key] -= 1
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
