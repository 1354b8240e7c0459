"""Seed-independent arrays of a scenario's promotion mechanics (docs/promotions.md).

Built once with the model. Shapes: J store coupons, G = 1 + J + H coupon classes (0: no
coupon; 1 … J: claims coupon j − 1 at the visit; J + 1 …: a customer's held coupon of the H
coupons that stay in the wallet, `Promotions.coupon_of`), K SKUs, S segments, C channels, P
phases, T ticks. Windows are half-open tick
ranges [a, b). Money in the scenario's currency.

`Promotions.regime(...)` gives the conversion arrays of a stretch of ticks in which no
promotion state changes (a sub-chunk): prices, class shares and purchase probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

FLOOR = 0.05   # the effective price never falls below 5 % of the activity price


@dataclass(frozen=True)
class Conversion:
    """The purchase formula (docs/model.md, "A visit"): P(a visit from channel c buys SKU k as segment s) =
    min(1, quality_c × base_k × intent × segment conversion_s × lift_k × the price term), rel =
    effective price / list price; the price term is rel_k ** (elasticity_k × price sensitivity_s)
    for a SKU alone, and its logit share for a SKU of a category (`price_term`). Shapes: C, K, S."""

    base: np.ndarray             # (K,)
    seg_conv: np.ndarray         # (S,)
    elast: np.ndarray            # (K,)
    sens: np.ndarray             # (S,)
    quality: np.ndarray          # (C,)
    choice: np.ndarray           # (K,) where a visit lands
    mix: np.ndarray              # (C, S) segment shares of each channel
    category: np.ndarray | None = None   # (K,) the SKU's category, −1: alone (its own elasticity)
    outside: np.ndarray | None = None    # (n,) each category's outside attraction, in `choice` units
    switch: np.ndarray | None = None     # (K,) share of the SKU's out-of-stock shoppers who switch (`switch_weights`)

    def price_term(self, rel: np.ndarray) -> np.ndarray:
        """(X, K, S) the price term at `rel` (X, K, S). A SKU alone: T_k = rel_k ** (elasticity_k ×
        sensitivity_s). A SKU of category c (docs/model.md, "Choice within a category"): its logit
        share relative to list prices, T_k × (A₀ + Σ_c a_j) / (A₀ + Σ_c a_j T_j), a the landing
        shares (`choice`), A₀ the outside option — so its own-price elasticity is
        elasticity_k × (1 − s_k) and its neighbour j's, −elasticity_k × s_k, s the inside shares."""
        T = rel ** (self.elast[None, :, None] * self.sens[None, None, :])
        if self.category is None or (self.category < 0).all():
            return T
        on = np.flatnonzero(self.category >= 0)
        c = self.category[on]
        member = np.zeros((self.outside.size, on.size))
        member[c, np.arange(on.size)] = self.choice[on]
        at_list = member.sum(axis=1)                                                 # (n,) Σ_c a_j
        now = np.einsum("nk,xks->xns", member, T[:, on, :])                          # (X, n, S) Σ_c a_j T_j
        out = T.copy()
        out[:, on, :] = T[:, on, :] * ((self.outside + at_list)[c][None, :, None]
                                       / (self.outside[c][None, :, None] + now[:, c, :]))
        return out

    def switch_weights(self, rel: np.ndarray) -> np.ndarray:
        """(X, K, S) what a shopper who switches weighs each SKU by: its logit attraction
        a_k × T_k, T_k = rel_k ** (elasticity_k × sensitivity_s), `rel` (X, K, S) the effective
        price / list price. A switcher picks among the category's available SKUs with these
        weights (docs/model.md, "When a SKU is out of stock")."""
        return self.choice[None, :, None] * rel ** (self.elast[None, :, None] * self.sens[None, None, :])

    def p_buy(self, intent: np.ndarray, lift: np.ndarray, rel: np.ndarray) -> np.ndarray:
        """(X, C, K, S) for X cases (phases, or coupon classes): intent (X,), lift (X, K), rel
        (X, K) or, where it depends on the segment, (X, K, S)."""
        rel = rel if rel.ndim == 3 else rel[:, :, None]
        rel = np.broadcast_to(rel, (rel.shape[0], rel.shape[1], self.sens.size))
        conv = (self.base[None, :, None] * intent[:, None, None] * self.seg_conv[None, None, :] * lift[:, :, None]
                * self.price_term(rel))                                               # (X, K, S)
        return np.minimum(1.0, self.quality[None, :, None, None] * conv[:, None, :, :])


@dataclass(frozen=True)
class Flash:
    """A flash sale (秒杀) of SKU `k` in ticks [t0, t1)."""

    name: str
    k: int
    price: float
    t0: int
    t1: int
    quantity: int
    regular_after: bool          # after_sellout: regular
    surge: np.ndarray            # (t1 − t0,) visit multiplier of the SKU, ≥ 1


@dataclass(frozen=True)
class Presale:
    """A pre-sale (定金膨胀): deposits in [d0, d1), balances in [b0, b1)."""

    name: str
    skus: np.ndarray             # (k,) SKU indices
    deposit: float
    multiplier: float
    d0: int
    d1: int
    b0: int
    b1: int
    pay_through: float
    profile: np.ndarray          # (W,) share of balance payments in each tick from b0


@dataclass
class Promotions:
    """Promotion arrays; see module docstring for shapes."""

    coupons: list[str]
    threshold: np.ndarray        # (J,)
    amount: np.ndarray           # (J,)
    quantity: np.ndarray         # (J,) int
    limit: np.ndarray            # (J,) per-customer limit
    claim: np.ndarray            # (J, 2) claim window ticks
    valid: np.ndarray            # (J, 2) validity window ticks
    applies: np.ndarray          # (J, K) bool
    share: np.ndarray            # (J, S) min(1, claim_rate × coupon_use)
    claim_intent: np.ndarray     # (S,) odds ratio of holding a coupon for a buyer (`intent_tilt`)
    red_every: float             # 0: no platform reduction
    red_off: float
    red_platform: float
    red_window: tuple[int, int]
    red_applies: np.ndarray      # (K,) bool
    flash: list[Flash]
    presales: list[Presale]
    presale_of: np.ndarray       # (K,) pre-sale index, −1 when none
    basket_units: np.ndarray     # (S,)
    extra_units: np.ndarray      # (K,) mean units per order − 1
    topup_reach: float
    topup_probability: float
    return_slope: np.ndarray     # (K,)
    payment_mode: bool
    oversell_ticks: int
    customers: np.ndarray        # (S,) people per segment (inf: every visit a new person)
    wallet: np.ndarray           # (J,) bool: an unredeemed claim stays with its customer until valid_to
    conversion: "Conversion"     # the model's purchase formula, applied here to promotion prices
    intent: np.ndarray           # (P,)
    lift: np.ndarray             # (P, K) promotion lift of the phase's pay phase
    list_price: np.ndarray       # (K,)
    cuts: list[int] = field(default_factory=list)
    _depths: dict = field(default_factory=dict, repr=False)   # realized_depth by its inputs (prices recur)

    @property
    def J(self) -> int:
        return len(self.coupons)

    @property
    def G(self) -> int:
        return len(self.coupons) + 1 + int(self.wallet.sum())

    @property
    def held(self) -> np.ndarray:
        """(H,) the coupons that stay in the wallet; class J + 1 + i holds coupon held[i]."""
        return np.flatnonzero(self.wallet)

    @property
    def coupon_of(self) -> np.ndarray:
        """(G,) the coupon of each class: −1 for none, j for a claim of j and a held j."""
        return np.r_[-1, np.arange(self.J), self.held].astype(np.int64)

    @property
    def limited(self) -> bool:
        """Can a per-customer limit bind (coupons and a segment with a finite population)?"""
        return bool(self.J) and bool(np.isfinite(self.customers).any())

    def live(self, window, t: int) -> bool:
        return window[0] <= t < window[1]

    def regime(self, phase: int, pay_tick: int, claim_tick: int, pay_price: np.ndarray,
               pools_open: np.ndarray, deposit_skus: np.ndarray, balance_price: np.ndarray) -> "Regime":
        """Conversion arrays of a sub-chunk.

        `phase`: the sub-chunk's phase (intent); `pay_tick`: where prices, coupon validity and
        the reduction are read; `claim_tick`: where claim windows are read; `pay_price` (K,)
        activity price; `pools_open` (J,) bool; `deposit_skus` (K,) bool: in a deposit
        window; `balance_price` (K,) the price at each pre-sale's balance_from.
        """
        J, K = self.J, len(self.list_price)
        S = len(self.basket_units)
        W = np.zeros((J + 1, K, S))
        for j in range(J):
            if self.live(self.claim[j], claim_tick):
                W[j + 1] = self.applies[j][:, None] * self.share[j][None, :]
        W[1:, deposit_skus] = 0.0
        tot = W[1:].sum(axis=0)
        over = tot > 1
        if over.any():
            W[1:, over] /= tot[over]
        W[1:] *= pools_open[:, None, None]
        W[0] = 1.0 - W[1:].sum(axis=0)

        red_live = bool(self.red_every > 0 and self.live(self.red_window, pay_tick))
        red = (self.red_every, self.red_off, self.red_applies & red_live) if red_live else None
        coupons = [(self.amount[j], self.threshold[j], self.applies[j] & self.live(self.valid[j], pay_tick))
                   for j in range(J)]
        extra = self.extra_units[:, None] * self.basket_units[None, :]                  # (K, S)
        key = (pay_price.tobytes(), tuple(c[2].tobytes() for c in coupons), red_live)
        if key not in self._depths:
            self._depths[key] = realized_depth(pay_price, extra, coupons, red, self.topup_reach, self.topup_probability)
        depth = self._depths[key]
        eff = pay_price[None, :, None] * np.maximum(FLOOR, 1.0 - depth)                 # (G, K, S)
        for ps in self.presales:
            on = deposit_skus[ps.skus]
            if on.any():
                k = ps.skus[on]
                pb = balance_price[k]                   # a deposit: the reduction at balance_from, no top-up
                d_r = realized_depth(pb, extra[k], [], None if red is None else (red[0], red[1], red[2][k]), 0.0, 0.0)[0]
                eff[:, k] = np.maximum(FLOOR * pb[:, None], pb[:, None] * np.maximum(FLOOR, 1.0 - d_r)
                                       - ps.deposit * (ps.multiplier - 1))[None]
        G = J + 1
        p_buy = self.conversion.p_buy(np.full(G, self.intent[phase]), np.repeat(self.lift[phase][None], G, axis=0),
                                      eff / self.list_price[None, :, None])                        # (G, C, K, S)
        cell = self.conversion.choice[None, :, None] * self.conversion.mix[:, None, :]            # (C, K, S)
        p_buy = intent_tilt(p_buy, W, self.claim_intent)
        if self.wallet.any():                        # a held coupon: its price, no claim, no tilt (share 0 here)
            cls = 1 + self.held
            raw = self.conversion.p_buy(np.full(cls.size, self.intent[phase]),
                                        np.repeat(self.lift[phase][None], cls.size, axis=0),
                                        eff[cls] / self.list_price[None, :, None])
            p_buy, eff = np.concatenate([p_buy, raw]), np.concatenate([eff, eff[cls]])
            W = np.concatenate([W, np.zeros((cls.size, K, S))])
        base = p_buy * cell[None]                                                                  # (G, C, K, S)
        return Regime(price=pay_price, W=W, base=base, nobuy=(1.0 - p_buy) * cell[None],
                      reach=(W[:, None, :, :] * base).sum(axis=0).reshape(cell.shape[0], K * S),
                      valid=np.array([self.live(self.valid[j], pay_tick) for j in range(J)], dtype=bool),
                      red_live=red_live,
                      deposit=deposit_skus, rel=eff / self.list_price[None, :, None])



@dataclass
class Regime:
    """Conversion arrays of a sub-chunk (see `Promotions.regime`)."""

    price: np.ndarray            # (K,) activity price at the pay tick
    W: np.ndarray                # (G, K, S) share of visits in each coupon class (no per-customer limit; held: 0)
    base: np.ndarray             # (G, C, K, S) P(a visit lands on SKU k, segment s and buys | class g)
    nobuy: np.ndarray            # (G, C, K, S) P(a visit lands on SKU k, segment s and does not buy | class g)
    reach: np.ndarray            # (C, K·S) Σ_g W_g · base_g: P(a visit buys SKU k as segment s)
    valid: np.ndarray            # (J,) coupons valid at the pay tick
    red_live: bool
    deposit: np.ndarray          # (K,) SKUs taking deposits
    Wt: np.ndarray | None = None  # (n, G, K, S) class shares per tick where per-customer limits or wallets act
    rel: np.ndarray | None = None  # (G, K, S) effective price / list price of a buyer holding class g

    def weights(self, n: int) -> np.ndarray:
        """(n, G, K, S) class shares of each tick of an n-tick stretch."""
        return self.Wt if self.Wt is not None else np.broadcast_to(self.W, (n, *self.W.shape))


def intent_tilt(p_buy: np.ndarray, W: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """(G, C, K, S) P(buy | coupon class g) once claiming follows intent to buy (docs/promotions.md,
    "Who claims"): p_g × κ_g / Z, κ_0 = 1 and κ_g = `odds` (S,) of the segment for a coupon
    class g ≥ 1, Z = Σ_g W_g p_g κ_g / Σ_g W_g p_g — so a visit's chance to buy, Σ_g W_g p_g,
    stays what the purchase formula says, and a buyer's odds of holding a coupon are κ times
    those without intent; at most 1. `p_buy` (G, C, K, S), `W` (G, K, S) class shares."""
    if not (odds != 1.0).any() or W.shape[0] < 2:
        return p_buy
    kappa = np.ones((W.shape[0], 1, 1, odds.size))
    kappa[1:] = odds[None, None, None, :]
    joint = W[:, None] * p_buy                                                 # (G, C, K, S)
    total = joint.sum(axis=0)
    tilted = (joint * kappa).sum(axis=0)
    Z = np.divide(tilted, total, out=np.ones_like(total), where=total > 0)
    return np.minimum(1.0, p_buy * kappa / Z[None])


def realized_depth(price: np.ndarray, extra: np.ndarray, coupons: list[tuple[float, float, np.ndarray]],
                   red: tuple[float, float, np.ndarray] | None, reach: float, q: float) -> np.ndarray:
    """(G, K, S) expected saving per unit of money spent, E[saving(V′) / V′], of a buyer of SKU k
    in segment s holding coupon class g (0: none) — the depth that moves conversion
    (docs/model.md, "What a promotion is worth").

    The basket holds U = 1 + Poisson(`extra` (K, S)) units at `price` (K,), V = U × price; top-up
    (凑单) brings it, with probability `q`, to the smallest usable threshold T above it when
    T − V ≤ `reach` × T, adding ⌈(T − V) / price⌉ units; saving(V′) = the coupon's amount if V′
    reaches its threshold, plus ⌊V′ / every⌋ × off of the platform's reduction. `coupons`: per
    coupon (amount, threshold, (K,) applies and is valid at the decision tick); `red`: (every,
    off, (K,) live and applies) or None. A coupon no basket can reach is worth 0."""
    K, S = extra.shape
    G = len(coupons) + 1
    top = int(poisson_ppf(1 - 1e-12, max(float(extra.max()), 1e-12))) + 1
    u = np.arange(1, top + 2)                                                     # units 1 … U_max
    pmf = poisson_pmf(u[None, None, :] - 1, extra[:, :, None])                   # (K, S, U)
    v = u[None, :] * price[:, None]                                               # (K, U)
    out = np.zeros((G, K, S))
    for g in range(G):
        amount, thr, on = coupons[g - 1] if g else (0.0, np.inf, np.zeros(K, dtype=bool))
        thr_k = np.where(on, thr, np.inf)[:, None]                               # (K, 1)
        best = np.where(v < thr_k, thr_k, np.inf)
        if red is not None:
            every, off, live = red
            nxt = (np.floor(v / every + 1e-9) + 1) * every
            best = np.where(live[:, None], np.minimum(best, nxt), best)
        finite = np.isfinite(best)
        near = np.where(finite, best, 0.0)
        ok = finite & (near - v <= reach * near) if q > 0 else np.zeros(v.shape, dtype=bool)
        v_up = np.where(ok, (u[None, :] + np.ceil((np.where(ok, best, v) - v) / price[:, None] - 1e-9)) * price[:, None], v)

        def rel(x):
            save = np.where(x >= thr_k - 1e-9, amount, 0.0)
            if red is not None:
                save = save + np.where(live[:, None], np.floor(x / every + 1e-9) * off, 0.0)
            return save / x

        per_u = (1 - q * ok) * rel(v) + q * ok * rel(v_up)                         # (K, U)
        out[g] = (pmf * per_u[:, None, :]).sum(axis=2)
    return out


def poisson_pmf(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(Poisson(mu) = k) for whole k ≥ 0, as `scipy.stats.poisson.pmf` computes it (bit for
    bit) without importing scipy.stats (half a second of every run's start-up)."""
    return np.exp(special.xlogy(k, mu) - special.gammaln(k + 1) - mu)


def poisson_ppf(q: float, mu: float) -> float:
    """The smallest k with P(Poisson(mu) ≤ k) ≥ q, for 0 < q < 1 (`scipy.stats.poisson.ppf`)."""
    k = math.ceil(special.pdtrik(q, mu))
    return float(max(k - 1, 0) if special.pdtr(max(k - 1, 0), mu) >= q else k)


def under_limit(attempts_per_person: np.ndarray, limit: int) -> np.ndarray:
    """Share of a segment's people under a per-customer limit L after `a` claim attempts per
    person: a person's attempts are Poisson(a), so the share is P(Poisson(a) < L)."""
    return np.exp(-attempts_per_person) if limit == 1 else special.pdtr(limit - 1, attempts_per_person)


def build_promotions(scenario, grid, intent, lift, segs, skus, conversion: Conversion,
                     list_price) -> Promotions:
    """The promotion arrays of `scenario` on `grid` (see `Promotions`)."""
    meta = scenario.meta
    T, m = grid.n_ticks, grid.tick_minutes
    K, S = len(skus), len(segs)

    def tick(t, default):
        return default if t is None else grid.tick_of(t, meta)

    cuts: list[int] = []
    names = list(scenario.coupons)
    cps = [scenario.coupons[n] for n in names]
    claim = np.array([(tick(c.claim_from, 0), tick(c.claim_to, T)) for c in cps], dtype=np.int64).reshape(-1, 2)
    valid = np.array([(tick(c.valid_from, claim[j, 0]), tick(c.valid_to, T)) for j, c in enumerate(cps)],
                     dtype=np.int64).reshape(-1, 2)
    cuts += claim.ravel().tolist() + valid.ravel().tolist()
    seg_objs = [scenario.segments[s] for s in segs]
    use = np.array([s.coupon_use for s in seg_objs])
    claim_intent = np.array([s.claim_intent for s in seg_objs], dtype=float)
    share = np.array([np.minimum(1.0, c.claim_rate * use) for c in cps]).reshape(-1, S)
    applies = np.array([[c.applies_to(k) for k in skus] for c in cps], dtype=bool).reshape(-1, K)

    r = scenario.platform_reduction
    if r is not None:
        red_window = (tick(r.start, 0), tick(r.end, T))
        cuts += list(red_window)
        red_applies = np.array([r.applies_to(k) for k in skus], dtype=bool)
    else:
        red_window, red_applies = (0, 0), np.zeros(K, dtype=bool)

    flash = []
    for name, f in scenario.flash_sales.items():
        t0, t1 = tick(f.start, 0), tick(f.end, T)
        surge = np.ones(t1 - t0)
        if f.surge is not None:
            u0 = np.arange(t1 - t0) * m
            tau = f.surge.decay_minutes
            mass = np.exp(-u0 / tau) - np.exp(-(u0 + m) / tau)
            surge += f.surge.amplitude * tau * mass / m
        flash.append(Flash(name, skus.index(f.sku), f.price, t0, t1, f.quantity, f.after_sellout == "regular", surge))
        cuts += [t0, t1]

    presales, presale_of = [], np.full(K, -1, dtype=np.int64)
    for i, (name, p) in enumerate(scenario.presales.items()):
        ks = np.array([skus.index(s) for s in p.skus], dtype=np.int64)
        presale_of[ks] = i
        d0, d1, b0, b1 = (tick(p.deposit_from, 0), tick(p.deposit_to, T), tick(p.balance_from, 0), tick(p.balance_to, T))
        w = max(1, min(b1 - b0, math.ceil(10 * p.pay_minutes / m)))
        edges = np.exp(-np.arange(w + 1) * m / p.pay_minutes)
        prof = edges[:-1] - edges[1:]
        presales.append(Presale(name, ks, p.deposit, p.multiplier, d0, d1, b0, b1, p.pay_through, prof / prof.sum()))
        cuts += [d0, d1, b0, b1]

    customers = np.array([np.inf if s.customers is None else float(s.customers) for s in seg_objs])
    promo = Promotions(
        coupons=names, threshold=np.array([c.threshold for c in cps]), amount=np.array([c.amount for c in cps]),
        quantity=np.array([c.quantity for c in cps], dtype=np.int64),
        limit=np.array([c.per_customer for c in cps], dtype=np.int64), claim=claim, valid=valid,
        applies=applies, share=share, claim_intent=claim_intent,
        red_every=0.0 if r is None else r.every, red_off=0.0 if r is None else r.off,
        red_platform=0.0 if r is None else r.platform_share, red_window=red_window, red_applies=red_applies,
        flash=flash, presales=presales, presale_of=presale_of,
        basket_units=np.array([s.basket_units for s in seg_objs]),
        extra_units=np.array([scenario.skus[k].units_per_order - 1 for k in skus]),
        topup_reach=scenario.baskets.topup_reach, topup_probability=scenario.baskets.topup_probability,
        return_slope=np.array([scenario.skus[k].return_rate_per_discount for k in skus]),
        payment_mode=scenario.stock_deduction.mode == "payment",
        oversell_ticks=math.ceil(scenario.stock_deduction.payment_minutes / m - 1e-9),
        customers=customers, wallet=np.array([c.stays_in_wallet for c in cps], dtype=bool),
        conversion=conversion, intent=intent, lift=lift, list_price=list_price,
    )
    promo.cuts = sorted({c for c in cuts if 0 < c < T})
    return promo
