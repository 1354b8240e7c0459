"""The plan's cart part: when warm-up carts pay, and which tick's regime prices them
(docs/promotions.md, "Warm-up carts").

A warm-up phase's carts pay from the first tick of the next sale phase, with the calendar's
pay-through rate, after a delay from an exponential of mean `cart_pay_minutes` cut at
max(1, min(the sale phase's length, ⌈10 × mean / tick⌉)) ticks. A cart pays at the price,
coupon validity and reduction in force at the tick it is paid (a flash price and allotment
too, if a sale of its SKU is on then).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.plan.calendar import Calendar


@dataclass(frozen=True)
class CartPayment:
    """The payments of one warm-up phase's carts. Shapes: W ticks of the payment profile."""

    phase: int                   # the warm-up phase
    first: int                   # first tick of the next sale phase
    profile: np.ndarray          # (W,) share of paying carts paid in tick first + i
    priced_at: np.ndarray        # (W,) int: the tick whose regime prices a cart paid in tick first + i


def pay_profile(mean_minutes: float, window_ticks: int, tick_minutes: int) -> np.ndarray:
    """(W,) share of payments in each tick after a window opens: an exponential of mean
    `mean_minutes`, cut at W = max(1, min(window, ⌈10 × mean / tick⌉)) ticks, renormalized."""
    w = max(1, min(window_ticks, math.ceil(10 * mean_minutes / tick_minutes)))
    edges = np.exp(-np.arange(w + 1) * tick_minutes / mean_minutes)
    prof = edges[:-1] - edges[1:]
    return prof / prof.sum()


def pricing_ticks(first: int, width: int) -> np.ndarray:
    """(W,) the tick whose regime prices an order paid in tick first + i: that tick itself."""
    return first + np.arange(width, dtype=np.int64)


def build_carts(cal: Calendar, cart_pay_minutes: float) -> list[CartPayment]:
    """One `CartPayment` per warm-up phase."""
    out = []
    for j in range(1, len(cal.names)):
        if cal.warmup[j]:
            pay = cal.phase_of_tick == cal.pay_phase[j]
            b0 = int(np.flatnonzero(pay)[0])
            b1 = b0 + int(np.sum(pay[b0:]))
            prof = pay_profile(cart_pay_minutes, b1 - b0, cal.grid.tick_minutes)
            out.append(CartPayment(j, b0, prof, pricing_ticks(b0, prof.size)))
    return out
