"""Calibration: expected-value mode against simulated mode, and the six-parameter recovery.

The synthetic store of the recovery test (tests/calibration/synthetic.py: 3 SKUs, 120 days,
history simulated by the fast engine with known parameters). Rows:

- the six-parameter recovery as the test runs it: least squares on the expected engine, plus
  profile intervals (the issue's budget: ≤ 5 minutes on 2 cores);
- expected vs simulated mode side by side on the same two-parameter problem (base conversion
  and elasticity, `units` only): least squares on the expected engine, TPE and CMA-ES on the
  fast engine with 2 replications per trial (common random numbers), 150 trials each.

Prints a Markdown table (time, model runs, worst relative error against the truth).

    PYTHONPATH=. python benchmarks/bench_calibrate.py [--smoke]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from calibration import calibrate
from simulator.scenario import parse_scenario
from tests.calibration.synthetic import RANGES, START, TRUTH, scenario_text, synthetic_history


def row(label, res, wall):
    errs = {k: abs(v - TRUTH[k]) / abs(TRUTH[k]) for k, v in res.values.items()}
    worst = max(errs, key=errs.get)
    inside = sum(res.intervals[k].low <= TRUTH[k] <= res.intervals[k].high for k in res.values)
    return (f"| {label} | {len(res.values)} | {res.fit.evaluations} | {res.fit.seconds:.1f} | {wall:.1f} | "
            f"{100 * errs[worst]:.1f} % ({worst.split('.')[-1]}) | {inside}/{len(res.values)} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true",
                    help="the two-parameter problem only, 10 trials: runs every method, times nothing")
    smoke = ap.parse_args(argv).smoke
    _, history = synthetic_history()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n")
    print("| calibration | parameters | model runs (fit) | fit s | total s (with intervals) | worst error | truth inside interval |")
    print("|---|---|---|---|---|---|---|")
    if not smoke:
        t0 = time.perf_counter()
        res = calibrate(parse_scenario(scenario_text(START)), history, band_replications=0)
        print(row("six-parameter recovery: least squares, expected engine", res, time.perf_counter() - t0))
    params = {k: RANGES[k] for k in ("skus.*.base_conversion", "skus.*.elasticity")}
    fixed = {k: v for k, v in TRUTH.items() if k not in params}
    trials = 10 if smoke else 150
    for method, extra in (("least_squares", ""), ("tpe", f"  replications: 2\n  trials: {trials}\n"),
                          ("cmaes", f"  replications: 2\n  trials: {trials}\n")):
        s = parse_scenario(scenario_text(START | fixed, parameters=params, targets="{units: 1}",
                                         method=method, extra=extra))
        t0 = time.perf_counter()
        res = calibrate(s, history, band_replications=0)
        engine = "expected engine" if method == "least_squares" else "fast engine, 2 replications (CRN)"
        print(row(f"2 parameters: {method}, {engine}", res, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
