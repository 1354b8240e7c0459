"""Signals and worker processes: an interruption stops everything, and no worker outlives
its parent.

- `Terminated` is raised by SIGTERM while a command runs (`terminate_as_interrupt`), so that a
  scheduler's or `timeout`'s stop takes the same clean-up path as Ctrl-C.
- `die_with_parent()` runs first in every worker process: on Linux the kernel kills the worker
  when its parent dies, even by SIGKILL (PR_SET_PDEATHSIG); a worker that finds its parent
  already gone exits.
- `stop_processes(procs)` asks workers to stop (SIGINT: a running Optuna trial is marked
  failed), waits a little, then terminates and kills the rest.
- `deferred_interrupts()` turns SIGINT and SIGTERM into flags that `check_interrupt()` raises
  where the code chooses (between replications, between messages): an interruption raised at
  an arbitrary instruction can land in a garbage-collector callback, where Python prints it as
  "Exception ignored" and carries on. `quiet_lost_interrupts()` catches such a lost
  interruption silently and keeps it for the next `check_interrupt()`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from contextlib import contextmanager

_PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C (a `KeyboardInterrupt`) so that the same clean-up runs."""


@contextmanager
def terminate_as_interrupt():
    """While inside, SIGTERM raises `Terminated` in the main thread (restored after)."""
    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:                      # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies; exit at once when
    the parent (`parent_pid`, if given) is already gone."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


@contextmanager
def ignoring_sigint():
    """SIGINT ignored while inside (main thread): processes started here begin with it ignored,
    so a Ctrl-C during their start-up (imports) prints no traceback; they take it up again
    when ready (`signal.signal(SIGINT, signal.default_int_handler)`) or leave it to the parent."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_processes(procs, grace: float = 10.0, first=signal.SIGINT) -> None:
    """`first` (SIGINT: stop and clean up; or a function of the process giving the signal) to
    every live process of `procs` (multiprocessing `Process`es), wait up to `grace` seconds for
    them to exit, then SIGTERM, then SIGKILL what is left."""
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        try:
            os.kill(p.pid, first(p) if callable(first) else first)
        except (ProcessLookupError, TypeError):
            pass
    for sig, wait in ((None, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        if sig is not None:
            for p in alive:
                if p.is_alive():
                    try:
                        os.kill(p.pid, sig)
                    except (ProcessLookupError, TypeError):
                        pass
        deadline = time.monotonic() + wait
        for p in alive:
            p.join(max(0.0, deadline - time.monotonic()))
        alive = [p for p in alive if p.is_alive()]
        if not alive:
            return


_PENDING: list[int] = []


def check_interrupt() -> None:
    """Raise the interruption a `deferred_interrupts` handler noted (KeyboardInterrupt for
    SIGINT, `Terminated` for SIGTERM), if any."""
    if _PENDING:
        signum = _PENDING[0]
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def deferred_interrupts():
    """While inside (main thread), SIGINT and SIGTERM only note themselves; `check_interrupt`
    raises them. The previous handlers come back after."""
    def note(signum, frame):
        if not _PENDING:
            _PENDING.append(signum)

    try:
        previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:                      # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _PENDING.clear()


@contextmanager
def quiet_lost_interrupts():
    """While inside, an interruption that lands in a finalizer or a weakref callback (which
    Python would print as "Exception ignored ... KeyboardInterrupt" and drop) is kept, without
    a word, for the next `check_interrupt()`; any other unraisable exception is reported as
    Python would."""
    def hook(unraisable):
        exc = unraisable.exc_value
        if isinstance(exc, KeyboardInterrupt):
            if not _PENDING:
                _PENDING.append(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
            return
        previous(unraisable)

    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
        _PENDING.clear()
