"""The command-line cases of `tests/scenarios/invalid_commands/`: each `<name>.cmd` file holds a
`promosim` command line and what it must produce.

    # exit: 2
    # stderr: argument --reps: expected a whole number from 1 to 1,000,000, got '0'
    # stdout: …          (optional, repeatable)
    # not stdout: …      (optional: text that must not appear)
    run {minimal} --reps 0

The command line is split like a shell would (`shlex`), then each `{placeholder}` is replaced
by a path the test makes (`Places`): the inputs beside the cases, a fresh folder, a file, a
read-only folder, a named pipe, results folders that are truncated, mixed or stale.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
COMMANDS = SCENARIOS / "invalid_commands"
INPUTS = COMMANDS / "inputs"
BAD_HISTORY = SCENARIOS.parent / "calibration" / "bad_history"
MINIMAL = SCENARIOS / "valid_minimal.yaml"


@dataclass
class Case:
    name: str
    argv: list[str]
    exit: int
    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    not_stdout: list[str] = field(default_factory=list)


def read_case(path: Path) -> tuple[str, dict]:
    """(command template, expectations) of one `.cmd` file."""
    want: dict = {"exit": None, "stderr": [], "stdout": [], "not stdout": []}
    command = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^# (exit|stderr|stdout|not stdout): (.*)$", line)
        if m:
            key, value = m.groups()
            if key == "exit":
                want["exit"] = int(value)
            else:
                want[key].append(value)
        elif line.strip() and not line.startswith("#"):
            assert command is None, f"{path.name}: one command line per case"
            command = line
    assert command is not None and want["exit"] is not None, f"{path.name}: needs '# exit:' and a command"
    return command, want


def unwritable_folder(tmp: Path) -> Path | None:
    """A folder this process cannot create files in: a read-only one of our own when the
    permissions hold (not root), else a system folder that refuses writes; None if none."""
    ro = tmp / "read-only"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    for candidate in (ro, Path("/sys"), Path("/proc")):
        try:
            with tempfile.NamedTemporaryFile(dir=candidate):
                pass
        except OSError:
            return candidate
    return None


def alias_bomb_value(levels: int = 9) -> str:
    """A `--set` value of a few hundred bytes whose YAML aliases expand to 10^levels values."""
    parts = ["&a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        parts.append(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "skus.lipstick.name=[" + ", ".join(parts) + "]"


class Places:
    """The placeholders of the cases, made on first use in `tmp` (results folders are shared
    by the cases of one test session through `results`, a finished run of valid_minimal)."""

    def __init__(self, tmp: Path, results: Path | None = None):
        self.tmp = tmp
        self._results = results

    def __call__(self, key: str) -> str:
        fixed = {"minimal": MINIMAL, "inputs": INPUTS, "invalid": SCENARIOS / "invalid",
                 "bad_history": BAD_HISTORY, "tmp": self.tmp}
        if key in fixed:
            return str(fixed[key])
        return str(getattr(self, key)())

    def file(self) -> Path:
        f = self.tmp / "file.txt"
        f.write_text("a file, not a folder\n")
        return f

    def folder_csv(self) -> Path:
        d = self.tmp / "folder.csv"
        d.mkdir(exist_ok=True)
        return d

    def folder_with_notes(self) -> Path:
        d = self.tmp / "mine"
        d.mkdir(exist_ok=True)
        (d / "notes.txt").write_text("the planner's own notes\n")
        return d

    def readonly(self) -> Path:
        import pytest

        found = unwritable_folder(self.tmp)
        if found is None:
            pytest.skip("no folder here refuses writes (root on a writable /sys and /proc)")
        return found

    def fifo(self, suffix: str = ".yaml") -> Path:
        p = self.tmp / f"pipe{suffix}"
        if not p.exists():
            os.mkfifo(p)
        return p

    def fifo_csv(self) -> Path:
        return self.fifo(".csv")

    def alias_bomb_set(self) -> str:
        return alias_bomb_value()

    def truncated_parquet(self) -> Path:
        import pandas as pd

        p = self.tmp / "history.parquet"
        pd.read_csv(INPUTS / "history.csv").to_parquet(p)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return p

    def _copy(self, name: str) -> Path:
        assert self._results is not None, "these cases need the shared results folder"
        d = self.tmp / name
        shutil.copytree(self._results, d)
        return d

    def results_truncated(self) -> Path:
        """A results folder of an older promosim (no manifest) whose kpis.parquet was cut short."""
        d = self._copy("truncated")
        run = json.loads((d / "run.json").read_text())
        run.pop("files", None)
        (d / "run.json").write_text(json.dumps(run))
        data = (d / "kpis.parquet").read_bytes()
        (d / "kpis.parquet").write_bytes(data[: len(data) // 2])
        return d

    def results_mixed(self) -> Path:
        """A results folder whose kpis.parquet comes from another run (another seed)."""
        from simulator.cli import main

        d = self._copy("mixed")
        other = self.tmp / "other"
        assert main(["run", str(MINIMAL), "--reps", "2", "--seed", "99", "--quiet", "--out", str(other)]) == 0
        shutil.copy(other / "kpis.parquet", d / "kpis.parquet")
        return d

    def results_stale(self) -> Path:
        """A results folder with a kpis.csv of an earlier run beside its kpis.parquet."""
        d = self._copy("stale")
        (d / "kpis.csv").write_text("replication,gmv\n0,1\n1,2\n")
        return d


def build(path: Path, places: Places) -> Case:
    command, want = read_case(path)
    argv = [re.sub(r"\{(\w+)\}", lambda m: places(m.group(1)), token) for token in shlex.split(command)]
    return Case(path.stem, argv, want["exit"], want["stderr"], want["stdout"], want["not stdout"])


CASE_FILES = sorted(COMMANDS.glob("*.cmd"))
