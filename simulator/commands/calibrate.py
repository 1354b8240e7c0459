"""`promosim calibrate`: fit a scenario's `calibrate.parameters` to a store's history."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator.progress import Progress

CALIBRATE_FILES = ("calibrated.yaml", "fit.json", "fit.csv", "fit_", "residuals.png", "parameters.png")
"""What `promosim calibrate --out` writes (`fit_<target>.png` by prefix)."""


def register(sub) -> None:
    c = sub.add_parser(
        "calibrate", help="fit a scenario's unknowns to a store's history, with a backtest",
        description="Fit the parameters declared under calibrate: in SCENARIO to a history (CSV or "
                    "Parquet), put a 95 % interval on each, and with --holdout predict the held-out "
                    "periods beside naive baselines. Writes calibrated.yaml, fit.json, fit.csv, "
                    "fit_sample.json (and .csv: the fitted parameters' joint uncertainty) and plots to --out.")
    c.add_argument("scenario", type=options.file_path, help="scenario YAML file with a calibrate: block")
    c.add_argument("--history", type=options.file_path, help="history file (default: calibrate.history.file)")
    c.add_argument("--map", dest="columns", help="column names, ours=theirs,... (overrides calibrate.history.columns)")
    c.add_argument("--holdout", help="fraction of periods (0.2) or first held-out date (1996-01-01)")
    c.add_argument("--method", choices=("least_squares", "tpe", "cmaes"), help="default: calibrate.method")
    c.add_argument("--engine", choices=("expected", "fast"), help="default: expected for least_squares, fast otherwise")
    c.add_argument("--trials", type=options.trials, help="trials of tpe or cmaes (default: calibrate.trials)")
    c.add_argument("--reps", type=options.reps, help="replications per candidate on the fast engine")
    c.add_argument("--seed", type=options.seed, help="base seed of the replications")
    c.add_argument("--sample", type=options.whole(0, 100_000), default=1000,
                   help="draws of the fitted parameters' joint uncertainty written to fit_sample.json, which "
                        "uncertainty: {from: …} reads (default 1000; 0: none)")
    c.add_argument("--strict", action="store_true", help="missing periods and SKU gaps are errors")
    c.add_argument("--out", type=options.folder,
                   help="output folder (default: calibrate_<scenario file name>); written as one set")
    c.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    c.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    c.add_argument("--quiet", action="store_true", help="no progress on stderr")
    c.set_defaults(func=calibrate)


def calibrate(args) -> int:
    from calibration.api import calibrate as run
    from calibration.baselines import parse_holdout
    from calibration.history import parse_map
    from calibration.output import write_outputs
    from simulator.commands.run import show_warnings
    from simulator.output_set import OutputSet
    from simulator.scenario import load_scenario
    from simulator.scenario.mistakes import shown

    try:
        columns = parse_map(args.columns) if args.columns else None
        holdout = parse_holdout(args.holdout) if args.holdout else None
    except ValueError as e:
        print(f"promosim calibrate: {e}", file=sys.stderr)
        return 2
    scenario = load_scenario(args.scenario)        # errors name file:line before any work
    warnings = show_warnings(scenario, args.scenario)
    if scenario.calibrate is None:
        print(f"{args.scenario}: no calibrate: block; declare the unknowns under calibrate.parameters "
              "(see docs/calibration.md)", file=sys.stderr)
        return 2
    out = Path(args.out or f"calibrate_{Path(args.scenario).stem}")
    target = OutputSet(out, lambda name: name.startswith(CALIBRATE_FILES))
    folder = target.open()                         # --out checked before any work
    try:
        res, files = _calibrate(args, run, write_outputs, columns, holdout, folder, out)
        target.commit()
    finally:
        target.discard()
    payload = res.to_json()
    payload["out"] = str(out)
    payload["files"] = files
    if args.json:
        # the plan's warnings (on stderr before the fit) join the fit's own, as lines of text
        payload["warnings"] = [shown(w) for w in warnings] + payload["warnings"]
        print(json.dumps(payload, ensure_ascii=False))
    else:
        _print(payload)
    return 0


def _calibrate(args, run, write_outputs, columns, holdout, folder: Path, out: Path):
    with Progress("calibration", 1, enabled=not args.quiet) as bar:
        stage = {"what": None}

        def progress(done, total, what):
            if what != stage["what"]:
                stage["what"] = what
                bar.describe(what)
                bar.total = total
                bar._last = -1
            bar.update(done, total)

        res = run(args.scenario, args.history, columns=columns, holdout=holdout, method=args.method,
                  engine=args.engine, trials=args.trials, replications=args.reps, seed=args.seed,
                  strict=args.strict, sample=args.sample, progress=progress, log=bar.log)
        if args.json:                              # the table below prints them otherwise
            for w in res.warnings:
                bar.log(f"warning: {w}")
        files = write_outputs(res, folder, plots=not args.no_plots, final=out)
    return res, files


def _print(p: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    f = p["fit"]
    con.print(f"[bold]{p['scenario']}[/]: {f['method']} on the {f['engine']} engine, loss ({f['loss']}) "
              f"{f['start_value']:.4g} → {f['value']:.4g} in {f['evaluations']} runs, {p['seconds']:.1f} s")
    t = Table(title="Fitted parameters (95 % profile intervals)")
    for col in ("parameter", "value", "interval", "identified"):
        t.add_column(col, justify="left" if col == "parameter" else "right")
    for name, v in p["parameters"].items():
        ci = "—" if v["ci_low"] is None else f"{v['ci_low']:.4g} – {v['ci_high']:.4g}"
        t.add_row(name, f"{v['value']:.4g}", ci, "yes" if v["identified"] else "[red]no[/]")
    con.print(t)
    bt = p.get("backtest")
    if bt:
        t = Table(title=f"Backtest on {bt['test_periods']} held-out periods from {bt['first_test_period']} ({bt['target']})")
        for col in ("forecast", "WAPE", "MAPE"):
            t.add_column(col, justify="left" if col == "forecast" else "right")
        rows = [("model", bt["model"])] + list(bt["baselines"].items())
        for name, r in rows:
            t.add_row(name, _pct(r["wape"]), _pct(r["mape"]))
        con.print(t)
    for w in p["warnings"]:
        con.print(f"[yellow]warning[/]: {w}")
    con.print(f"files in {p['out']}: " + ", ".join(Path(x).name for x in p["files"].values()))


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"
