"""The promotion state of one fast-engine replication and what it books (docs/promotions.md).

`PromoState` follows coupon pools, per-customer claims, flash sales (`engine.flash`) and
pre-sale deposits across the stretches of ticks the engine plays. A stretch ends where a state
changes (a pool empties, a flash sale falls back to the regular price); the engine then draws
the rest of the chunk again under the new state: the cut is a stopping time, so the draws
before it stand. A pool emptying is a SimPy event (`engine.moments`) succeeded at its tick; the
pool's process waits on it and closes the pool: no later regime offers its coupon. Shapes: n
ticks of a stretch, C channels, J coupons, K SKUs, S segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.engine.attribution import book as _book
from simulator.engine.attribution import book_reduction
from simulator.engine.baskets import Baskets
from simulator.engine.coarse import Coarse
from simulator.engine.flash import FlashSales
from simulator.engine.lines import Lines
from simulator.engine.orders import order_money, top_up_classes
from simulator.engine.presales import Deposits
from simulator.engine.returns import book_returns
from simulator.engine.wallet import Wallet
from simulator.promotions import Regime, under_limit


@dataclass
class Draw:
    """A stretch's draws: lines of buyers, visits (n, C), claiming non-buyers (n, C, J), paid
    clicks by channel, expected visits (n, C)."""

    lines: Lines
    visits: np.ndarray
    claims: np.ndarray
    paid: dict
    lam: np.ndarray
    auctions: dict = field(default_factory=dict)   # auction channel → AuctionDraw
    tables: object = None                          # the stretch's purchase tables (`visitors.Tables`)
    coarse: Coarse = field(default_factory=Coarse.none)   # the groups of its coarse lines

    def truncate(self, keep: int) -> None:
        """Keep the first `keep` ticks."""
        self.visits = self.visits[:keep]
        self.claims = self.claims[:keep]
        self.lam = self.lam[:keep]
        self.paid = {c: (v[:keep], stop if stop < keep else -1) for c, (v, stop) in self.paid.items()}
        for d in self.auctions.values():
            d.truncate(keep)


class PromoState:
    """Coupon pools, claims, flash sales and deposits of one replication."""

    def __init__(self, model, moments, st, rec):
        self.m, self.moments = model, moments
        self.C = len(model.channels)
        p = self.promo = model.promo
        S = len(model.segments)
        self.left = p.quantity.astype(np.int64).copy()            # (J,) coupons left in each pool
        self.open = self.left > 0                                 # (J,) pools not emptied: closed by their process
        self.attempts = np.zeros((p.J, S))                        # (J, S) expected claim attempts per person
        self._attempt_rate = None                                 # (n, J, S) of the current stretch
        self.flash = FlashSales(model, moments, st, rec)           # flash sales and their processes
        self.pending_empty: list[tuple[int, int]] = []            # (coupon, tick) empties found in the stretch
        self.emptied: list[tuple[int, int]] = []                  # (coupon, tick) empties that happened, to book
        self.deposits = Deposits(model)                          # pre-sale deposits and their balances
        self.wallet = Wallet(p, S)                                # holders of the coupons that stay in the wallet
        self.baskets = Baskets(model)                             # a basket's items (add-ons)
        self.balance_price = self.deposits.balance_price
        for j, name in enumerate(p.coupons):
            moments.env.process(self._pool(j, name))

    def _pool(self, j: int, name: str):
        """Coupon j's pool: waits for the moment it empties (its tick the value), then closes."""
        tau = yield self.moments.next("coupon_empty", name)
        self.open[j] = False
        self.emptied.append((j, tau))

    # ------------------------------------------------------------ the start of a stretch
    def begin(self, st, rec, ch):
        """Forfeits due and the stretch's regime (the flash sales' processes have reacted to the
        moments of its first tick)."""
        p, m = self.promo, self.m
        a = ch.start
        self.deposits.begin(rec, st, a)
        phase = self._phase = ch.phase
        pay_phase = int(m.pay_phase[phase])
        pay_tick = m.pay_start[phase][0] if m.warmup[phase] else a
        price = m.price[pay_phase].copy()
        self.flash.prices(price, pay_tick, a)               # at the pay tick (a warm-up's: its phase's first pay tick)
        deposit = np.zeros(len(m.skus), dtype=bool)
        for ps in p.presales:
            if ps.d0 <= a < ps.d1:
                deposit[ps.skus] = True
        self._reg = p.regime(phase, pay_tick, a, price, self.open, deposit, self.balance_price)
        self._attempt_rate = None
        return self._reg

    def regime_at(self, tick: int, phase: int):
        """The regime of an order paid at `tick` in a stretch of `phase`, read from the plan
        (`Model.regimes`: the phase's prices, a flash price where a sale's window holds the tick)
        with the pools as they are now. For a warm-up cart the plan prices at another tick than
        its pay tick (`fast.FastEngine._book_sales`)."""
        m, rg = self.m, self.m.regimes
        price = rg.phase_price[rg.phase_of_tick[tick]].copy()
        for i in np.flatnonzero(rg.flash_on[tick]):
            price[rg.flash_sku[i]] = rg.flash_price[i]
        return self.promo.regime(phase, tick, tick, price, self.open, np.zeros(len(m.skus), dtype=bool),
                                 self.balance_price)

    def limit_weights(self, reg, rates: np.ndarray, rows) -> None:
        """The class shares of every tick (`reg.Wt`, (n, G, K, S)): per-customer limits, then the
        visits of customers holding a coupon that stays in the wallet (`engine.wallet`)."""
        self.wallet.weights(reg, rates, rows, self._limits(reg, rates, rows), not self.m.warmup[self._phase])

    def _limits(self, reg, rates: np.ndarray, rows) -> np.ndarray | None:
        """Per-customer limits: the class shares of every tick (`reg.Wt`, (n, G, K, S)); returns
        the attempts per person a(t) (n, J, S) (None: no limit binds).

        A coupon-j attempt is a visit whose claim draw picks j; per person of segment s they
        come at rate A(t) = Σ_r rates[t, r] · mix[c_r, s] · Σ_k land_r[k] · W_j[k, s] / N_s
        (land_r: where row r's visits land — the SKU choice, or a surge's flash SKU), so after
        a(t) = a₀ + Σ_{u<t} A(u) + A(t)/2 attempts per person, the share of visits whose person
        is under the limit is P(Poisson(a(t)) < L). `rates` (n, R): the stretch's expected
        visits by visit row (paid clicks as drawn)."""
        p = self.promo
        J = p.J
        if not p.limited or not reg.W[1:J + 1].any():
            return None
        n = rates.shape[0]
        land = rows.landing(p)                                                            # (R, K)
        finite = np.isfinite(p.customers)
        per_person = np.where(finite, 1.0 / np.where(finite, p.customers, 1.0), 0.0)       # (S,)
        per_row = np.einsum("rk,jks->rjs", land, reg.W[1:J + 1]) * p.conversion.mix[rows.channel][:, None, :]
        rate = np.einsum("tr,rjs->tjs", rates, per_row) * per_person                       # (n, J, S)
        a = self.attempts[None] + np.cumsum(rate, axis=0) - rate / 2
        Wt = np.repeat(reg.W[None], n, axis=0)
        for j in range(p.J):
            Wt[:, j + 1] *= under_limit(a[:, j], int(p.limit[j]))[:, None, :]
        Wt[:, 0] = 1.0 - Wt[:, 1:].sum(axis=1)
        reg.Wt = Wt
        self._attempt_rate = rate
        return a

    # ------------------------------------------------------------------- cuts
    def pool_cut(self, rng, ch, draw: Draw) -> int:
        """The tick after the first pool-empty tick of the stretch (ch.end: none). At that tick
        the pool's last coupons go to a uniform choice of its claimers (first come, first
        served); buyers who claimed too late buy without it. Lines after it are dropped."""
        p = self.promo
        n = ch.end - ch.start
        lines = draw.lines
        self.wallet.watch(draw, ch.start, self.C)
        if not p.J or not lines.size and not draw.claims.any():
            return ch.end
        fresh = lines.c < self.C
        g = lines.cls
        best, which = n, []
        per_tick = {}
        for j in range(p.J):
            if self.left[j] <= 0:
                continue
            mine = fresh & (g == j + 1)
            buy = np.bincount(lines.t[mine] - ch.start, weights=lines.n[mine], minlength=n)
            tot = buy + draw.claims[:, :, j].sum(axis=1)
            cum = np.cumsum(tot)
            if cum[-1] < self.left[j]:
                continue
            i = int(np.searchsorted(cum, self.left[j], side="left"))
            per_tick[j] = (i, buy, cum)
            if i < best:
                best, which = i, [j]
            elif i == best:
                which.append(j)
        if best >= n:
            return ch.end
        tau = ch.start + best
        lines = draw.coarse.cut_lines(lines, tau + 1, rng.split)   # a busy hour's coarse lines: those before the cut
        keep = lines.t <= tau
        lines = lines.take(keep)
        for j in which:
            i, buy, cum = per_tick[j]
            accepted = int(self.left[j] - (cum[i - 1] if i else 0))
            B, N = int(buy[i]), int(draw.claims[i, :, j].sum())
            x = int(rng.claims.hypergeometric(B, N, accepted)) if B and N else min(B, accepted)
            rows = np.flatnonzero((lines.c < self.C) & (lines.cls == j + 1) & (lines.t == tau))
            kept = rng.claims.multivariate_hypergeometric(lines.n[rows], x) if rows.size else rows
            late = lines.n[rows] - kept
            if late.any():                                        # too late: bought without the coupon
                lines.n[rows] = kept
                extra = lines.take(rows[late > 0])
                extra.n = late[late > 0]
                extra.g = np.zeros(extra.size, dtype=np.int64)
                lines = Lines.concat([lines.take(lines.n > 0), extra])
            nb = draw.claims[i, :, j]
            draw.claims[i, :, j] = rng.claims.multivariate_hypergeometric(nb, accepted - x) if nb.sum() else nb
            self.pending_empty.append((j, tau))
        draw.lines = lines
        return tau + 1

    def top_up(self, rng, lines, orders, reg, eligible):
        """凑单 of the stretch's class rows (`orders.top_up_classes`)."""
        return top_up_classes(rng.keys["topup"], lines, orders, reg.price, reg, self.promo, eligible, self.m.addons)

    def flash_cut(self, ch, st, lines: Lines) -> int:
        """The tick after the first sell-out of a flash sale that falls back (`FlashSales.cut`)."""
        return self.flash.cut(ch, lines)

    def schedule(self, cut: int) -> None:
        """The stretch is played up to `cut`: the pools that empty and the sales that sell out
        before it do so at their ticks (SimPy events their processes wait on)."""
        for j, tau in self.pending_empty:
            if tau < cut:
                self.moments.at(tau, "coupon_empty", self.promo.coupons[j], tau)
        self.pending_empty = []
        self.flash.schedule(cut)

    # ---------------------------------------------------------------- booking
    def record_deposits(self, rng, rec, out, deposit: np.ndarray) -> None:
        """Deposit orders of the stretch (`presales.Deposits.record`)."""
        self.deposits.record(rng, rec, out, deposit)

    def record_stockouts(self, rec, out) -> None:
        """Oversold units and cancellations of the stretch's lines (payment mode)."""
        per = self.m.grid.period
        _book(rec.by_sku["oversold_units"], per[out.lines.t], out.lines.k, out.oversold)
        _book(rec.by_sku["cancellations"], per[out.lines.t], out.lines.k, out.cancelled)

    def record_orders(self, rng, rec, st, sl, got, reg) -> None:
        """Coupons redeemed, the platform's reduction, what buyers paid, returns and flash units
        of sale lines `sl` paid under the regime `reg`, by their class rows `got`, basket by
        basket (`baskets.Items`: a coupon and the reduction split over a basket's items pro
        rata; orders, units, GMV and its commissions are booked by the engine)."""
        p, m = self.promo, self.m
        per = m.grid.period
        rows = got.take((got.got > 0) & (got.n > 0) & ~sl.is_addon[got.line])   # orders the stock served
        line, n = rows.line, rows.n
        h, k = per[sl.t[line]], sl.k[line]
        items = self.baskets.items(k, rows)
        ir, ik = items.row, items.k
        redeemed, share, red = order_money(sl, rows, items, reg.price, reg, p)
        red = red * n[ir]
        coupon = np.zeros(items.row.size)
        use = redeemed > 0
        if use.any():
            j = p.coupon_of[redeemed[use]]
            used = self.wallet.cap(rec, self.left, j, redeemed[use] > p.J, n[use])   # never more than claimed
            self.wallet.redeemed(j, sl.s[line][use], used)
            per_row = np.zeros(rows.size)
            per_row[use] = p.amount[j] * used
            coupon = per_row[ir] * share
            _book(rec.by_sku["coupons_redeemed"], h[use], k[use], used)
            _book(rec.by_sku["coupon_cost"], h[ir], ik, coupon)
            for jj, name in enumerate(p.coupons):
                used_j = float(used[j == jj].sum())
                rec.coupons[name]["redeemed"] += used_j
                rec.coupons[name]["cost"] += float(p.amount[jj] * used_j)
        if red.any():
            book_reduction(rec, h[ir], ik, red, p.red_platform)
        _book(rec.by_sku["paid"], h[ir], ik, -(coupon + red))        # the engine booked the GMV
        price = reg.price[ik]
        units = items.units * n[ir]
        key, salt = self.baskets.item_keys(rows, items)
        book_returns(m, rng.keys, rec, st, sl.t[line][ir], ik, sl.c[line][ir] % self.C, units, price,
                     units * price - coupon - red, red, key, salt)
        self.flash.units(rec, reg, k, rows.got * n)                  # units sold at the flash price

    # ------------------------------------------------------------ the end of a stretch
    def end(self, rng, rec, st, ch, draw: Draw) -> None:
        """Claims booked (pools, customers, flows), pool-empty and sell-out events, balances."""
        p, m = self.promo, self.m
        per = m.grid.period
        self.deposits.due(rng, rec, st, ch)
        self.flash.book(rec)
        if not p.J:
            return
        dl = draw.lines                                          # every fresh buyer: sales, carts, deposits
        if dl.g is None:
            held = np.zeros(0, dtype=np.int64)
        else:
            held = np.flatnonzero((dl.t < ch.end) & (dl.c < self.C) & (dl.g > 0) & (dl.g <= p.J))   # claimed one
        t_h, k_h, n_h, g_h = dl.t[held], dl.k[held], dl.n[held], dl.cls[held]
        lo = per[ch.start]
        hours = per[ch.end - 1] + 1 - lo
        n = ch.end - ch.start
        h_tick = per[ch.start:ch.end] - lo
        for j in range(p.J):
            mine = g_h == j + 1
            _book(rec.by_sku["coupons_claimed"], per[t_h[mine]], k_h[mine], n_h[mine])
            nb = draw.claims[:n, :, j].sum(axis=1)
            got = int(n_h[mine].sum() + nb.sum())
            if not got:
                continue
            self.left[j] -= got
            rec.coupons[p.coupons[j]]["claimed"] += got
            by_hour = np.bincount(h_tick, weights=nb, minlength=hours).astype(np.int64)
            comp = np.einsum("c,cks->k", draw.lam.sum(axis=0), self._claiming(j))
            if comp.sum() > 0 and by_hour.any():
                split = rng.claims.multinomial(by_hour, comp / comp.sum())           # (hours, K)
                rec.by_sku["coupons_claimed"][lo:lo + hours] += split
        self.wallet.claimed(draw, ch, self.C)
        if self._attempt_rate is not None:
            self.attempts += self._attempt_rate[:n].sum(axis=0)
        for j, tau in self.emptied:                               # closed by their processes
            rec.events.append((tau, "coupon_empty", p.coupons[j], float(p.quantity[j])))
            rec.coupons[p.coupons[j]]["empty_tick"] = float(tau)
        self.emptied = []

    def _claiming(self, j: int) -> np.ndarray:
        """(C, K, S) share of a channel's visits that claim coupon j and buy nothing (the
        stretch's opening shares: it splits claims over SKUs for the flows only)."""
        reg = self._reg
        return reg.W[j + 1][None] * reg.nobuy[j + 1]

    def finish(self, st, rec) -> None:
        """At the campaign's end: pre-sales whose balance window closes with it forfeit, and flash
        sales that run to the end log `flash_end` at the last tick."""
        self.deposits.finish(rec, st)
        self.flash.finish(st, rec)


class NoPromotions:
    """The promotion part of a plan without promotions: one coupon class (none), the phase's
    prices, no cut, no top-up; its orders book their returns at the activity price. The
    engine takes one path for every plan."""

    promo = None
    left = np.zeros(0, dtype=np.int64)             # no coupon pools

    def __init__(self, model):
        self.m = model
        self.C = len(model.channels)
        self.baskets = Baskets(model)
        K, S = len(model.skus), len(model.segments)
        self._regimes: dict[int, Regime] = {}
        for phase in range(model.reach.shape[0]):
            base = model.reach[phase].reshape(self.C, K, S)[None]                  # (1, C, K, S)
            self._regimes[phase] = Regime(price=model.price[phase], W=np.ones((1, K, S)), base=base,
                                          nobuy=np.zeros_like(base), reach=model.reach[phase],
                                          valid=np.zeros(0, dtype=bool), red_live=False,
                                          deposit=np.zeros(K, dtype=bool),
                                          rel=np.broadcast_to((model.price[phase] / model.list_price)[None, :, None],
                                                              (1, K, S)))

    def begin(self, st, rec, ch) -> Regime:
        return self._regimes[ch.phase]

    def regime_at(self, tick: int, phase: int) -> Regime:
        return self._regimes[int(self.m.phase_of_tick[tick])]

    def limit_weights(self, reg, rates, rows) -> None:
        return None

    def pool_cut(self, rng, ch, draw: Draw) -> int:
        return ch.end

    def top_up(self, rng, lines, orders, reg, eligible):
        return orders

    def flash_cut(self, ch, st, lines: Lines) -> int:
        return ch.end

    def schedule(self, cut: int) -> None:
        return None

    def record_stockouts(self, rec, out) -> None:
        return None

    def record_orders(self, rng, rec, st, sl, got, reg) -> None:
        """Returns of the stretch's orders, item by item (`baskets.Items`): every buyer paid the
        activity price."""
        rows = got.take((got.got > 0) & (got.n > 0) & ~sl.is_addon[got.line])
        line = rows.line
        items = self.baskets.items(sl.k[line], rows)
        ir = items.row
        units = rows.n[ir] * items.units
        p = reg.price[items.k]
        key, salt = self.baskets.item_keys(rows, items)
        book_returns(self.m, rng.keys, rec, st, sl.t[line][ir], items.k, sl.c[line][ir] % self.C, units, p,
                     units * p, np.zeros(ir.size), key, salt)

    def end(self, rng, rec, st, ch, draw: Draw) -> None:
        return None

    def finish(self, st, rec) -> None:
        return None
