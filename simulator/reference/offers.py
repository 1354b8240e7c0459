"""What promotions do to one visit in the reference engine (docs/promotions.md, "A visit, step
by step", steps 3–5): the regime an order reads at its pay tick, a coupon claim, the
purchase probability at the effective price, and top-up (凑单).

The regimes by tick (prices, coupon validity, the reduction, deposit windows) are the plan's
(`Model.regimes`); a flash sale's sell-out, a draw, is applied on top of them here.
"""

from __future__ import annotations

import math

import numpy as np

FLOOR = 0.05      # the effective price never falls below 5 % of the activity price
EPS = 1e-9        # float rounding allowance in money comparisons


class Offers:
    """Coupons, the platform's reduction and the purchase formula, visit by visit."""

    def init_offers(self):
        self.pool = self.promo.quantity.tolist()        # coupons left in each pool
        self.held_coupons: dict[tuple[int, int, int], int] = {}   # (coupon, segment, customer) → claimed
        self.wallet: dict[tuple[int, int, int], int] = {}         # (coupon, segment, customer) → held unused
        self._worth: dict[tuple, float] = {}            # `saving_share` by its inputs

    def activity_price(self, k: int, tick: int) -> tuple[float, int | None]:
        """(price, flash sale selling at it or None) of SKU k for an order paid at `tick`: the
        plan's regime, except that a sale with `after_sellout: regular` falls back to the phase
        price from the tick after its sell-out. Reading: with `after_sellout: lost` the flash
        price stands for the whole window."""
        price, i = self.regimes.activity_price(tick, k)
        if i < 0:
            return price, None
        out = self.sold_out[i]
        if self.promo.flash[i].regular_after and out is not None and out < tick:
            return self.regimes.base_price(tick, k), None
        return price, i

    def coupon_valid(self, j: int | None, k: int, tick: int) -> bool:
        return j is not None and bool(self.regimes.coupon_valid[tick, j]) and bool(self.promo.applies[j, k])

    def reduction_live(self, k: int, tick: int) -> bool:
        return self.regimes.reduction_live(tick, k)

    def deposit_sale(self, k: int, tick: int) -> int | None:
        """The pre-sale taking deposits for SKU k at `tick` (None: none)."""
        i = self.regimes.deposit_open(tick, k)
        return None if i < 0 else i

    def conversion(self, k: int, s: int, c: int, tick: int, coupon: int | None) -> tuple[float, str, int]:
        """(probability the visit buys, what a buyer does: "buy", "cart" or "deposit", pay tick).

        Step 4: the effective price at the pay tick replaces the price after discount. Reading:
        intent and lift follow docs/model.md (the visit's phase, its pay phase for a warm-up),
        also for a deposit; a deposit is placed even in a warm-up phase; a warm-up visit reads
        the regime of the first tick of the next sale phase (what the shopper sees coming)."""
        j = self.phase_at[tick]
        eff, kind, pay_tick = self.effective(k, s, tick, coupon)
        conv = self.plan.buying.conversion
        p = (conv.base[k] * self.plan.calendar.intent[j] * conv.seg_conv[s] * self.plan.buying.lift[j, k]
             * self.price_term(k, s, tick, coupon, eff))
        return min(1.0, conv.quality[c] * p), kind, pay_tick

    def effective(self, k: int, s: int, tick: int, coupon: int | None) -> tuple[float, str, int]:
        """(effective price, what a buyer does, pay tick) of SKU k for a visit at `tick` holding
        `coupon` (step 4)."""
        presale = self.deposit_sale(k, tick)
        if presale is not None:                      # p_eff of a deposit, read at balance_from
            ps = self.promo.presales[presale]
            balance, _ = self.activity_price(k, ps.b0)
            d_r = self.saving_share(k, s, balance, None, self.reduction_live(k, ps.b0), topup=False)
            return max(FLOOR * balance, balance * max(FLOOR, 1 - d_r) - ps.deposit * (ps.multiplier - 1)), \
                "deposit", ps.b0
        pay_tick = self.pay_tick(tick)
        warm = bool(self.plan.warmup[self.phase_at[tick]])
        return self.pay_effective(k, s, pay_tick, coupon), "cart" if warm else "buy", pay_tick

    def pay_tick(self, tick: int) -> int:
        """The tick a visit at `tick` pays at (not a deposit): a warm-up's cart pays at the first
        tick of the next sale phase."""
        j = self.phase_at[tick]
        return self.cart_first[j] if self.plan.warmup[j] else tick

    def pay_effective(self, k: int, s: int, pay_tick: int, coupon: int | None) -> float:
        """The effective price of SKU k for a segment-s buyer holding `coupon` who pays at
        `pay_tick`: the activity price less what the coupon (if usable) and the reduction are
        worth to them (`saving_share`), at least FLOOR of it."""
        price, _ = self.activity_price(k, pay_tick)
        usable = coupon if self.coupon_valid(coupon, k, pay_tick) else None
        return price * max(FLOOR, 1 - self.saving_share(k, s, price, usable, self.reduction_live(k, pay_tick)))

    def price_term(self, k: int, s: int, tick: int, coupon: int | None, eff: float) -> float:
        """The purchase formula's price term: (eff / list price) ** (elasticity × sensitivity) for a
        SKU alone; for a SKU of a category, its logit share relative to list prices — every SKU
        of the category at the effective price this visitor would pay for it (docs/model.md,
        "Choice within a category")."""
        conv, lp = self.plan.buying.conversion, self.plan.buying.list_price

        def term(i: int, e: float) -> float:
            return (e / lp[i]) ** (conv.elast[i] * conv.sens[s])

        own = term(k, eff)
        cat = -1 if conv.category is None else int(conv.category[k])
        if cat < 0:
            return own
        mates = np.flatnonzero(conv.category == cat).tolist()
        now = sum(conv.choice[i] * (own if i == k else term(i, self.effective(i, s, tick, coupon)[0])) for i in mates)
        at_list = sum(conv.choice[i] for i in mates)
        return own * (conv.outside[cat] + at_list) / (conv.outside[cat] + now)

    def saving_share(self, k: int, s: int, price: float, coupon: int | None, reduction: bool, topup: bool = True) -> float:
        """What a coupon and the platform's reduction are worth to a buyer, as a share of the
        basket: E[saving / basket] over the buyer's basket of 1 + Poisson((units_per_order − 1)
        × basket_units) units at `price`, after top-up (凑单) to the smallest usable threshold
        within reach (with its probability; not for a deposit), saving = the coupon's amount if
        the basket reaches its threshold + ⌊basket / every⌋ × off. Step 4; computed here by a
        plain sum over basket sizes (the plan's `realized_depth` computes it apart, vectorized:
        a test holds the two to each other)."""
        key = (k, s, price, coupon, reduction, topup)
        if key not in self._worth:
            self._worth[key] = self._saving_sum(k, s, price, coupon, reduction, topup)
        return self._worth[key]

    def _saving_sum(self, k: int, s: int, price: float, coupon: int | None, reduction: bool, topup: bool) -> float:
        pr = self.promo
        lam = pr.extra_units[k] * pr.basket_units[s]
        amount, thr = (0.0, math.inf) if coupon is None else (pr.amount[coupon], pr.threshold[coupon])
        every, off = pr.red_every, pr.red_off
        q = pr.topup_probability if topup else 0.0

        def saving(v: float) -> float:
            out = amount if v >= thr - EPS else 0.0
            return out + (math.floor(v / every + EPS) * off if reduction else 0.0)

        total, units, pmf, mass = 0.0, 1, math.exp(-lam), 0.0
        while mass < 1 - 1e-12 and units < 10_000:
            v = units * price
            thresholds = ([thr] if coupon is not None and v < thr else []) + \
                         ([(math.floor(v / every + EPS) + 1) * every] if reduction else [])
            target = min(thresholds, default=math.inf)
            worth = saving(v) / v
            if q > 0 and math.isfinite(target) and target - v <= pr.topup_reach * target:
                up = (units + math.ceil((target - v) / price - EPS)) * price
                worth = (1 - q) * worth + q * saving(up) / up
            total += pmf * worth
            mass += pmf
            pmf *= lam / units
            units += 1
        return total

    def claim_shares(self, k: int, s: int, tick: int) -> tuple[list[int], list[float]]:
        """The coupons a visit to SKU k can claim at `tick` (claim window holds the tick, applies to
        the SKU, not a pre-sale SKU in its deposit window) and their shares wⱼ = min(1, claim_rate
        × coupon_use), scaled to add up to 1 if they add up to more."""
        pr = self.promo
        if not pr.J or self.deposit_sale(k, tick) is not None:
            return [], []
        able = np.flatnonzero(self.regimes.claimable[tick] & pr.applies[:, k]).tolist()
        w = [float(pr.share[j, s]) for j in able]
        if sum(w) > 1:
            w = [x / sum(w) for x in w]
        return able, w

    def held_coupon(self, k: int, s: int, customer: int | None, tick: int) -> int | None:
        """The coupon that stays in the wallet this visit's customer holds and uses (None: none):
        the first in the scenario's order that the customer holds unused, valid at the visit's pay
        tick and applying to SKU k — not a pre-sale SKU taking deposits (docs/promotions.md,
        "Coupons that stay in the wallet")."""
        pr = self.promo
        if customer is None or not pr.wallet.any() or self.deposit_sale(k, tick) is not None:
            return None
        pay_tick = self.pay_tick(tick)
        for j in pr.held.tolist():
            if self.wallet.get((j, s, customer), 0) > 0 and self.coupon_valid(j, k, pay_tick):
                return j
        return None

    def intent_z(self, k: int, s: int, c: int, tick: int) -> float:
        """Z of "Who claims" (docs/promotions.md) for a visit to SKU k of segment s from channel
        c at `tick`, before its claim: Σ_g W_g p_g κ_g / Σ_g W_g p_g over the coupons it could
        claim now (pools not empty) and none, p_g its purchase probability holding g (1: the
        segment's claim_intent is 1)."""
        odds = float(self.promo.claim_intent[s])
        if odds == 1.0:
            return 1.0
        able, w = self.claim_shares(k, s, tick)
        held = [(j, x) for j, x in zip(able, w) if self.pool[j] > 0]
        if not held:
            return 1.0
        none = (1.0 - sum(x for _, x in held)) * self.conversion(k, s, c, tick, None)[0]
        joint = [x * self.conversion(k, s, c, tick, j)[0] for j, x in held]
        den = none + sum(joint)
        return (none + odds * sum(joint)) / den if den > 0 else 1.0

    def claim(self, k: int, s: int, customer: int | None, tick: int) -> int | None:
        """Step 3: the store coupon this visit claims (None: none).

        Claimable: claim window holds the tick, applies to the SKU, not a pre-sale SKU in its
        deposit window. Shares wⱼ = min(1, claim_rate × coupon_use), scaled to add up to 1 if
        they add up to more; one uniform draw picks one in the order written (or none). The
        claim fails when the pool is empty or the customer is at the limit."""
        pr = self.promo
        able, w = self.claim_shares(k, s, tick)
        if not able:
            return None
        u, acc, pick = self.rng.random(), 0.0, None
        for j, x in zip(able, w):
            acc += x
            if u < acc:
                pick = j
                break
        if pick is None or self.pool[pick] == 0:
            return None
        key = (pick, s, customer)
        if customer is not None and self.held_coupons.get(key, 0) >= pr.limit[pick]:
            return None
        if customer is not None:
            self.held_coupons[key] = self.held_coupons.get(key, 0) + 1
            if pr.wallet[pick]:                      # unused, it stays with the customer
                self.wallet[key] = self.wallet.get(key, 0) + 1
        self.pool[pick] -= 1
        name = pr.coupons[pick]
        self.rec.by_sku["coupons_claimed"][self.hour(tick), k] += 1
        self.rec.coupons[name]["claimed"] += 1
        if self.pool[pick] == 0:                     # the pool's last coupon
            self.rec.events.append((tick, "coupon_empty", name, float(pr.quantity[pick])))
            self.rec.coupons[name]["empty_tick"] = float(tick)
        return pick

    def topup(self, k: int, units: int, price: float, coupon: int | None, pay_tick: int) -> tuple[int, int]:
        """Step 5, 凑单: with probability topup_probability, the order reaches the smallest usable
        threshold T > v = units × price with T − v ≤ topup_reach × T (the coupon's before the
        reduction's on a tie): with the cheapest add-on of SKU k (`bought_with`; the first written
        on a tie) of which one unit closes the gap and counts toward T (the coupon applies to it;
        the reduction is live for it), else with units of SKU k. Returns (units of k added, the
        add-on's slot or −1)."""
        pr = self.promo
        if not pr.topup_probability:
            return 0, -1
        v = units * price
        usable = []
        if self.coupon_valid(coupon, k, pay_tick) and pr.threshold[coupon] > v + EPS:
            usable.append((float(pr.threshold[coupon]), 0))
        if self.reduction_live(k, pay_tick):
            usable.append(((math.floor(v / pr.red_every + EPS) + 1) * pr.red_every, 1))   # the next full multiple above v
        if not usable:
            return 0, -1
        target, kind = min(usable)
        if target - v > pr.topup_reach * target or self.rng.random() >= pr.topup_probability:
            return 0, -1
        slot, cheapest = -1, math.inf
        for i, a in enumerate(self.plan.addons.sku[k].tolist()):
            if a < 0:
                continue
            counts = self.reduction_live(a, pay_tick) if kind else bool(pr.applies[coupon, a])
            pa = self.activity_price(a, pay_tick)[0]
            if counts and target - v - EPS <= pa < cheapest:
                slot, cheapest = i, pa
        return (0, slot) if slot >= 0 else (math.ceil((target - v) / price - EPS), -1)
