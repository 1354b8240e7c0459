"""The `promosim` command line. Each command lives in `simulator/commands/`."""

from __future__ import annotations

import argparse
import importlib
import sys

from simulator import __version__
from simulator.commands import COMMANDS
from simulator.scenario import ScenarioError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="promosim", description="Simulate e-commerce campaigns before they launch.")
    p.add_argument("--version", action="version", version=f"promosim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except ScenarioError as e:
        print(str(e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
