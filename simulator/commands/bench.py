"""`promosim bench`: the scenario regression suite against a committed baseline (CI)."""

from __future__ import annotations

import json
import sys

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator.progress import Progress


def register(sub) -> None:
    b = sub.add_parser(
        "bench", help="run a folder of scenarios on their fixed seeds and check KPIs against a baseline",
        description="Run every scenario (*.yaml) in SCENARIO_DIR with its meta.seed and meta.replications, "
                    "check each KPI against the baseline under its tolerance, and exit 1 on any regression "
                    "(2 when a scenario or the baseline cannot be used). Baselines are keyed by scenario "
                    "file name. See docs/ci.md.")
    b.add_argument("paths", nargs="+", metavar="SCENARIO_DIR", help="scenario folder(s) or file(s)")
    b.add_argument("--baseline", required=True, metavar="FILE", help="baseline JSON (e.g. benchmarks/baseline.json)")
    b.add_argument("--update", action="store_true",
                   help="rewrite the baseline from this run (tolerances and other entries are kept)")
    b.add_argument("--prune", action="store_true",
                   help="with --update: drop baseline entries whose scenario file was not run")
    b.add_argument("--junit", metavar="FILE", help="write JUnit XML (one testsuite per scenario, a testcase per KPI)")
    b.add_argument("--summary", metavar="FILE", help="write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    b.add_argument("--reps", type=options.reps, help="replications for every scenario (default: each meta.replications)")
    b.add_argument("--workers", type=options.workers, default=1, help="worker processes (results do not depend on it)")
    b.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    b.add_argument("--quiet", action="store_true", help="no progress on stderr")
    options.add_force(b)
    b.set_defaults(func=bench_command)


def bench_command(args) -> int:
    from simulator.bench import BaselineError, junit_xml, markdown, run_bench
    from simulator.files import atomic_write_bytes, atomic_write_text

    if args.prune and not args.update:
        print("promosim bench: --prune only applies with --update", file=sys.stderr)
        return 2
    try:
        with Progress("bench: replications", 1, enabled=not args.quiet, lines=False) as bar:
            report = run_bench(args.paths, args.baseline, update=args.update, prune=args.prune,
                               reps=args.reps, workers=args.workers, progress=bar, force=args.force)
    except BaselineError as e:
        print(f"promosim bench: {e}", file=sys.stderr)
        return 2
    if args.junit:
        atomic_write_bytes(args.junit, junit_xml(report))
    if args.summary:
        atomic_write_text(args.summary, markdown(report))
    for w in report.warnings:
        print(f"promosim bench: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    elif args.update:
        print_update(report)
    else:
        print_check(report)
    return report.exit_code


def print_check(report) -> None:
    """Plain lines (CI logs): a line per scenario, then every regression naming scenario and KPI."""
    for s in report.scenarios:
        if s.error:
            print(f"ERROR {s.file}: {s.error}")
            continue
        if s.failures:
            print(f"FAIL  {s.file}: {len(s.failures)} of {len(s.checks)} KPIs out of tolerance "
                  f"(seed {s.seed}, {s.reps} replications)")
            for c in s.failures:
                print(f"      regression: {c.message}")
        else:
            print(f"ok    {s.file}: {len(s.checks)} KPIs within tolerance (seed {s.seed}, {s.reps} replications)")
        new = [c.kpi for c in s.checks if c.status == "new"]
        if new:
            print(f"      note: not in the baseline (new KPIs): {', '.join(new)}; `--update` records them")
        for n in s.notes:
            print(f"      note: {n}")
    n_reg, n_err = len(report.regressions), len(report.errors)
    if n_err or n_reg:
        print(f"bench: {n_reg} regression(s), {n_err} error(s) in {len(report.scenarios)} scenario(s) "
              f"against {report.baseline}")
    else:
        print(f"bench: all {len(report.scenarios)} scenario(s) match {report.baseline}")


def print_update(report) -> None:
    """What `--update` changed: new entries, and every KPI whose mean moved (old → new)."""
    from simulator.show import fmt

    for s in report.scenarios:
        if s.error:
            print(f"ERROR {s.file}: {s.error} (its baseline entry is left as it was)")
        elif s.new:
            print(f"new   {s.file}: recorded ({len(s.entry['kpis'])} KPIs, seed {s.seed}, {s.reps} replications)")
        else:
            moved = [c for c in s.checks if c.change not in (None, 0) or c.status == "fail"
                     or (c.baseline is None) != (c.now is None)]
            if not moved:
                print(f"same  {s.file}: every KPI as before")
                continue
            beyond = sum(c.status == "updated" for c in s.checks)
            print(f"moved {s.file}: {len(moved)} KPI(s) changed, {beyond} beyond tolerance")
            for c in moved:
                change = f"{100 * c.rel_change:+.2f} %" if c.rel_change is not None else "–"
                flag = "  (beyond tolerance)" if c.status == "updated" else ""
                print(f"      {c.kpi}: {fmt(c.kpi, c.baseline)} → {fmt(c.kpi, c.now)} ({change}){flag}")
            for n in s.notes:
                print(f"      note: {n}")
    if report.written:
        print(f"baseline written to {report.baseline}: review the diff and commit it")
    else:
        print(f"baseline {report.baseline} unchanged")
