"""Names that several layers check, and nearest-name hints for typos ("did you mean ...?").

The lowest module of the package: it imports nothing of promosim, so the scenario schema, its
error messages, the rules language, history loading and the KPI computation can all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CHANNEL_KINDS = ("organic_search", "recommendation", "paid_search", "display", "crm_push", "live_stream",
                 "affiliate")
"""Every `kind:` a channel may have (the scenario schema has one model per kind)."""

RUN_KPIS = (
    "visits", "add_to_carts", "orders", "units", "gmv", "returns", "refunds", "net_sales",
    "paid_by_buyers", "store_receipts", "subsidy_clawback", "restocked_units",
    "aov", "conversion_rate", "ad_spend", "fees", "commissions", "marketing_cost", "roi",
    "cogs", "platform_fee", "shipping", "return_handling", "return_writeoff", "stock_writedown", "gross_profit",
    "stockout_minutes", "lost_units", "lost_gmv", "switched_units", "switched_in_units",
    "items_per_order", "addon_units", "pulled_forward_units", "pull_forward_missing_units", "inbound_units", "ending_stock", "sell_through",
    "coupon_cost", "coupons_claimed", "coupons_redeemed", "reduction_cost", "platform_subsidy",
    "deposits", "deposit_amount", "deposit_expansion", "deposit_forfeits", "forfeited_amount",
    "oversold_units", "cancellations", "rule_firings",
)
"""The KPIs of one replication, in report order (computed by `simulator.kpis.run_kpis`;
an `optimize:` block may name them)."""

HIGHER_IS_BETTER = frozenset({
    "visits", "add_to_carts", "orders", "units", "gmv", "net_sales", "paid_by_buyers", "store_receipts",
    "aov", "conversion_rate", "roi", "gross_profit", "sell_through", "deposits", "deposit_amount",
    "items_per_order", "addon_units"})
LOWER_IS_BETTER = frozenset({
    "returns", "refunds", "subsidy_clawback", "ad_spend", "fees", "commissions", "marketing_cost",
    "return_handling", "return_writeoff", "stock_writedown", "stockout_minutes", "lost_units", "lost_gmv", "ending_stock",
    "coupon_cost", "reduction_cost", "deposit_expansion", "deposit_forfeits", "oversold_units", "cancellations"})
"""Which way a store wants each run KPI to move, for colouring a comparison (the rest — costs
that follow sales such as cogs and shipping, counts such as coupons claimed or inbound units —
are neither good nor bad in themselves)."""


def verdict(kpi: str, diff: float | None) -> str | None:
    """'good' or 'bad' for a change `diff` of `kpi` by which way the store wants it to move;
    None for no change, an unknown difference or a KPI that is neither."""
    if not diff:
        return None
    if kpi in HIGHER_IS_BETTER:
        return "good" if diff > 0 else "bad"
    if kpi in LOWER_IS_BETTER:
        return "bad" if diff > 0 else "good"
    return None


def nearest(name: str, valid: Iterable[str]) -> str | None:
    """The valid name closest to `name`, or None when nothing is close."""
    valid = list(valid)
    hits = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if not hits:
        low = {v.lower(): v for v in valid}
        hits = [low[h] for h in difflib.get_close_matches(name.lower(), list(low), n=1, cutoff=0.6)]
    return hits[0] if hits else None


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`"; did you mean 'x'?"` for the nearest valid name, or `""`."""
    hit = nearest(name, valid)
    return f"; did you mean {hit!r}?" if hit else ""
