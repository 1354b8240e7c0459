"""`promosim optimize`: search the decisions of a scenario's `optimize:` block with Optuna."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator.progress import Progress


def register(sub) -> None:
    o = sub.add_parser(
        "optimize", help="find the best plan (budgets, discounts, stock) with an Optuna study",
        description="Search the decisions declared under optimize: in SCENARIO. Every trial plays the "
                    "same seeds; the plan as written is trial 0. Results go to --out: best_plan.yaml, "
                    "optimize.json, comparison.csv, trials.csv, plots, and the study (study.db).")
    o.add_argument("scenario", type=options.file_path, help="scenario YAML file with an optimize: block")
    o.add_argument("--trials", type=options.trials,
                   help="trials to add that end complete or pruned, across the workers (default: optimize.trials)")
    o.add_argument("--timeout", type=options.seconds, help="seconds after which no new trial starts")
    o.add_argument("--reps", type=options.reps, help="replications per trial (default: optimize.replications)")
    o.add_argument("--workers", type=options.workers, default=1, help="local worker processes on the study")
    o.add_argument("--storage", type=options.file_path,
                   help="Optuna storage URL, e.g. postgresql://user@host/db (default: sqlite file study.db in --out)")
    o.add_argument("--study", type=options.file_path, help="study name (default: the scenario's meta.name)")
    o.add_argument("--out", type=options.folder, help="output folder (default: optimize_<scenario file name>)")
    o.add_argument("--heartbeat", type=options.heartbeat, default=10,
                   help="seconds between a running trial's heartbeats; a killed trial is failed "
                        "after 3 heartbeats (default: 10)")
    o.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    o.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")
    options.add_force(o)
    o.set_defaults(func=optimize)


def _money(x) -> str:
    """A compact number: 1.23 M, 45.6 k, 0.0612."""
    if x is None:
        return "—"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f} M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:,.1f} k"
    return f"{x:.4g}"


def _check_folder(out: Path) -> None:
    """The optimize folder (it keeps study.db across runs): a folder, or one that can be made,
    that this process can write in — checked before any trial."""
    import tempfile

    from simulator.scenario.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"promosim optimize: --out {out}: is a file, not a folder; give a folder "
                         "(it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".promosim-write-test-"):
            pass
    except OSError as e:
        raise InputError(f"promosim optimize: --out {out}: cannot write there ({e.strerror}); "
                         "give a folder you can write in") from None


def _largest_plan(spec) -> dict:
    """Every numeric decision at its high end: the plan a trial may grow to."""
    plan: dict = {}
    for d in spec.decisions:
        if d.kind == "choice":
            nums = [c for c in d.choices if isinstance(c, int | float) and not isinstance(c, bool)]
            if not nums:
                continue
            x = max(nums)
        else:
            x = d.high
        for loc, v in zip(d.locs, d.values(x)):
            plan[".".join(str(k) for k in loc)] = v
    return plan


def optimize(args) -> int:
    from simulator import size
    from simulator.commands.run import show_warnings
    from simulator.optimize import StudyMismatch
    from simulator.optimize import optimize as run_optimize
    from simulator.optimize.spec import Spec
    from simulator.optimize.study import check_storage
    from simulator.scenario import load_scenario
    from simulator.scenario.errors import InputError
    from simulator.scenario.mistakes import as_json

    scenario = load_scenario(args.scenario)        # errors name file:line before any work
    warnings = show_warnings(scenario, args.scenario)
    if scenario.optimize is None:
        print(f"{args.scenario}: no optimize: block; declare the decisions under optimize.variables "
              "(see docs/optimize.md)", file=sys.stderr)
        return 2
    total = args.trials if args.trials is not None else scenario.optimize.trials
    out = Path(args.out or f"optimize_{Path(args.scenario).stem}")
    if args.storage is not None:
        check_storage(args.storage)
    _check_folder(out)
    reps = args.reps or scenario.optimize.replications
    where = f"promosim optimize {args.scenario}"
    spec = Spec.of(scenario)
    size.check(spec.base(), reps, force=args.force, where=where)
    try:
        largest = spec.base().with_overrides(_largest_plan(spec))
    except InputError:
        largest = None                              # decisions whose highs do not combine: trials tell
    if largest is not None:
        size.check(largest, reps, force=args.force, where=f"{where} (every decision at its high end)")
    kpi = scenario.optimize.objectives[0].kpi
    state = {"best": None}
    with Progress("trials", max(total, 1), enabled=not args.quiet) as bar:
        def progress(done, n, info):
            bar.update(done, n)
            if info["best"] is not None and info["best"] != state["best"] and not args.quiet:
                state["best"] = info["best"]
                print(f"trial {info['best_trial']}: best {kpi} so far {_money(info['best'])}",
                      file=sys.stderr, flush=True)

        try:
            res = run_optimize(args.scenario, trials=args.trials, timeout=args.timeout, reps=args.reps,
                               workers=args.workers, storage=args.storage, study=args.study, out=out,
                               heartbeat=args.heartbeat, plots=not args.no_plots, progress=progress)
        except StudyMismatch as e:
            print(f"promosim optimize: {e}", file=sys.stderr)
            return 2
    payload = res.to_json()
    payload["out"] = str(out)
    payload["warnings"] = as_json(warnings)
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        _print(res, out, kpi)
    if res.interrupted:
        print(f"promosim optimize: interrupted ({res.interrupted}): the workers were stopped, their running "
              f"trials marked failed; the results of the {res.trials} trials so far are in {out}",
              file=sys.stderr)
        return 143 if res.interrupted == "SIGTERM" else 130
    return 0 if res.best is not None else 1


def _print(res, out: Path, kpi: str) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"study [bold]{res.study_name}[/]: {res.trials} trials (complete or pruned), {res.ran} in this run")
    if res.best is None:
        con.print("[red]no trial met every constraint yet[/]: run more trials or loosen optimize.constraints")
        return
    con.print(f"starting plan (trial {res.baseline['trial']}): {kpi} {_money(res.baseline['value'])}")
    con.print(f"best plan (trial {res.best['trial']}): {kpi} {_money(res.best['value'])}")
    t = Table(title="Best decisions")
    t.add_column("decision")
    t.add_column("value", justify="right")
    for k, v in res.best["params"].items():
        t.add_row(k, _money(v) if isinstance(v, float) else str(v))
    con.print(t)
    if res.improvement:
        t = Table(title="Best − starting plan on fresh seeds (95 % interval, paired by seed)")
        for c in ("KPI", "start", "best", "difference", "interval"):
            t.add_column(c, justify="left" if c == "KPI" else "right")
        for k in ("gross_profit", "gmv", "net_sales", "marketing_cost", "roi", "margin", "units",
                  "stockout_probability", "lost_units", "stock_writedown"):
            v = res.improvement.get(k)
            if v is None or v["mean"] is None:
                continue
            ci = "—" if v["ci_low"] is None else f"{_money(v['ci_low'])} to {_money(v['ci_high'])}"
            t.add_row(k, _money(v["start"]), _money(v["best"]), _money(v["mean"]), ci)
        con.print(t)
    con.print(f"files in {out}: " + ", ".join(res.files.values()))
    if res.storage and res.storage.startswith("sqlite"):
        con.print(f"browse the study: optuna-dashboard {res.storage}")
