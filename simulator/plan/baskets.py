"""The plan's several-SKU baskets: each SKU's add-ons (`skus.<k>.bought_with`) as arrays
(docs/promotions.md, "Baskets of several SKUs")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AddOns:
    """`sku` (K, M): the add-on SKUs of an order of SKU k, in the order written, −1 past the
    last; `rate` (K, M): the probability an order takes one unit of each (0 past the last).
    M = the most add-ons of any SKU (0: no baskets)."""

    sku: np.ndarray
    rate: np.ndarray

    @property
    def on(self) -> bool:
        """Does any SKU have an add-on?"""
        return self.sku.shape[1] > 0

    @property
    def expected(self) -> np.ndarray:
        """(K, K) expected add-on units of SKU a per order of SKU k."""
        K = self.sku.shape[0]
        out = np.zeros((K, K))
        k, i = np.nonzero(self.sku >= 0)
        np.add.at(out, (k, self.sku[k, i]), self.rate[k, i])
        return out


def build_addons(scenario, skus: list[str]) -> AddOns:
    """The add-ons of every SKU, as written under `bought_with`."""
    M = max((len(scenario.skus[k].bought_with) for k in skus), default=0)
    sku = np.full((len(skus), M), -1, dtype=np.int64)
    rate = np.zeros((len(skus), M))
    for i, k in enumerate(skus):
        for j, (a, r) in enumerate(scenario.skus[k].bought_with.items()):
            sku[i, j], rate[i, j] = skus.index(a), r
    return AddOns(sku, rate)
