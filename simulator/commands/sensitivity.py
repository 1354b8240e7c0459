"""`promosim sensitivity SCENARIO`: which uncertain assumptions move the plan's KPIs most."""

from __future__ import annotations

import io
import json
import sys

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator.progress import Progress
from simulator.scenario.errors import InputError

SENSITIVITY_FILES = frozenset({"sensitivity.json"})
"""What `--out` holds, besides one `tornado_<kpi>.png` per KPI."""


def register(sub) -> None:
    s = sub.add_parser(
        "sensitivity", help="which uncertain assumptions move the KPIs most: tornado, Morris, Sobol'",
        description="Rank the assumptions of the scenario's uncertainty: block by their effect on the KPIs: "
                    "a tornado (each at its P5 and P95), Morris screening, then Sobol' first-order and total "
                    "indices for the top assumptions. Every plan is played on the same shopper seeds.")
    s.add_argument("scenario", type=options.file_path, help="scenario YAML file with an uncertainty: block")
    s.add_argument("--kpis", default="gmv,gross_profit", help="comma-separated KPIs (default: gmv,gross_profit)")
    s.add_argument("--trajectories", type=options.whole(2, 1000), default=10,
                   help="Morris trajectories (each A + 1 plans; default 10)")
    s.add_argument("--base", type=options.whole(4, 65536), default=64,
                   help="Sobol' base sample (a power of 2; each m + 2 plans for m top assumptions; default 64)")
    s.add_argument("--top", type=options.whole(1, 50), default=4,
                   help="assumptions (by Morris μ*) that get Sobol' indices (default 4)")
    s.add_argument("--seeds", type=options.whole(1, 1000), default=2,
                   help="shopper replications per plan, the same for every plan (default 2)")
    s.add_argument("--seed", type=options.seed, help="base seed (default: the scenario's meta.seed)")
    s.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help="override a scenario value")
    s.add_argument("--out", type=options.folder, help="folder for sensitivity.json and tornado_<kpi>.png")
    s.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    s.add_argument("--quiet", action="store_true", help="no progress on stderr")
    s.set_defaults(func=sensitivity)


def sensitivity(args) -> int:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from simulator.commands.run import show_warnings, with_overrides
    from simulator.files import atomic_write_bytes, atomic_write_text, json_safe
    from simulator.naming import RUN_KPIS, did_you_mean
    from simulator.output_set import OutputSet
    from simulator.scenario import load_scenario
    from simulator.scenario.mistakes import as_json
    from simulator.sensitivity import analyse, tornado_figure

    scenario = with_overrides(load_scenario(args.scenario), args.set, args.scenario)
    warnings = show_warnings(scenario, args.scenario)
    if scenario.uncertainty is None:
        raise InputError(f"{args.scenario}: no uncertainty: block; sensitivity ranks its assumptions "
                         "(docs/uncertainty.md)")
    kpis = [k.strip() for k in args.kpis.split(",") if k.strip()]
    for k in kpis:
        if k not in RUN_KPIS:
            raise InputError(f"promosim sensitivity: --kpis: unknown KPI {k!r}{did_you_mean(k, RUN_KPIS)}")
    target = OutputSet(args.out, lambda n: n in SENSITIVITY_FILES or (n.startswith("tornado_") and n.endswith(".png"))) \
        if args.out else None
    folder = target.open() if target else None
    try:
        with Progress("sensitivity: plans", 1, enabled=not args.quiet) as bar:
            res = analyse(scenario, kpis, trajectories=args.trajectories, base=args.base, top=args.top,
                          seeds=args.seeds, seed=args.seed, progress=bar.update)
        if target:
            atomic_write_text(folder / "sensitivity.json",
                              json.dumps(json_safe(res.to_dict()), indent=2, ensure_ascii=False) + "\n")
            for k in kpis:
                buf = io.BytesIO()
                FigureCanvasAgg(tornado_figure(res, k, scenario.meta.currency)).print_png(buf)
                atomic_write_bytes(folder / f"tornado_{k}.png", buf.getvalue())
            target.commit()
    finally:
        if target:
            target.discard()
    if args.json:
        print(json.dumps(json_safe({**res.to_dict(), "warnings": as_json(warnings)}), ensure_ascii=False))
    else:
        _print(res)
        if args.out:
            print(f"written to {args.out}/ (sensitivity.json, tornado_<kpi>.png)")
    return 0


def _print(res) -> None:
    from rich.console import Console
    from rich.table import Table

    from simulator.show import fmt

    con = Console()
    if not con.is_terminal:                      # logs and pipes: no wrapped columns
        con = Console(width=160)
    for k in res.kpis:
        t = Table(title=f"{k}: what moves it — {k} with each assumption at its P5 / P95 (the others at their "
                        "medians), Morris μ*, Sobol' first-order S1 and total ST", title_justify="left")
        for col in ("assumption", "P5 → P95", f"{k} at P5", f"{k} at P95", "μ*", "S1", "ST"):
            t.add_column(col, justify="left" if col == "assumption" else "right")
        tor, scr, ind = res.tornado[k], res.screening[k], res.indices[k]
        for n in sorted(res.assumptions, key=lambda n: -scr[n]["mu_star"]):
            idx = ind.get(n)
            t.add_row(n, f"{tor[n]['p5']:.3g} → {tor[n]['p95']:.3g}", fmt(k, tor[n]["low"]), fmt(k, tor[n]["high"]),
                      f"{fmt(k, scr[n]['mu_star'])} ± {fmt(k, scr[n]['mu_star_conf'])}",
                      f"{idx['S1']:.2f} ± {idx['S1_conf']:.2f}" if idx else "–",
                      f"{idx['ST']:.2f} ± {idx['ST_conf']:.2f}" if idx else "–")
        con.print(t)
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{res.evaluations} plans, {res.replications} replications", file=sys.stderr)
