"""Paid-traffic benchmark: one fast-engine replication of the bundled Double 11 scenario with
its 50 search ad groups in auctions and its mid-campaign rule, against the same plan with
paid search bought at a flat cpc (the same clicks per hour and price per click, no auctions)
and without the rule, in this process, the variants interleaved round by round (best of
`--repeat` rounds), so that a machine's drift hits them alike. The engine benchmark's
Poisson floor runs in the same rounds: a time ÷ the floor, × the floor recorded on the engine
benchmark's machine, gives the time there. Prints a Markdown table.

    python benchmarks/bench_auctions.py [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np

from bench_engine import FLOOR, REFERENCE_FLOOR, Floor, interleaved_best

from simulator import load_scenario
from simulator.engine import FastEngine
from simulator.kpis import channel_kpis
from simulator.model import build_model

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "double11_beauty_flagship.yaml"


def variants():
    """(label, scenario): flat cpc without rules, auctions without rules, the bundled plan."""
    sc = load_scenario(SCENARIO)
    model = build_model(sc)
    cpc = channel_kpis(FastEngine(model).run(0), model)["paid_search"]["cpc"]
    au = model.auctions[0]
    data = sc.model_dump()
    search = data["channels"]["paid_search"]
    flat = {key: v for key, v in search.items() if key not in ("ad_groups", "ctr_by_position", "reserve_price")}
    flat.update(cpc=cpc, clicks_per_hour=float(model.traffic[:, au.c].sum() / au.shape.sum()))   # same expected clicks
    no_rules = dict(data, rules=[])
    flat_plan = dict(no_rules, optimize=None, channels=dict(data["channels"], paid_search=flat))
    return [("paid search at a flat cpc, no rule", type(sc).model_validate(flat_plan)),
            ("50 ad groups in auctions, no rule", type(sc).model_validate(no_rules)),
            ("50 ad groups and the rule (bundled)", sc)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="one round: runs every step, times nothing")
    args = ap.parse_args(argv)
    if args.smoke:
        args.repeat = 1
    engines = [(label, FastEngine(build_model(sc))) for label, sc in variants()]
    floor = Floor(engines[-1][1].m)
    best = interleaved_best(engines + [(FLOOR, floor)], args.repeat)
    base, f = best[engines[0][0]], best[FLOOR]
    print(f"machine: {platform.machine()}, python {platform.python_version()}, numpy {np.__version__}; "
          f"the Poisson floor ({floor.rates.size:,} draws): {f:.3f} s here, {REFERENCE_FLOOR} s on the "
          "engine benchmark's machine (2026-11-23)\n")
    print("| Double 11 | s per replication | × flat cpc | × floor | at the reference floor, s | chunks |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, eng in engines:
        s = best[label]
        print(f"| {label} | {s:.3f} | {s / base:.2f} | {s / f:.1f} | {s / f * REFERENCE_FLOOR:.3f} | {len(eng.m.chunks)} |")


if __name__ == "__main__":
    main()
