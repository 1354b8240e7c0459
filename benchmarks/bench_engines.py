"""Both engines side by side, and how the fast engine's cost grows.

    python benchmarks/bench_engines.py [--quick] [--smoke]

1. The bundled Double 11 scenario: the fast engine at full scale (best of 3) and the
   reference engine at --scale 0.1, in this process; visits per second of engine time
   for each and their ratio.
2. The fast engine swept over visits (10^5 → 10^8, by traffic scale), SKUs (1 → 500) and
   ticks (1 → 40 days of 1-minute ticks), with the exponent b of time ∝ size^b fitted on
   log-log axes, beside numpy's own cost of the floor (one Poisson draw per
   tick × SKU × segment at the same rates).
3. Peak traced memory of one replication at 10^8 visits.
Prints Markdown for benchmarks/RESULTS.md. `--smoke` runs every step at tiny sizes (the test
suite runs it so the benchmark cannot rot; its times mean nothing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

from simulator import load_scenario
from simulator.engine import FastEngine, ReferenceEngine
from simulator.model import build_model
from simulator.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent
D11 = ROOT / "scenarios" / "double11_beauty_flagship.yaml"


def timed(fn, repeat: int = 1) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def visits_of(rec) -> float:
    return float(rec.by_channel["visits"].sum())


def floor_seconds(model, repeat=3) -> float:
    rates = np.concatenate([model.traffic[c.start:c.end] @ model.reach[c.phase] for c in model.chunks])
    rng = np.random.default_rng(0)
    return timed(lambda: rng.poisson(rates), repeat)


def fast_seconds(model, repeat=3) -> tuple[float, float]:
    eng = FastEngine(model)
    rec = eng.run(0)
    seeds = iter(range(1, 1000))
    return timed(lambda: eng.run(next(seeds)), repeat), visits_of(rec)


def with_skus(base: Scenario, k: int) -> Scenario:
    """The scenario with k SKUs: its own first k, or all of them and clones round-robin
    (`sku_000`, …) beyond; promotions, phases and targets that name a SKU it no longer has
    drop that SKU (a flash sale or pre-sale of it goes, and so does an add-on of it)."""
    data = base.model_dump()
    data["optimize"] = None                        # decisions name SKUs and phases of the original
    data["calibrate"] = None
    names = list(data["skus"])
    src = list(data["skus"].values())
    skus = {n: src[i] for i, n in enumerate(names[:k])}
    skus.update({f"sku_{i:03d}": dict(src[i % len(src)]) for i in range(len(src), k)})
    data["skus"] = skus

    def keep(ids):
        return [s for s in ids if s == "*" or s in skus]

    for sku in skus.values():
        sku["bought_with"] = {a: r for a, r in sku["bought_with"].items() if a in skus}
    for c in data["coupons"].values():
        c["skus"] = keep(c["skus"]) or ["*"]
    if data["platform_reduction"] is not None:
        data["platform_reduction"]["skus"] = keep(data["platform_reduction"]["skus"]) or ["*"]
    data["flash_sales"] = {n: f for n, f in data["flash_sales"].items() if f["sku"] in skus}
    data["presales"] = {n: dict(p, skus=keep(p["skus"])) for n, p in data["presales"].items() if keep(p["skus"])}
    for ph in data["calendar"]["phases"]:
        ph["promo"] = keep(ph["promo"])
    data["rules"] = [r for r in data["rules"] if not any(f"'{n}'" in str(r) for n in names[k:])]
    return Scenario.model_validate(data)


def with_days(base: Scenario, days: int) -> Scenario:
    """The scenario cut or stretched to `days` days, without phases and the promotions, rules
    and rival landscapes that name moments or phases (same channels and SKUs)."""
    data = base.model_dump()
    data["optimize"] = data["calibrate"] = None
    data.update(rules=[], coupons={}, platform_reduction=None, flash_sales={}, presales={})
    for ch in data["channels"].values():
        for g in (ch.get("ad_groups") or {}).values():
            g["rivals_by_phase"] = {}
    start = base.meta.local(base.meta.start).replace(hour=0, minute=0)
    data["meta"]["start"] = start
    data["meta"]["end"] = start + dt.timedelta(days=days)
    data["calendar"] = {"intraday": base.calendar.intraday}
    data["channels"] = {n: ch for n, ch in data["channels"].items() if ch["kind"] != "live_stream"}   # dated sessions
    for ch in data["channels"].values():
        if ch["kind"] == "crm_push":
            ch["send_times"] = [start + dt.timedelta(hours=20)]
    for sku in data["skus"].values():
        sku["discount"] = 0.1
        sku["inbound"] = []
    return Scenario.model_validate(data)


def exponent(x, y) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller reference run and sweeps")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: runs every step, times nothing")
    args = ap.parse_args(argv)
    smoke = args.smoke
    rep = 1 if smoke else 3
    base = load_scenario(D11)
    print(f"machine: {platform.machine()}, {platform.platform()}, python {platform.python_version()}, "
          f"numpy {np.__version__}; {dt.date.today().isoformat()}\n")

    # 1. side by side (smoke: on one day of it)
    side = with_days(base, 1) if smoke else base
    model = build_model(side)
    fast_s, fast_v = fast_seconds(model, rep)
    ref_scale = 0.01 if args.quick or smoke else 0.1
    ref_model = build_model(side, ref_scale)
    t0 = time.perf_counter()
    ref_rec = ReferenceEngine(ref_model).run(0)
    ref_s = time.perf_counter() - t0
    ref_v = visits_of(ref_rec)
    print("| engine | scale | visits | engine s | visits / s |\n|---|---:|---:|---:|---:|")
    print(f"| fast (best of 3) | 1 | {fast_v:,.0f} | {fast_s:.3f} | {fast_v / fast_s:,.0f} |")
    print(f"| reference | {ref_scale} | {ref_v:,.0f} | {ref_s:.1f} | {ref_v / ref_s:,.0f} |")
    print(f"\nfast ÷ reference, visits per second: **{(fast_v / fast_s) / (ref_v / ref_s):,.0f}×**\n")

    # 2. sweeps
    scales = [0.008, 0.08, 0.8, 8] if not (args.quick or smoke) else [0.008, 0.08] if smoke else [0.008, 0.8]
    rows = []
    for sc in scales:
        m = build_model(base, sc)
        s, v = fast_seconds(m, rep)
        rows.append((v, s, floor_seconds(m, rep)))
    print("| visits | fast s | Poisson floor s |\n|---:|---:|---:|")
    for v, s, f in rows:
        print(f"| {v:,.0f} | {s:.3f} | {f:.3f} |")
    v, s, f = map(np.array, zip(*rows))
    print(f"\nexponent in visits: fast {exponent(v, s):.2f}, floor {exponent(v, f):.2f}; "
          f"time ×{s[-1] / s[0]:.2f} from {v[0]:.0e} to {v[-1]:.0e} visits (floor ×{f[-1] / f[0]:.2f})\n")

    sizes = [1, 10, 31, 100, 500] if not (args.quick or smoke) else [1, 10, 40] if smoke else [1, 31, 100]
    rows = []
    for k in sizes:
        m = build_model(with_skus(base, k), 0.01 if smoke else 1.0)
        rows.append((k, *fast_seconds(m, rep), floor_seconds(m, rep)))
    print("| SKUs | fast s | floor s |\n|---:|---:|---:|")
    for k, s, _, f in rows:
        print(f"| {k} | {s:.3f} | {f:.3f} |")
    k, s, _, f = map(np.array, zip(*rows))
    print(f"\nexponent in SKUs (10 → 500): fast {exponent(k[1:], s[1:]):.2f}, floor {exponent(k[1:], f[1:]):.2f}\n")

    days = [1, 5, 10, 20, 40] if not (args.quick or smoke) else [1, 2] if smoke else [1, 10]
    rows = []
    for d in days:
        m = build_model(with_days(base, d), 0.01 if smoke else 1.0)
        rows.append((m.n_ticks, *fast_seconds(m, rep), floor_seconds(m, rep)))
    print("| ticks | fast s | floor s |\n|---:|---:|---:|")
    for t, s, _, f in rows:
        print(f"| {t:,} | {s:.3f} | {f:.3f} |")
    t, s, _, f = map(np.array, zip(*rows))
    print(f"\nexponent in ticks: fast {exponent(t, s):.2f}, floor {exponent(t, f):.2f}\n")

    # 3. memory at 10^8 visits
    m = build_model(base, 0.01 if smoke else 8)
    eng = FastEngine(m)
    tracemalloc.start()
    rec = eng.run(0)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"peak traced memory, one replication at {visits_of(rec):,.0f} visits: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
