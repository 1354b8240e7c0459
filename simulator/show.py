"""Readable console output of a run: KPIs with their spread, channels, top SKUs, daily report."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.results import Results

MONEY = {"gmv", "net_sales", "refunds", "ad_spend", "fees", "commissions", "marketing_cost", "cogs",
         "platform_fee", "shipping", "return_handling", "gross_profit", "aov", "spend", "cost",
         "coupon_cost", "reduction_cost", "platform_subsidy", "deposit_amount", "deposit_expansion",
         "forfeited_amount", "cpc"}
RATES = {"conversion_rate", "sell_through", "sold_out_share", "win_rate", "ctr", "redemption_rate"}


def fmt(name: str, v) -> str:
    """A KPI value as a planner reads it."""
    if v is None:
        return "–"
    if name in RATES:
        return f"{v:.2%}"
    if name == "roi":
        return f"{v:.2f}"
    if name in MONEY:
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.2f}"


def _table(title: str, key: str, cols: tuple[str, ...], rows) -> Table:
    """A table with a first column `key` and one right-aligned column per KPI in `cols`."""
    t = Table(title=title, title_justify="left")
    t.add_column(key)
    for c in cols:
        t.add_column(c, justify="right")
    for name, values in rows:
        t.add_row(name, *(fmt(c, values[c]) for c in cols))
    return t


SPREAD_KPIS = ("visits", "orders", "gmv", "net_sales", "gross_profit", "roi")


def _print_uncertainty(con: Console, summary: dict) -> None:
    """The chance of reaching the targets, and — under an uncertainty block — the assumptions
    drawn and where each KPI's spread comes from."""
    for kpi, t in (summary.get("targets") or {}).items():
        n, p = t["draws"], t["p_reach"]
        if p in (0.0, 1.0):          # no spread to take a standard error from: the exact 95 % bound
            bound = 1 - 0.05 ** (1 / n)
            how = (f"in none of {n} independent draws (at most {bound:.0%} at 95 % confidence)" if p == 0 else
                   f"in all {n} independent draws (at least {1 - bound:.0%} at 95 % confidence)")
        else:
            how = f"in {p:.0%} of replications (± {t['se']:.0%}, one standard error)"
        con.print(f"{kpi} target {t['value']:,.0f}: reached {how}")
    if summary.get("assumptions"):
        t = Table(title="Assumptions drawn (uncertainty:)", title_justify="left")
        for col in ("assumption", "p5", "p50", "p95"):
            t.add_column(col, justify="left" if col == "assumption" else "right")
        for name, q in summary["assumptions"].items():
            t.add_row(name, *(f"{q[c]:.3g}" for c in ("p5", "p50", "p95")))
        con.print(t)
        t = Table(title="Spread: share of variance", title_justify="left")
        for col in ("kpi", "assumptions", "shopper noise"):
            t.add_column(col, justify="left" if col == "kpi" else "right")
        for kpi in SPREAD_KPIS:
            sp = summary.get("spread", {}).get(kpi)
            if sp and sp["assumptions"] is not None:
                t.add_row(kpi, f"{sp['assumptions']:.1%}", f"{sp['noise']:.1%}")
        con.print(t)


def print_run(res: Results, summary: dict, out: str | None = None, console: Console | None = None) -> None:
    con = console or Console()
    if not con.is_terminal:                      # logs and pipes: no truncated columns
        con = Console(width=160)
    cur = summary["currency"]
    con.print(f"[bold]{summary['scenario']}[/bold] — {summary['reps']} replications, seed {summary['seed']}, "
              f"{res.timing['engine_s']:.2f} s ({summary['engine']} engine)")
    t = Table(title=f"KPIs ({cur})", title_justify="left")
    for col in ("kpi", "mean", "p5", "p50", "p95"):
        t.add_column(col, justify="left" if col == "kpi" else "right")
    for k, q in summary["kpis"].items():
        t.add_row(k, *(fmt(k, q[c]) for c in ("mean", "p5", "p50", "p95")))
    con.print(t)
    _print_uncertainty(con, summary)

    con.print(_table("Channels (means)", "channel",
                     ("visits", "orders", "gmv", "spend", "roi", "conversion_rate"),
                     summary["channels"].items()))
    for name, kpis in summary["channels"].items():
        if kpis.get("ad_groups"):
            groups = sorted(kpis["ad_groups"].items(), key=lambda kv: -(kv[1]["ad_spend"] or 0))
            title = f"Ad groups of {name} (means{', top 10 by spend' if len(groups) > 10 else ''})"
            con.print(_table(title, "ad group", ("impressions", "win_rate", "clicks", "ctr", "cpc", "ad_spend",
                                                 "orders", "gmv", "roi"), groups[:10]))
    top = sorted(summary["skus"].items(), key=lambda kv: -(kv[1]["gmv"] or 0))[:10]
    named = [(f"{sid} {res.scenario.skus[sid].name or ''}".strip(), k) for sid, k in top]
    con.print(_table("Top SKUs by GMV (means)", "sku",
                     ("units", "gmv", "lost_units", "stockout_minutes", "ending_stock", "sell_through"), named))
    if summary.get("coupons"):
        con.print(_table("Store coupons (店铺优惠券, means)", "coupon", ("claimed", "redeemed", "redemption_rate", "cost", "empty_minute"),
                         summary["coupons"].items()))
    if summary.get("flash_sales"):
        con.print(_table("Flash sales (秒杀)", "sale", ("units", "sold_out_share", "sellout_minute"),
                         summary["flash_sales"].items()))
    con.print(_table("Daily report (日报, means)", "date",
                     ("visits", "carts", "orders", "conversion_rate", "gmv", "aov", "spend", "roi", "lost_units"),
                     [(row["date"], row) for row in summary["daily"]]))
    if out:
        con.print(f"results written to {out}/")
