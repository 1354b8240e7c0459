"""`promosim explain SCENARIO`: the store metrics the plan implies (UV per day per channel, 加购率,
支付转化率, 客单价, 领券率 per phase; each channel's ROI and break-even ROI), before running it,
to check against the store's 生意参谋 figures (docs/explain.md)."""

from __future__ import annotations

import json
import sys

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)

LABELS = {
    "days": "days 天数",
    "visits": "UV 访客数",
    "visits_per_day": "UV/day 日均访客",
    "add_to_cart_rate": "add-to-cart 加购率",
    "payment_conversion": "conversion 支付转化率",
    "aov": "AOV 客单价",
    "coupon_claim_rate": "coupon claims 领券率",
    "roi": "ROI",
    "break_even_roi": "break-even ROI 保本ROI",
    "gross_margin_rate": "gross margin 毛利率",
}
PERCENT = {"add_to_cart_rate", "payment_conversion", "coupon_claim_rate", "gross_margin_rate"}


def register(sub) -> None:
    e = sub.add_parser("explain", help="the store metrics a plan implies (UV, 加购率, 支付转化率, 客单价, 领券率, "
                                       "保本 ROI), to check against 生意参谋",
                       description="Print the store metrics the scenario implies, per phase and per channel, "
                                   "before running it: from the expected engine where it plays the plan, else "
                                   "from the fast engine's replication means with their standard errors.")
    e.add_argument("scenario", type=options.file_path, help="scenario YAML file")
    e.add_argument("--reps", type=options.reps,
                   help="replications when the fast engine is the source (default: meta.replications)")
    e.add_argument("--seed", type=options.seed, help="base seed (default: the scenario's meta.seed)")
    e.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario value, as in `run` (repeatable)")
    e.add_argument("--by", choices=("phase", "day"), default="phase",
                   help="rows per phase (default) or per local day, as 生意参谋 shows them")
    e.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    e.add_argument("--quiet", action="store_true", help="no progress on stderr")
    options.add_force(e)
    e.set_defaults(func=explain)


def explain(args) -> int:
    from simulator import size
    from simulator.commands.run import show_warnings, with_overrides
    from simulator.explain import explain as figures
    from simulator.progress import Progress
    from simulator.scenario import load_scenario
    from simulator.scenario.mistakes import as_json

    scenario = with_overrides(load_scenario(args.scenario), args.set, args.scenario)
    warnings = show_warnings(scenario, args.scenario)
    reps = args.reps or scenario.meta.replications
    size.check(scenario, reps, force=args.force, where=f"promosim explain {args.scenario}")
    with Progress("replications", reps, enabled=not args.quiet) as bar:
        out = figures(scenario, reps=reps, seed=args.seed, progress=bar.update, by=args.by)
    out["warnings"] = as_json(warnings)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print_explain(out)
    return 0


def shown(name: str, fig: dict | float | None, currency: str = "") -> str:
    """A figure as a planner reads it: `2.31 %`, `± 0.02 %` after a fast-engine mean."""
    if isinstance(fig, dict):
        v, se = fig["value"], fig["se"]
    else:
        v, se = fig, None
    if v is None:
        return "–"
    if name in PERCENT:
        text = f"{v:.2%}" + (f" ± {se * 100:.2g}%" if se is not None else "")
    elif name in ("roi", "break_even_roi"):
        text = f"{v:.2f}" + (f" ± {se:.2g}" if se is not None else "")
    elif name == "days":
        text = f"{v:.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
        if se is not None:
            text += f" ± {se:,.0f}" if abs(v) >= 100 else f" ± {se:,.2f}"
    return text


def print_explain(out: dict, console=None) -> None:
    """Three tables: per phase, UV per day per channel and phase, per channel."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console(width=max(160, Console().width))
    src = out["source"]
    if src["engine"] == "expected":
        con.print(f"{out['scenario']}: figures from the expected engine (exact expectations of the plan)")
    else:
        con.print(f"{out['scenario']}: figures from the fast engine, means of {src['reps']} replications "
                  f"(seed {src['seed']}) ± one standard error; the expected engine cannot play this plan "
                  f"({src['why']})")
    day = out.get("by") == "day"
    row = "day 日期" if day else "phase 阶段"
    t = Table(title=f"{'Per day 分日' if day else 'Per phase 分阶段'} (money in {out['currency']})",
              title_justify="left")
    cols = ("days", "visits", "visits_per_day", "add_to_cart_rate", "payment_conversion", "aov", "coupon_claim_rate")
    t.add_column(row)
    for c in cols:
        t.add_column(LABELS[c], justify="right")
    for p in out["phases"]:
        t.add_row(p["name"], *(shown(c, p[c]) for c in cols))
    con.print(t)
    names = list(out["channels"])
    t = Table(title="UV per day by channel 分渠道日均访客", title_justify="left")
    t.add_column(row)
    for n in names:
        t.add_column(n, justify="right")
    for p in out["phases"]:
        t.add_row(p["name"], *(shown("uv", p["uv_per_day"][n]) for n in names))
    con.print(t)
    cols = ("payment_conversion", "roi", "gross_margin_rate", "break_even_roi")
    t = Table(title="Channels over the campaign 渠道 (保本ROI = 1 / 毛利率 of the channel's sales)",
              title_justify="left")
    t.add_column("channel 渠道")
    for c in cols:
        t.add_column(LABELS[c], justify="right")
    for n, f in out["channels"].items():
        loss = f["roi"]["value"] is not None and f["break_even_roi"]["value"] is not None \
            and f["roi"]["value"] < f["break_even_roi"]["value"]
        t.add_row(n + (" (below break-even 亏损)" if loss else ""), *(shown(c, f[c]) for c in cols))
    con.print(t)
    sys.stdout.flush()
