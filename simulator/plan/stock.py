"""The plan's stock part: opening stock, replenishment, shipments and returns back in stock
(docs/model.md, "Stock").

Shapes: K SKUs, T ticks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.scenario.schema import Scenario
from simulator.timegrid import TimeGrid


@dataclass(frozen=True)
class Inventory:
    """Seed-independent stock events and policies."""

    stock: np.ndarray            # (K,) opening stock
    reorder_point: np.ndarray    # (K,) s of an (s, Q) policy, −1 when none
    reorder_qty: np.ndarray      # (K,) Q
    lead_ticks: np.ndarray       # (K,) ≥ 1: a reorder placed at tick t arrives at t + lead
    inbound: list                # (tick, SKU index, units) sorted: shipments, on the shelf from the first
                                 #   tick starting at or after their moment
    resaleable: np.ndarray       # (K,) share of returned units that go back to stock
    restock_tick: np.ndarray     # (T,) tick a return of a sale at tick t is back in stock (≥ T: after the end)
    return_rate: np.ndarray      # (K,) return probability at the list price
    return_slope: np.ndarray     # (K,) added return probability per unit of discount depth
    unit_cost: np.ndarray        # (K,)


def build_inventory(scenario: Scenario, grid: TimeGrid, skus: list[str]) -> Inventory:
    meta, T, m = scenario.meta, grid.n_ticks, grid.tick_minutes
    sku_objs = [scenario.skus[k] for k in skus]
    lead = np.array([max(1, math.ceil(s.reorder.lead_time_hours * 60 / m)) if s.reorder else 1 for s in sku_objs])
    inbound = sorted((grid.first_tick_from(sh.at, meta), k, sh.quantity)
                     for k, s in enumerate(sku_objs) for sh in s.inbound)
    return Inventory(
        stock=np.array([s.stock for s in sku_objs], dtype=np.int64),
        reorder_point=np.array([s.reorder.point if s.reorder else -1 for s in sku_objs], dtype=np.int64),
        reorder_qty=np.array([s.reorder.quantity if s.reorder else 0 for s in sku_objs], dtype=np.int64),
        lead_ticks=lead, inbound=[d for d in inbound if d[0] < T],
        resaleable=np.array([s.resaleable_returns for s in sku_objs]),
        restock_tick=np.searchsorted(grid.day, grid.day + meta.return_days, side="left"),
        return_rate=np.array([s.return_rate for s in sku_objs]),
        return_slope=np.array([s.return_rate_per_discount for s in sku_objs]),
        unit_cost=np.array([s.unit_cost for s in sku_objs]),
    )
