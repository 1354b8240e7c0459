"""Progress on stderr: a live bar on a terminal, plain lines (every ~10 %) in logs and CI."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    """`with Progress("replications", total) as bar: ... bar.update(done, total)`."""

    def __init__(self, what: str, total: int, enabled: bool = True):
        self.what, self.total, self.enabled = what, total, enabled
        self.tty = sys.stderr.isatty()
        self._bar = None
        self._last = -1

    def __enter__(self) -> "Progress":
        if self.enabled and self.tty:
            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
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
        step = max(1, total // 10)
        if done == total or done // step != self._last:
            self._last = done // step
            print(f"{self.what}: {done}/{total}", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
