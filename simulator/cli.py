"""The `promosim` command line. Each command lives in `simulator/commands/`.

Exit codes: 0 done; 1 done, with a verdict the caller must see (a bench regression, no
feasible plan); 2 bad input — a file, a value, an option or a folder that cannot be used,
said in one message (file:line: field: what was expected, what was found, a hint), never a
traceback; 130 interrupted (Ctrl-C, SIGINT); 143 terminated (SIGTERM). An interrupted
command stops its workers and leaves every output as it was or complete.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from simulator import __version__
from simulator.commands import COMMANDS
from simulator.scenario.errors import InputError, ScenarioError
from simulator.signals import (
    Terminated,
    check_interrupt,
    quiet_lost_interrupts,
    terminate_as_interrupt,
)

BAD_INPUT = 2
INTERRUPTED = 130
TERMINATED = 143


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="promosim", description="Simulate e-commerce campaigns before they launch.")
    p.add_argument("--version", action="version", version=f"promosim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return p


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def locate(error, scenario: str):
    from simulator.scenario.loader import locate as _locate

    return _locate(error, scenario)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)          # a bad option: argparse's message, exit 2
    args.argv = argv
    with terminate_as_interrupt(), quiet_lost_interrupts():
        try:
            code = args.func(args)
            check_interrupt()                 # one that landed where Python could not raise it
            return code
        except InputError as e:
            scenario = getattr(args, "scenario", None)
            if isinstance(e, ScenarioError) and isinstance(scenario, str):
                e = locate(e, scenario)              # a problem found after load: file and line
            _say(str(e))
            return BAD_INPUT
        except Terminated:
            _say(f"promosim {args.command}: terminated (SIGTERM); outputs were left as they were")
            return TERMINATED
        except KeyboardInterrupt:
            _say(f"promosim {args.command}: interrupted; outputs were left as they were")
            return INTERRUPTED
        except BrokenPipeError:               # `promosim run --json | head`: the reader left
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
        except OSError as e:                  # a path the user named that cannot be used
            where = f"{e.filename}: " if e.filename else ""
            _say(f"promosim {args.command}: {where}{e.strerror or e}")
            return BAD_INPUT
        except MemoryError:
            _say(f"promosim {args.command}: out of memory: the plan is too large for this machine; "
                 "shorten the campaign, coarsen tick_minutes or run fewer replications")
            return BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
