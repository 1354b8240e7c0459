"""The plan's conversion part: prices by phase and what a visit buys (docs/model.md, "A visit").

Shapes: P phases, C channels, K SKUs, S segments. Money in the scenario's currency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.plan.calendar import Calendar
from simulator.promotions import Conversion
from simulator.scenario.schema import Category, Scenario


@dataclass(frozen=True)
class Buying:
    """Prices and purchase probabilities before promotion mechanics."""

    price: np.ndarray            # (P, K) price after the phase's SKU discount
    list_price: np.ndarray       # (K,)
    lift: np.ndarray             # (P, K) promotion lift of each phase's pay phase
    conversion: Conversion       # the purchase formula's inputs
    reach: np.ndarray            # (P, C, K·S) P(a visit buys SKU k as segment s), at the pay phase's price
    value: np.ndarray            # (P, C) expected GMV of a visit (what roi_target weighs a visit by)


def build_buying(scenario: Scenario, cal: Calendar, skus: list[str], segs: list[str],
                 quality: np.ndarray, mix: np.ndarray) -> Buying:
    """Phase prices, the purchase formula and the expected GMV of a visit of each channel."""
    P, K, S, C = len(cal.names), len(skus), len(segs), len(quality)
    sku_objs = [scenario.skus[k] for k in skus]
    list_price = np.array([s.price for s in sku_objs])
    price = np.array([[s.price * (1 - s.discount_in(None if j == 0 else cal.names[j])) for s in sku_objs]
                      for j in range(P)])
    attract = np.array([s.attractiveness for s in sku_objs])
    choice = attract / attract.sum()
    base = np.array([s.base_conversion for s in sku_objs])
    elast = np.array([s.elasticity for s in sku_objs])
    seg_conv = np.array([scenario.segments[s].conversion for s in segs])
    sens = np.array([scenario.segments[s].price_sensitivity for s in segs])
    pay = cal.pay_phase
    rel = price[pay] / list_price                                        # (P, K)
    lift = np.array([[s.promo_lift if j and cal.phases[j - 1].on_promo(k) else 1.0
                      for k, s in zip(skus, sku_objs)] for j in range(P)])[pay]   # (P, K)
    category, outside = _categories(scenario, sku_objs, choice)
    switch = np.array([scenario.categories.get(s.category, Category()).switch_share if c >= 0 else 0.0
                       for s, c in zip(sku_objs, category)])
    conversion = Conversion(base, seg_conv, elast, sens, quality, choice, mix, category, outside, switch)
    p_buy = conversion.p_buy(cal.intent, lift, rel)                      # (P, C, K, S)
    reach = p_buy * choice[None, None, :, None] * mix[None, :, None, :]
    unit_value = price[pay] * np.array([s.units_per_order for s in sku_objs])[None, :]   # (P, K)
    value = np.einsum("pcks,pk->pc", reach.reshape(P, C, K, S), unit_value)
    return Buying(price, list_price, lift, conversion, reach.reshape(P, C, K * S), value)


def _categories(scenario: Scenario, sku_objs: list, choice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K,) each SKU's category index (−1: none, or alone in its category — it keeps its own
    elasticity) and (n,) each category's outside attraction A₀ = Σ_c a_j × (1 − inside) / inside,
    a the landing shares, `inside` the category's `inside_share` (`Category`'s default if unlisted)."""
    names = [s.category for s in sku_objs]
    counts = {n: names.count(n) for n in names if n is not None}
    shared = [n for n in dict.fromkeys(names) if n is not None and counts[n] > 1]
    index = {n: i for i, n in enumerate(shared)}
    category = np.array([index.get(n, -1) for n in names], dtype=np.int64)
    inside = np.array([scenario.categories.get(n, Category()).inside_share for n in shared])
    at_list = np.array([choice[category == i].sum() for i in range(len(shared))])
    return category, at_list * (1 - inside) / np.maximum(inside, 1e-12)
