"""Flash sales (秒杀), pre-sale deposits (定金膨胀) and warm-up carts in the reference engine
(docs/promotions.md). Windows, allotments, payment profiles and the tick whose regime prices a
cart are the plan's (`Model.promotions`, `Model.carts`); the payers and their delays are drawn.
"""

from __future__ import annotations


class Sales:
    """Flash-sale allotments, deposits and balances, cart payments."""

    def init_sales(self):
        K = len(self.skus)
        self.on_flash: list[int | None] = [None] * K     # the shelf holds this sale's allotment
        self.held = [0] * K                              # stock held back during a flash sale
        self.allotment = [0] * len(self.promo.flash)
        self.sold_out: list[int | None] = [None] * len(self.promo.flash)   # sell-out tick
        self.deposit_orders: list[list[tuple[int, int, int]]] = [[] for _ in self.promo.presales]   # (c, k, units)
        self.unpaid: list[list[tuple[int, int, int]]] = [[] for _ in self.promo.presales]
        self.carts: list[tuple] = []                     # (warm-up phase, channel, SKU, segment, coupon, customer)
        self.cart_first = {cart.phase: cart.first for cart in self.plan.carts}

    # ------------------------------------------------------------ flash sales
    def start_flash(self, i: int, tick: int):
        """min(quantity, on hand) stays on the shelf for the sale; the rest is held back."""
        f = self.promo.flash[i]
        box = self.stock[f.k]
        self.allotment[i] = min(f.quantity, int(box.level))
        self.held[f.k] = int(box.level) - self.allotment[i]
        if self.held[f.k]:
            box.get(self.held[f.k])
        self.on_flash[f.k] = i
        self.rec.events.append((tick, "flash_start", f.name, float(self.allotment[i])))

    def return_held(self, k: int):
        """The sale no longer sells this shelf: held-back units come back to it."""
        units, self.held[k] = self.held[k], 0
        self.on_flash[k] = None
        self.shelve(k, units)

    def end_flash(self, i: int, tick: int):
        """The window closes (at `tick` = its end, or at T for a sale that lasts to the end):
        `flash_end` with the allotment's units left, and the held-back stock returns."""
        f = self.promo.flash[i]
        mine = self.on_flash[f.k] == i
        left = int(self.stock[f.k].level) if mine else 0
        if mine:
            self.return_held(f.k)
        self.rec.events.append((min(tick, self.T - 1), "flash_end", f.name, float(left)))

    # --------------------------------------------------------------- pre-sales
    def deposit(self, c: int, k: int, s: int, tick: int):
        """A deposit order: its units leave the shelf now (in either deduction mode)."""
        got = self.take(k, self.units(k, s), tick, self.activity_price(k, tick)[0])
        if got == 0:
            return
        i = self.regimes.deposit_open(tick, k)
        ps, h = self.promo.presales[i], self.hour(tick)
        self.rec.by_sku["deposits"][h, k] += 1
        self.rec.by_sku["deposit_amount"][h, k] += ps.deposit * got
        self.rec.by_sku["paid"][h, k] += ps.deposit * got
        self.deposit_orders[i].append((c, k, got))
        self.check_reorder(k)

    def pay_balances(self, i: int):
        """From balance_from, each deposit order pays its balance with probability pay_through,
        after a delay from the plan's payment profile (an exponential of mean pay_minutes, cut)."""
        ps = self.promo.presales[i]
        yield self.env.timeout(ps.b0 - self.env.now)
        orders = self.deposit_orders[i]
        self.rec.events.append((ps.b0, "balance_open", ps.name, float(len(orders))))
        for order in orders:
            if self.rng.random() < ps.pay_through:
                delay = self.rng.choice(len(ps.profile), p=ps.profile) + self.rng.random()
                self.env.process(self.balance_payment(i, order, ps.b0 + delay))
            else:
                self.unpaid[i].append(order)

    def balance_payment(self, i: int, order: tuple[int, int, int], at: float):
        """The order counts now, at the activity price of balance_from; no store coupon; the
        reduction if live at the tick it is paid (docs: "the payment tick")."""
        yield self.env.timeout(at - self.env.now)
        c, k, units = order
        ps, tick = self.promo.presales[i], int(at)
        price, _ = self.activity_price(k, ps.b0)
        expansion = ps.deposit * (ps.multiplier - 1) * units
        self.money(c, k, tick, units, price, None, tick, None, expansion, ps.deposit * units)
        self.rec.by_sku["deposit_expansion"][self.hour(tick), k] += expansion

    def forfeit(self, i: int, tick: int):
        """At balance_to the unpaid deposits are forfeited and their units come back to the
        shelf (at the start of `tick`; at T, into the ending stock, booked in the last hour)."""
        at = min(tick, self.T - 1)
        h, ps = self.hour(at), self.promo.presales[i]
        for _c, k, units in self.unpaid[i]:
            self.rec.by_sku["deposit_forfeits"][h, k] += 1
            self.rec.by_sku["forfeited_amount"][h, k] += ps.deposit * units
            self.rec.by_sku["released"][h, k] += units
            self.shelve(k, units)
        self.rec.events.append((at, "forfeits", ps.name, float(len(self.unpaid[i]))))

    # ------------------------------------------------------------------ carts
    def pay_carts(self, cart):
        """At the first tick of the next sale phase, each of the warm-up phase's carts pays with
        the pay-through rate, in tick first + i with the plan's profile."""
        yield self.env.timeout(cart.first - self.env.now)
        through = self.plan.cart_pay_through
        for phase, c, k, s, coupon, customer in [x for x in self.carts if x[0] == cart.phase]:
            if self.rng.random() < through:
                i = int(self.rng.choice(len(cart.profile), p=cart.profile))
                at = cart.first + i + self.rng.random()
                self.env.process(self.cart_payment(c, k, s, at, int(cart.priced_at[i]), coupon, customer))

    def cart_payment(self, c: int, k: int, s: int, at: float, priced_at: int, coupon: int | None,
                     customer: int | None):
        """A cart pays at `at`, at the price, coupon validity and reduction of the tick the plan
        prices it at — the tick it is paid (a flash price and allotment too, if a sale is on)."""
        yield self.env.timeout(at - self.env.now)
        self.buy(c, k, s, int(at), priced_at, coupon, cart=True, customer=customer)
