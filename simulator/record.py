"""What one replication leaves behind: flows per reporting period, by channel and by SKU,
plus the event log. Both engines fill a `RunRecord`; `kpis` reads it.

Shapes: H reporting periods (hours), C channels, K SKUs. Money in the scenario's
currency, units in pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHANNEL_FLOWS = ("visits", "carts", "orders", "units", "gmv", "returns", "refunds",
                 "ad_spend", "fees", "commissions")
SKU_FLOWS = ("carts", "orders", "units", "gmv", "returns", "refunds", "lost_units", "lost_gmv", "switched_units", "switched_in", "addon_units", "pulled_forward", "pull_missing",
             "stockout_ticks", "inbound", "taken", "released",
             "coupons_claimed", "coupons_redeemed", "coupon_cost", "reduction_cost", "platform_subsidy",
             "deposits", "deposit_amount", "deposit_expansion", "deposit_forfeits", "forfeited_amount",
             "oversold_units", "cancellations", "paid", "subsidy_clawback", "restocked")
AD_GROUP_FLOWS = ("auctions", "impressions", "clicks", "ad_spend",   # per auction channel: (H, G)
                  "orders", "gmv")                                     # orders and GMV of its clicks' visits
# taken: units off the shelf (sales and deposits); released: reserved units back on the shelf
# (forfeited deposits); restocked: returned units back in stock (those due after the campaign in
# its last period). Stock at the end of a period = initial + Σ (inbound + released + restocked − taken).
# paid: money buyers paid (支付金额) as they paid it — a sale's basket after coupon and reduction,
# a deposit, a balance (after the deposit's expansion and the reduction); refunds: what returned
# units' buyers paid for them, given back; subsidy_clawback: the platform's share of returned
# units' reductions, taken back from the store.


@dataclass
class RunRecord:
    """Flows of one run. `by_channel[f]` is (H, C), `by_sku[f]` is (H, K); `stock` is
    (H, K) units on hand at the end of each period; `events` rows are
    (tick, kind, subject, value). `ad_groups[channel][f]` is (H, G) for a paid-search
    channel with auctions. `coupons[name]` and `flash[name]` hold per-promotion
    totals (an `empty_tick`/`sellout_tick` of −1: never)."""

    by_channel: dict[str, np.ndarray]
    by_sku: dict[str, np.ndarray]
    stock: np.ndarray
    initial_stock: np.ndarray
    events: list[tuple[int, str, str, float]] = field(default_factory=list)
    coupons: dict[str, dict[str, float]] = field(default_factory=dict)   # name → claimed, redeemed, cost, empty_tick
    flash: dict[str, dict[str, float]] = field(default_factory=dict)     # name → units, sold_out, sellout_tick
    ad_groups: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)   # auction channel → flow → (H, G)
    plan_changes: list[tuple[int, str, float | str]] = field(default_factory=list)   # rules: (tick, path, value)

    @classmethod
    def empty(cls, n_periods: int, n_channels: int, n_skus: int, initial_stock: np.ndarray,
              coupons=(), flash_sales=(), ad_groups: dict[str, int] | None = None) -> "RunRecord":
        """Zero flows; `ad_groups` maps each auction channel to its number of ad groups."""
        return cls(
            by_channel={f: np.zeros((n_periods, n_channels)) for f in CHANNEL_FLOWS},
            by_sku={f: np.zeros((n_periods, n_skus)) for f in SKU_FLOWS},
            stock=np.zeros((n_periods, n_skus)),
            initial_stock=np.asarray(initial_stock, dtype=float).copy(),
            coupons={c: {"claimed": 0.0, "redeemed": 0.0, "cost": 0.0, "empty_tick": -1.0} for c in coupons},
            flash={f: {"units": 0.0, "sold_out": 0.0, "sellout_tick": -1.0} for f in flash_sales},
            ad_groups={c: {f: np.zeros((n_periods, G)) for f in AD_GROUP_FLOWS} for c, G in (ad_groups or {}).items()},
        )

    @property
    def ending_stock(self) -> np.ndarray:
        """(K,) units on hand at the end of the campaign."""
        return self.stock[-1]

    def sorted_events(self) -> list[tuple[int, str, str, float]]:
        """Events in time order; ties keep the order they were recorded in."""
        return sorted(self.events, key=lambda e: e[0])
