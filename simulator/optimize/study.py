"""Storage, studies and workers: one study on one machine or many, surviving a crash.

Storage is Optuna's `RDBStorage` — SQLite (a file in the output folder) by default, PostgreSQL
(`postgresql://…`) when several machines work on one study — with Optuna's heartbeat: every
running trial records a heartbeat every `heartbeat` seconds, and a trial whose heartbeat is
older than `3 × heartbeat` (its process was killed) is marked FAIL by the next worker that
starts a trial. The study is created atomically (the database's unique study name): the process
that creates it records the plan's fingerprint and enqueues the starting plan as trial 0;
every other process loads it and checks that it is running the same plan on the same seeds.

`--trials N` asks this invocation for N more trials that end COMPLETE or PRUNED, across its
local workers: a shared counter hands out N slots; a trial that fails gives its slot back.
Other invocations on the same study (other machines) count their own trials.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback

from simulator.optimize.evaluate import Evaluator, PairedPruner
from simulator.optimize.spec import Spec
from simulator.optimize.trials import COUNTED
from simulator.scenario.errors import InputError, ScenarioError
from simulator.scenario.schema import Scenario
from simulator.signals import check_interrupt, deferred_interrupts, quiet_lost_interrupts

ATTR = "promosim"                    # study user attribute: the plan's fingerprint and settings
MAX_FAILS_IN_A_ROW = 10


class StudyMismatch(InputError):
    """The study in the storage was started with another plan, replications or seed."""


class StorageError(InputError):
    """A storage URL that cannot hold a study: malformed, of an unknown kind, in memory, in a
    folder that is missing or read-only, or a database that does not answer."""


def default_storage(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


_KINDS = "sqlite:///path/study.db or postgresql://user@host/db"


def check_storage(url: str) -> None:
    """Refuse, before any connection, a storage URL that cannot work: one SQLAlchemy cannot
    read, a database kind without a driver here, SQLite in memory (private to one connection:
    the heartbeat and the workers would each see another, empty database), an SQLite file in a
    folder that is missing or cannot be written."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = shown_url(url)
    try:
        u = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(f"promosim optimize: --storage {shown!r}: expected a database URL such as "
                           f"{_KINDS}") from None
    try:
        u.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise StorageError(f"promosim optimize: --storage {shown!r}: unknown database kind "
                           f"{u.drivername!r}; expected {_KINDS}") from None
    except ImportError as e:
        raise StorageError(f"promosim optimize: --storage {shown!r}: no driver for {u.drivername} here "
                           f"({e.name or e}); for PostgreSQL install promosim[postgres]") from None
    if u.get_backend_name() != "sqlite":
        return
    db = u.database or ""
    if db in ("", ":memory:") or db.startswith("file::memory:") or "mode=memory" in str(u.query):
        raise StorageError(f"promosim optimize: --storage {shown!r}: an in-memory SQLite database lives in one "
                           "connection, but the heartbeat and every worker open their own; give a file "
                           "(sqlite:///path/study.db), or leave --storage out to keep study.db in --out")
    path = Path(db)
    folder = path.parent if str(path.parent) else Path(".")
    from simulator.scenario.source import Unreadable, check_regular

    if path.exists():
        try:
            check_regular(path, "an SQLite database file")
        except Unreadable as e:
            raise StorageError(f"promosim optimize: --storage {shown!r}: {path} {e.message}") from None
    if not folder.is_dir():
        raise StorageError(f"promosim optimize: --storage {shown!r}: the folder {folder} does not exist; "
                           "create it first or give another path")
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".promosim-write-test-"):
            pass
    except OSError as e:
        raise StorageError(f"promosim optimize: --storage {shown!r}: cannot write in {folder} "
                           f"({e.strerror}); SQLite needs to create its journal beside the database") from None


def shown_url(url: str) -> str:
    """`url` without its password (for logs and JSON)."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
        return url if u.password is None else u.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is shown as given
        return url


def open_storage(url: str | None, heartbeat: int = 10):
    """Optuna storage for `url` (None: in memory, one process only) with a heartbeat of
    `heartbeat` seconds and a grace period of 3 × heartbeat."""
    if url is None:
        return optuna.storages.InMemoryStorage()
    check_storage(url)
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 120}}     # wait for another process's write lock
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

    for attempt in range(10):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = HeartbeatStorage(
                    url, engine_kwargs=kwargs, heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                    heartbeat_stale_trial_callback=_retry_baseline)
            break
        except (IntegrityError, OperationalError, ProgrammingError) as e:
            # Two processes creating Optuna's tables in an empty database at once: one loses the
            # race (`CREATE TYPE ... already exists`); the tables are there on the next try. Any
            # other failure (no server, a wrong password, a file that is not a database) is the
            # storage's, said at once.
            if attempt == 9 or not _a_race(e):
                first = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
                raise StorageError(f"promosim optimize: --storage {shown_url(url)!r}: cannot open the study "
                                   f"storage: {first}") from None
            time.sleep(0.2 + 0.3 * attempt)
        except (DBAPIError, optuna.exceptions.StorageInternalError, RuntimeError) as e:
            first = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            raise StorageError(f"promosim optimize: --storage {shown_url(url)!r}: cannot open the study "
                               f"storage: {first}") from None
    if url.startswith("sqlite"):
        # WAL: readers do not block the writer; the mode is stored in the file.
        with storage.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    return storage


def _a_race(e) -> bool:
    """An error of two processes creating the tables at once (worth another try)."""
    text = str(getattr(e, "orig", None) or e).lower()
    return any(w in text for w in ("already exists", "duplicate", "unique", "locked"))


class HeartbeatStorage(optuna.storages.RDBStorage):
    """`RDBStorage` whose stale trials also include RUNNING trials that never recorded a
    heartbeat and started more than the grace period ago: a worker killed between creating its
    trial and the heartbeat thread's first beat (milliseconds, but it happens) would otherwise
    leave the trial RUNNING for ever — Optuna skips trials without a heartbeat record."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
        from optuna.trial import TrialState

        stale = super()._get_stale_trial_ids(study_id)
        grace = datetime.timedelta(seconds=self.grace_period or 2 * self.heartbeat_interval)
        now = datetime.datetime.now()           # trials' datetime_start is naive local time
        with _create_scoped_session(self.scoped_session, True) as session:
            running = (session.query(models.TrialModel)
                       .filter(models.TrialModel.state == TrialState.RUNNING)
                       .filter(models.TrialModel.study_id == study_id).all())
            for t in running:
                if (not t.heartbeats and t.datetime_start is not None and now - t.datetime_start > grace
                        and t.trial_id not in stale):
                    stale.append(t.trial_id)
        return stale


_RETRY = None


def _retry_baseline(study: optuna.Study, trial) -> None:
    """A killed starting-plan trial is queued again (it is the baseline); others are not:
    the sampler proposes new plans."""
    global _RETRY
    if trial.user_attrs.get("baseline"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            _RETRY = _RETRY or RetryHeartbeatStaleTrialCallback(max_retry=3)
            _RETRY(study, trial)


def fingerprint(spec: Spec, reps: int, seed: int) -> dict:
    """What a study must agree on across invocations and machines."""
    opt = spec.scenario.optimize
    plan = spec.base().model_dump_json()
    decisions = opt.model_dump_json(include={"variables", "splits", "objective", "constraints"})
    return {"scenario": spec.scenario.meta.name, "replications": reps, "seed": seed,
            "plan_sha256": hashlib.sha256(plan.encode()).hexdigest(),
            "decisions_sha256": hashlib.sha256(decisions.encode()).hexdigest()}


def open_study(storage, name: str, spec: Spec, reps: int, seed: int, sampler=None, pruner=None,
               wait: float = 60.0) -> tuple[optuna.Study, bool]:
    """Create the study (and enqueue the starting plan) or load it and check it matches.
    Returns (study, created)."""
    fp = fingerprint(spec, reps, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            study = optuna.create_study(storage=storage, study_name=name, directions=spec.directions,
                                        sampler=sampler, pruner=pruner, load_if_exists=False)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
            created = False
    if created:
        study.enqueue_trial(spec.baseline_params(), user_attrs={"baseline": True})
        study.set_user_attr(ATTR, fp)          # last: its presence says the study is ready
        return study, True
    deadline = time.monotonic() + wait
    while ATTR not in study.user_attrs:
        if time.monotonic() > deadline:
            raise StudyMismatch(f"study {name!r} exists but was not made by promosim optimize "
                                "(or its creator died while setting it up); use another --study")
        time.sleep(0.2)
    theirs = study.user_attrs[ATTR]
    if [d.name.lower() for d in study.directions] != spec.directions:
        raise StudyMismatch(f"study {name!r} has other objectives; use another --study")
    for key, what in (("replications", "replications per trial (--reps)"), ("seed", "seed"),
                      ("plan_sha256", "plan"), ("decisions_sha256", "optimize block")):
        if theirs.get(key) != fp[key]:
            if key in ("replications", "seed"):
                detail = f"{theirs.get(key)} here, {fp[key]} asked"
                raise StudyMismatch(f"study {name!r} was run with another {what} ({detail}); "
                                    f"use the same {what} or another --study")
            raise StudyMismatch(f"study {name!r} was run with another {what} (scenario "
                                f"{theirs.get('scenario')!r}); use another --study or --out")
    return study, False


def make_sampler(spec: Spec, seed: int | None):
    kind = spec.scenario.optimize.sampler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if kind == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
        # constant liar: a running trial on another worker counts as a poor result, so parallel
        # workers do not all propose the same plan.
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def make_pruner(spec: Spec):
    opt = spec.scenario.optimize
    return PairedPruner(after=opt.prune_after) if opt.prune else optuna.pruners.NopPruner()


def sampler_seed(seed: int, existing: int, worker: int) -> int:
    """A fresh single-worker study is reproducible; a resumed study or another worker does not
    replay the same random start-up plans."""
    return int(np.random.SeedSequence([seed, existing, worker]).generate_state(1)[0])


# --------------------------------------------------------------------- workers
class Slots:
    """N trial slots shared by the local workers of one invocation (a counter under a lock)."""

    def __init__(self, n: int, ctx=None):
        ctx = ctx or mp.get_context("spawn")
        self.n = n
        self._claimed = ctx.Value("i", 0, lock=False)
        self._done = ctx.Value("i", 0, lock=False)
        self._lock = ctx.Lock()

    def claim(self) -> bool:
        with self._lock:
            if self._claimed.value >= self.n:
                return False
            self._claimed.value += 1
            return True

    def finish(self, counted: bool) -> int:
        """Close a claimed slot: a counted trial keeps it, another gives it back. Returns done."""
        with self._lock:
            if counted:
                self._done.value += 1
            else:
                self._claimed.value -= 1
            return self._done.value

    @property
    def done(self) -> int:
        return self._done.value


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker process needs (picklable)."""

    scenario_json: str
    url: str | None
    study: str
    reps: int
    seed: int
    heartbeat: int
    invocation: str
    engine: str = "fast"


class _QuietInterruption(logging.Filter):
    """Optuna logs a trial stopped by Ctrl-C or SIGINT as a failure with its traceback; the
    command says it was interrupted instead (the trial is still marked failed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, KeyboardInterrupt) and "failed with value None" not in record.getMessage()


def _quiet_interruptions() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for h in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _QuietInterruption) for f in h.filters):
            h.addFilter(_QuietInterruption())


def work(cfg: WorkerConfig, worker: int, slots: Slots, deadline: float | None, report, *,
         storage=None, scenario: Scenario | None = None, parent_pid: int | None = None) -> None:
    """Run trials on the study until the slots are taken or the deadline passes.

    `report(kind, payload)` receives ('trial', (done, number, state, values)) after each trial."""
    _quiet_interruptions()
    scenario = scenario or Scenario.model_validate_json(cfg.scenario_json)
    spec = Spec.of(scenario)
    storage = storage or open_storage(cfg.url, cfg.heartbeat)
    probe = optuna.load_study(study_name=cfg.study, storage=storage)
    existing = len(probe.get_trials(deepcopy=False))
    study = optuna.load_study(study_name=cfg.study, storage=storage,
                              sampler=make_sampler(spec, sampler_seed(cfg.seed, existing, worker)),
                              pruner=make_pruner(spec))
    evaluator = Evaluator(spec, cfg.reps, cfg.seed, prune=scenario.optimize.prune, engine=cfg.engine,
                          invocation=cfg.invocation, parent_pid=parent_pid)
    fails = 0
    last: list = []
    while deadline is None or time.time() < deadline:
        check_interrupt()
        if not slots.claim():
            break
        last.clear()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.optimize(evaluator, n_trials=1, catch=(ScenarioError,),
                               callbacks=[lambda s, t: last.append(t)])
        except ValueError as e:
            slots.finish(False)
            if not str(e).startswith("Cannot tell a "):
                raise
            # Another worker finished this trial first: two workers popped the same queued trial
            # (the starting plan) — SQLite has no row lock for Optuna's queue (optuna issue
            # #4621). The other worker's result counts; this one takes a new slot.
            continue
        except BaseException:
            slots.finish(False)
            raise
        t = last[0] if last else None
        # the storage's word, not the trial's own: a worker starved past the heartbeat's grace
        # period has its trial failed as stale by another worker, though it finished it here
        ok = t is not None and t.state in COUNTED and storage.get_trial(t._trial_id).state in COUNTED
        done = slots.finish(ok)
        if ok:
            fails = 0
            report("trial", (done, t.number, t.state.name, t.values, bool(t.user_attrs.get("baseline"))))
        else:
            fails += 1
            if fails >= MAX_FAILS_IN_A_ROW:
                raise RuntimeError(f"{fails} trials in a row failed (last: trial "
                                   f"{t.number if t else '?'}); see the warnings above")


def _worker_main(cfg: WorkerConfig, worker: int, slots: Slots, deadline, q, parent_pid: int) -> None:
    from simulator.signals import die_with_parent

    die_with_parent(parent_pid)          # the kernel kills this worker when its parent dies
    try:
        # started with SIGINT ignored; from here it is noted and raised between replications
        with deferred_interrupts(), quiet_lost_interrupts():
            q.put(("started", worker))
            work(cfg, worker, slots, deadline, lambda kind, payload: q.put((kind, payload)),
                 parent_pid=parent_pid)
    except KeyboardInterrupt:            # the running trial was marked failed by Optuna
        q.put(("stopped", worker))
        return
    except BaseException:  # noqa: BLE001 - reported to the parent, then the worker exits
        q.put(("error", traceback.format_exc()))
        raise SystemExit(1)
    q.put(("finished", worker))


def fail_running(storage, study: str, invocation: str) -> list[int]:
    """Mark FAIL every trial of `study` that this invocation's workers left RUNNING (a worker
    stopped by force cannot tell the storage itself). Returns their numbers."""
    from optuna.trial import TrialState

    try:
        s = optuna.load_study(study_name=study, storage=storage)
        failed = []
        for t in s.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.user_attrs.get("invocation") == invocation:
                storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                failed.append(t.number)
        return failed
    except Exception:  # noqa: BLE001 - the heartbeat fails them later if the storage is gone
        return []


def run_workers(cfg: WorkerConfig, n_trials: int, workers: int, timeout: float | None, on_trial,
                scenario: Scenario, storage) -> None:
    """Run `n_trials` counted trials on the study with `workers` local workers (1: in this
    process; more: spawned processes). `on_trial(done, number, state, values, baseline)`.

    Interrupted (Ctrl-C, SIGINT or SIGTERM to this process alone, as a scheduler sends it),
    the parent stops its workers (SIGINT: each fails its running trial and exits; then SIGTERM
    and SIGKILL for any that lingers), marks FAIL whatever trial of this invocation is still
    RUNNING, and raises the interruption on. A worker never outlives the parent."""
    deadline = None if timeout is None else time.time() + timeout
    if workers <= 1:
        slots = Slots(n_trials)
        work(cfg, 0, slots, deadline, lambda kind, p: on_trial(*p), storage=storage, scenario=scenario)
        return
    from simulator.signals import ignoring_sigint, stop_processes

    workers = min(workers, n_trials)                  # a worker per trial at most
    ctx = mp.get_context("spawn")
    slots = Slots(n_trials, ctx)
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker_main, args=(cfg, w, slots, deadline, q, os.getpid()),
                         name=f"promosim-optimize-{w}") for w in range(workers)]
    errors: list[str] = []
    started: set[int] = set()

    def take(kind, payload) -> None:
        if kind == "trial":
            on_trial(*payload)
        elif kind == "error":
            errors.append(payload)
        elif kind == "started":
            started.add(payload)

    try:
        with ignoring_sigint():                       # a worker takes SIGINT up once it is ready
            for p in procs:
                p.start()
        with deferred_interrupts():                   # raised here, between messages
            while any(p.is_alive() for p in procs) or not q.empty():
                check_interrupt()
                try:
                    kind, payload = q.get(timeout=0.5)
                except queue_mod.Empty:
                    continue
                take(kind, payload)
    except BaseException:
        _drain(q, take, wait=0.0)                     # which workers are ready by now
        # a ready worker fails its running trial on SIGINT; one still starting has none: SIGTERM
        stop_processes([p for p in procs if p.pid is not None], grace=10.0,
                       first=lambda p: signal.SIGINT if procs.index(p) in started else signal.SIGTERM)
        _drain(q, lambda kind, payload: None)
        fail_running(storage, cfg.study, cfg.invocation)
        raise
    finally:
        for p in procs:
            if p.pid is not None:
                p.join()
    _drain(q, take)                               # messages still in the pipe after the exits
    if errors:
        raise RuntimeError("a worker failed:\n" + errors[0])
    dead = [p.name for p in procs if p.exitcode not in (0, None)]
    if dead:
        raise RuntimeError(f"worker(s) {', '.join(dead)} exited abnormally")


def _drain(q, take, wait: float = 0.2) -> None:
    while True:
        try:
            kind, payload = q.get(timeout=wait) if wait else q.get_nowait()
        except (queue_mod.Empty, OSError, EOFError, ValueError):
            return
        take(kind, payload)


def counted_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def state_counts(study: optuna.Study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out

