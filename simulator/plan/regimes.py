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
    """Per tick, the promotion state an order paid then reads (before sell-outs)."""

    base_price: np.ndarray       # (T, K) the phase price (list price × (1 − the phase's discount))
    flash_live: np.ndarray       # (T, K) int: index of the flash sale of SKU k live at t, −1 when none
    flash_price: np.ndarray      # (F,) each sale's price
    claimable: np.ndarray        # (T, J) bool: coupon j's claim window holds t
    coupon_valid: np.ndarray     # (T, J) bool: coupon j's validity window holds t
    reduction_live: np.ndarray   # (T, K) bool: the platform's reduction is on at t and covers SKU k
    deposit_open: np.ndarray     # (T, K) int: the pre-sale taking deposits for SKU k at t, −1 when none
    surge_reach: np.ndarray      # (C,) bool: the channels a flash sale's surge brings extra visits through
    surge: np.ndarray            # (T, F) a sale's surge − 1 (extra visits per visit landing on its SKU); 0
                                 #   outside its window

    def activity_price(self, t: int, k: int) -> tuple[float, int]:
        """(price, flash sale index or −1) of SKU k for an order paid at tick t, no sell-out."""
        f = int(self.flash_live[t, k])
        return (float(self.flash_price[f]), f) if f >= 0 else (float(self.base_price[t, k]), -1)


def surge_reaches(kinds: list[str]) -> np.ndarray:
    """(C,) bool: a flash surge reaches every channel without a media budget to buy its
    traffic — not paid search or display, which bring what they bought."""
    return np.array([kind not in NO_SURGE for kind in kinds], dtype=bool)


def build_regimes(promo: Promotions, price: np.ndarray, phase_of_tick: np.ndarray, kinds: list[str]) -> Regimes:
    """The regime tables of a plan from its promotion windows and phase prices (`price` (P, K))."""
    T, K, J, F = phase_of_tick.size, price.shape[1], promo.J, len(promo.flash)
    ticks = np.arange(T)

    def inside(window) -> np.ndarray:
        return (ticks >= window[0]) & (ticks < window[1])

    flash_live = np.full((T, K), -1, dtype=np.int64)
    surge = np.zeros((T, F))
    for i in reversed(range(F)):                 # the first sale listed wins where two overlap
        f = promo.flash[i]
        flash_live[f.t0:f.t1, f.k] = i
        surge[f.t0:f.t1, i] = f.surge - 1.0
    deposit_open = np.full((T, K), -1, dtype=np.int64)
    for i, ps in enumerate(promo.presales):
        deposit_open[ps.d0:ps.d1, ps.skus] = i
    red = inside(promo.red_window) if promo.red_every > 0 else np.zeros(T, dtype=bool)
    return Regimes(
        base_price=price[phase_of_tick], flash_live=flash_live,
        flash_price=np.array([f.price for f in promo.flash], dtype=float),
        claimable=np.array([inside(w) for w in promo.claim], dtype=bool).reshape(J, T).T,
        coupon_valid=np.array([inside(w) for w in promo.valid], dtype=bool).reshape(J, T).T,
        reduction_live=red[:, None] & promo.red_applies[None, :],
        deposit_open=deposit_open, surge_reach=surge_reaches(kinds), surge=surge,
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
