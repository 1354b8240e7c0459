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
from simulator.record import RunRecord
from simulator.results import Results
from simulator.scenario.schema import Scenario
from simulator.signals import check_interrupt, ignoring_sigint, stop_processes


def replication_seed(seed: int, i: int) -> np.random.SeedSequence:
    """The SeedSequence of replication `i` of base seed `seed`."""
    return np.random.SeedSequence(seed, spawn_key=(i,))


_WORKER: dict = {}


def _init_worker(scenario: Scenario, engine: str, scale: float, uncertain: bool, parent_pid: int) -> None:
    from simulator.signals import die_with_parent

    die_with_parent(parent_pid)              # never outlive the parent, even a SIGKILLed one
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle: it stops us
    _WORKER["player"] = Player(scenario, engine, scale, uncertain)


def _run_one(args: tuple[int, int]):
    seed, i = args
    return _WORKER["player"].play(seed, i)


class Player:
    """Plays replication i of a scenario: the plan as written, or — with `uncertain` and an
    `uncertainty:` block — the plan replication i's assumption draw sets (`assumptions`)."""

    def __init__(self, scenario: Scenario, engine: str, scale: float, uncertain: bool):
        self.engine, self.scale = ENGINES[engine], scale
        self.assumptions = None
        if uncertain and scenario.uncertainty is not None:
            from simulator.assumptions import Assumptions

            self.assumptions = Assumptions(scenario)
        else:
            self.fixed = self.engine(build_model(scenario, scale))

    def play(self, seed: int, i: int) -> tuple[RunRecord, dict[str, float]]:
        """(replication i's record, its assumption values — empty for the plan as written)."""
        if self.assumptions is None:
            return self.fixed.run(replication_seed(seed, i)), {}
        played, values = self.assumptions.scenario_for(seed, i)
        return self.engine(build_model(played, self.scale)).run(replication_seed(seed, i)), values


def simulate(
    scenario: Scenario,
    reps: int | None = None,
    seed: int | None = None,
    seeds: Sequence[int] | None = None,
    workers: int = 1,
    engine: str = "fast",
    scale: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    uncertainty: bool = True,
) -> Results:
    """Play `scenario` over replications and return `Results`.

    reps/seed default to the scenario's `meta.replications` and `meta.seed`;
    `seeds` picks replication indices explicitly (replication i of `seed`).
    `scale` multiplies every traffic volume (stock and budgets stay).
    `progress(done, total)` is called after each replication. `uncertainty=False` plays the
    plan as written even when it has an `uncertainty:` block (`--no-uncertainty`).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "expected":
        refuse_promotions(scenario)          # here too, so worker processes never hide it
    seed = scenario.meta.seed if seed is None else int(seed)
    index = list(seeds) if seeds is not None else list(range(reps or scenario.meta.replications))
    t0 = time.perf_counter()
    model = build_model(scenario, scale)
    uncertain = uncertainty and scenario.uncertainty is not None
    records, values = [], []
    if workers <= 1 or len(index) <= 1:
        player = Player(scenario, engine, scale, uncertain)
        for i in index:
            rec, vals = player.play(seed, i)
            records.append(rec)
            values.append(vals)
            check_interrupt()                    # one lost in a finalizer is raised here
            if progress:
                progress(len(records), len(index))
    else:
        ctx = mp.get_context("spawn")
        pool = ProcessPoolExecutor(min(workers, len(index)), mp_context=ctx, initializer=_init_worker,
                                   initargs=(scenario, engine, scale, uncertain, os.getpid()))
        try:
            with ignoring_sigint():              # workers start with Ctrl-C ignored: the parent stops them
                results = pool.map(_run_one, [(seed, i) for i in index])
            for rec, vals in results:
                records.append(rec)
                values.append(vals)
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
                   assumptions=values if uncertain else None,
                   timing={"engine_s": elapsed, "per_replication_s": elapsed / max(len(index), 1)})
