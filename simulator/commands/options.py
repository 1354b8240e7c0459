"""Option types shared by the commands: every number is checked where argparse reads it, so a
bad option is refused before any work with argparse's usage line and exit 2.

    --reps 0      → argument --reps: expected a whole number from 1 to 1,000,000, got '0'
    --scale nan   → argument --scale: expected a finite number > 0 and ≤ 1e+06, got 'nan'
"""

from __future__ import annotations

import argparse
import math

MAX_REPS = 1_000_000
MAX_SEED = 2**63 - 1
MAX_WORKERS = 256
MAX_TRIALS = 1_000_000


def whole(low: int, high: int, what: str = "a whole number"):
    """An argparse type: a whole number in [low, high] (no `1e3`, no `2.0`, no `true`)."""
    def parse(text: str) -> int:
        t = text.strip().replace("_", "")
        try:
            v = int(t, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} from {low:,} to {high:,}, got {text!r}") from None
        if not low <= v <= high:
            raise argparse.ArgumentTypeError(f"expected {what} from {low:,} to {high:,}, got {text!r}")
        return v
    parse.__name__ = "whole number"
    return parse


def number(low: float, high: float, *, low_open: bool = True, high_open: bool = False):
    """An argparse type: a finite number in the interval (low, high] (ends as given)."""
    lo, hi = (">" if low_open else "≥"), ("<" if high_open else "≤")
    span = f"a finite number {lo} {low:g} and {hi} {high:g}"

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {span}, got {text!r}") from None
        ok = math.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {span}, got {text!r}")
        return v
    parse.__name__ = "number"
    return parse


def folder(text: str) -> str:
    """An argparse type: a folder path that is not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder path, got an empty one")
    if "\0" in text:
        raise argparse.ArgumentTypeError("expected a folder path, got one with a NUL byte")
    return text


def file_path(text: str) -> str:
    """An argparse type: a file path that is not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file path, got an empty one")
    if "\0" in text:
        raise argparse.ArgumentTypeError("expected a file path, got one with a NUL byte")
    return text


reps = whole(1, MAX_REPS)
seed = whole(0, MAX_SEED)
workers = whole(1, MAX_WORKERS)
trials = whole(1, MAX_TRIALS)
heartbeat = whole(1, 3600, "a whole number of seconds")
scale = number(0, 1e6)
seconds = number(0, 1e9)
level = number(0, 1, high_open=True)


def add_force(p) -> None:
    """`--force`: run a plan whose estimated size is above the limit (see `simulator.size`)."""
    p.add_argument("--force", action="store_true",
                   help="run even when the plan's estimated size is above the limit (it may need "
                        "hours and gigabytes)")


def add_lang(parser) -> None:
    """`--lang en|zh`: the report in one language (default: headings and tables in both, charts in English)."""
    parser.add_argument("--lang", choices=("en", "zh"), default=None,
                        help="the report in English or Chinese only, charts included (default: headings and "
                             "tables in both, charts in English)")
