"""The plan's promotion regimes by tick: what an order paid at tick t reads — its activity price,
the coupons valid, the platform's reduction, a pre-sale's deposit window — and where a flash
sale's surge comes from (docs/promotions.md).

Sell-outs are not here: they depend on the draws, so an engine applies them on top (a flash
sale with `after_sellout: regular` falls back to `base_price` from the tick after its sell-out).

Shapes: T ticks, K SKUs, J store coupons, F flash sales, C channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.promotions import Promotions

NO_SURGE = ("paid_search", "display")   # kinds a flash surge does not reach: they bring what they bought


@dataclass(frozen=True)
class Regimes:
    """Per tick, the promotion state an order paid then reads (before sell-outs). Stored by
    tick × promotion (a few columns), read per SKU through the methods."""

    phase_of_tick: np.ndarray    # (T,) int
    phase_price: np.ndarray      # (P, K) list price × (1 − the phase's discount)
    flash_on: np.ndarray         # (T, F) bool: flash sale i's window holds t
    flash_sku: np.ndarray        # (F,) int: each sale's SKU
    flash_price: np.ndarray      # (F,) each sale's price
    claimable: np.ndarray        # (T, J) bool: coupon j's claim window holds t
    coupon_valid: np.ndarray     # (T, J) bool: coupon j's validity window holds t
    reduction_on: np.ndarray     # (T,) bool: the platform's reduction is on at t
    reduction_applies: np.ndarray   # (K,) bool: it covers SKU k
    deposit_on: np.ndarray       # (T, D) bool: pre-sale d takes deposits at t
    presale_of: np.ndarray       # (K,) int: SKU k's pre-sale, −1 when none
    surge_reach: np.ndarray      # (C,) bool: the channels a flash sale's surge brings extra visits through
    surge: np.ndarray            # (T, F) a sale's surge − 1 (extra visits per visit landing on its SKU); 0
                                 #   outside its window

    def base_price(self, t: int, k: int) -> float:
        """The phase price of SKU k at tick t."""
        return float(self.phase_price[self.phase_of_tick[t], k])

    def flash_live(self, t: int, k: int) -> int:
        """The flash sale of SKU k live at tick t (the first listed), −1 when none."""
        for i in np.flatnonzero(self.flash_on[t]).tolist():
            if self.flash_sku[i] == k:
                return i
        return -1

    def activity_price(self, t: int, k: int) -> tuple[float, int]:
        """(price, flash sale index or −1) of SKU k for an order paid at tick t, no sell-out."""
        f = self.flash_live(t, k)
        return (float(self.flash_price[f]), f) if f >= 0 else (self.base_price(t, k), -1)

    def reduction_live(self, t: int, k: int) -> bool:
        return bool(self.reduction_on[t] and self.reduction_applies[k])

    def deposit_open(self, t: int, k: int) -> int:
        """The pre-sale taking deposits for SKU k at tick t, −1 when none."""
        d = int(self.presale_of[k])
        return d if d >= 0 and self.deposit_on[t, d] else -1


def surge_reaches(kinds: list[str]) -> np.ndarray:
    """(C,) bool: a flash surge reaches every channel without a media budget to buy its
    traffic — not paid search or display, which bring what they bought."""
    return np.array([kind not in NO_SURGE for kind in kinds], dtype=bool)


def build_regimes(promo: Promotions, price: np.ndarray, phase_of_tick: np.ndarray, kinds: list[str]) -> Regimes:
    """The regime tables of a plan from its promotion windows and phase prices (`price` (P, K))."""
    T, F = phase_of_tick.size, len(promo.flash)
    ticks = np.arange(T)

    def inside(windows) -> np.ndarray:
        """(T, n) bool: each of n half-open windows [a, b) holds the tick."""
        w = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
        return (ticks[:, None] >= w[None, :, 0]) & (ticks[:, None] < w[None, :, 1])

    surge = np.zeros((T, F))
    for i, f in enumerate(promo.flash):
        surge[f.t0:f.t1, i] = f.surge - 1.0
    red = [promo.red_window] if promo.red_every > 0 else [(0, 0)]
    return Regimes(
        phase_of_tick=phase_of_tick, phase_price=price,
        flash_on=inside([(f.t0, f.t1) for f in promo.flash]),
        flash_sku=np.array([f.k for f in promo.flash], dtype=np.int64),
        flash_price=np.array([f.price for f in promo.flash], dtype=float),
        claimable=inside(promo.claim), coupon_valid=inside(promo.valid),
        reduction_on=inside(red)[:, 0], reduction_applies=promo.red_applies,
        deposit_on=inside([(ps.d0, ps.d1) for ps in promo.presales]), presale_of=promo.presale_of,
        surge_reach=surge_reaches(kinds), surge=surge,
    )


def visit_rows(regimes: Regimes) -> tuple[np.ndarray, np.ndarray]:
    """The visit rows of a plan: (channel (R,), flash sale (R,), −1 for a channel's own row):
    the C channels, then one row per (flash sale with a surge, channel it reaches)."""
    C = regimes.surge_reach.size
    channel, flash = list(range(C)), [-1] * C
    for i in range(regimes.surge.shape[1]):
        if not (regimes.surge[:, i] > 0.0).any():         # a sale without a surge brings no visits
            continue
        for c in np.flatnonzero(regimes.surge_reach):
            channel.append(int(c))
            flash.append(i)
    return np.array(channel, dtype=np.int64), np.array(flash, dtype=np.int64)


def ad_group_rows(auctions: list, first: int) -> tuple[list[int], list[float], dict]:
    """The visit rows of ad groups' conversion multipliers, numbered from `first`: (channel of
    each new row, its multiplier, {auction channel: (G,) the row of each group}). A channel's own
    row holds its first group and every group converting alike; each other multiplier gets a row."""
    channel, intent, group_row = [], [], {}
    for au in auctions:
        m = au.intent if au.intent is not None else np.ones(au.G)
        rows = {float(m[0]): au.c}
        for v in dict.fromkeys(m[1:].tolist()):
            if v not in rows:
                rows[v] = first + len(channel)
                channel.append(au.c)
                intent.append(v)
        group_row[au.c] = np.array([rows[float(v)] for v in m], dtype=np.int64)
    return channel, intent, group_row


def row_rates(regimes: Regimes, promo: Promotions, lam: np.ndarray) -> np.ndarray:
    """(T, R) expected visits per tick of each visit row: a channel's `lam` (T, C), and a surge
    row's λ_c · choice_k · (surge − 1) (the visits that would land on the sale's SKU, times the
    surge)."""
    channel, flash = visit_rows(regimes)
    out = lam[:, channel].copy()
    for r in np.flatnonzero(flash >= 0):
        f = promo.flash[flash[r]]
        out[:, r] = lam[:, channel[r]] * promo.conversion.choice[f.k] * regimes.surge[:, flash[r]]
    return out
