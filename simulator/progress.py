"""Progress on stderr: a live bar on a terminal, plain lines in logs and CI.

On a terminal (stderr is a TTY and not `TERM=dumb`) a rich bar is drawn on stderr and
removed when done; `log()` lines appear above it. Elsewhere (a pipe, a CI log) output is
line-oriented and quiet: one line per ~10 % of the work (`lines=True`) and the `log()`
lines, nothing else — no carriage returns, no colour codes. stdout is never touched, so a
command's `--json` output stays exactly one JSON object. `enabled=False` (`--quiet`)
silences both.
"""

from __future__ import annotations

import sys


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal that can redraw a bar."""
    from rich.console import Console   # here, not at the top: `promosim --help` needs no rich

    con = Console(stderr=True)
    return con.is_terminal and not con.is_dumb_terminal


class Progress:
    """`with Progress("replications", total) as bar: ... bar.update(done, total)`.

    `lines`: in logs, print `what: done/total` every ~10 % (False: only `log()` lines,
    e.g. one line per scenario). `log(text)` prints one line (above the bar on a
    terminal); `describe(text)` relabels the bar (terminal only).
    """

    def __init__(self, what: str, total: int, enabled: bool = True, lines: bool = True):
        self.what, self.total, self.enabled, self.lines = what, total, enabled, lines
        self.tty = stderr_is_terminal()
        self._bar = None
        self._last = -1

    def __enter__(self) -> "Progress":
        if self.enabled and self.tty:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(), transient=True,
                                     console=Console(stderr=True))
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def update(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        total = total or self.total
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)
            return
        if not self.lines:
            return
        step = max(1, total // 10)
        if done == total or done // step != self._last:
            self._last = done // step
            print(f"{self.what}: {done}/{total}", file=sys.stderr, flush=True)

    def describe(self, text: str) -> None:
        """Relabel the live bar (no output in logs)."""
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def log(self, text: str) -> None:
        """One line of progress news: above the bar on a terminal, a plain stderr line in logs."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
