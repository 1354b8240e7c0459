"""Every command line of `tests/scenarios/invalid_commands/` ends as its file says: the exit
code, the message on stderr (file, field, what was expected, what was found, a hint), never a
traceback — checked the way a user meets it, in a process of its own (`sandbox.run_cli`),
under a hang guard and a memory guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.cases import CASE_FILES, MINIMAL, Places, build
from tests.robustness.sandbox import run_cli


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A finished `promosim run --out` of valid_minimal (2 replications)."""
    import optuna  # noqa: F401 - imported once here, so every forked case starts warm
    import pyarrow.parquet  # noqa: F401
    import scipy.stats  # noqa: F401

    from simulator.cli import main

    out = tmp_path_factory.mktemp("results") / "res"
    assert main(["run", str(MINIMAL), "--reps", "2", "--quiet", "--out", str(out)]) == 0
    return out


def test_every_cause_of_the_issue_has_command_cases():
    names = {p.stem for p in CASE_FILES}
    for prefix in ("calibrate_holdout", "calibrate_history", "validate_goes_on", "set_value", "optimize_storage",
                   "report_truncated", "run_campaign_ending_in_9999", "run_reorder_point", "validate_dev_zero",
                   "validate_fifo", "run_out_", "optimize_out_", "run_reps_", "optimize_trials_",
                   "optimize_heartbeat", "optimize_timeout", "run_scale_", "run_seed_", "run_out_empty",
                   "report_folder_mixing", "report_stale", "calibrate_help"):
        assert any(n.startswith(prefix) for n in names), prefix


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_a_wrong_command_gets_its_message(path: Path, tmp_path, results):
    case = build(path, Places(tmp_path, results))
    out = run_cli(case.argv, cwd=tmp_path)
    assert out.killed is None, out.describe()
    assert not out.traceback, out.describe()
    assert out.code == case.exit, out.describe()
    for fragment in case.stderr:
        assert fragment in out.stderr, f"{fragment!r} not in stderr\n{out.describe()}"
    for fragment in case.stdout:
        assert fragment in out.stdout, f"{fragment!r} not in stdout\n{out.stdout[-2000:]}"
    for fragment in case.not_stdout:
        assert fragment not in out.stdout, f"{fragment!r} in stdout\n{out.stdout[-2000:]}"
