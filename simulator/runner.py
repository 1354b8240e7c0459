"""Replications: a list of seeds played by an engine, serially or in worker processes.

Replication i of base seed S runs on `SeedSequence(S, spawn_key=(i,))`, whatever
the number of replications or workers, so results are identical for any W and in
any process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from simulator.engine import ENGINES
from simulator.engine.expected import refuse_promotions
from simulator.model import build_model
from simulator.results import Results
from simulator.scenario.schema import Scenario
from simulator.signals import check_interrupt, ignoring_sigint, stop_processes


def replication_seed(seed: int, i: int) -> np.random.SeedSequence:
    """The SeedSequence of replication `i` of base seed `seed`."""
    return np.random.SeedSequence(seed, spawn_key=(i,))


_WORKER: dict = {}


def _init_worker(scenario: Scenario, engine: str, scale: float, parent_pid: int) -> None:
    from simulator.signals import die_with_parent

    die_with_parent(parent_pid)              # never outlive the parent, even a SIGKILLed one
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle: it stops us
    _WORKER["engine"] = ENGINES[engine](build_model(scenario, scale))


def _run_one(args: tuple[int, int]):
    seed, i = args
    return _WORKER["engine"].run(replication_seed(seed, i))


def simulate(
    scenario: Scenario,
    reps: int | None = None,
    seed: int | None = None,
    seeds: Sequence[int] | None = None,
    workers: int = 1,
    engine: str = "fast",
    scale: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> Results:
    """Play `scenario` over replications and return `Results`.

    reps/seed default to the scenario's `meta.replications` and `meta.seed`;
    `seeds` picks replication indices explicitly (replication i of `seed`).
    `scale` multiplies every traffic volume (stock and budgets stay).
    `progress(done, total)` is called after each replication.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "expected":
        refuse_promotions(scenario)          # here too, so worker processes never hide it
    seed = scenario.meta.seed if seed is None else int(seed)
    index = list(seeds) if seeds is not None else list(range(reps or scenario.meta.replications))
    t0 = time.perf_counter()
    model = build_model(scenario, scale)
    records = []
    if workers <= 1 or len(index) <= 1:
        eng = ENGINES[engine](model)
        for i in index:
            records.append(eng.run(replication_seed(seed, i)))
            check_interrupt()                    # one lost in a finalizer is raised here
            if progress:
                progress(len(records), len(index))
    else:
        ctx = mp.get_context("spawn")
        pool = ProcessPoolExecutor(min(workers, len(index)), mp_context=ctx, initializer=_init_worker,
                                   initargs=(scenario, engine, scale, os.getpid()))
        try:
            with ignoring_sigint():              # workers start with Ctrl-C ignored: the parent stops them
                results = pool.map(_run_one, [(seed, i) for i in index])
            for rec in results:
                records.append(rec)
                check_interrupt()
                if progress:
                    progress(len(records), len(index))
        except BaseException:
            # Ctrl-C, SIGTERM or a failed replication: drop the queued replications and stop the
            # running ones now, rather than waiting for every replication to finish.
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            stop_processes(procs, grace=2.0, first=signal.SIGTERM)
            raise
        pool.shutdown(wait=True)
    elapsed = time.perf_counter() - t0
    return Results(model=model, seed=seed, seeds=index, records=records, engine=engine,
                   timing={"engine_s": elapsed, "per_replication_s": elapsed / max(len(index), 1)})
