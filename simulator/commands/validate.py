"""`promosim validate`: check scenario files and report every problem.

The same load as `run`, `optimize`, `calibrate` and `compare` (one validation, at load): a
file that validates is one they accept. Every file is checked, whatever the earlier ones
held; exit 2 when any file cannot be used. A valid file may still draw warnings — likely
planner mistakes such as a discount written as 折 (`simulator.scenario.mistakes`) — printed
on stderr with file and line; they never change the exit code.
"""

from __future__ import annotations

import json
import sys

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)
from simulator.scenario.errors import InputError


def register(sub) -> None:
    v = sub.add_parser("validate", help="check scenario files and report every problem",
                       description="Check scenario files as `run` loads them; every problem is named by "
                                   "file, line and field, and so is every warning (a likely mistake in a "
                                   "valid plan). Exit 0 when all are valid, 2 when any is not.")
    v.add_argument("files", nargs="+", type=options.file_path)
    v.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout: per file, ok, errors and warnings")
    v.set_defaults(func=validate)


def validate(args) -> int:
    from simulator import size
    from simulator.scenario import load_scenario
    from simulator.scenario.mistakes import as_json, located_warnings, shown

    bad = 0
    report = []
    for f in args.files:
        try:
            s = load_scenario(f)
        except InputError as e:
            bad += 1
            issues = getattr(e, "issues", None)
            report.append({"file": f, "ok": False, "warnings": [],
                           "errors": as_json(issues) if issues else [{"file": f, "line": None, "path": "",
                                                                      "message": str(e)}]})
            print(str(e), file=sys.stderr)
            continue
        warnings = located_warnings(s, f)
        report.append({"file": f, "ok": True, "errors": [], "warnings": as_json(warnings)})
        if not args.json:
            print(f"{f}: ok ({s.meta.name}: {len(s.channels)} channels, {len(s.skus)} SKUs, "
                  f"{len(s.calendar.phases)} phases)" + (f", {len(warnings)} warning(s)" if warnings else ""))
        for w in warnings:
            print(shown(w), file=sys.stderr)
        try:
            size.check(s, s.meta.replications, where=f"{f}: note")
        except size.RunTooLarge as e:
            print(f"{e} (run asks for --force)", file=sys.stderr)
    if args.json:
        print(json.dumps({"files": report}, ensure_ascii=False))
    return 2 if bad else 0
