"""Every benchmark still runs: each `benchmarks/bench_*.py` in its `--smoke` mode (tiny sizes,
one round), in this process. Running, not timing — no assertion reads a time; a benchmark that
no longer runs on today's scenarios fails here instead of rotting until someone times it."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


def test_the_benchmarks_folder_has_benchmarks():
    assert len(SCRIPTS) >= 6, [s.name for s in SCRIPTS]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_runs_in_smoke_mode(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(script), "--smoke"])
    monkeypatch.syspath_prepend(str(BENCH))                 # benchmarks import each other (bench_engine)
    monkeypatch.syspath_prepend(str(BENCH.parent))          # and the tests' synthetic store
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "|" in out, f"{script.name} printed no table:\n{out}"
