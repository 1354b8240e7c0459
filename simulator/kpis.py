"""KPI definitions (docs/kpis.md, docs/model.md "Money"), computed from one run's `RunRecord`.

Money in the scenario's currency. A ratio whose denominator is zero is None
(null in JSON), never NaN.

- gmv = Σ units × activity price (after the SKU discount, or the flash price), over paid
  orders; a pre-sale order counts when its balance is paid
- paid_by_buyers (支付金额) = gmv − coupon_cost − the whole reduction (reduction_cost +
  platform_subsidy) − deposit_expansion + forfeited_amount; store_receipts = paid_by_buyers +
  platform_subsidy (the platform pays its share of the reduction to the store)
- refunds: what the buyers of returned units paid for them, given back; subsidy_clawback: the
  platform's share of those units' reductions, taken back from the store
- net_sales = store_receipts − refunds − subsidy_clawback = gmv − coupon_cost − reduction_cost
  − deposit_expansion − refunds − subsidy_clawback + forfeited_amount (docs/model.md)
- marketing_cost = ad_spend + fees + commissions; roi = gmv / marketing_cost
- gross_profit = net_sales − COGS of kept units − marketing_cost − platform fee
  (a rate on net sales) − shipping (per order) − return handling (per returned unit)
  − return write-off (returned units not resaleable × (unit cost − salvage value))
  − stock write-down (units left at the end × (unit cost − salvage value))
- stockout_minutes = ticks at which a SKU had no stock and demand arrived × tick minutes
- items_per_order = (orders + add-on units) / orders: the SKUs in an order's basket (an add-on
  is one unit of another SKU, `skus.*.bought_with`); addon_units: units sold as add-ons
"""

from __future__ import annotations

import numpy as np

from simulator.model import Model
from simulator.record import RunRecord

PROMOTION_FLOWS = ("coupon_cost", "coupons_claimed", "coupons_redeemed", "reduction_cost",
                   "platform_subsidy", "deposits", "deposit_amount", "deposit_expansion",
                   "deposit_forfeits", "forfeited_amount", "oversold_units", "cancellations")
CHANNEL_KPIS = ("visits", "add_to_carts", "orders", "units", "gmv", "ad_spend", "fees",
                "commissions", "spend", "roi", "conversion_rate", "budget", "impressions", "clicks",
                "ctr", "cpc", "win_rate")
SKU_KPIS = ("add_to_carts", "orders", "units", "gmv", "returns", "lost_units", "lost_gmv", "switched_units", "switched_in_units",
            "addon_units",
            "pulled_forward_units", "pull_forward_missing_units",
            "stockout_minutes", "inbound_units", "ending_stock", "sell_through",
            "coupon_cost", "oversold_units")


def ratio(num: float, den: float) -> float | None:
    """num / den, or None when den is zero."""
    return float(num) / float(den) if den else None


def run_kpis(rec: RunRecord, model: Model) -> dict[str, float | None]:
    """The run-level KPIs of one replication."""
    meta = model.scenario.meta
    ch, sk = rec.by_channel, rec.by_sku
    units_k = sk["units"].sum(0)
    returns_k = sk["returns"].sum(0)
    gmv = float(ch["gmv"].sum())
    refunds = float(ch["refunds"].sum())
    promo = {f: float(sk[f].sum()) for f in PROMOTION_FLOWS}
    clawback = float(sk["subsidy_clawback"].sum())
    paid = (gmv - promo["coupon_cost"] - promo["reduction_cost"] - promo["platform_subsidy"]
            - promo["deposit_expansion"] + promo["forfeited_amount"])
    net = paid + promo["platform_subsidy"] - refunds - clawback
    orders = float(ch["orders"].sum())
    visits = float(ch["visits"].sum())
    ad = float(ch["ad_spend"].sum())
    fees = float(ch["fees"].sum())
    comm = float(ch["commissions"].sum())
    mkt = ad + fees + comm
    cogs = float(((units_k - returns_k) * model.unit_cost).sum())
    fee = meta.platform_fee_rate * net
    shipping = meta.shipping_cost_per_order * orders
    handling = meta.return_cost_per_unit * float(returns_k.sum())
    inbound = float(sk["inbound"].sum())
    salvage = _salvage(model)
    writedown = float(((model.unit_cost - salvage) * rec.ending_stock).sum())
    restocked_k = sk["restocked"].sum(0)
    writeoff = float(((model.unit_cost - salvage) * (returns_k - restocked_k)).sum())
    available = float(rec.initial_stock.sum()) + inbound + float(restocked_k.sum())   # returns sell again
    return {
        "visits": visits,
        "add_to_carts": float(ch["carts"].sum()),
        "orders": orders,
        "units": float(units_k.sum()),
        "gmv": gmv,
        "returns": float(returns_k.sum()),
        "refunds": refunds,
        "net_sales": net,
        "paid_by_buyers": paid,
        "store_receipts": paid + promo["platform_subsidy"],
        "subsidy_clawback": clawback,
        "restocked_units": float(restocked_k.sum()),
        "aov": ratio(gmv, orders),
        "conversion_rate": ratio(orders, visits),
        "ad_spend": ad,
        "fees": fees,
        "commissions": comm,
        "marketing_cost": mkt,
        "roi": ratio(gmv, mkt),
        "cogs": cogs,
        "platform_fee": fee,
        "shipping": shipping,
        "return_handling": handling,
        "return_writeoff": writeoff,
        "stock_writedown": writedown,
        "gross_profit": net - cogs - mkt - fee - shipping - handling - writeoff - writedown,
        "stockout_minutes": float(sk["stockout_ticks"].sum()) * meta.tick_minutes,
        "lost_units": float(sk["lost_units"].sum()),
        "lost_gmv": float(sk["lost_gmv"].sum()),
        "switched_units": float(sk["switched_units"].sum()),
        "switched_in_units": float(sk["switched_in"].sum()),
        "items_per_order": ratio(orders + float(sk["addon_units"].sum()), orders),
        "addon_units": float(sk["addon_units"].sum()),
        "pulled_forward_units": float(sk["pulled_forward"].sum()),
        "pull_forward_missing_units": float(sk["pull_missing"].sum()),
        "inbound_units": inbound,
        "ending_stock": float(rec.ending_stock.sum()),
        "sell_through": ratio(units_k.sum(), available),
        **promo,
        "rule_firings": float(sum(1 for e in rec.events if e[1] == "rule_fired")),
    }


def period_profit(rec: RunRecord, model: Model) -> np.ndarray:
    """(H,) profit after marketing per reporting period: each period's net sales less its COGS
    (units sold less returned, at unit cost), marketing cost, platform fee, shipping and return
    handling; the campaign's end-of-run write-offs (returns not back in stock) and write-downs
    (stock left over) fall in the last period. Sums to `gross_profit` (run_kpis) exactly."""
    meta = model.scenario.meta
    ch, sk = rec.by_channel, rec.by_sku
    net = (ch["gmv"].sum(1) - sk["coupon_cost"].sum(1) - sk["reduction_cost"].sum(1) - sk["deposit_expansion"].sum(1)
           + sk["forfeited_amount"].sum(1) - ch["refunds"].sum(1) - sk["subsidy_clawback"].sum(1))
    cogs = ((sk["units"] - sk["returns"]) * model.unit_cost[None, :]).sum(1)
    mkt = (ch["ad_spend"] + ch["fees"] + ch["commissions"]).sum(1)
    out = (net * (1.0 - meta.platform_fee_rate) - cogs - mkt - meta.shipping_cost_per_order * ch["orders"].sum(1)
           - meta.return_cost_per_unit * sk["returns"].sum(1))
    salvage = _salvage(model)
    end = ((model.unit_cost - salvage) * (rec.ending_stock + sk["returns"].sum(0) - sk["restocked"].sum(0))).sum()
    out[-1] -= end
    return out


def coupon_kpis(rec: RunRecord, model: Model) -> dict[str, dict[str, float | None]]:
    """Per store coupon in one run: claimed, redeemed, redemption_rate (redeemed ÷ claimed; None
    when none was claimed), cost, empty_minute (None: never empty)."""
    m = model.scenario.meta.tick_minutes
    return {name: {"claimed": c["claimed"], "redeemed": c["redeemed"],
                   "redemption_rate": ratio(c["redeemed"], c["claimed"]), "cost": c["cost"],
                   "empty_minute": None if c["empty_tick"] < 0 else c["empty_tick"] * m}
            for name, c in rec.coupons.items()}


def flash_kpis(rec: RunRecord, model: Model) -> dict[str, dict[str, float | None]]:
    """Per flash sale in one run: units at the flash price, sold_out (0/1), sellout_minute
    (from the sale's start; None: not sold out)."""
    m = model.scenario.meta.tick_minutes
    sc = model.scenario
    out = {}
    for name, f in rec.flash.items():
        start = model.grid.tick_of(sc.flash_sales[name].start, sc.meta)
        out[name] = {"units": f["units"], "sold_out": f["sold_out"],
                     "sellout_minute": None if f["sellout_tick"] < 0 else (f["sellout_tick"] - start) * m}
    return out


def _salvage(model: Model) -> np.ndarray:
    """(K,) value of a unit left at the end: `salvage_value`, or the unit cost when unset."""
    skus = model.scenario.skus
    return np.array([c if skus[k].salvage_value is None else skus[k].salvage_value
                     for k, c in zip(model.skus, model.unit_cost)])


def channel_kpis(rec: RunRecord, model: Model, k: dict | None = None) -> dict[str, dict]:
    """Per channel: visits, orders, attributed gmv, spend (ad_spend + fees + commissions), roi;
    for media channels also budget (the total media budget: `total_budget`, else the daily
    budget × days, summed over ad groups that have their own; None when any part is
    unbounded), clicks (= visits), impressions and ctr (display: impressions bought; auctions:
    impressions won; None for paid search at a flat cpc), cpc = ad_spend / clicks and win_rate
    (auctions: impressions / auctions taken part in), gross_margin_rate and break_even_roi
    (`channel_margins`). A paid-search channel with auctions adds `ad_groups` (`ad_group_kpis`).
    `k`: the run's `run_kpis`, when the caller has them already (not computed twice)."""
    out = {}
    days = len(model.grid.day_starts())
    for c, name in enumerate(model.channels):
        f = {k: float(v[:, c].sum()) for k, v in rec.by_channel.items()}
        spend = f["ad_spend"] + f["fees"] + f["commissions"]
        ch = model.scenario.channels[name]
        media = ch.kind in ("paid_search", "display")
        book = rec.ad_groups.get(name)
        impressions = (f["ad_spend"] / ch.cpm * 1000 if ch.kind == "display" else
                       float(book["impressions"].sum()) if book is not None else None)
        out[name] = {
            "visits": f["visits"], "add_to_carts": f["carts"], "orders": f["orders"],
            "units": f["units"], "gmv": f["gmv"], "ad_spend": f["ad_spend"], "fees": f["fees"],
            "commissions": f["commissions"], "spend": spend, "roi": ratio(f["gmv"], spend),
            "conversion_rate": ratio(f["orders"], f["visits"]),
            "budget": _budget(ch, f"channels.{name}", rec, model) if media else None, "impressions": impressions,
            "clicks": f["visits"] if media else None,
            "ctr": ratio(f["visits"], impressions) if impressions else None,
            "cpc": ratio(f["ad_spend"], f["visits"]) if media else None,
            "win_rate": ratio(impressions, float(book["auctions"].sum())) if book is not None else None,
        }
        if book is not None:
            out[name]["ad_groups"] = ad_group_kpis(rec, model, c, name, days)
    for name, (rate, even) in channel_margins(rec, model, k).items():
        out[name]["gross_margin_rate"], out[name]["break_even_roi"] = rate, even
    return out


def channel_margins(rec: RunRecord, model: Model, k: dict | None = None) -> dict[str, tuple[float | None, float | None]]:
    """Per channel: (gross-margin rate of its attributed sales, break-even ROI = 1 / that rate;
    None when the rate is not positive: no ROI breaks even) — the ROI at which the channel's
    gross margin pays its spend (保本 ROI, docs/explain.md).

    Gross margin of a channel's sales = its net sales − COGS of its kept units − platform fee −
    shipping − return handling − return write-off (each before marketing), with the flows not
    booked per channel shared out: promotion cost (coupons, the store's reduction, deposit
    expansion, less forfeits) in proportion to GMV, the platform's clawback to refunds, the unit
    cost of a kept unit and the write-off of a returned one at the store's averages."""
    k = run_kpis(rec, model) if k is None else k
    meta = model.scenario.meta
    gmv = k["gmv"]
    promo = k["coupon_cost"] + k["reduction_cost"] + k["deposit_expansion"] - k["forfeited_amount"]
    kept = k["units"] - k["returns"]
    out = {}
    for c, name in enumerate(model.channels):
        f = {x: float(v[:, c].sum()) for x, v in rec.by_channel.items()}
        net = (f["gmv"] * (1 - promo / gmv) if gmv else 0.0) - f["refunds"] \
            - (k["subsidy_clawback"] * f["refunds"] / k["refunds"] if k["refunds"] else 0.0)
        cogs = (f["units"] - f["returns"]) * (k["cogs"] / kept if kept else 0.0)
        writeoff = f["returns"] * (k["return_writeoff"] / k["returns"] if k["returns"] else 0.0)
        margin = (net * (1 - meta.platform_fee_rate) - cogs - meta.shipping_cost_per_order * f["orders"]
                  - meta.return_cost_per_unit * f["returns"] - writeoff)
        rate = ratio(margin, f["gmv"])
        out[name] = (rate, 1 / rate if rate is not None and rate > 0 else None)
    return out


def _budget(spec, path: str, rec: RunRecord, model: Model) -> float | None:
    """The effective total media budget of a channel or ad group at `path`, after rules
    (None: unbounded): the total budget in force at the end, else Σ over local days of the
    daily budget in force at each day's end — the smaller of the two when both are set."""
    groups = getattr(spec, "ad_groups", None)
    if groups and any(g.has_budget for g in groups.values()):
        parts = [_budget(g, f"{path}.ad_groups.{name}", rec, model) for name, g in groups.items()]
        return None if any(p is None for p in parts) else float(sum(parts))
    day_of = model.grid.day
    n_days = len(model.grid.day_starts())

    def in_force(which: str) -> list:
        values = [getattr(spec, which)] * n_days
        for tick, p, v in sorted(rec.plan_changes, key=lambda e: e[0]):
            if p == f"{path}.{which}":
                values[int(day_of[tick]):] = [v] * (n_days - int(day_of[tick]))
        return values

    daily, total = in_force("daily_budget"), in_force("total_budget")[-1]
    by_day = float(sum(v for v in daily if v is not None)) if any(v is not None for v in daily) else None
    if total is None:
        return by_day
    return float(total) if by_day is None else min(float(total), by_day)


def ad_group_kpis(rec: RunRecord, model: Model, c: int, name: str, days: int) -> dict[str, dict]:
    """Per ad group of an auction channel: auctions, impressions, clicks, ctr, cpc, win_rate,
    ad_spend, budget, the orders and gmv of its clicks' visits (the engines book them; each
    group converts at the channel's rate × its `conversion`; a warm-up cart paid later counts
    for the channel only), conversion_rate = orders / clicks, and roi = gmv / ad_spend."""
    book = rec.ad_groups[name]
    groups = model.scenario.channels[name].ad_groups
    orders, gmv = book["orders"].sum(axis=0), book["gmv"].sum(axis=0)
    out = {}
    for g, group in enumerate(groups):
        f = {k: float(v[:, g].sum()) for k, v in book.items()}
        out[group] = {
            "auctions": f["auctions"], "impressions": f["impressions"], "clicks": f["clicks"],
            "ctr": ratio(f["clicks"], f["impressions"]), "cpc": ratio(f["ad_spend"], f["clicks"]),
            "win_rate": ratio(f["impressions"], f["auctions"]), "ad_spend": f["ad_spend"],
            "budget": _budget(groups[group], f"channels.{name}.ad_groups.{group}", rec, model),
            "orders": float(orders[g]), "gmv": float(gmv[g]),
            "conversion_rate": ratio(float(orders[g]), f["clicks"]),
            "roi": ratio(float(gmv[g]), f["ad_spend"]),
        }
    return out


def sku_kpis(rec: RunRecord, model: Model) -> dict[str, dict[str, float | None]]:
    """Per SKU: sales, lost demand, stock-out minutes, ending stock and sell-through."""
    out = {}
    m = model.scenario.meta.tick_minutes
    for k, sid in enumerate(model.skus):
        f = {name: float(v[:, k].sum()) for name, v in rec.by_sku.items()}
        available = float(rec.initial_stock[k]) + f["inbound"] + f["restocked"]
        out[sid] = {
            "add_to_carts": f["carts"], "orders": f["orders"], "units": f["units"], "gmv": f["gmv"],
            "returns": f["returns"], "lost_units": f["lost_units"], "lost_gmv": f["lost_gmv"],
            "switched_units": f["switched_units"], "switched_in_units": f["switched_in"],
            "addon_units": f["addon_units"],
            "pulled_forward_units": f["pulled_forward"], "pull_forward_missing_units": f["pull_missing"],
            "stockout_minutes": f["stockout_ticks"] * m, "inbound_units": f["inbound"],
            "ending_stock": float(rec.ending_stock[k]), "sell_through": ratio(f["units"], available),
            "coupon_cost": f["coupon_cost"], "oversold_units": f["oversold_units"],
        }
    return out


def quantiles(values: list[float | None]) -> dict[str, float | None]:
    """mean, p5, p50, p95 over replications (None values skipped; all None → None)."""
    x = np.array([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return {"mean": None, "p5": None, "p50": None, "p95": None}
    p5, p50, p95 = np.percentile(x, [5, 50, 95])
    return {"mean": float(x.mean()), "p5": float(p5), "p50": float(p50), "p95": float(p95)}
