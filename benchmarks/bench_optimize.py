"""Optimization throughput: trials per minute on the bundled Double 11 scenario with 8
replications per trial, 1 worker against 2, each on a fresh SQLite study (its optimize block:
two daily budgets and two discount depths, the paired pruner on). Timed: the trials only
(no comparison on fresh seeds, no plots). Prints a Markdown table; the issue's target is 200
trials in ≤ 15 minutes on 2 cores (13.3 trials per minute).

    python benchmarks/bench_optimize.py [--trials 40] [--workers 1 2] [--no-prune] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from simulator.optimize import optimize
from simulator.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "double11_beauty_flagship.yaml"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-prune", action="store_true", help="play every replication of every trial")
    ap.add_argument("--smoke", action="store_true", help="2 trials of 1 replication on 1 worker: runs, times nothing")
    args = ap.parse_args(argv)
    if args.smoke:
        args.trials, args.reps, args.workers = 2, 1, [1]
    scenario = load_scenario(SCENARIO)
    if args.no_prune:
        scenario = scenario.model_copy(update={"optimize": scenario.optimize.model_copy(update={"prune": False})})
    rows = []
    for w in args.workers:
        with tempfile.TemporaryDirectory() as d:
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            res = optimize(scenario, trials=args.trials, reps=args.reps, workers=w, out=d,
                           compare=False, plots=False)
            wall = time.perf_counter() - t0
            states = {}
            for t in res.study.get_trials(deepcopy=False):
                states[t.state.name] = states.get(t.state.name, 0) + 1
            rows.append((w, args.trials, wall, 60 * args.trials / wall, states, load,
                         res.best["value"] / res.baseline["value"] - 1))
    print(f"Double 11 ({SCENARIO.name}), {args.reps} replications per trial, "
          f"pruning {'off' if args.no_prune else 'on'}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    print("| workers | trials | complete / pruned | wall (s) | trials per minute | 200 trials (min) "
          "| load before | best vs start |")
    print("|---|---|---|---|---|---|---|---|")
    base = rows[0][3]
    for w, n, wall, tpm, states, load, gain in rows:
        print(f"| {w} | {n} | {states.get('COMPLETE', 0)} / {states.get('PRUNED', 0)} | {wall:.1f} | "
              f"{tpm:.1f} (×{tpm / base:.2f}) | {200 / tpm:.1f} | {load:.1f} | {gain:+.2%} |")


if __name__ == "__main__":
    main()
