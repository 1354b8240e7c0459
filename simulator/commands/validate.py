"""`promosim validate`: check scenario files and report every problem."""

from __future__ import annotations

import sys

from simulator.scenario import ScenarioError


def register(sub) -> None:
    v = sub.add_parser("validate", help="check scenario files and report every problem")
    v.add_argument("files", nargs="+")
    v.set_defaults(func=validate)


def validate(args) -> int:
    from simulator.scenario import load_scenario

    bad = 0
    for f in args.files:
        try:
            s = load_scenario(f)
        except ScenarioError as e:
            bad += 1
            print(str(e), file=sys.stderr)
            continue
        print(f"{f}: ok ({s.meta.name}: {len(s.channels)} channels, {len(s.skus)} SKUs, "
              f"{len(s.calendar.phases)} phases)")
    return 1 if bad else 0
