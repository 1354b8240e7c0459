"""No command prints a traceback for any file of the wrong-input folders: each command that
reads the file refuses it with exit 2 and a message naming it (the messages themselves are
checked by the folders' own tests). The command-line cases (`invalid_commands/`) are run in
processes of their own by test_wrong_commands.py."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from simulator.cli import main
from tests.robustness.cases import BAD_HISTORY, INPUTS, SCENARIOS

FOLDERS = ("invalid", "invalid_rules", "invalid_optimize", "invalid_calibrate")
SCENARIO_FILES = sorted(p for f in FOLDERS for p in (SCENARIOS / f).glob("*.yaml"))
HISTORY_FILES = sorted(BAD_HISTORY.glob("*.csv"))


def call(argv: list[str]) -> tuple[int, str]:
    """`promosim *argv` in this process: its exit code and stderr. An exception that escapes
    `main` is what a user would see as a traceback, so it fails the test as it is."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as e:            # argparse's own refusals
            code = e.code
    return code, err.getvalue()


def commands(path: Path, tmp: Path) -> list[list[str]]:
    f = str(path)
    return [["validate", f],
            ["run", f, "--reps", "1", "--quiet", "--out", str(tmp / "run")],
            ["compare", f, f, "--reps", "2", "--quiet"],
            ["optimize", f, "--trials", "1", "--reps", "1", "--quiet", "--no-plots", "--out", str(tmp / "opt")],
            ["calibrate", f, "--quiet", "--no-plots", "--out", str(tmp / "cal")]]


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in SCENARIO_FILES])
def test_every_command_refuses_a_wrong_scenario_with_a_message(path: Path, tmp_path):
    for argv in commands(path, tmp_path):
        code, err = call(argv)
        assert code == 2, f"promosim {' '.join(argv)} → {code}\n{err}"
        assert path.name in err or path.stem in err, f"promosim {' '.join(argv)}: the message names no file\n{err}"
        assert "Traceback" not in err
    assert not any((tmp_path / d).exists() for d in ("run", "cal")), "a refused run left an output folder"


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[p.stem for p in HISTORY_FILES])
def test_calibrate_refuses_every_wrong_history_with_a_message(path: Path, tmp_path):
    from tests.calibration.test_history import CASES

    import json

    spec, *_ = CASES[path.stem]               # the case's calibrate.history block (a mapping, a calendar)
    text = (INPUTS / "cal.yaml").read_text(encoding="utf-8")
    text = text.replace("  history: {file: history.csv}", f"  history: {json.dumps(spec, default=str)}")
    text = text.replace("  tee:", "  lipstick:").replace("  cap:", "  serum:")    # the SKUs of the files
    scenario = tmp_path / "cal.yaml"
    scenario.write_text(text, encoding="utf-8")
    argv = ["calibrate", str(scenario), "--history", str(path), "--quiet", "--no-plots",
            "--out", str(tmp_path / "cal")]
    code, err = call(argv)
    assert code == 2, f"promosim {' '.join(argv)} → {code}\n{err}"
    assert path.name in err and "Traceback" not in err, err
    assert not (tmp_path / "cal").exists()
