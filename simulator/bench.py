"""The scenario regression suite: run every scenario on its fixed seeds, check each KPI against
a committed baseline under tolerances, and write JUnit XML and a Markdown summary.

The baseline (JSON, e.g. `benchmarks/baseline.json`) is keyed by scenario *file name*, so a
copied scenario folder checks against the same entries::

    {"format": 1,
     "tolerances": {"default": {"rel": 0.02, "sigmas": 3},
                    "kpis": {"stockout_minutes": {"abs": 60}},
                    "scenarios": {"618_electronics.yaml": {"kpis": {"lost_units": {"rel": 0.1}}}}},
     "scenarios": {"double11_beauty_flagship.yaml": {
         "scenario": "...", "seed": 0, "reps": 10, "sha256": "...",
         "versions": {"promosim": "0.1.0", "numpy": "2.4.6"},
         "kpis": {"gmv": {"mean": ..., "std": ..., "n": 10, "p5": ..., "p50": ..., "p95": ...}}}}}

Tolerances. A KPI passes when |now − baseline| ≤ the *largest* allowance configured for it:
`rel` × |baseline mean|, `abs` (in the KPI's unit), and `sigmas` × the standard error of the
difference of two means, √(sd_b²/n_b + sd_now²/n_now), from the replication spread stored in
the baseline and seen now. With none configured a KPI must match exactly. `ignore: true`
skips a KPI. Later levels override earlier ones key by key: `default`, `kpis.<kpi>`,
`scenarios.<file>.default`, `scenarios.<file>.kpis.<kpi>`; `null` switches an allowance off.
Checks are two-sided: an unexplained rise is as much a change of behaviour as a fall.

Scenarios run with their own `meta.seed` and `meta.replications`, so on an unchanged project
(same code, the pinned versions of `.ci/constraints.txt`) every KPI reproduces the baseline
exactly; the tolerances absorb deliberate changes that only re-draw the randomness.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.files import json_safe
from simulator.naming import RUN_KPIS, did_you_mean
from simulator.scenario.errors import InputError

FORMAT = 1
TOLERANCE_KEYS = ("rel", "abs", "sigmas", "ignore")
DEFAULT_TOLERANCES: dict[str, Any] = {"default": {"rel": 0.02, "sigmas": 3}, "kpis": {}}
ABOUT = ("promosim bench baseline: every KPI of every scenario on its fixed seeds. Regenerate with "
         "`promosim bench scenarios --baseline benchmarks/baseline.json --update` whenever the engine "
         "changes, and review the diff (docs/ci.md).")
STATS = ("mean", "std", "n", "p5", "p50", "p95")


class BaselineError(InputError):
    """A baseline file, tolerance or scenario folder that cannot be used (exit code 2)."""


# --------------------------------------------------------------------------- statistics
def kpi_stats(values) -> dict[str, Any]:
    """mean, std (ddof=1; 0 for one value), n, p5, p50, p95 over replications; None values
    (an undefined ratio) are skipped, and n counts the rest."""
    x = np.array([v for v in values if v is not None and not _isnan(v)], dtype=float)
    if x.size == 0:
        return {"mean": None, "std": None, "n": 0, "p5": None, "p50": None, "p95": None}
    p5, p50, p95 = np.percentile(x, [5, 50, 95])
    return {"mean": float(x.mean()), "std": float(x.std(ddof=1)) if x.size > 1 else 0.0, "n": int(x.size),
            "p5": float(p5), "p50": float(p50), "p95": float(p95)}


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def versions() -> dict[str, str]:
    """Versions that decide the random streams: promosim and numpy."""
    from importlib.metadata import PackageNotFoundError, version

    import simulator

    out = {}
    for dist in ("promosim", "numpy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = simulator.__version__ if dist == "promosim" else np.__version__
    return out


def file_digest(path: Path) -> str:
    """sha256 of a scenario file, line endings normalized (a CRLF checkout is the same file)."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def scenario_entry(res, path: Path) -> dict[str, Any]:
    """The baseline entry of one scenario's `Results`."""
    df = res.kpis()
    names = [k for k in df.columns if k != "replication"]
    return {"scenario": res.scenario.meta.name, "seed": int(res.seed), "reps": int(res.reps),
            "sha256": file_digest(path), "versions": versions(),
            "kpis": {k: kpi_stats(df[k].tolist()) for k in names}}


# --------------------------------------------------------------------------- tolerances
@dataclass(frozen=True)
class Tolerance:
    """Allowances for one KPI; the largest one configured applies."""

    rel: float | None = None
    abs: float | None = None
    sigmas: float | None = None
    ignore: bool = False

    def allowance(self, base: dict, now: dict) -> tuple[float, str]:
        """(allowed |now − base| of the mean, which rule gave it: 'rel', 'abs', 'kσ' or 'exact')."""
        best = (0.0, "exact")
        if self.rel is not None and base["mean"] is not None:
            best = max(best, (self.rel * abs(base["mean"]), "rel"), key=lambda x: x[0])
        if self.abs is not None:
            best = max(best, (float(self.abs), "abs"), key=lambda x: x[0])
        if self.sigmas is not None:
            se = math.sqrt(_var_of_mean(base) + _var_of_mean(now))
            best = max(best, (self.sigmas * se, f"{self.sigmas:g}σ"), key=lambda x: x[0])
        return best

    def describe(self) -> str:
        parts = []
        if self.rel is not None:
            parts.append(f"rel {self.rel:.2%}")
        if self.abs is not None:
            parts.append(f"abs {self.abs:g}")
        if self.sigmas is not None:
            parts.append(f"{self.sigmas:g}σ")
        return ", ".join(parts) or "exact"


def _var_of_mean(s: dict) -> float:
    n, sd = s.get("n") or 0, s.get("std")
    return (sd * sd / n) if n >= 2 and sd is not None else 0.0


def _check_tolerance_block(obj, where: str, kpis: set[str]) -> None:
    if not isinstance(obj, dict):
        raise BaselineError(f"{where}: expected a mapping such as {{\"default\": {{\"rel\": 0.02}}, \"kpis\": {{}}}}")
    for key in obj:
        if key not in ("default", "kpis"):
            raise BaselineError(f"{where}: unknown key {key!r}{did_you_mean(key, ['default', 'kpis'])}; "
                                f"expected 'default' and 'kpis'")
    _check_tolerance(obj.get("default", {}), f"{where}.default")
    per_kpi = obj.get("kpis", {})
    if not isinstance(per_kpi, dict):
        raise BaselineError(f"{where}.kpis: expected a mapping from KPI name to a tolerance")
    for name, tol in per_kpi.items():
        if name not in kpis:
            raise BaselineError(f"{where}.kpis: unknown KPI {name!r}{did_you_mean(name, sorted(kpis))}")
        _check_tolerance(tol, f"{where}.kpis.{name}")


def _check_tolerance(obj, where: str) -> None:
    if not isinstance(obj, dict):
        raise BaselineError(f"{where}: expected a mapping such as {{\"rel\": 0.02, \"sigmas\": 3}}")
    for key, value in obj.items():
        if key not in TOLERANCE_KEYS:
            raise BaselineError(f"{where}: unknown tolerance {key!r}{did_you_mean(key, TOLERANCE_KEYS)}; "
                                f"expected one of {', '.join(TOLERANCE_KEYS)}")
        if key == "ignore":
            if not isinstance(value, bool):
                raise BaselineError(f"{where}.ignore: expected true or false, got {value!r}")
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                    or not math.isfinite(value) or value < 0):
            raise BaselineError(f"{where}.{key}: expected a number ≥ 0 or null, got {value!r}")


def validate_tolerances(tol, known_kpis) -> None:
    """Raise `BaselineError` naming the first bad key of a `tolerances` block."""
    kpis = set(known_kpis)
    if not isinstance(tol, dict):
        raise BaselineError("tolerances: expected a mapping with 'default', 'kpis' and 'scenarios'")
    _check_tolerance_block({k: v for k, v in tol.items() if k != "scenarios"}, "tolerances", kpis)
    per_file = tol.get("scenarios", {})
    if not isinstance(per_file, dict):
        raise BaselineError("tolerances.scenarios: expected a mapping from scenario file name to tolerances")
    for name, block in per_file.items():
        _check_tolerance_block(block, f"tolerances.scenarios.{name}", kpis)


def tolerance_for(tol: dict, file: str, kpi: str) -> Tolerance:
    """The tolerance of `kpi` in scenario `file`: default < kpis.<kpi> < scenarios.<file>.default
    < scenarios.<file>.kpis.<kpi>, key by key."""
    merged: dict[str, Any] = {}
    per_file = tol.get("scenarios", {}).get(file, {})
    for block in (tol.get("default"), tol.get("kpis", {}).get(kpi),
                  per_file.get("default"), per_file.get("kpis", {}).get(kpi)):
        merged.update(block or {})
    return Tolerance(**merged)


# --------------------------------------------------------------------------- baseline files
def new_baseline() -> dict[str, Any]:
    return {"format": FORMAT, "about": ABOUT, "tolerances": json.loads(json.dumps(DEFAULT_TOLERANCES)),
            "scenarios": {}}


def load_baseline(path: str | Path) -> dict[str, Any]:
    """Read and check a baseline file (tolerances and entries); `BaselineError` names the problem."""
    path = Path(path)
    from simulator.scenario.source import Unreadable, read_text

    try:
        data = json.loads(read_text(path, "a bench baseline (JSON)", 256 << 20))
    except Unreadable as e:
        if e.message != "no such file":
            raise BaselineError(f"{path}: {e.message}") from None
        raise BaselineError(f"{path}: no such baseline file; create it with "
                            f"`promosim bench SCENARIO_DIR --baseline {path} --update`") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(f"{path}: not a promosim bench baseline (expected \"format\": {FORMAT})")
    for key in data:
        if key not in ("format", "about", "tolerances", "scenarios"):
            raise BaselineError(f"{path}: unknown key {key!r}"
                                f"{did_you_mean(key, ['format', 'about', 'tolerances', 'scenarios'])}")
    data.setdefault("tolerances", json.loads(json.dumps(DEFAULT_TOLERANCES)))
    data.setdefault("scenarios", {})
    if not isinstance(data["scenarios"], dict):
        raise BaselineError(f"{path}: scenarios: expected a mapping from scenario file name to its KPIs")
    known = set(RUN_KPIS)
    for name, entry in data["scenarios"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("kpis"), dict):
            raise BaselineError(f"{path}: scenarios.{name}: expected an entry with 'kpis'")
        for kpi, s in entry["kpis"].items():
            if not isinstance(s, dict) or any(k not in s for k in ("mean", "std", "n")):
                raise BaselineError(f"{path}: scenarios.{name}.kpis.{kpi}: expected mean, std and n")
        known.update(entry["kpis"])
    try:
        validate_tolerances(data["tolerances"], known)
    except BaselineError as e:
        raise BaselineError(f"{path}: {e}") from None
    return data


def dump_baseline(data: dict[str, Any]) -> str:
    """The baseline as JSON text: scenarios sorted by file name, so an unchanged project
    rewrites the same bytes."""
    out = {"format": FORMAT, "about": data.get("about", ABOUT), "tolerances": data["tolerances"],
           "scenarios": {k: data["scenarios"][k] for k in sorted(data["scenarios"])}}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- checks
@dataclass
class KpiCheck:
    """One KPI of one scenario against its baseline. status: ok | fail | new | updated | ignored."""

    kpi: str
    baseline: float | None
    now: float | None
    allowed: float | None
    rule: str
    status: str
    message: str = ""

    @property
    def change(self) -> float | None:
        return None if self.baseline is None or self.now is None else self.now - self.baseline

    @property
    def rel_change(self) -> float | None:
        c = self.change
        return None if c is None or not self.baseline else c / abs(self.baseline)


def check_kpi(file: str, kpi: str, base: dict | None, now: dict | None, tol: Tolerance) -> KpiCheck:
    """Check one KPI; the failure message names the scenario file, the KPI and the numbers."""
    from simulator.show import fmt

    b = base["mean"] if base else None
    n = now["mean"] if now else None
    if tol.ignore:
        return KpiCheck(kpi, b, n, None, "ignored", "ignored", f"{file}: {kpi}: ignored by the tolerances")
    if base is None:
        return KpiCheck(kpi, None, n, None, "–", "new",
                        f"{file}: {kpi}: not in the baseline (a new KPI); `--update` records it")
    if now is None:
        return KpiCheck(kpi, b, None, None, "–", "fail",
                        f"{file}: {kpi}: in the baseline but no longer reported")
    if b is None or n is None:
        if b is None and n is None:
            return KpiCheck(kpi, None, None, None, "–", "ok")
        was, got = ("undefined", fmt(kpi, n)) if b is None else (fmt(kpi, b), "undefined")
        return KpiCheck(kpi, b, n, None, "–", "fail",
                        f"{file}: {kpi} is {got} (baseline {was}): a ratio KPI changed definedness")
    allowed, rule = tol.allowance(base, now)
    change = n - b
    ok = change == 0 or abs(change) <= allowed
    c = KpiCheck(kpi, b, n, allowed, rule, "ok" if ok else "fail")
    if not ok:
        rel = f"{c.rel_change:+.2%}" if c.rel_change is not None else f"{change:+g}"
        allow = f"±{allowed / abs(b):.2%}" if b else f"±{allowed:g}"
        c.message = (f"{file}: {kpi} changed by {rel} ({fmt(kpi, b)} → {fmt(kpi, n)}); "
                     f"allowed {allow} ({rule}; tolerance {tol.describe()})")
    return c


@dataclass
class ScenarioResult:
    """One scenario file: its checks, or the error that stopped it."""

    file: str
    path: str
    scenario: str | None = None
    seed: int | None = None
    reps: int | None = None
    seconds: float = 0.0
    checks: list[KpiCheck] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    entry: dict | None = None           # the new baseline entry (what ran now)
    new: bool = False                   # not in the baseline before (only with --update)

    @property
    def failures(self) -> list[KpiCheck]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def status(self) -> str:
        """error | fail | new | updated | ok."""
        if self.error:
            return "error"
        if self.failures:
            return "fail"
        if self.new:
            return "new"
        if any(c.status == "updated" for c in self.checks):
            return "updated"
        return "ok"


@dataclass
class BenchReport:
    baseline: str
    scenarios: list[ScenarioResult]
    warnings: list[str] = field(default_factory=list)
    update: bool = False
    written: bool = False               # the baseline file was (re)written

    @property
    def regressions(self) -> list[KpiCheck]:
        return [c for s in self.scenarios for c in s.failures]

    @property
    def errors(self) -> list[ScenarioResult]:
        return [s for s in self.scenarios if s.error]

    @property
    def exit_code(self) -> int:
        """2 when a scenario could not be checked, else 1 on any regression, else 0."""
        return 2 if self.errors else 1 if self.regressions else 0

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "ok": self.exit_code == 0, "baseline": self.baseline, "update": self.update,
            "regressions": len(self.regressions), "errors": len(self.errors), "warnings": self.warnings,
            "scenarios": {s.file: {
                "scenario": s.scenario, "status": s.status, "seed": s.seed, "reps": s.reps,
                "seconds": round(s.seconds, 3), "error": s.error, "notes": s.notes,
                "kpis": {c.kpi: {"baseline": c.baseline, "now": c.now, "change": c.change,
                                 "rel_change": c.rel_change, "allowed": c.allowed, "rule": c.rule,
                                 "status": c.status, **({"message": c.message} if c.message else {})}
                         for c in s.checks}} for s in self.scenarios},
        })

def check_entry(file: str, base: dict, now: dict, tolerances: dict) -> tuple[list[KpiCheck], list[str]]:
    """Every KPI of one scenario (baseline order, then KPIs new in this run), and notes on what
    differs in how the two were produced (seed, replications, versions, the file itself)."""
    names = list(base["kpis"]) + [k for k in now["kpis"] if k not in base["kpis"]]
    checks = [check_kpi(file, k, base["kpis"].get(k), now["kpis"].get(k), tolerance_for(tolerances, file, k))
              for k in names]
    notes = []
    if base.get("seed") is not None and base["seed"] != now["seed"]:
        notes.append(f"ran on seed {now['seed']}; the baseline on seed {base['seed']}")
    if base.get("reps") is not None and base["reps"] != now["reps"]:
        notes.append(f"ran {now['reps']} replications; the baseline {base['reps']}")
    old_v, new_v = base.get("versions", {}), now["versions"]
    for dist in ("numpy", "promosim"):
        if old_v.get(dist) and old_v[dist] != new_v.get(dist):
            extra = " (random streams may differ: install with -c .ci/constraints.txt)" if dist == "numpy" else ""
            notes.append(f"baseline recorded with {dist} {old_v[dist]}, this run {new_v.get(dist)}{extra}")
    if base.get("sha256") and base["sha256"] != now["sha256"]:
        notes.append("the scenario file has changed since the baseline was recorded")
    return checks, notes


def discover(paths) -> list[Path]:
    """Scenario files: each folder's *.yaml / *.yml (not recursive), and files given directly;
    file names must be unique (they key the baseline)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")], key=lambda f: f.name)
            if not found:
                raise BaselineError(f"{p}: no scenario files (*.yaml) in this folder")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise BaselineError(f"{p}: no such scenario file or folder")
    seen: dict[str, Path] = {}
    for f in files:
        if f.name in seen and seen[f.name].resolve() != f.resolve():
            raise BaselineError(f"two scenario files are named {f.name} ({seen[f.name]} and {f}); "
                                f"the baseline is keyed by file name, so names must be unique")
        seen[f.name] = f
    return list(seen.values())


class _Quiet:
    def update(self, done, total=None):
        pass

    def describe(self, text):
        pass

    def log(self, text):
        pass


def run_bench(
    paths,
    baseline: str | Path,
    *,
    update: bool = False,
    prune: bool = False,
    reps: int | None = None,
    workers: int = 1,
    progress=None,
    force: bool = True,
) -> BenchReport:
    """Run every scenario under `paths` and check it against `baseline`.

    `force` False: a scenario above the run-size limits (`simulator.size`) is an error of its
    own instead of a run (the command line, without --force).

    `update`: write the baseline from this run (atomically; tolerances and the entries of
    scenarios not run here are kept, `prune` drops entries whose file is not among `paths`).
    `reps` overrides every scenario's `meta.replications`. `progress` is a
    `simulator.progress.Progress` (replications across all scenarios, a line per scenario).
    Raises `BaselineError` for an unusable baseline file or folder.
    """
    from simulator import size
    from simulator.files import atomic_write_text
    from simulator.runner import simulate
    from simulator.scenario import ScenarioError, load_scenario

    bar = progress or _Quiet()
    files = discover(paths)
    baseline = Path(baseline)
    if baseline.exists() or not update:
        data = load_baseline(baseline)
    else:
        data = new_baseline()
    report = BenchReport(baseline=str(baseline), scenarios=[], update=update)

    loaded = []
    for f in files:
        r = ScenarioResult(file=f.name, path=str(f))
        try:
            scen = load_scenario(f)
        except ScenarioError as e:
            r.error = f"invalid scenario:\n{e}"
            scen = None
        if scen is not None:
            r.scenario, r.seed, r.reps = scen.meta.name, scen.meta.seed, reps or scen.meta.replications
            try:
                size.check(scen, r.reps, force=force)
            except size.RunTooLarge as e:
                r.error = str(e)
            if f.name not in data["scenarios"] and not update:
                r.error = (f"no baseline entry for {f.name} in {baseline}: record it with "
                           f"`promosim bench {f.parent} --baseline {baseline} --update` and commit {baseline.name}")
        loaded.append((r, scen))
        report.scenarios.append(r)

    total = sum(r.reps for r, s in loaded if s is not None and not r.error) or 1
    done = 0
    for i, (r, scen) in enumerate(loaded, 1):
        head = f"bench [{i}/{len(loaded)}] {r.file}"
        if r.error:
            bar.log(f"{head}: ERROR {r.error.splitlines()[0]}")
            continue
        bar.describe(head)
        t0 = time.perf_counter()
        res = simulate(scen, reps=r.reps, seed=r.seed, workers=workers, uncertainty=False,   # shopper noise only:
                       progress=lambda d, t, o=done: bar.update(o + d, total))                # its tolerances
        r.seconds = time.perf_counter() - t0
        done += r.reps
        r.entry = scenario_entry(res, Path(r.path))
        base = data["scenarios"].get(r.file)
        if base is None:
            r.new = True
        else:
            r.checks, r.notes = check_entry(r.file, base, r.entry, data["tolerances"])
            if update:
                for c in r.checks:
                    if c.status == "fail":
                        c.status = "updated"
        bar.log(f"{head}: {_status_word(r)} ({len(r.entry['kpis'])} KPIs, {r.reps} replications, "
                f"{r.seconds:.1f} s)")

    ran = {r.file for r in report.scenarios}
    for name in data["scenarios"]:
        if name not in ran:
            if update and prune:
                report.warnings.append(f"baseline entry {name}: its scenario file is not among those run; dropped (--prune)")
            else:
                report.warnings.append(f"baseline entry {name}: no scenario file of that name was run "
                                       f"(renamed or removed? `--update --prune` drops it)")
    if update:
        new = dict(data)
        new["scenarios"] = {k: v for k, v in data["scenarios"].items() if not (prune and k not in ran)}
        for r in report.scenarios:
            if r.entry is not None:
                new["scenarios"][r.file] = r.entry
        text = dump_baseline(new)
        old = baseline.read_text(encoding="utf-8") if baseline.exists() else None
        if text != old:
            baseline.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(baseline, text)
            report.written = True
    return report


def _status_word(r: ScenarioResult) -> str:
    return {"ok": "ok", "fail": f"FAIL ({len(r.failures)} out of tolerance)", "new": "new (recorded)",
            "updated": "changed (recorded)", "error": "ERROR"}[r.status]


# --------------------------------------------------------------------------- reports
def junit_xml(report: BenchReport) -> bytes:
    """JUnit XML: one testsuite per scenario file, one testcase per KPI; a regression is a
    <failure> whose message names the scenario and the KPI; a scenario that could not be
    checked is one <error> testcase."""
    root = ET.Element("testsuites", name="promosim bench")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for s in report.scenarios:
        stem = s.file.rsplit(".", 1)[0]
        suite = ET.SubElement(root, "testsuite", name=s.file)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        props = ET.SubElement(suite, "properties")
        for k, v in (("scenario", s.scenario), ("seed", s.seed), ("replications", s.reps),
                     ("baseline", report.baseline)):
            if v is not None:
                ET.SubElement(props, "property", name=k, value=str(v))
        if s.error:
            case = ET.SubElement(suite, "testcase", classname=f"bench.{stem}", name="scenario", time="0")
            ET.SubElement(case, "error", message=f"{s.file}: {s.error.splitlines()[0]}",
                          type="error").text = s.error
            counts["tests"] += 1
            counts["errors"] += 1
        for c in s.checks:
            case = ET.SubElement(suite, "testcase", classname=f"bench.{stem}", name=c.kpi, time="0")
            counts["tests"] += 1
            if c.status == "fail":
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=c.message, type="regression").text = (
                    f"{c.message}\nbaseline mean: {c.baseline!r}\nnow mean: {c.now!r}\n"
                    f"allowed |change|: {c.allowed!r}")
            elif c.status == "ignored":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=c.message)
            elif c.status in ("new", "updated"):
                ET.SubElement(case, "system-out").text = c.message or f"{c.kpi}: {c.status}"
        if s.notes:
            ET.SubElement(suite, "system-out").text = "\n".join(s.notes)
        suite.set("tests", str(counts["tests"]))
        for k in ("failures", "errors", "skipped"):
            suite.set(k, str(counts[k]))
        suite.set("time", f"{s.seconds:.3f}")
        for k in totals:
            totals[k] += counts[k]
        seconds += s.seconds
    for k in ("tests", "failures", "errors"):
        root.set(k, str(totals[k]))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


_ICON = {"ok": "✅", "fail": "❌", "error": "⚠️", "new": "🆕", "updated": "🔄", "ignored": "➖"}


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def _kpi_row(c: KpiCheck) -> str:
    from simulator.show import fmt

    if c.change is None:
        change = "–"
    elif c.change == 0:
        change = "0"
    else:
        change = f"{100 * c.rel_change:+.2f} %" if c.rel_change is not None else f"{c.change:+g}"
    if c.allowed is None:
        tol = "–" if c.rule != "ignored" else "ignored"
    elif c.rule == "exact":
        tol = "exact"
    elif c.baseline:
        tol = f"±{100 * c.allowed / abs(c.baseline):.2f} % ({c.rule})"
    else:
        tol = f"±{c.allowed:g} ({c.rule})"
    return (f"| {c.kpi} | {fmt(c.kpi, c.baseline)} | {fmt(c.kpi, c.now)} | {change} | {tol} "
            f"| {_ICON.get(c.status, c.status)} |")


def markdown(report: BenchReport) -> str:
    """A Markdown summary for a pull request ($GITHUB_STEP_SUMMARY): a line per scenario,
    then a table per scenario (KPI, baseline, now, change, tolerance, status); tables of
    scenarios that pass are folded."""
    n_reg, n_err = len(report.regressions), len(report.errors)
    n = len(report.scenarios)
    if report.update:
        head = f"🔄 baseline {'updated' if report.written else 'unchanged'} from {n} scenario(s)"
    elif n_err:
        head = f"⚠️ {n_err} of {n} scenario(s) could not be checked" + (
            f", {n_reg} KPI(s) out of tolerance" if n_reg else "")
    elif n_reg:
        bad = sum(1 for s in report.scenarios if s.failures)
        head = f"❌ {n_reg} KPI(s) out of tolerance in {bad} of {n} scenario(s)"
    else:
        head = f"✅ all {n} scenario(s) within tolerance"
    lines = [f"## promosim bench — {head}", "",
             (f"Baseline `{report.baseline}`. A KPI passes when its change from the baseline is within the "
              f"largest allowance configured for it (relative, absolute, or k × the standard error of the "
              f"difference of means)."), "",
             "| scenario | KPIs | out of tolerance | replications | seconds | status |",
             "|---|---:|---:|---:|---:|:-:|"]
    for s in report.scenarios:
        lines.append(f"| {_md(s.file)} | {len(s.checks)} | {len(s.failures)} | {s.reps if s.reps else '–'} "
                     f"| {s.seconds:.1f} | {_ICON[s.status]} |")
    for w in report.warnings:
        lines += ["", f"> ⚠️ {_md(w)}"]
    for s in report.scenarios:
        title = f"{_ICON[s.status]} {_md(s.file)}" + (f" — {_md(s.scenario)}" if s.scenario else "")
        lines.append("")
        if s.error:
            lines += [f"### {title}", "", "```", s.error, "```"]
            continue
        table = ["| KPI | baseline | now | change | tolerance | status |", "|---|---:|---:|---:|---:|:-:|"]
        failing = [c for c in s.checks if c.status in ("fail", "updated")]
        rows = failing + [c for c in s.checks if c not in failing]
        table += [_kpi_row(c) for c in rows]
        meta = f"seed {s.seed} · {s.reps} replications · {s.seconds:.1f} s"
        notes = [f"> {_md(n)}" for n in s.notes]
        if s.new:
            lines += [f"### {title}", "", meta, "", "New: recorded in the baseline."]
        elif s.status in ("fail", "updated"):
            lines += [f"### {title}", "", meta, "", *notes, *([""] if notes else []), *table]
        else:
            lines += ["<details>", f"<summary>{title}: all {len(s.checks)} KPIs within tolerance</summary>", "",
                      meta, "", *notes, *([""] if notes else []), *table, "", "</details>"]
    return "\n".join(lines) + "\n"
