"""`promosim compare A [B]`: two plans on the same seeds, the difference in every KPI."""

from __future__ import annotations

import json
import sys

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator.progress import Progress
from simulator.scenario.overrides import parse_overrides


def register(sub) -> None:
    c = sub.add_parser(
        "compare", help="compare two plans on the same seeds: the difference in every KPI with an interval",
        description="Compare plan B with plan A on common random numbers (replication i of both plans "
                    "sees the same visitors). A and B are scenario YAML files or result folders written "
                    "by `promosim run --out`. Without B, B is A with the --set overrides.")
    c.add_argument("a", metavar="A", type=options.file_path, help="plan A: a scenario YAML file or a result folder")
    c.add_argument("b", metavar="B", nargs="?", help="plan B (default: A with the --set overrides)")
    c.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override a value of B, e.g. --set 'skus.*.discount.burst=0.35' (repeatable)")
    c.add_argument("--reps", type=options.reps,
                   help="replications (default: A's meta.replications, or the result folder's)")
    c.add_argument("--seed", type=options.seed, help="base seed (default: A's meta.seed, or the result folder's)")
    c.add_argument("--workers", type=options.workers, default=1,
                   help="worker processes (results do not depend on it)")
    c.add_argument("--level", type=options.level, default=0.95,
                   help="confidence level of the intervals, between 0 and 1 (default 0.95)")
    c.add_argument("--kpis", help="comma-separated KPIs to compare (default: all)")
    c.add_argument("--out", type=options.folder, help="folder for compare.json and compare.png (the chart)")
    c.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    c.add_argument("--quiet", action="store_true", help="no progress on stderr")
    c.add_argument("--no-uncertainty", dest="uncertainty", action="store_false",
                   help="play both plans as written, without their uncertainty: blocks' assumption draws")
    options.add_force(c)
    c.set_defaults(func=compare_command)


def _plan_warnings(a: str, b: str | None, pairs: list[str]) -> list[dict]:
    """Warnings (likely planner mistakes) of plans A and B given as scenario files — B is A
    when not given, with the --set overrides — printed on stderr (compare's JSON is compare.json,
    written by `simulator.compare`: they are not in it). A result folder, or a plan that does not
    load (compare names its problem), gives none."""
    from pathlib import Path

    from simulator.commands.run import show_warnings, with_overrides
    from simulator.scenario import load_scenario
    from simulator.scenario.errors import InputError
    from simulator.scenario.mistakes import as_json

    out = []
    for path, sets in ((a, []), (b or a, pairs)):
        if not Path(path).is_file() or (path == a and b is None and not sets and out):
            continue
        try:
            scenario = with_overrides(load_scenario(path), sets, path)
        except InputError:
            continue
        out += [w for w in as_json(show_warnings(scenario, path)) if w not in out]
    return out


def compare_command(args) -> int:
    from simulator.compare import COMPARE_FILES, CompareError, compare, write
    from simulator.output_set import OutputSet

    if args.b is None and not args.set:
        print("promosim compare: give plan B, or --set overrides to compare A with a tweaked A",
              file=sys.stderr)
        return 2
    kpis = [k.strip() for k in args.kpis.split(",") if k.strip()] if args.kpis else None
    overrides = parse_overrides(args.set)
    target = OutputSet(args.out, COMPARE_FILES.__contains__) if args.out else None
    folder = target.open() if target else None          # --out checked before any work
    _plan_warnings(args.a, args.b, args.set)
    try:
        with Progress("compare: replications", 1, enabled=not args.quiet) as bar:
            cmp = compare(args.a, args.b, overrides=overrides, reps=args.reps, seed=args.seed,
                          workers=args.workers, level=args.level, kpis=kpis, progress=bar.update,
                          limit_size=not args.force, uncertainty=args.uncertainty)
        if target:
            write(cmp, folder)
            target.commit()
    except CompareError as e:
        print(f"promosim compare: {e}", file=sys.stderr)
        return 2
    finally:
        if target:
            target.discard()
    if args.json:
        print(json.dumps(cmp.to_dict(), ensure_ascii=False))
    else:
        print_comparison(cmp)
        if args.out:
            print(f"comparison written to {args.out}/ (compare.json, compare.png)")
    return 0


def _signed(name: str, v) -> str:
    from simulator.show import RATES, fmt

    if v is None:
        return "–"
    if v == 0:
        return "0"
    sign = "−" if v < 0 else "+"
    if name in RATES:
        return f"{sign}{_digits(100 * abs(v))} pp"
    text = fmt(name, abs(v))
    if not text.strip("0.,"):                             # a difference too small for the format
        text = f"{abs(v):.2g}"
    return sign + text


def _digits(x: float) -> str:
    """x > 0 with two decimals, or two significant digits where two decimals would show 0.00."""
    return f"{x:.2f}" if x >= 0.005 else f"{x:.2g}"


def _percent(x: float) -> str:
    return "0 %" if x == 0 else f"{'−' if x < 0 else '+'}{_digits(abs(100 * x))} %"


def print_comparison(cmp, console=None) -> None:
    """The comparison as a table: A, B, B − A with its interval, the change in %, and ▲/▼ where
    the interval excludes 0."""
    from rich.console import Console
    from rich.table import Table

    from simulator.compare import describe_b
    from simulator.show import fmt

    con = console or Console(width=None if sys.stdout.isatty() else 140)
    b = describe_b(cmp)
    n = len(cmp.replications)
    con.print(f"[bold]B[/bold] {b}  vs  [bold]A[/bold] {cmp.a.label} — {n} paired replications of seed {cmp.seed}",
              highlight=False)
    t = Table(title=f"B − A ({cmp.level:.0%} interval)", title_justify="left")
    for col in ("kpi", "A", "B", "B − A", "interval", "change", ""):
        t.add_column(col, justify="left" if col == "kpi" else "right")
    zero = set(cmp.zero_in_both)
    for k, r in cmp.rows.items():
        if k in zero:
            continue
        interval = (f"{_signed(k, r['ci_low'])} … {_signed(k, r['ci_high'])}"
                    if r["ci_low"] is not None else "–")
        change = "–" if r["rel"] is None else _percent(r["rel"])
        mark = ""
        if r["excludes_zero"]:
            colour = {"good": "green", "bad": "red", None: "blue"}[r["verdict"]]
            mark = f"[{colour}]{'▲' if r['diff'] > 0 else '▼'}[/{colour}]"
        t.add_row(k, fmt(k, r["mean_a"]), fmt(k, r["mean_b"]), _signed(k, r["diff"]), interval, change, mark)
    con.print(t)
    con.print(f"▲/▼: the {cmp.level:.0%} interval of B − A excludes 0 "
              f"({len(cmp.significant)} of {len(cmp.rows)} KPIs); [green]green[/green]: good for the store, "
              "[red]red[/red]: bad, [blue]blue[/blue]: neither (costs that follow sales, counts).", highlight=False)
    if zero:
        con.print(f"not shown, 0 in both plans: {', '.join(k for k in cmp.rows if k in zero)}.",
                  highlight=False, markup=False)
    for note in cmp.notes:
        con.print(f"note: {note}", highlight=False, markup=False)
