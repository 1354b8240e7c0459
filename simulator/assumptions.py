"""Assumption draws: the `uncertainty:` block played replication by replication.

Replications come in twins: replications 2j and 2j + 1 share assumption draw j and differ in
their shoppers (each replication keeps its own stream, `runner.replication_seed`). The draws
come from a stream of their own, keyed to the base seed and the twin index only, so two plans
run on the same seeds see the same assumptions and the same shoppers (common random numbers),
whatever else differs between them. Twins measure shopper noise at fixed assumptions, so a
KPI's variance splits into its two sources without a model (`spread`): Var(Y) = E[Var(Y | A)]
+ Var(E[Y | A]), the first term estimated by half the mean squared difference of twins.

With `from:` (a calibration's fit sample) each twin also plays one row of the sample, chosen
uniformly by a stream of its own keyed like the draws (base seed, twin index): the rows a run
plays are a bootstrap of the sample, so its moments are the sample's, and the row of a
replication is the same in any process, with any number of workers, and for any plan.

Shapes: A assumptions in the block's written order; R replications.
"""

from __future__ import annotations

import numpy as np

from simulator.scenario.uncertainty_schema import resolve

ASSUMPTION_STREAM = 0x756E6365   # "unce": the draws' own entropy word beside the base seed
FIT_STREAM = 0x66726F6D          # "from": the fit sample's rows, likewise


def twin(i: int) -> int:
    """The assumption draw replication `i` plays."""
    return i // 2


class Assumptions:
    """A scenario's `uncertainty:` block, resolved once: `scenario_for(seed, i)` is the plan
    replication `i` plays."""

    def __init__(self, scenario):
        self.block = scenario.uncertainty
        self.targets = resolve(scenario)
        # the blocks no engine reads are left out of the plans played: each is validated anew
        self.base = scenario.model_copy(update={"uncertainty": None, "optimize": None, "calibrate": None})
        self.names = list(self.block.assumptions)
        self.sample = self.block.sample                      # FitDraws or None
        self.fitted = list(self.sample.parameters) if self.sample is not None else []

    def draw(self, seed: int, i: int) -> dict[str, float]:
        """{assumption or fitted parameter: value} of replication `i` of base seed `seed` (a
        factor for a relative assumption): a Gaussian copula with the block's rank
        correlations, each margin by its inverse CDF; and the fit sample's row of the twin."""
        from scipy.special import ndtr

        out = {}
        if self.names:
            rng = np.random.default_rng(np.random.SeedSequence([seed, ASSUMPTION_STREAM], spawn_key=(twin(i),)))
            z = np.linalg.cholesky(np.array(self.block.matrix())) @ rng.standard_normal(len(self.names))
            u = np.clip(ndtr(z), 1e-12, 1 - 1e-12)
            out = {name: float(self.block.assumptions[name].quantile(u[j])) for j, name in enumerate(self.names)}
        if self.sample is not None:
            rng = np.random.default_rng(np.random.SeedSequence([seed, FIT_STREAM], spawn_key=(twin(i),)))
            out.update(self.row(int(rng.integers(len(self.sample.draws)))))
        return out

    def row(self, k: int) -> dict[str, float]:
        """{fitted parameter: value} of the fit sample's row `k`."""
        return {name: float(x) for name, x in zip(self.fitted, self.sample.draws[k])}

    def overrides(self, values: dict[str, float]) -> dict[str, float]:
        """{concrete path: value} that plays `values` (a relative assumption scales each
        location's written value)."""
        out = {}
        for target in self.targets:
            x = values[target.name]
            for loc, written in target.sets:
                out[".".join(map(str, loc))] = x * written if target.factor else x
        return out

    def scenario_for(self, seed: int, i: int):
        """(the plan replication `i` of base seed `seed` plays, its assumption values)."""
        values = self.draw(seed, i)
        return self.base.with_overrides(self.overrides(values)), values


def by_twin(values, index: list[int]) -> list[list[float]]:
    """The `values` of replications `index` grouped by the assumption draw they play (twins
    together, in order of first appearance): one list of one or two values per draw."""
    groups: dict[int, list[float]] = {}
    for i, v in zip(index, values):
        groups.setdefault(twin(i), []).append(float(v))
    return list(groups.values())


def spread(values: np.ndarray, index: list[int]) -> dict[str, float | None]:
    """Shares of a KPI's variance from the assumptions and from shopper noise (they add to 1),
    from replications `index` (their values `values`, (R,)): noise from complete twins, the
    rest assumptions. None when fewer than two complete twins or no variance."""
    pairs = np.array([v for v in by_twin(values, index) if len(v) == 2])
    total = float(np.var(values, ddof=1)) if len(values) > 1 else 0.0
    if len(pairs) < 2 or total <= 0:
        return {"assumptions": None, "noise": None}
    noise = min(float(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2) / 2), total)
    return {"assumptions": 1.0 - noise / total, "noise": noise / total}
