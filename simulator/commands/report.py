"""`promosim report`: draw report.html and PNG figures from a results folder."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path

import simulator.commands.options as options  # noqa: PLR0402 - by its full name (the package is not a cycle)


def register(sub) -> None:
    r = sub.add_parser("report", help="draw report.html and PNG figures from a results folder",
                       description="Read the files `promosim run --out DIR` wrote and write DIR/report.html "
                                   "(self-contained: opens offline, prints on paper) and DIR/figures/*.png. "
                                   "What each figure shows: docs/report.md.")
    r.add_argument("out_dir", metavar="OUT_DIR", type=options.folder,
                   help="a results folder written by `promosim run --out`")
    r.add_argument("--open", action="store_true", help="open the report in the default web browser")
    options.add_lang(r)
    r.set_defaults(func=report)


def make_report(out_dir: str | Path, open_browser: bool = False, lang: str | None = None) -> int:
    """Build the report for `out_dir`; print its path (stdout) or the problem (stderr, exit 2:
    a folder that is not a complete results folder of one run)."""
    from simulator.report import ReportError, build_report

    try:
        path = build_report(out_dir, warn=lambda w: print(f"promosim report: warning: {w}", file=sys.stderr),
                            lang=lang or "both")
    except ReportError as e:
        print(f"promosim report: {e}", file=sys.stderr)
        return 2
    print(f"report written to {path}")
    if open_browser:
        webbrowser.open(path.resolve().as_uri())
    return 0


def report(args) -> int:
    return make_report(args.out_dir, open_browser=args.open, lang=args.lang)
