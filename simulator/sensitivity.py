"""What matters most: which of the `uncertainty:` block's assumptions move a plan's KPIs.

Three passes over the assumptions, each point a plan with the assumptions set to chosen
values and played on the same shopper seeds (common random numbers: two points differ only by
their assumptions, so the indices are not swamped by shopper noise):

1. a tornado: each assumption alone at its P5 and P95, the others at their medians;
2. screening (Morris elementary effects, SALib): `trajectories` × (A + 1) points; μ* ranks
   the assumptions by their effect;
3. variance-based indices (Sobol' first-order and total, Saltelli's scheme, SALib) for the
   `top` assumptions by μ*, the others at their medians: `base` × (m + 2) points, with
   bootstrap intervals.

Sobol' indices are defined for independent inputs: the block's correlations are left out here
(the run's intervals keep them). Assumptions are sampled on their quantile scale: a uniform u
in (0, 1) is the assumption's value at its quantile u, so every distribution is handled alike.

A calibration's fit sample (`from:`) is one factor, `FIT`: its parameters are not independent,
so they move together, a row at a time. Its rows are ordered along their main axis (the first
principal component of the standardized draws) and u picks the row at quantile u of that
order: u uniform plays every row alike, so the factor's Sobol' indices are those of the whole
sample; the order makes neighbouring u neighbouring rows for Morris and the tornado (whose
ends, P5 and P95, are rows at those quantiles of the axis).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.assumptions import Assumptions
from simulator.kpis import run_kpis
from simulator.runner import simulate

EDGE = 1e-6          # SALib's unit-cube samples reach 0 and 1; quantiles there can be infinite
FIT = "fit sample"   # the factor of a calibration's fit sample (`from:`)


@dataclass
class Sensitivity:
    """The three passes' results for `kpis` (each a dict kpi → assumption → numbers)."""

    kpis: list[str]
    assumptions: list[str]
    tornado: dict = field(default_factory=dict)     # kpi → {name: {"low", "high", "p5", "p95"}}, "base": kpi → value
    screening: dict = field(default_factory=dict)   # kpi → {name: {"mu_star", "mu_star_conf", "sigma"}}
    indices: dict = field(default_factory=dict)     # kpi → {name: {"S1", "S1_conf", "ST", "ST_conf"}}
    evaluations: int = 0                            # plans played
    notes: list[str] = field(default_factory=list)
    replications: int = 0                           # replications played (evaluations × seeds)

    def to_dict(self) -> dict:
        return {"kpis": self.kpis, "assumptions": self.assumptions, "tornado": self.tornado,
                "screening": self.screening, "indices": self.indices,
                "evaluations": self.evaluations, "replications": self.replications, "notes": self.notes}


class Evaluator:
    """Mean KPIs of the plan at given assumption quantiles, over `seeds` shopper replications."""

    def __init__(self, scenario, kpis: list[str], seeds: int, seed: int, engine: str = "fast"):
        self.plays = Assumptions(scenario)
        self.kpis, self.seeds, self.seed, self.engine = kpis, seeds, seed, engine
        self.evaluations = 0
        self.names = self.plays.names + ([FIT] if self.plays.sample is not None else [])
        self.order = None
        if self.plays.sample is not None:          # the rows along their first principal component
            d = np.array(self.plays.sample.draws, dtype=float)
            z = (d - d.mean(axis=0)) / np.where(d.std(axis=0) > 0, d.std(axis=0), 1.0)
            axis = np.linalg.svd(z, full_matrices=False)[2][0] if len(d) > 1 else np.zeros(d.shape[1])
            self.order = np.argsort(z @ axis, kind="stable")

    def value(self, name: str, u: float) -> float:
        """The assumption `name` at its quantile `u` (for FIT: `u` itself, the row's place on the axis)."""
        if name == FIT:
            return float(u)
        return float(self.plays.block.assumptions[name].quantile(min(max(u, EDGE), 1 - EDGE)))

    def __call__(self, quantiles: dict[str, float]) -> np.ndarray:
        """(len(kpis),) mean KPIs with each assumption at its quantile (median when absent)."""
        values = {n: self.value(n, quantiles.get(n, 0.5)) for n in self.plays.names}
        if self.order is not None:
            u = quantiles.get(FIT, 0.5)
            values.update(self.plays.row(int(self.order[min(int(u * len(self.order)), len(self.order) - 1)])))
        played = self.plays.base.with_overrides(self.plays.overrides(values))
        res = simulate(played, seeds=range(self.seeds), seed=self.seed, engine=self.engine, uncertainty=False)
        rows = [run_kpis(r, res.model) for r in res.records]
        self.evaluations += 1
        return np.array([np.mean([np.nan if r[k] is None else r[k] for r in rows]) for k in self.kpis])


def analyse(scenario, kpis: list[str], *, trajectories: int = 10, base: int = 64, top: int = 4, seeds: int = 2,
            seed: int | None = None, progress=None) -> Sensitivity:
    """The tornado, Morris screening and Sobol' indices of `scenario`'s assumptions for `kpis`.
    `progress(done, total)` after each plan played."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    seed = scenario.meta.seed if seed is None else seed
    ev = Evaluator(scenario, kpis, seeds, seed)
    names = ev.names
    a = len(names)
    m = min(top, a)
    total = 1 + 2 * a + trajectories * (a + 1) + base * (m + 2)
    out = Sensitivity(kpis=kpis, assumptions=names)
    if ev.order is not None:
        out.notes.append(f"the fit sample ({len(ev.order)} rows of {', '.join(ev.plays.fitted)}) is one factor, "
                         f"{FIT!r}: its rows ordered along their main axis, P5 and P95 the rows at those places")
    if ev.plays.block.correlations:
        out.notes.append("the block's correlations are left out here: Sobol' indices are defined for independent "
                         "assumptions (run and compare keep them)")

    def run(points: list[dict[str, float]]) -> np.ndarray:
        ys = []
        for p in points:
            ys.append(ev(p))
            if progress:
                progress(ev.evaluations, total)
        return np.array(ys)

    # 1. tornado
    mid = run([{}])[0]
    ends = run([{n: q} for n in names for q in (0.05, 0.95)]).reshape(a, 2, len(kpis))
    out.tornado = {k: {"base": float(mid[j]), **{n: {"p5": ev.value(n, 0.05), "p95": ev.value(n, 0.95),
                                                     "low": float(ends[i, 0, j]), "high": float(ends[i, 1, j])}
                                                 for i, n in enumerate(names)}}
                   for j, k in enumerate(kpis)}
    # 2. screening
    problem = {"num_vars": a, "names": names, "bounds": [[0.0, 1.0]] * a}
    x = morris_sample.sample(problem, trajectories, num_levels=4, seed=seed)
    y = run([dict(zip(names, row)) for row in x])
    for j, k in enumerate(kpis):
        res = morris_analyze.analyze(problem, x, y[:, j], num_levels=4, seed=seed)
        out.screening[k] = {n: {"mu_star": float(res["mu_star"][i]), "mu_star_conf": float(res["mu_star_conf"][i]),
                                "sigma": float(res["sigma"][i])} for i, n in enumerate(names)}
    # 3. indices for the top assumptions by mu* (of the first KPI)
    ranked = sorted(names, key=lambda n: -out.screening[kpis[0]][n]["mu_star"])[:m]
    sub = {"num_vars": m, "names": ranked, "bounds": [[0.0, 1.0]] * m}
    x = sobol_sample.sample(sub, base, calc_second_order=False, seed=seed)
    y = run([dict(zip(ranked, row)) for row in x])
    for j, k in enumerate(kpis):
        res = sobol_analyze.analyze(sub, y[:, j], calc_second_order=False, seed=seed)
        out.indices[k] = {n: {"S1": float(res["S1"][i]), "S1_conf": float(res["S1_conf"][i]),
                              "ST": float(res["ST"][i]), "ST_conf": float(res["ST_conf"][i])}
                          for i, n in enumerate(ranked)}
    out.evaluations, out.replications = ev.evaluations, ev.evaluations * seeds
    return out


def tornado_figure(s: Sensitivity, kpi: str, currency: str = ""):
    """A tornado chart: for each assumption, `kpi` with it at its P5 and at its P95, the others
    at their medians; the widest bar on top."""
    from matplotlib.figure import Figure

    t = s.tornado[kpi]
    base = t["base"]
    rows = sorted((n for n in s.assumptions), key=lambda n: abs(t[n]["high"] - t[n]["low"]))
    fig = Figure(figsize=(9, 1.2 + 0.5 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    for i, n in enumerate(rows):
        lo, hi = t[n]["low"], t[n]["high"]
        ax.barh(i, lo - base, left=base, color="#0072B2", gid=f"tornado_{n}_p5")
        ax.barh(i, hi - base, left=base, color="#E69F00", gid=f"tornado_{n}_p95")
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(range(len(rows)), [f"{n} ({t[n]['p5']:.3g} – {t[n]['p95']:.3g})" for n in rows])
    ax.set_xlabel(f"{kpi}{f' ({currency})' if currency else ''}: blue at the assumption's P5, orange at its P95, "
                  "the others at their medians")
    ax.set_title(f"What moves {kpi} most (tornado)", loc="left")
    return fig
