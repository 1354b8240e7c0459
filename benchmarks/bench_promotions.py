"""Promotion mechanics benchmark: one fast-engine replication of the bundled Double 11 scenario
with every promotion mechanism on, against the same scenario with none, in this process.

"All on" = the bundled plan (pre-sale deposits, every 300 off 50, two store coupon pools,
top-up) plus a flash sale on the hero lipstick at the Nov 11 launch, payment-mode stock
deduction, returns that rise with depth and a finite member population (per-customer
limits bind, so claims are tracked hour by hour); both without the plan's add-ons (payment-mode
deduction refuses them). Prints a Markdown table.

    python benchmarks/bench_promotions.py [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_engine import FLOOR, REFERENCE_FLOOR, Floor, interleaved_best

from simulator import load_scenario
from simulator.engine import FastEngine
from simulator.model import build_model

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "double11_beauty_flagship.yaml"


def variants():
    sc = load_scenario(SCENARIO)
    data = sc.model_dump()
    data["skus"] = {k: dict(v, bought_with={}) for k, v in data["skus"].items()}   # payment mode takes no add-ons
    none = dict(data, coupons={}, platform_reduction=None, presales={}, flash_sales={},
                baskets={"topup_reach": 0.2, "topup_probability": 0.0})
    every = dict(data)
    every["flash_sales"] = {"lipstick_1111": {"sku": "lipstick_999", "price": 199, "quantity": 5000,
                                              "start": "2026-11-11 00:00", "end": "2026-11-11 02:00",
                                              "surge": {"amplitude": 10, "decay_minutes": 10},
                                              "after_sellout": "regular"}}
    every["stock_deduction"] = {"mode": "payment", "payment_minutes": 5}
    every["skus"] = {k: dict(v, return_rate_per_discount=0.1) for k, v in data["skus"].items()}
    every["segments"] = dict(data["segments"], member=dict(data["segments"]["member"], customers=400000))
    return type(sc).model_validate(none), type(sc).model_validate(every)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="one round: runs every step, times nothing")
    args = ap.parse_args(argv)
    if args.smoke:
        args.repeat = 1
    engines = [(label, FastEngine(build_model(sc))) for label, sc in zip(("no promotions", "every mechanism on"),
                                                                          variants())]
    best = interleaved_best(engines + [(FLOOR, Floor(engines[0][1].m))], args.repeat)
    base, f = best["no promotions"], best[FLOOR]
    print(f"the Poisson floor: {f:.3f} s here, {REFERENCE_FLOOR} s on the engine benchmark's machine\n")
    print("| Double 11 | s per replication | × no promotions | × floor | at the reference floor, s | chunks |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, eng in engines:
        s = best[label]
        print(f"| {label} | {s:.3f} | {s / base:.2f} | {s / f:.1f} | {s / f * REFERENCE_FLOOR:.3f} | {len(eng.m.chunks)} |")


if __name__ == "__main__":
    main()
