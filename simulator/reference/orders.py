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
        extra, forced = self.topup(k, want, price, coupon, pay_tick)
        want += extra
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
        addons = self.add_ons(k, tick, pay_tick, forced)
        self.money(c, k, tick, got, price, coupon, pay_tick, sale, who=(s, customer), addons=addons)
        pull = self.plan.pull
        if pull.source[tick] >= 0:                                  # a big day's unit: owed to the days after
            for j, units in [(k, got), *((a, 1) for a, _ in addons)]:
                self.debt[pull.source[tick], j] += units * pull.share[tick]
                self.rec.by_sku["pulled_forward"][self.hour(tick), j] += units * pull.share[tick]
        self.check_reorder(k)
        for a, _ in addons:
            self.check_reorder(a)
        return got, price

    def add_ons(self, k: int, tick: int, pay_tick: int, forced: int = -1) -> list[tuple[int, float]]:
        """The add-ons of an order of SKU k that got its units (`bought_with`): each with its
        probability — the slot `forced` (the add-on its top-up took, `topup`) for sure —, one
        unit taken off its shelf at `tick` if there (else lost demand of it), at its activity
        price of `pay_tick`. Returns (SKU, price) of the add-ons got."""
        ad = self.plan.addons
        out = []
        for i, (a, r) in enumerate(zip(ad.sku[k].tolist(), ad.rate[k].tolist())):
            if a < 0 or (i != forced and self.rng.random() >= r):
                continue
            price, _ = self.activity_price(a, pay_tick)
            if self.take(a, 1, tick, price):
                self.rec.by_sku["addon_units"][self.hour(tick), a] += 1
                out.append((a, price))
        return out

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
              who: tuple[int, int | None] = (0, None), addons: list[tuple[int, float]] = ()):
        """Step 7: an order paid at `tick` with `units` of SKU k at `price` and one unit of each
        add-on (SKU, price) in `addons`; the coupon's validity and the reduction are read at
        `pay_tick` on the basket: the coupon (valid, applying to SKU k) if the items it applies
        to reach its threshold, the reduction on the items it is live for, each split over
        those items pro rata to their value; a balance payment's deposit `expansion` and the
        `deposit` paid before (SKU k's). Then each item's returns (`returns`). `who` (segment,
        customer): a coupon that stays in the wallet is redeemed only while that customer
        still holds it (a cart and a later visit cannot both use one), and leaves the wallet."""
        pr, h = self.promo, self.hour(tick)
        items = [(k, units, price), *((a, 1, p) for a, p in addons)]
        gmv = np.array([u * p for _, u, p in items])
        off = np.zeros(len(items))
        key = None if coupon is None or who[1] is None or not pr.wallet[coupon] else (coupon, *who)
        if key is not None and self.wallet.get(key, 0) <= 0:
            coupon = None                                        # used already by another order
        if self.coupon_valid(coupon, k, pay_tick):
            mine = np.array([bool(pr.applies[coupon, j]) for j, _, _ in items])
            if gmv[mine].sum() >= pr.threshold[coupon] - EPS:
                if key is not None:
                    self.wallet[key] -= 1
                off[mine] = float(pr.amount[coupon]) * gmv[mine] / gmv[mine].sum()
                self.rec.by_sku["coupons_redeemed"][h, k] += 1
                self.rec.coupons[pr.coupons[coupon]]["redeemed"] += 1
                self.rec.coupons[pr.coupons[coupon]]["cost"] += float(pr.amount[coupon])
                for (j, _, _), o in zip(items, off):
                    self.rec.by_sku["coupon_cost"][h, j] += o
        cut, share = np.zeros(len(items)), 0.0
        live = np.array([self.reduction_live(j, pay_tick) for j, _, _ in items])
        if live.any():
            total = math.floor(gmv[live].sum() / pr.red_every + EPS) * pr.red_off
            cut[live], share = total * gmv[live] / gmv[live].sum(), pr.red_platform
            for (j, _, _), x in zip(items, cut):
                self.rec.by_sku["platform_subsidy"][h, j] += share * x
                self.rec.by_sku["reduction_cost"][h, j] += (1 - share) * x
        self.rec.by_channel["orders"][h, c] += 1
        self.rec.by_sku["orders"][h, k] += 1
        for i, (j, n, p) in enumerate(items):
            paid = gmv[i] - off[i] - cut[i] - (expansion if i == 0 else 0.0)   # what the buyer pays for them
            returned = self.returns(c, j, tick, n, paid, share * cut[i])
            for flows, x in ((self.rec.by_channel, c), (self.rec.by_sku, j)):
                flows["units"][h, x] += n
                flows["gmv"][h, x] += gmv[i]
                flows["returns"][h, x] += returned
                flows["refunds"][h, x] += returned / n * paid
            self.rec.by_sku["paid"][h, j] += paid - (deposit if i == 0 else 0.0)   # paid now
            self.rec.by_channel["commissions"][h, c] += (n - returned) * p * self.plan.commission[c]
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
