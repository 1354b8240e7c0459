"""Coupons that stay in the wallet, in the fast engine (docs/promotions.md, "Coupons that stay in
the wallet").

The fast engine does not follow customers. For each coupon j that stays in the wallet and each
segment s it keeps H[j, s], the customers holding j: claims of j by the segment less its
redemptions of j — exact counts at the end of every stretch (non-buyers' claims split over
segments by their expected shares), and inside a stretch following the expected claims of
non-buyers and the expected redemptions of holders tick by tick (H(t + 1) = H(t)(1 − d(t)) +
c(t), d the share of holders who redeem in a tick; none in a warm-up, whose holders cart). A visit of segment s belongs to a uniform random customer of it, so
it holds j with probability h = min(1, H[j, s] / customers_s). Where j is valid at the pay tick
and applies to the visit's SKU (not a pre-sale SKU taking deposits), such a visit uses it: class
J + 1 + i of the i-th coupon that stays (`Promotions.coupon_of`), without a claim; a customer
holding several uses the first in the scenario's order, holdings taken as independent. A holder's
visit claims nothing: a claim class keeps the visits of people under its per-customer limit who
hold no usable coupon — a holder of j is under j's limit with P(N < L | N ≥ 1), N ~ Poisson(a)
its attempts (0 for a limit of one), a holder of another coupon as often as anyone. Shapes:
n ticks of a stretch, R visit rows, J coupons, K SKUs, S segments.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.orders import units_pmf
from simulator.promotions import under_limit


class Wallet:
    """The holders of the coupons that stay in the wallet, in one replication."""

    def __init__(self, promo, S: int):
        self.p = promo
        self.on = bool(promo.wallet.any())
        self.H = np.zeros((promo.J, S))                          # (J, S) customers holding each coupon
        finite = np.isfinite(promo.customers)
        self.per_person = np.where(finite, 1.0 / np.where(finite, promo.customers, 1.0), 0.0)   # (S,)
        self._claims = None                                      # (n, J, S) expected non-buyers' claims
        self._used = np.zeros_like(self.H)                       # (J, S) redemptions of the stretch
        self._reach: dict = {}                                   # P(a holder's basket reaches the threshold), by regime
        self._draw, self._start, self._C = None, 0, 0            # the stretch's draw (cut in place at its end)

    def weights(self, reg, rates: np.ndarray, rows, attempts: np.ndarray | None, paying: bool = True) -> None:
        """The class shares of every tick (`reg.Wt`, (n, G, K, S)) with the holders' visits: a
        held coupon's class takes h·Π(1 − h′) of the visits it can serve, the claim classes lose
        the holders' visits (see the module doc), class 0 keeps the rest. `rates` (n, R)
        expected visits; `attempts` (n, J, S) claim attempts per person (None: no limit binds);
        `paying`: the stretch's buyers pay now (not a warm-up)."""
        if not self.on:
            return
        p = self.p
        J, n = p.J, rates.shape[0]
        Wt = np.array(reg.weights(n), dtype=float)                                        # (n, G, K, S)
        by_channel = np.zeros((n, p.conversion.mix.shape[0]))
        np.add.at(by_channel.T, rows.channel, rates.T)                                    # (n, C) visits
        nobuy = reg.nobuy[1:J + 1]                                                        # (J, C, K, S)
        usable = p.applies & reg.valid[:, None] & ~reg.deposit[None, :]                   # (J, K)
        r = self._own(attempts, n)                                                        # (n, J, S)
        # claims if no one held a coupon, c₀, and those a holder of j would have made on the SKUs
        # j serves: they make H_j(t + 1) = H_j(t)(1 − d − r c_u / N) + c₀, linear in H
        _, C, K, S = nobuy.shape
        per_tick = (by_channel @ nobuy.transpose(1, 0, 2, 3).reshape(C, -1)).reshape(n, J, K, S)   # Σ_c visits × P
        claim = Wt[:, 1:J + 1] * per_tick                                                 # (n, J, K, S) expected claims
        c0 = claim.sum(axis=2)
        cu = (claim * usable[None, :, :, None]).sum(axis=2)
        d = self._depletion(reg, by_channel) if paying else np.zeros_like(c0)
        d = d + r * cu * self.per_person[None, None, :]
        h = np.minimum(1.0, self._holders(c0, d) * self.per_person[None, None, :])         # (n, J, S)
        free = np.ones((n, Wt.shape[2], Wt.shape[3]))                                    # (n, K, S) no held coupon yet
        for i, j in enumerate(p.held):
            share = free * h[:, j, None, :] * usable[j][None, :, None]
            Wt[:, J + 1 + i] = share
            free = free - share
        held = 1.0 - free
        for j in range(J):                                       # claims: of people holding no usable coupon
            lose = held
            if p.wallet[j]:                                      # j's own holders: as many as are under j's limit
                lose = held - Wt[:, J + 1 + int(np.searchsorted(p.held, j))] * (1.0 - r[:, j, None, :])
            Wt[:, j + 1] *= 1.0 - lose
        Wt[:, 0] = 1.0 - Wt[:, 1:].sum(axis=1)
        self._claims = (Wt[:, 1:J + 1] * per_tick).sum(axis=2)                           # (n, J, S)
        reg.Wt = Wt

    def _own(self, attempts: np.ndarray | None, n: int) -> np.ndarray:
        """(n, J, S) P(under coupon j's limit | holding j) ÷ P(under it): the share of j's holders
        whose visits would claim j if they held nothing — 0 for a limit of one, near 1 for a limit
        far from binding (1 where no limit binds)."""
        p = self.p
        r = np.ones((n, p.J, self.H.shape[1]))
        if attempts is None:
            return r
        for j in np.flatnonzero(p.wallet):
            a = attempts[:, j]
            u, u0 = under_limit(a, int(p.limit[j])), np.exp(-a)
            r[:, j] = np.divide(u - u0, (1.0 - u0) * u, out=np.zeros_like(a), where=(1.0 - u0) * u > 0)
        return r

    def _holders(self, c: np.ndarray, d: np.ndarray) -> np.ndarray:
        """(n, J, S) holders in the middle of each tick: H(t + 1) = H(t)(1 − d(t)) + c(t) from
        H(0) = self.H, so H(t) = Λ(t)(H(0) + Σ_{u<t} c(u) / Λ(u + 1)), Λ(t) = Π_{u<t}(1 − d(u))."""
        logs = np.maximum(np.cumsum(np.log1p(-np.minimum(d, 0.5)), axis=0), -600.0)      # log Λ(t + 1)
        before = np.concatenate([np.zeros_like(logs[:1]), logs[:-1]])                     # log Λ(t)
        gained = np.cumsum(c * np.exp(-logs), axis=0) - c * np.exp(-logs)                 # Σ_{u<t} c(u) / Λ(u + 1)
        return np.exp(before) * (self.H[None] + gained) + c / 2

    def _depletion(self, reg, by_channel: np.ndarray) -> np.ndarray:
        """(n, J, S) share of a coupon's holders who redeem it in each tick: a holder's visits per
        tick (the segment's visits / its customers) × P(buy, holding it) × P(the basket reaches
        its threshold) over the SKUs it serves."""
        p, J = self.p, self.p.J
        K, S = p.applies.shape[1], self.H.shape[1]
        key = (reg.price.tobytes(), reg.valid.tobytes(), reg.red_live)
        if key not in self._reach:
            G = p.G
            pmf = units_pmf(p.extra_units[:, None] * p.basket_units[None, :], G, reg.price, reg, p)
            pmf = pmf.reshape(K, S, G, 2, -1)[:, :, :, 1]                                 # (K, S, G, V) may top up
            units = np.arange(pmf.shape[-1])
            out = np.zeros((J, K, S))
            for i, j in enumerate(p.held):
                ok = units[None, :] * reg.price[:, None] >= p.threshold[j] - 1e-9          # (K, V)
                out[j] = (pmf[:, :, J + 1 + i] * ok[:, None, :]).sum(axis=2)
            self._reach[key] = out
        reach = self._reach[key]
        d = np.zeros((by_channel.shape[0], J, S))
        for i, j in enumerate(p.held):
            usable = p.applies[j] & reg.valid[j] & ~reg.deposit
            d[:, j] = by_channel @ (reg.base[J + 1 + i] * reach[j][None] * usable[None, :, None]).sum(axis=1)
        return d * self.per_person[None, None, :]

    def claimed(self, draw, ch, C: int) -> None:
        """A stretch's claims of the coupons that stay, added to their holders by segment: buyers'
        from their lines (lumped segments split as the non-buyers'), non-buyers' from the
        draw's counts (n, C, J), split over segments by the expected shares of their tick."""
        if not self.on:
            return
        p, J = self.p, self.p.J
        n = ch.end - ch.start
        dl = draw.lines
        g = dl.cls
        share = np.zeros((n, J, self.H.shape[1]))
        if self._claims is not None:
            tot = self._claims[:n].sum(axis=2, keepdims=True)
            share = np.divide(self._claims[:n], tot, out=np.zeros_like(share), where=tot > 0)
        nb = draw.claims[:n].sum(axis=1)                                                  # (n, J)
        self.H += np.einsum("tj,tjs->js", nb, share)
        mine = (dl.t < ch.end) & (dl.c < C)                                               # fresh buyers
        for j in np.flatnonzero(p.wallet):
            rows = mine & (g == j + 1)
            known = rows & (dl.s >= 0)
            np.add.at(self.H[j], dl.s[known], dl.n[known])
            lumped = rows & (dl.s < 0)
            if lumped.any():
                self.H[j] += np.einsum("t,ts->s", np.bincount(dl.t[lumped] - ch.start, weights=dl.n[lumped],
                                                               minlength=n).astype(float), share[:, j])
        self.H = np.maximum(self.H - self._used, 0.0)           # the stretch's claims, then its redemptions
        self._used[:] = 0.0
        self._claims = None

    def watch(self, draw, start: int, C: int) -> None:
        """The stretch's draw from tick `start` (its lines and claims, truncated in place where the
        stretch is cut): its claims bound what holders may redeem (`cap`)."""
        self._draw, self._start, self._C = draw, start, C

    def cap(self, rec, left: np.ndarray, j: np.ndarray, held: np.ndarray, n: np.ndarray) -> np.ndarray:
        """(U,) redemptions of rows of coupons `j` (U,), `n` orders each, cut where a held coupon's
        rows (`held`) would redeem a coupon more often than it was claimed — claims before the
        stretch (the pool's quantity − `left`) and in it, less the redemptions booked: holders are
        an expectation, and a few of them can meet more buyers than there are coupons. The last
        rows lose first."""
        out = n.copy()
        if not self.on or not held.any():
            return out
        p = self.p
        for jj in np.unique(j[held]).tolist():
            rows = np.flatnonzero(held & (j == jj))
            claimed = float(p.quantity[jj] - left[jj]) + self._claims_now(jj)
            excess = int(rec.coupons[p.coupons[jj]]["redeemed"] + out[j == jj].sum() - claimed)
            for r in rows[::-1]:
                if excess <= 0:
                    break
                drop = min(excess, int(out[r]))
                out[r] -= drop
                excess -= drop
        return out

    def _claims_now(self, j: int) -> float:
        """Claims of coupon j in the stretch so far: its fresh buyers holding j and non-buyers."""
        d = self._draw
        if d is None:
            return 0.0
        n = d.claims.shape[0]
        dl = d.lines
        mine = (dl.t < self._start + n) & (dl.c < self._C) & (dl.cls == j + 1)
        return float(dl.n[mine].sum() + d.claims[:, :, j].sum())

    def redeemed(self, j: np.ndarray, s: np.ndarray, n: np.ndarray) -> None:
        """Redemptions of coupons `j` by segment `s`, `n` orders each: their holders use them up
        (taken off with the stretch's claims, `claimed`)."""
        if not self.on:
            return
        keep = self.p.wallet[j] & (s >= 0)
        np.add.at(self._used, (j[keep], s[keep]), n[keep])
