"""Same seed → same result, byte for byte: in this process, with worker processes, in a fresh
`spawn` process and through the CLI. A different seed → a different result."""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.runner import simulate
from tests.helpers import busy, spawned_run

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
RESULT_FILES = ("summary.json", "kpis.parquet", "timeseries.parquet", "events.parquet")


@pytest.fixture(scope="module")
def scenario():
    return busy()


def same_records(a, b) -> None:
    """Two lists of RunRecords are identical: every flow, stock level and event."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        for name in ra.by_channel:
            assert np.array_equal(ra.by_channel[name], rb.by_channel[name]), name
        for name in ra.by_sku:
            assert np.array_equal(ra.by_sku[name], rb.by_sku[name]), name
        assert np.array_equal(ra.stock, rb.stock)
        assert ra.sorted_events() == rb.sorted_events()


def test_same_seed_writes_identical_files(scenario, tmp_path):
    for folder in ("a", "b"):
        simulate(scenario, reps=3, seed=5).write(tmp_path / folder)
    for name in RESULT_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    run_a, run_b = (json.loads((tmp_path / f / "run.json").read_text()) for f in ("a", "b"))
    assert run_a.pop("timing").keys() == run_b.pop("timing").keys()
    assert run_a == run_b                                        # provenance differs only in timings


def test_different_seed_gives_a_different_result(scenario, tmp_path):
    a, b = simulate(scenario, reps=3, seed=5), simulate(scenario, reps=3, seed=6)
    assert not a.kpis().equals(b.kpis())
    a.write(tmp_path / "a")
    b.write(tmp_path / "b")
    for name in RESULT_FILES:
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes(), name


def test_replications_are_independent_of_how_many_run(scenario):
    """Replication i of seed S is the same run whether 2 or 4 are asked for, or only i itself."""
    four = simulate(scenario, reps=4, seed=5)
    same_records(simulate(scenario, reps=2, seed=5).records, four.records[:2])
    same_records(simulate(scenario, seeds=[3, 1], seed=5).records, [four.records[3], four.records[1]])
    assert not np.array_equal(four.records[0].by_sku["units"], four.records[1].by_sku["units"])


def test_two_workers_equal_one(scenario):
    serial = simulate(scenario, reps=4, seed=5, workers=1)
    parallel = simulate(scenario, reps=4, seed=5, workers=2)
    same_records(serial.records, parallel.records)
    assert serial.kpis().equals(parallel.kpis())
    assert serial.summary() == parallel.summary()


def test_a_freshly_spawned_process_gives_the_same_result(scenario):
    here = spawned_run(scenario.model_dump_json(), 3, 5)
    with mp.get_context("spawn").Pool(1) as pool:
        there = pool.apply(spawned_run, (scenario.model_dump_json(), 3, 5))
    assert there[0] == here[0]                                   # summary.json text
    assert there[1] == here[1]                                   # KPI table, bit for bit
    assert json.loads(here[0]) == simulate(scenario, reps=3, seed=5).summary()


def _cli_json(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "simulator.cli", "run", *args, "--json"],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)                                # stdout holds exactly one JSON object


def test_cli_json_is_reproducible():
    path = str(SCENARIOS / "valid_minimal.yaml")
    first = _cli_json(path, "--reps", "3", "--seed", "5")
    second = _cli_json(path, "--reps", "3", "--seed", "5")
    for payload in (first, second):
        assert set(payload.pop("timing")) == {"engine_s"}
    assert first == second
    assert (first["reps"], first["seed"]) == (3, 5)
    # and it is the run the Python API gives in this process
    from simulator.scenario import load_scenario

    api = simulate(load_scenario(path), reps=3, seed=5).summary()
    assert first["kpis"] == api["kpis"] and first["skus"] == api["skus"] and first["channels"] == api["channels"]


def test_one_seed_sequence_object_replays_the_same_run():
    """`run(seed)` twice with the same SeedSequence object: the same record (spawning the
    streams must not use up the object)."""
    import numpy as np

    from simulator.engine import FastEngine
    from simulator.model import build_model
    from simulator.runner import replication_seed
    from simulator.scenario import load_scenario
    from tests.simulator.test_equivalence import HERE

    eng = FastEngine(build_model(load_scenario(HERE / "auctions.yaml")))
    seed = replication_seed(1, 0)
    a, b = eng.run(seed), eng.run(seed)
    assert all(np.array_equal(a.by_channel[f], b.by_channel[f]) for f in a.by_channel)
    assert np.array_equal(a.ad_groups["paid_search"]["ad_spend"], b.ad_groups["paid_search"]["ad_spend"])
