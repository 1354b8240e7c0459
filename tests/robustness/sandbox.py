"""Run `promosim` commands the way a user does, under guards, without paying for a new
interpreter each time.

`run_cli(argv)` forks this (already imported) process; the child redirects its output to
files, calls `simulator.cli.main(argv)` as the console script would (an exception that
escapes is printed as a traceback and exits 1, exactly like `promosim`), and exits with its
code. The parent watches it: a child still running after `timeout` seconds, or whose
resident memory grows more than `memory` bytes above what this process held when it forked
(a forked child starts out sharing all of it), is killed and reported as such. These are
guards against hangs and runaway allocations, not performance assertions: they sit far above
any normal run.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

HANG_GUARD_S = 60.0
MEMORY_GUARD = 2 << 30          # 2 GiB resident


@dataclass
class Outcome:
    """How one command ended. `code`: exit code (None when the guard killed it); `killed`:
    'hang' or 'memory' when a guard fired; `peak_rss`: bytes; `grown`: bytes of it above the
    test process at the fork; `seconds`: wall time."""

    argv: list[str]
    code: int | None
    stdout: str
    stderr: str
    peak_rss: int
    seconds: float
    killed: str | None = None
    grown: int = 0

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    def describe(self) -> str:
        tail = self.stderr[-2000:]
        return (f"promosim {' '.join(self.argv)}\n  exit {self.code}, killed: {self.killed}, "
                f"{self.seconds:.1f} s, peak {self.peak_rss / 2**20:.0f} MiB ({self.grown / 2**20:.0f} MiB "
                f"above the test process)\n  stderr: {tail}")


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _child(argv: list[str], out: int, err: int, cwd: str | None, env: dict | None, prepare=None) -> None:
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        # the test runner may have replaced sys.stdout/err by its own capture: write to the fds
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)   # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)   # noqa: SIM115
        sys.stdin = open(0, encoding="utf-8", closefd=False)                            # noqa: SIM115
        if cwd:
            os.chdir(cwd)
        if env:
            os.environ.update(env)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if prepare is not None:
            prepare()
        from simulator.cli import main

        try:
            code = main(list(argv))
        except SystemExit as e:          # what the interpreter does with SystemExit
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:            # what the interpreter does with anything else
            traceback.print_exc()
            code = 1
        code = 0 if code is None else code
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def run_cli(argv: list[str], *, timeout: float = HANG_GUARD_S, memory: int = MEMORY_GUARD,
            cwd: str | Path | None = None, env: dict | None = None, prepare=None) -> Outcome:
    """`promosim *argv` in a forked child under a hang guard and a memory guard; `prepare()`
    runs in the child first (a test's patch)."""
    argv = [str(a) for a in argv]
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        sys.stdout.flush()
        sys.stderr.flush()
        t0 = time.monotonic()
        base = _rss(os.getpid())
        pid = os.fork()
        if pid == 0:
            _child(argv, fo.fileno(), fe.fileno(), str(cwd) if cwd else None, env, prepare)
        killed = None
        peak = 0
        status = None
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            peak = max(peak, _rss(pid))
            if peak - base > memory:
                killed = "memory"
            elif time.monotonic() - t0 > timeout:
                killed = "hang"
            if killed:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                break
            time.sleep(0.01)
        seconds = time.monotonic() - t0
        peak = max(peak, usage.ru_maxrss * 1024)
        code = os.waitstatus_to_exitcode(status) if not killed else None   # -9: killed by SIGKILL
        fo.seek(0)
        fe.seek(0)
        return Outcome(argv, code, fo.read().decode("utf-8", "replace"),
                       fe.read().decode("utf-8", "replace"), peak, seconds, killed, max(0, peak - base))
