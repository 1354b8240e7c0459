"""The sandbox's guards fire: a command that hangs or that allocates without end is killed and
reported, and an exception that escapes `main` shows as the traceback a user would see."""

from __future__ import annotations

from tests.robustness.cases import MINIMAL
from tests.robustness.sandbox import run_cli


def _hang():
    import time

    time.sleep(120)


def _allocate():
    import numpy as np

    blocks = [np.ones(50 << 20, dtype=np.uint8) for _ in range(12)]      # 600 MiB, written
    assert blocks


def _crash():
    import simulator.commands.validate as v

    v.validate = lambda args: 1 / 0          # a bug: not an input error, so it stays a traceback


def test_the_hang_guard_kills_a_command_that_does_not_end():
    out = run_cli(["validate", str(MINIMAL)], timeout=1.0, prepare=_hang)
    assert out.killed == "hang" and out.code is None


def test_the_memory_guard_kills_a_command_that_allocates_without_end():
    out = run_cli(["validate", str(MINIMAL)], memory=200 << 20, prepare=_allocate)
    assert out.killed == "memory" and out.code is None and out.grown > 200 << 20


def test_an_exception_that_escapes_main_is_a_traceback_with_exit_1():
    out = run_cli(["validate", str(MINIMAL)], prepare=_crash)
    assert out.code == 1 and out.traceback and "ZeroDivisionError" in out.stderr


def test_a_command_that_works_is_not_disturbed():
    out = run_cli(["validate", str(MINIMAL)])
    assert out.code == 0 and out.killed is None and not out.traceback and "ok" in out.stdout


def test_an_interruption_lost_in_a_finalizer_is_raised_after_without_a_traceback():
    """Ctrl-C that lands in a garbage-collector callback: Python would print 'Exception
    ignored … KeyboardInterrupt' and carry on; promosim keeps it, says nothing then, and stops
    at the next check with exit 130."""
    def lose_one():
        import simulator.commands.validate as v

        real = v.validate

        def validate(args):
            class Finalized:
                def __del__(self):
                    raise KeyboardInterrupt

            Finalized()                      # collected at once: the interruption is "ignored"
            return real(args)

        v.validate = validate

    out = run_cli(["validate", str(MINIMAL)], prepare=lose_one)
    assert out.code == 130, out.describe()
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "interrupted" in out.stderr
