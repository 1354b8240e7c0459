"""Interruptions, as a scheduler, `timeout -s INT`, Ctrl-C or the OOM killer deliver them to a
real `promosim` process: SIGINT or SIGTERM to the parent alone stops it and its workers with
exit 130 or 143 and a message (no traceback); SIGKILL leaves no worker behind; and whatever
stops a run while it writes, its --out folder holds the old run or the new one — the files
of one run, as its manifest says — never a mix.

These tests need the process boundary (signals, exit codes, what lands on stderr), so each
starts `python -m simulator.cli` for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.robustness.cases import INPUTS, MINIMAL

REPO = Path(__file__).resolve().parents[2]
DOUBLE11 = REPO / "scenarios" / "double11_beauty_flagship.yaml"


class Started(subprocess.Popen):
    """A `promosim` process whose stderr is read as it comes (`err_lines`)."""

    def __init__(self, args):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        super().__init__([sys.executable, "-m", "simulator.cli", *args], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)     # a signal goes to the parent alone
        self.err_lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.stderr:
            self.err_lines.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.err_lines)


def start(*args: str) -> Started:
    return Started(args)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.add(k)
            todo.append(k)
    return out


def alive(pids) -> set[int]:
    out = set()
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", encoding="ascii", errors="replace") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.add(p)
        except OSError:
            pass
    return out


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finish(p: Started, timeout: float = 60) -> tuple[int, str, str]:
    out = p.stdout.read()
    p.wait(timeout=timeout)
    p._reader.join(timeout=10)
    return p.returncode, out, "".join(p.err_lines)


def workers_started(p: subprocess.Popen, n: int) -> set[int]:
    return wait_for(lambda: (lambda d: d if len(d) >= n else None)(descendants(p.pid)), 60,
                    f"{n} worker processes")


@pytest.fixture
def old_results(tmp_path) -> Path:
    """A results folder of a finished run (seed 1) that an interrupted run must leave intact."""
    from simulator.cli import main

    out = tmp_path / "res"
    assert main(["run", str(MINIMAL), "--reps", "2", "--seed", "1", "--quiet", "--out", str(out)]) == 0
    return out


def folder_state(out: Path) -> dict:
    run = json.loads((out / "run.json").read_text())
    return {"seed": run["seed"], "files": run["files"]}


def assert_one_run(out: Path) -> dict:
    """Every file the manifest lists is there with its digest, and nothing else of a run."""
    from simulator.report.data import load

    d = load(out)                        # raises on a mix; warns on stale files
    assert not d.warnings, d.warnings
    return folder_state(out)


def test_sigint_to_the_parent_of_run_with_workers_stops_them_and_keeps_the_old_results(old_results):
    before = folder_state(old_results)
    p = start("run", str(DOUBLE11), "--reps", "40", "--workers", "2", "--seed", "2", "--out", str(old_results))
    workers = workers_started(p, 2)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    code, _, err = finish(p)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    wait_for(lambda: not alive(workers), 10, "the workers to end")
    assert assert_one_run(old_results) == before
    assert not [e for e in os.listdir(old_results.parent) if e.startswith(".res.promosim-")], "staging left"


def test_sigterm_to_run_exits_143_without_a_traceback(old_results):
    before = folder_state(old_results)
    p = start("run", str(DOUBLE11), "--reps", "40", "--seed", "2", "--out", str(old_results))
    wait_for(lambda: p.poll() is None and (old_results.parent / "x").exists() is False and
             [e for e in os.listdir(old_results.parent) if e.startswith(".res.promosim-")], 60,
             "the run to open its fresh folder")
    p.send_signal(signal.SIGTERM)
    code, _, err = finish(p)
    assert code == 143, err
    assert "terminated" in err and "Traceback" not in err, err
    assert assert_one_run(old_results) == before


def _killed_at(step: int):
    """A `prepare` for the sandbox: the process SIGKILLs itself at the `step`-th write of a result
    file (1: summary.json … 6: run.json), or (step 7) just before the fresh folder is swapped in,
    (step 8) just after — no clean-up runs, as under the OOM killer."""
    def prepare():
        import simulator.files as files
        import simulator.output_set as output_set
        import simulator.results as results

        count = [0]
        real_write = files.atomic_write_bytes
        real_exchange = output_set._exchange

        def write(path, data):
            count[0] += 1
            if count[0] == step:
                os.kill(os.getpid(), signal.SIGKILL)
            real_write(path, data)

        def exchange(a, b):
            if step == 7:
                os.kill(os.getpid(), signal.SIGKILL)
            done = real_exchange(a, b)
            if step == 8:
                os.kill(os.getpid(), signal.SIGKILL)
            return done

        files.atomic_write_bytes = results.atomic_write_bytes = write
        files.atomic_write_text = results.atomic_write_text = lambda path, text: write(path, text.encode())
        output_set._exchange = exchange
    return prepare


@pytest.mark.parametrize("step", range(1, 9))
def test_sigkill_while_writing_leaves_the_old_run_or_the_new_one(old_results, step):
    """A run killed at every step of writing its files (and around the swap): the folder holds
    the old run or the new one, never a mix; the next run into it removes what was left beside."""
    from tests.robustness.sandbox import run_cli

    before = folder_state(old_results)
    out = run_cli(["run", str(MINIMAL), "--reps", "2", "--seed", "2", "--quiet", "--out", str(old_results)],
                  prepare=_killed_at(step))
    assert out.code == -signal.SIGKILL, out.describe()
    after = assert_one_run(old_results)
    assert after == before if step < 8 else after["seed"] == 2
    from simulator.cli import main

    assert main(["run", str(MINIMAL), "--reps", "1", "--quiet", "--out", str(old_results)]) == 0
    assert not [e for e in os.listdir(old_results.parent) if e.startswith(".res.promosim-")]


def test_sigkill_while_running_leaves_the_old_run(old_results):
    before = folder_state(old_results)
    p = start("run", str(DOUBLE11), "--reps", "20", "--seed", "2", "--out", str(old_results))
    wait_for(lambda: [e for e in os.listdir(old_results.parent) if e.startswith(".res.promosim-")], 60,
             "the run to open its fresh folder")
    p.kill()
    p.wait(timeout=30)
    assert assert_one_run(old_results) == before


def test_sigkill_to_the_parent_of_run_leaves_no_worker(tmp_path):
    p = start("run", str(DOUBLE11), "--reps", "40", "--workers", "2", "--quiet")
    workers = workers_started(p, 2)
    p.kill()
    p.wait(timeout=30)
    wait_for(lambda: not alive(workers), 15, "the workers to die with their parent")


def _optimize(tmp_path: Path) -> Started:
    return start("optimize", str(INPUTS / "opt.yaml"), "--trials", "100000", "--reps", "20", "--workers", "2",
                 "--no-plots", "--out", str(tmp_path / "opt"))


def test_sigint_to_the_parent_of_optimize_stops_its_workers_and_fails_their_trials(tmp_path):
    import optuna

    p = _optimize(tmp_path)
    workers = workers_started(p, 2)
    url = f"sqlite:///{tmp_path / 'opt' / 'study.db'}"
    wait_for(lambda: p.said("best gross_profit so far"), 90, "a finished trial")
    time.sleep(0.5)                          # trials under way in both workers
    p.send_signal(signal.SIGINT)
    code, _, err = finish(p, timeout=90)
    assert code == 130, err
    assert "interrupted (SIGINT)" in err and "Traceback" not in err, err
    wait_for(lambda: not alive(workers), 15, "the workers to end")
    study = optuna.load_study(study_name="minimal", storage=url)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert "RUNNING" not in states, states
    assert "COMPLETE" in states or "PRUNED" in states, states
    assert (tmp_path / "opt" / "trials.csv").exists() and (tmp_path / "opt" / "optimize.json").exists()
    n_before = len(states)
    time.sleep(2.0)                                   # nobody is still adding trials
    assert len(optuna.load_study(study_name="minimal", storage=url).get_trials(deepcopy=False)) == n_before


def test_sigkill_to_the_parent_of_optimize_leaves_no_worker(tmp_path):
    p = _optimize(tmp_path)
    workers = workers_started(p, 2)
    time.sleep(1.0)
    p.kill()
    p.wait(timeout=30)
    wait_for(lambda: not alive(workers), 15, "the workers to die with their parent")


def _optimize_killed_at(step: int):
    """A sandbox `prepare`: SIGKILL at the `step`-th result file optimize writes."""
    def prepare():
        import simulator.files as files
        import simulator.optimize as opt
        import simulator.optimize.plan as plan

        count = [0]
        real = files.atomic_write_bytes

        def write(path, data):
            count[0] += 1
            if count[0] == step:
                os.kill(os.getpid(), signal.SIGKILL)
            real(path, data)

        text = lambda path, t: write(path, t.encode())      # noqa: E731
        files.atomic_write_bytes = opt.atomic_write_bytes = write
        files.atomic_write_text = opt.atomic_write_text = plan.atomic_write_text = text
    return prepare


def test_sigkill_while_optimize_writes_its_results_is_told_by_the_manifest(tmp_path):
    """optimize.json, written last, lists each result file's SHA-256: after a kill at any file
    the results either match it (the old set) or a reader checking it refuses the mix; the
    study itself (SQLite, transactional) opens again and goes on."""
    from simulator.cli import main
    from simulator.output_set import verify
    from simulator.scenario.errors import InputError
    from tests.robustness.sandbox import run_cli

    out = tmp_path / "opt"
    args = ["optimize", str(INPUTS / "opt.yaml"), "--reps", "1", "--no-plots", "--quiet", "--out", str(out)]
    assert main([*args, "--trials", "2"]) == 0
    outcomes = set()
    for step in range(1, 5):                 # best_plan.yaml, comparison.csv, trials.csv, optimize.json
        killed = run_cli([*args, "--trials", "1"], prepare=_optimize_killed_at(step))
        assert killed.code == -signal.SIGKILL, killed.describe()
        manifest = json.loads((out / "optimize.json").read_text())["sha256"]
        try:
            verify(out, manifest, (), "optimize.json")
            outcomes.add("one set")
        except InputError as e:
            assert "mixes files of two runs" in str(e)
            outcomes.add("refused")
    assert outcomes == {"one set", "refused"}
    assert main([*args, "--trials", "1"]) == 0
    verify(out, json.loads((out / "optimize.json").read_text())["sha256"], (), "optimize.json")
