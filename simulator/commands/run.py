"""`promosim run`: play a scenario over replications and show its KPIs."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext, redirect_stdout
from pathlib import Path

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator import __version__
from simulator.progress import Progress
from simulator.scenario.errors import InputError
from simulator.scenario.overrides import parse_overrides


def with_overrides(scenario, pairs: list[str], file: str):
    """`scenario` with the `--set` arguments applied; a problem names the argument (or the
    scenario file, with the arguments, for a problem they cause elsewhere)."""
    if not pairs:
        return scenario
    ov = parse_overrides(pairs)
    return scenario.with_overrides(ov, where=f"{file} (with {', '.join(ov.shown.values())})")


def show_warnings(scenario, file: str) -> list:
    """The plan's warnings (likely planner mistakes), printed on stderr with file and line;
    returned for a `--json` payload. They never stop the command."""
    from simulator.scenario.mistakes import located_warnings, shown

    warnings = located_warnings(scenario, file)
    for w in warnings:
        print(shown(w), file=sys.stderr, flush=True)
    return warnings


def register(sub) -> None:
    r = sub.add_parser("run", help="play a scenario over replications and show its KPIs")
    r.add_argument("scenario", type=options.file_path, help="scenario YAML file")
    r.add_argument("--reps", type=options.reps, help="replications (default: the scenario's meta.replications)")
    r.add_argument("--seed", type=options.seed, help="base seed (default: the scenario's meta.seed)")
    r.add_argument("--workers", type=options.workers, default=1,
                   help="worker processes (results do not depend on it)")
    r.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario value, e.g. --set 'skus.*.discount=0.2' (repeatable)")
    r.add_argument("--engine", default="fast", choices=("fast", "reference"),
                   help="fast (vectorized) or reference (every visitor a SimPy process; slow, the oracle)")
    r.add_argument("--scale", type=options.scale, default=1.0,
                   help="multiply every traffic volume (stock and budgets stay); above 0, at most 10⁶")
    r.add_argument("--out", type=options.folder,
                   help="folder for result files (summary.json, run.json, kpis, timeseries, events); "
                        "written as one set: an interrupted run leaves the previous results as they were")
    r.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="table file format")
    r.add_argument("--report", action="store_true",
                   help="also draw report.html and figures/*.png into the --out folder (as `promosim report`)")
    options.add_lang(r)
    r.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    r.add_argument("--no-uncertainty", dest="uncertainty", action="store_false",
                   help="play the plan as written, without its uncertainty: block's assumption draws")
    options.add_force(r)
    r.set_defaults(func=run)


def run(args) -> int:
    from simulator import size
    from simulator.output_set import OutputSet
    from simulator.results import RUN_FILES
    from simulator.runner import simulate
    from simulator.scenario import load_scenario
    from simulator.scenario.mistakes import as_json
    from simulator.show import print_run

    if args.report and not args.out:
        raise InputError("promosim run: --report needs --out DIR (the report is drawn from the result files)")
    scenario = with_overrides(load_scenario(args.scenario), args.set, args.scenario)
    warnings = show_warnings(scenario, args.scenario)
    reps = args.reps or scenario.meta.replications
    size.check(scenario, reps, args.scale, force=args.force, where=f"promosim run {args.scenario}")
    target = OutputSet(args.out, RUN_FILES.__contains__) if args.out else None
    folder = target.open() if target else None            # --out checked before any work
    try:
        with Progress("replications", reps, enabled=not args.quiet) as bar:
            res = simulate(scenario, reps=reps, seed=args.seed, workers=args.workers,
                           engine=args.engine, scale=args.scale, progress=bar.update,
                           uncertainty=args.uncertainty)
        if target:
            res.write(folder, fmt=args.format, provenance={
                "version": __version__, "scenario_file": Path(args.scenario).name,
                "command": "promosim " + " ".join(args.argv), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            })
            target.commit()
    finally:
        if target:
            target.discard()                              # nothing to remove once committed
    summary = res.summary()
    if args.json:
        payload = {k: summary[k] for k in ("scenario", "reps", "seed", "kpis", "channels", "skus", "coupons", "flash_sales",
                                           "targets", "assumptions", "spread") if k in summary}
        payload["warnings"] = as_json(warnings)
        payload["timing"] = {"engine_s": res.timing["engine_s"]}
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print_run(res, summary, out=args.out)
    if args.report:
        from simulator.commands.report import make_report

        with redirect_stdout(sys.stderr) if args.json else nullcontext():   # --json: stdout is the JSON
            return make_report(args.out, lang=args.lang)
    return 0
