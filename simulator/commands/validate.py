"""`promosim validate`: check scenario files and report every problem.

The same load as `run`, `optimize`, `calibrate` and `compare` (one validation, at load): a
file that validates is one they accept. Every file is checked, whatever the earlier ones
held; exit 2 when any file cannot be used.
"""

from __future__ import annotations

import sys

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator.scenario.errors import InputError


def register(sub) -> None:
    v = sub.add_parser("validate", help="check scenario files and report every problem",
                       description="Check scenario files as `run` loads them; every problem is named by "
                                   "file, line and field. Exit 0 when all are valid, 2 when any is not.")
    v.add_argument("files", nargs="+", type=options.file_path)
    v.set_defaults(func=validate)


def validate(args) -> int:
    from simulator import size
    from simulator.scenario import load_scenario

    bad = 0
    for f in args.files:
        try:
            s = load_scenario(f)
        except InputError as e:
            bad += 1
            print(str(e), file=sys.stderr)
            continue
        print(f"{f}: ok ({s.meta.name}: {len(s.channels)} channels, {len(s.skus)} SKUs, "
              f"{len(s.calendar.phases)} phases)")
        try:
            size.check(s, s.meta.replications, where=f"{f}: note")
        except size.RunTooLarge as e:
            print(f"{e} (run asks for --force)", file=sys.stderr)
    return 2 if bad else 0
