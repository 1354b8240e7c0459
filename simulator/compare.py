"""Two plans on common random numbers: the paired difference of every KPI, with an interval.

Replication i of base seed S sees the same visitors in every plan (`simulator.runner`), so
the per-replication difference d_i = B_i − A_i of a KPI carries far less noise than the
difference of two independent samples. For each KPI, over the n replications where both
sides are defined:

- `diff` = mean(d_i), with a Student-t interval at `level`:
  `ci_low, ci_high = diff ∓ t_{(1+level)/2, n−1} · sd(d) / √n`;
- `rel` = diff / |mean(A)| (None when mean(A) is 0), with a delta-method interval from the
  residuals e_i = d_i − (diff / mean(A)) · A_i: `rel ∓ t · sd(e) / (√n · |mean(A)|)` —
  it accounts for the noise in A's mean as well as in the difference;
- a pair in which either side is undefined (a ratio KPI — roi, aov, conversion_rate,
  sell_through — with a zero denominator) is dropped, and `dropped` counts it.

When every d_i is the same number d the interval is exactly [d, d], with no floating-point
residue: a plan compared with itself gives 0.0 for every KPI. A d_i within floating-point
rounding of zero (|d_i| ≤ 1e−9 × max(|A_i|, |B_i|): a ratio computed two ways) counts as 0,
so rounding is never called a difference. With one pair there is no interval (None).
Each row also says whether the change is `good` or `bad` for the store (`verdict`: by which
way the store wants the KPI to move, `simulator.naming`), when its interval excludes 0.

A plan is a scenario (run here), a result folder written by `promosim run --out` (its
kpis table and the seeds in run.json), or a `Results`. Two result folders are paired by
replication index and must have run on the same seeds.
"""

from __future__ import annotations

import io
import json
import math
import sys
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.files import json_safe
from simulator.naming import RUN_KPIS, verdict
from simulator.scenario.errors import InputError
from simulator.scenario.overrides import override_text, override_value

RESULT_FILES = ("run.json", "kpis.parquet | kpis.csv")


class CompareError(InputError):
    """Two plans that cannot be compared (different seeds, a folder that is not a result)."""


# --------------------------------------------------------------------------- statistics
def paired_difference(a, b, level: float = 0.95) -> dict[str, Any]:
    """The paired difference B − A of one KPI over replications.

    a, b: (n,) values per replication, paired by position; None/NaN marks an undefined
    value, and its pair is dropped. Returns mean_a, mean_b, diff, ci_low, ci_high, rel,
    rel_low, rel_high, n (pairs used), dropped, excludes_zero (the interval lies strictly
    on one side of 0).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    a = np.asarray(pd.to_numeric(pd.Series(a, dtype=object), errors="coerce"), dtype=float)
    b = np.asarray(pd.to_numeric(pd.Series(b, dtype=object), errors="coerce"), dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} and {b.size}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = int(a.size)
    out: dict[str, Any] = {"mean_a": None, "mean_b": None, "diff": None, "ci_low": None, "ci_high": None,
                           "rel": None, "rel_low": None, "rel_high": None,
                           "n": n, "dropped": int((~ok).sum()), "excludes_zero": False}
    if n == 0:
        return out
    d = b - a
    d[np.abs(d) <= ROUNDING * np.maximum(np.abs(a), np.abs(b))] = 0.0      # rounding, not a difference
    mean_a = float(a.mean())
    out["mean_a"], out["mean_b"] = mean_a, float(b.mean())
    constant = bool(np.all(d == d[0]))
    diff = float(d[0]) if constant else float(d.mean())
    out["diff"] = diff
    if mean_a != 0:
        out["rel"] = diff / abs(mean_a)
    if n < 2:
        return out
    from scipy import stats

    t = float(stats.t.ppf((1 + level) / 2, n - 1))
    if constant:
        out["ci_low"] = out["ci_high"] = diff
    else:
        half = t * float(d.std(ddof=1)) / math.sqrt(n)
        out["ci_low"], out["ci_high"] = diff - half, diff + half
    if out["rel"] is not None:
        rel = out["rel"]
        if constant and diff == 0:
            out["rel_low"] = out["rel_high"] = rel
        else:
            e = d - (diff / mean_a) * a
            half = t * float(e.std(ddof=1)) / (math.sqrt(n) * abs(mean_a))
            out["rel_low"], out["rel_high"] = rel - half, rel + half
    out["excludes_zero"] = bool(out["ci_low"] > 0 or out["ci_high"] < 0)
    return out


ROUNDING = 1e-9
"""A paired difference this small relative to its values is floating-point rounding: 0."""


# --------------------------------------------------------------------------- plans
@dataclass
class Plan:
    """One side of a comparison: its per-replication KPIs, indexed by replication index."""

    label: str
    source: str                      # "scenario" | "results"
    seed: int
    kpis: pd.DataFrame               # index: replication index of `seed`; columns: KPIs
    scenario: str | None = None      # meta.name
    engine: str = "fast"
    overrides: dict = field(default_factory=dict)
    scale: float = 1.0               # traffic scale the plan ran at (`promosim run --scale`)

    def describe(self) -> dict[str, Any]:
        out = {"label": self.label, "source": self.source, "scenario": self.scenario, "engine": self.engine}
        if self.scale != 1.0:
            out["scale"] = self.scale
        if self.overrides:
            out["overrides"] = {k: override_value(v) for k, v in self.overrides.items()}
        return out


def is_result_folder(path: str | Path) -> bool:
    return Path(path).is_dir()


def read_result_folder(path: str | Path) -> Plan:
    """A folder written by `promosim run --out`: kpis.parquet (or .csv) and run.json."""
    from simulator.files import read_table
    from simulator.output_set import verify
    from simulator.scenario.source import Unreadable, read_text

    path = Path(path)
    run_file = path / "run.json"
    if not run_file.is_file():
        raise CompareError(f"{path}: not a result folder (no run.json); expected the output of "
                           f"`promosim run SCENARIO --out {path}`, or a scenario YAML file")
    try:
        run = json.loads(read_text(run_file, "run.json (written by promosim run)", 64 << 20))
    except Unreadable as e:
        raise CompareError(f"{run_file}: {e.message}") from None
    except json.JSONDecodeError as e:
        raise CompareError(f"{run_file}: not valid JSON ({e})") from None
    if not isinstance(run, dict) or "seed" not in run or "seeds" not in run:
        raise CompareError(f"{run_file}: no 'seed'/'seeds': cannot tell which replications it holds; "
                           f"write it again with `promosim run ... --out`")
    manifest = run.get("files") if isinstance(run.get("files"), dict) else None
    for w in verify(path, manifest, ("kpis.parquet", "kpis.csv"), "run.json", CompareError):
        print(f"promosim compare: warning: {w}", file=sys.stderr)
    names = [f for f in ("kpis.parquet", "kpis.csv") if manifest is None or f in manifest]
    table = next((path / f for f in names if (path / f).is_file()), None)
    if table is None:
        raise CompareError(f"{path}: no kpis.parquet or kpis.csv (one row per replication)")
    try:
        df = read_table(table)
        seeds = [int(s) for s in run["seeds"]]
        seed = int(run["seed"])
    except (ValueError, TypeError) as e:
        raise CompareError(str(e) if str(e).startswith(str(path)) else f"{run_file}: {e}") from None
    if len(df) != len(seeds) or "replication" not in df:
        raise CompareError(f"{table}: {len(df)} rows but run.json lists {len(seeds)} replications")
    try:
        df = df.set_index(pd.Index([seeds[int(r)] for r in df.pop("replication")], name="replication"))
    except (IndexError, ValueError, TypeError):
        raise CompareError(f"{table}: its replication column does not match the seeds run.json lists") from None
    scenario = None
    if (path / "summary.json").is_file():
        try:
            scenario = json.loads((path / "summary.json").read_text(encoding="utf-8")).get("scenario")
        except (ValueError, AttributeError, OSError):
            pass
    return Plan(label=path.name or str(path), source="results", seed=seed, kpis=df.sort_index(),
                scenario=scenario, engine=run.get("engine", "fast"), scale=float(run.get("scale") or 1.0))


def plan_from_results(res, label: str | None = None) -> Plan:
    """A `Results` (from `simulate`) as one side of a comparison."""
    df = res.kpis()
    df = df.set_index(pd.Index([res.seeds[int(r)] for r in df.pop("replication")], name="replication"))
    return Plan(label=label or res.scenario.meta.name, source="results", seed=int(res.seed),
                kpis=df.sort_index(), scenario=res.scenario.meta.name, engine=res.engine,
                scale=float(res.model.scale))


def _describe_seeds(seed: int, index) -> str:
    index = list(index)
    if index == list(range(len(index))):
        return f"seed {seed}, replications 0–{len(index) - 1}" if index else f"seed {seed}, no replications"
    shown = ", ".join(map(str, index[:8])) + (", …" if len(index) > 8 else "")
    return f"seed {seed}, replications {shown}"


@dataclass
class Comparison:
    """B − A for every KPI. `rows[kpi]` is `paired_difference`'s dict."""

    a: Plan
    b: Plan
    seed: int
    replications: list[int]
    level: float
    rows: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data (`compare.json`, `--json`): no paths or times."""
        return json_safe({
            "a": self.a.describe(), "b": self.b.describe(), "seed": self.seed,
            "replications": self.replications, "level": self.level, "notes": self.notes,
            "kpis": self.rows,
        })

    def table(self) -> pd.DataFrame:
        """One row per KPI: kpi, mean_a, mean_b, diff, ci_low, ci_high, rel, rel_low, rel_high,
        n, dropped, excludes_zero."""
        return pd.DataFrame([{"kpi": k, **v} for k, v in self.rows.items()])

    @property
    def significant(self) -> list[str]:
        """KPIs whose interval excludes 0."""
        return [k for k, v in self.rows.items() if v["excludes_zero"]]

    @property
    def zero_in_both(self) -> list[str]:
        """KPIs that are 0 in every replication of both plans: left out of the table and chart
        (kept in `rows` and the JSON)."""
        return [k for k, v in self.rows.items() if v["mean_a"] == 0 and v["mean_b"] == 0 and v["diff"] == 0]

def _label(x, default: str) -> str:
    if isinstance(x, str | Path):
        p = Path(x)
        return p.name or str(p)
    return default


def _pending(x, label: str):
    """(Plan, None) for a finished plan, or (None, Scenario) for one to run."""
    from simulator.results import Results
    from simulator.scenario import Scenario, load_scenario

    if isinstance(x, Plan):
        return x, None
    if isinstance(x, Results):
        return plan_from_results(x, label), None
    if isinstance(x, Scenario):
        return None, x
    if isinstance(x, str | Path):
        p = Path(x)
        if is_result_folder(p):
            return read_result_folder(p), None
        if not p.exists():
            raise CompareError(f"{p}: no such scenario file or result folder")
        return None, load_scenario(p)
    raise TypeError(f"cannot compare a {type(x).__name__}; expected a scenario, a result folder or Results")


def compare(
    a,
    b=None,
    *,
    overrides: dict[str, object] | None = None,
    reps: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    level: float = 0.95,
    kpis: list[str] | None = None,
    progress=None,
    limit_size: bool = False,
    uncertainty: bool = True,
) -> Comparison:
    """Compare plan B with plan A on common random numbers.

    a, b: a scenario file, a `Scenario`, a result folder (`promosim run --out`) or a
    `Results`; `b=None` means A again (with `overrides`, "the plan with a tweak").
    `overrides` (parameter paths → values) apply to B, which must then be a scenario.
    Scenarios run on `seed`/`reps` (default: A's `meta.seed` and `meta.replications`),
    or on the seeds of the result folder on the other side. `kpis` restricts the KPIs.
    `progress(done, total)` follows the replications run here. `limit_size`: refuse a run
    above `simulator.size`'s limits before running it (the command line, without --force).
    `uncertainty=False` plays both plans as written, without their assumption draws (with
    them, the two plans see the same draws and the differences carry them).
    """
    label_a = _label(a, "A")
    plan_a, scen_a = _pending(a, label_a)
    if b is None or (isinstance(a, str | Path) and isinstance(b, str | Path) and Path(a).is_file()
                     and Path(b).is_file() and Path(a).resolve() == Path(b).resolve()):
        label_b, plan_b, scen_b = label_a, plan_a, scen_a         # the same plan: load (and run) it once
    else:
        label_b = _label(b, "B")
        plan_b, scen_b = _pending(b, label_b)
    overrides = overrides if overrides is not None else {}
    notes: list[str] = []
    if overrides:
        if scen_b is None:
            raise CompareError(f"B ({label_b}) is a result folder: overrides (--set) apply to a scenario")
        shown = getattr(overrides, "shown", {})
        scen_b = scen_b.with_overrides(overrides, where=f"B ({label_b}" + (
            f" with {', '.join(shown.values())})" if shown else ")"))

    # which replications both sides play
    done = [p for p in (plan_a, plan_b) if p is not None]
    if len(done) == 2:
        pa, pb = done
        if pa.seed != pb.seed or list(pa.kpis.index) != list(pb.kpis.index):
            raise CompareError(
                f"A ({pa.label}) and B ({pb.label}) ran on different seeds: "
                f"A {_describe_seeds(pa.seed, pa.kpis.index)}; B {_describe_seeds(pb.seed, pb.kpis.index)}. "
                f"Pairs need the same visitors: write both with the same `promosim run --seed S --reps N`.")
        if pa.engine != pb.engine:
            notes.append(f"A ran on the {pa.engine} engine and B on the {pb.engine} engine: their random "
                         f"draws differ, so the pairs share seeds but not visitors")
    if done:
        fixed = done[0]
        index = [int(i) for i in fixed.kpis.index]
        base_seed, engine = fixed.seed, fixed.engine
        if seed is not None and int(seed) != base_seed:
            raise CompareError(f"{fixed.label} is a result folder that ran on seed {base_seed}; "
                               f"--seed {seed} cannot apply (leave it out)")
        if reps is not None and reps != len(index):
            raise CompareError(f"{fixed.label} is a result folder with {len(index)} replications; "
                               f"--reps {reps} cannot apply (leave it out)")
    else:
        base_seed = scen_a.meta.seed if seed is None else int(seed)
        index = list(range(reps or scen_a.meta.replications))
        engine = "fast"
        if seed is None and scen_b.meta.seed != scen_a.meta.seed:
            notes.append(f"A's meta.seed is {scen_a.meta.seed} and B's {scen_b.meta.seed}: both ran on "
                         f"seed {base_seed} (A's)")
    if not index:
        raise CompareError("no replications to compare")

    to_run = [(side, s) for side, s in (("A", scen_a), ("B", scen_b)) if s is not None]
    if limit_size:
        from simulator.size import check

        for side, scen in to_run:
            check(scen, len(index), where=f"promosim compare: {side} ({label_a if side == 'A' else label_b})")
    total = len(index) * len(to_run)
    ran: dict[str, Plan] = {}
    if to_run:
        from simulator.runner import simulate

        for k, (side, scen) in enumerate(to_run):
            if side == "B" and scen is scen_a:
                ran["B"] = replace(ran["A"], label=label_b)     # the very same plan: play it once
                if progress:
                    progress(total, total)
                continue
            offset = k * len(index)
            cb = (lambda d, t, o=offset: progress(o + d, total)) if progress else None
            res = simulate(scen, seed=base_seed, seeds=index, workers=workers, engine=engine, progress=cb,
                           uncertainty=uncertainty)
            label = label_a if side == "A" else label_b
            plan = plan_from_results(res, label)
            plan.source = "scenario"
            ran[side] = plan
    plan_a = plan_a or ran["A"]
    plan_b = plan_b or ran["B"]
    if scen_b is not None:
        plan_b.overrides = overrides
    if plan_b is plan_a:
        plan_b = replace(plan_a, label=label_b)

    if plan_a.scale != plan_b.scale:
        notes.append(f"A ran at traffic scale {plan_a.scale:g} and B at {plan_b.scale:g}: the difference "
                     f"includes the change of traffic")
    names = [k for k in RUN_KPIS if k in plan_a.kpis and k in plan_b.kpis]
    names += [k for k in plan_a.kpis if k in plan_b.kpis and k not in names]
    if kpis:
        from simulator.naming import did_you_mean

        for k in kpis:
            if k not in names:
                raise CompareError(f"unknown KPI {k!r}{did_you_mean(k, names)}")
        names = [k for k in names if k in kpis]
    ka = plan_a.kpis.loc[index]
    kb = plan_b.kpis.loc[index]
    rows = {k: paired_difference(ka[k].to_numpy(dtype=object), kb[k].to_numpy(dtype=object), level)
            for k in names}
    for k, r in rows.items():
        r["verdict"] = verdict(k, r["diff"]) if r["excludes_zero"] else None
    for k, r in rows.items():
        if r["dropped"]:
            notes.append(f"{k}: {r['dropped']} of {len(index)} pairs dropped (undefined on one side)")
    return Comparison(a=plan_a, b=plan_b, seed=base_seed, replications=index, level=level,
                      rows=rows, notes=notes)


# --------------------------------------------------------------------------- chart
def describe_b(cmp: Comparison) -> str:
    """B's label with its overrides (`plan.yaml with skus.*.discount=0.3`)."""
    if not cmp.b.overrides:
        return cmp.b.label
    return cmp.b.label + " with " + ", ".join(override_text(k, v) for k, v in cmp.b.overrides.items())


VERDICT_COLOURS = {"good": "#2a9d8f", "bad": "#e76f51", None: "#2a6f97"}
"""Bar colours of a difference whose interval excludes 0, by `verdict`."""


def chart_png(cmp: Comparison, title: str | None = None) -> bytes:
    """A horizontal bar per KPI: B's relative difference from A in %, with its interval.

    KPIs whose relative difference is undefined (A's mean is 0) are left out (listed
    below the axis). Uses matplotlib's Agg canvas directly: no pyplot, no global backend.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    zero = set(cmp.zero_in_both)
    shown = [(k, r) for k, r in cmp.rows.items() if r["rel"] is not None and k not in zero]
    left_out = [k for k, r in cmp.rows.items() if r["rel"] is None and k not in zero]
    shown.reverse()                                   # first KPI on top
    height = 1.6 + 0.32 * max(len(shown), 1)
    fig = Figure(figsize=(8, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(shown))
    rel = np.array([100 * r["rel"] for _, r in shown], dtype=float)
    lo = np.array([100 * r["rel_low"] if r["rel_low"] is not None else np.nan for _, r in shown])
    hi = np.array([100 * r["rel_high"] if r["rel_high"] is not None else np.nan for _, r in shown])
    colors = [VERDICT_COLOURS[r["verdict"]] if r["excludes_zero"] else "#adb5bd" for _, r in shown]
    ax.barh(y, rel, color=colors, height=0.6)
    err = np.vstack([np.where(np.isfinite(lo), rel - lo, 0), np.where(np.isfinite(hi), hi - rel, 0)])
    ax.errorbar(rel, y, xerr=err, fmt="none", ecolor="#343a40", elinewidth=1, capsize=3)
    ax.axvline(0, color="#343a40", linewidth=0.8)
    for yi, v, l, h in zip(y, rel, lo, hi):                 # the value beside the whisker's outer end
        up = v >= 0
        end = (max(v, h) if np.isfinite(h) else v) if up else (min(v, l) if np.isfinite(l) else v)
        ax.annotate("0 %" if v == 0 else f"{v:+.1f} %", (end, yi), xytext=(4 if up else -4, 0), textcoords="offset points",
                    ha="left" if up else "right", va="center", fontsize=7, color="#495057")
    ax.margins(x=0.12)
    ax.set_yticks(y, [k for k, _ in shown])
    ax.set_xlabel(f"B vs A, % of A's mean ({cmp.level:.0%} interval over {len(cmp.replications)} paired replications)")
    ax.set_title("\n".join(textwrap.wrap(title or f"B: {describe_b(cmp)}  vs  A: {cmp.a.label}", 90)),
                 loc="left", fontsize=10)
    ax.grid(axis="x", color="#dee2e6", linewidth=0.6)
    ax.set_axisbelow(True)
    foot = textwrap.wrap("not shown (A's mean is 0): " + ", ".join(left_out), 150) if left_out else []
    foot += textwrap.wrap("0 in both plans: " + ", ".join(sorted(zero, key=list(cmp.rows).index)), 150) if zero else []
    foot += [("colour: green good for the store, red bad, blue neither (cost that follows sales, counts); "
              "grey: the interval includes 0")]
    if foot:
        fig.text(0.01, 0.01, "\n".join(foot), fontsize=7, color="#6c757d", va="bottom")
    fig.tight_layout(rect=(0, (0.12 * len(foot) + 0.05) / height if foot else 0, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


COMPARE_FILES = frozenset({"compare.json", "compare.png"})
"""The files `promosim compare --out` writes."""


def write(cmp: Comparison, out: str | Path) -> Path:
    """Write compare.json and compare.png into `out` (created), each atomically."""
    from simulator.files import atomic_write_bytes, atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.json", json.dumps(cmp.to_dict(), indent=2, ensure_ascii=False) + "\n")
    atomic_write_bytes(out / "compare.png", chart_png(cmp))
    return out
