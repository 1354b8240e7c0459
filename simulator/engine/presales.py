"""Pre-sale deposits (定金) in the fast engine (docs/promotions.md, "Pre-sales"): deposit orders
taken from stock now and booked, their balances paid later at the price of `balance_from`
(pay-through and pay moments by class rows of orders), unpaid deposits forfeited and their
units released at the end of the balance window. Shapes: K SKUs, P pre-sales."""

from __future__ import annotations

import numpy as np

from simulator.engine.attribution import book as _book
from simulator.engine.attribution import book_reduction
from simulator.engine.returns import book_returns


def _spread(gen: np.random.Generator, rows: np.ndarray, n: np.ndarray, profile: np.ndarray):
    """Spread n[i] orders of each of `rows` over the W ticks of `profile`: (row, tick, orders)
    of the nonzero cells. A row of few orders draws each order's tick (the profile's inverse
    CDF); a row of more than W / 8 orders one multinomial: min(orders, W) work per row."""
    few = n <= max(1, profile.size // 8)
    cdf = np.cumsum(profile)
    owner = np.repeat(rows[few], n[few])
    w = np.minimum(np.searchsorted(cdf, gen.random(owner.size) * cdf[-1], side="right"), profile.size - 1)
    key, cnt = np.unique(owner * profile.size + w, return_counts=True)
    out = [(key // profile.size, key % profile.size, cnt)]
    if (~few).any():
        spread = gen.multinomial(n[~few], profile)                              # (rows, W)
        r, w = np.nonzero(spread)
        out.append((rows[~few][r], w, spread[r, w]))
    return tuple(np.concatenate(x).astype(np.int64) for x in zip(*out))


class Deposits:
    """The deposits of one replication: balances due, forfeits pending."""

    def __init__(self, model):
        self.m = model
        p = self.promo = model.promo
        self.C = len(model.channels)
        K = len(model.skus)
        self.balances = [np.zeros(0, dtype=np.int64) for _ in range(7)]   # t, k, s, c, units, orders, key
        self.balances[6] = self.balances[6].astype(np.uint64)
        self.forfeit_units = np.zeros((len(p.presales), K), dtype=np.int64)
        self.forfeit_orders = np.zeros((len(p.presales), K), dtype=np.int64)
        self.deposit_orders = np.zeros(len(p.presales), dtype=np.int64)   # deposit orders placed so far
        self.balance_price = np.zeros(K)
        for ps in p.presales:
            self.balance_price[ps.skus] = model.price[model.phase_of_tick[ps.b0]][ps.skus]

    def begin(self, rec, st, a: int) -> None:
        """At a stretch's first tick `a`: a balance window opens, or one closes (forfeits)."""
        for i, ps in enumerate(self.promo.presales):
            if a == ps.b0:
                rec.events.append((a, "balance_open", ps.name, float(self.deposit_orders[i])))
            if a == ps.b1 and a < self.m.n_ticks:
                self._forfeit(rec, i, a, st)

    def record(self, rng, rec, out, deposit: np.ndarray) -> None:
        """Deposit orders of the stretch, by class rows: booked (the deposit is paid now), their
        balances scheduled (pay-through by a binomial per row, pay moments by a multinomial over
        the pre-sale's profile), the unpaid ones kept for forfeit."""
        p, m = self.promo, self.m
        lines = out.lines.take(deposit)
        rows = out.orders.of_lines(deposit)
        rows = rows.take((rows.got > 0) & (rows.n > 0))
        line, got, n = rows.line, rows.got, rows.n
        K = len(m.skus)
        k = lines.k[line]
        h = m.grid.period[lines.t[line]]
        ps_of = p.presale_of[k]
        dep = np.array([ps.deposit for ps in p.presales])[ps_of] if p.presales else np.zeros(0)
        _book(rec.by_sku["deposits"], h, k, n)
        _book(rec.by_sku["deposit_amount"], h, k, dep * got * n)
        _book(rec.by_sku["paid"], h, k, dep * got * n)
        through = np.array([ps.pay_through for ps in p.presales])[ps_of]
        pays = rng.presale.binomial(n, through) if n.size else n
        for i, ps in enumerate(p.presales):
            mine = ps_of == i
            self.deposit_orders[i] += int(n[mine].sum())
            lost = n - pays
            self.forfeit_orders[i] += np.bincount(k[mine], weights=lost[mine], minlength=K).astype(np.int64)
            self.forfeit_units[i] += np.bincount(k[mine], weights=(lost * got)[mine], minlength=K).astype(np.int64)
            sel = np.flatnonzero(mine & (pays > 0))
            if not sel.size:
                continue
            o, w, cnt = _spread(rng.presale, sel, pays[sel], ps.profile)
            r_line = line[o]
            new = (ps.b0 + w, k[o], lines.s[r_line], lines.c[r_line], got[o], cnt, rows.key[o])
            self.balances = [np.r_[old, x].astype(old.dtype) for old, x in zip(self.balances, new)]

    def due(self, rng, rec, st, ch) -> None:
        """Balance payments of deposits due in the stretch: orders, units, GMV at the price at
        balance_from, deposit expansion, the reduction if live then, what the buyer pays now,
        commissions, returns."""
        p, m = self.promo, self.m
        t = self.balances[0]
        due = (t >= ch.start) & (t < ch.end)
        if not due.any():
            return
        t, k, _, c, u, n, key = (x[due] for x in self.balances)
        self.balances = [x[~due] for x in self.balances]
        h = m.grid.period[t]
        price = self.balance_price[k]
        units = u * n
        gmv = units * price
        ps_of = p.presale_of[k]
        dep = np.array([ps.deposit for ps in p.presales])[ps_of]
        mult = np.array([ps.multiplier for ps in p.presales])[ps_of]
        for name, v in (("orders", n), ("units", units), ("gmv", gmv)):
            _book(rec.by_sku[name], h, k, v)
            _book(rec.by_channel[name], h, c, v)
        _book(rec.by_channel["commissions"], h, c, gmv * m.commission[c])
        expansion = dep * (mult - 1) * units
        _book(rec.by_sku["deposit_expansion"], h, k, expansion)
        red = np.zeros(u.size)
        if p.red_every > 0:
            live = (t >= p.red_window[0]) & (t < p.red_window[1]) & p.red_applies[k]
            red = np.where(live, np.floor(u * price / p.red_every + 1e-9) * p.red_off, 0.0) * n
            book_reduction(rec, h, k, red, p.red_platform)
        _book(rec.by_sku["paid"], h, k, gmv - dep * mult * units - red)     # the balance: the deposit counts × multiplier
        book_returns(m, rng.keys, rec, st, t, k, c, units, price, gmv - expansion - red, red, key, (t << 20) + u)

    def _forfeit(self, rec, i: int, tick: int, st) -> None:
        """Unpaid deposits of pre-sale i are forfeited at `tick`; their units go back on the shelf."""
        p, m = self.promo, self.m
        ps = p.presales[i]
        h = m.grid.period[min(tick, m.n_ticks - 1)]
        units = self.forfeit_units[i]
        rec.by_sku["deposit_forfeits"][h] += self.forfeit_orders[i]
        rec.by_sku["forfeited_amount"][h] += units * ps.deposit
        rec.events.append((min(tick, m.n_ticks - 1), "forfeits", ps.name, float(self.forfeit_orders[i].sum())))
        for k in np.flatnonzero(units):
            if tick < m.n_ticks:
                st.inbox.append((tick, int(k), int(units[k]), "release"))
            else:                                                # the window closes with the campaign
                rec.by_sku["released"][h, k] += units[k]
                rec.stock[-1, k] += units[k]
        self.forfeit_units[i] = 0
        self.forfeit_orders[i] = 0

    def finish(self, rec, st) -> None:
        """At the campaign's end: pre-sales whose balance window closes with it forfeit."""
        T = self.m.n_ticks
        for i, ps in enumerate(self.promo.presales):
            if ps.b1 >= T:
                self._forfeit(rec, i, T, st)
