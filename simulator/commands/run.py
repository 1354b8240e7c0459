"""`promosim run`: play a scenario over replications and show its KPIs."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext, redirect_stdout
from pathlib import Path

from simulator import __version__
from simulator.progress import Progress
from simulator.scenario.overrides import parse_value


def overrides(pairs: list[str]) -> dict[str, object]:
    """`--set path=value` pairs as a mapping (values read as YAML)."""
    out = {}
    for p in pairs:
        if "=" not in p:
            raise SystemExit(f"promosim: --set expects path=value, got {p!r}")
        path, value = p.split("=", 1)
        out[path.strip()] = parse_value(value)
    return out


def register(sub) -> None:
    r = sub.add_parser("run", help="play a scenario over replications and show its KPIs")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--reps", type=int, help="replications (default: the scenario's meta.replications)")
    r.add_argument("--seed", type=int, help="base seed (default: the scenario's meta.seed)")
    r.add_argument("--workers", type=int, default=1, help="worker processes (results do not depend on it)")
    r.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario value, e.g. --set 'skus.*.discount=0.2' (repeatable)")
    r.add_argument("--engine", default="fast", choices=("fast", "reference"),
                   help="fast (vectorized) or reference (every visitor a SimPy process; slow, the oracle)")
    r.add_argument("--scale", type=float, default=1.0, help="multiply every traffic volume (stock and budgets stay)")
    r.add_argument("--out", help="folder for result files (summary.json, run.json, kpis, timeseries, events)")
    r.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="table file format")
    r.add_argument("--report", action="store_true",
                   help="also draw report.html and figures/*.png into the --out folder (as `promosim report`)")
    r.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    r.set_defaults(func=run)


def run(args) -> int:
    from simulator.runner import simulate
    from simulator.scenario import load_scenario
    from simulator.show import print_run

    if args.report and not args.out:
        raise SystemExit("promosim run: --report needs --out DIR (the report is drawn from the result files)")
    scenario = load_scenario(args.scenario)
    if args.set:
        scenario = scenario.with_overrides(overrides(args.set))
    reps = args.reps or scenario.meta.replications
    with Progress("replications", reps, enabled=not args.quiet) as bar:
        res = simulate(scenario, reps=reps, seed=args.seed, workers=args.workers,
                       engine=args.engine, scale=args.scale, progress=bar.update)
    if args.out:
        res.write(args.out, fmt=args.format, provenance={
            "version": __version__, "scenario_file": Path(args.scenario).name,
            "command": "promosim " + " ".join(args.argv), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })
    summary = res.summary()
    if args.json:
        payload = {k: summary[k] for k in ("scenario", "reps", "seed", "kpis", "channels", "skus", "coupons", "flash_sales")}
        payload["timing"] = {"engine_s": res.timing["engine_s"]}
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print_run(res, summary, out=args.out)
    if args.report:
        from simulator.commands.report import make_report

        with redirect_stdout(sys.stderr) if args.json else nullcontext():   # --json: stdout is the JSON
            return make_report(args.out)
    return 0
