"""Losses between simulated and observed histories, as residual vectors.

Every loss is a `Loss` with one public method, `residuals(sim, obs) -> (n,)`; the loss value
is the sum of their squares (`value`), so scipy's least squares and Optuna minimize the same
number. `groups` names the target each residual belongs to (for intervals and reports).

- `LogScaled` (`loss: log_scaled`): for each target t with weight w_t, over its n_t fitted
  cells (SKU × period, or period for a store-level target), residual
  √(w_t / n_t) · (log(1 + sim) − log(1 + obs)); the value is Σ_t w_t · mean((Δ log)²).
  Logs because volumes span orders of magnitude (brand 6 of the tuna data sells 1 000 cans a
  week, brand 1 20 000) and shocks are multiplicative (a price cut doubles sales); a Poisson
  or negative-binomial count has var(log y) ≈ 1/y + k, so squared log errors weigh relative
  errors alike across SKUs. Squared rather than absolute, because least squares needs a sum
  of squares and the profile likelihood of `uncertainty` reads it as a Gaussian likelihood on
  the log scale. Dividing by n_t makes the weight the share of the target, not of its cells
  (a store-level target has K times fewer cells). `+ 1` keeps a zero sale finite.
- `Moments` (`loss: msm`, the method of simulated moments): per SKU and SKU-level target, the
  mean of log(1 + y), its slope on log price (the price response) and the mean difference
  between promotion and other periods (the lift); per store-level target its mean log. The
  residual is (m_sim − m_obs) / sd(m_obs): a diagonal inverse-variance weight matrix, the
  variances being the observed moments' sampling variances (var/n for a mean, the OLS
  standard error for a slope, var₁/n₁ + var₀/n₀ for a lift). The value is then a J-statistic.
  Moments ignore the order of periods, so a launch spike or one odd week does not weigh; use
  MSM when the model is not meant to track each period, only the store's levels and responses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from calibration.replay import SimTable


class Loss(ABC):
    """A loss over `targets` (name → weight) on the cells in `mask` (P,) of the history.

    `obs[t]` is (P, K) or (P,) with NaN for unrecorded cells (`replay.observed`)."""

    def __init__(self, obs: dict[str, np.ndarray], targets: dict[str, float], mask: np.ndarray,
                 log_price: np.ndarray | None = None, promo: np.ndarray | None = None):
        self.obs, self.targets, self.mask = obs, dict(targets), np.asarray(mask, dtype=bool)
        self.log_price, self.promo = log_price, promo

    def cells(self, target: str) -> np.ndarray:
        """Boolean array like obs[target]: recorded and inside the fit mask."""
        o = self.obs[target]
        m = self.mask if o.ndim == 1 else self.mask[:, None]
        return ~np.isnan(o) & m

    @abstractmethod
    def residuals(self, sim: SimTable) -> np.ndarray:
        """(n,) residuals; the loss is their sum of squares."""

    @property
    @abstractmethod
    def groups(self) -> np.ndarray:
        """(n,) the target of each residual."""

    def value(self, sim: SimTable) -> float:
        r = self.residuals(sim)
        return float(r @ r)

    @property
    def chi2(self) -> bool:
        """True when the residuals are already standardized (the value is a χ² statistic)."""
        return False


class LogScaled(Loss):
    """Σ_t w_t · mean over cells of (log(1 + sim) − log(1 + obs))² (module docstring)."""

    name = "log_scaled"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self._cells = {t: self.cells(t) for t in self.targets}
        self._log_obs = {t: np.log1p(self.obs[t][c]) for t, c in self._cells.items()}
        self._scale = {t: np.sqrt(w / max(int(self._cells[t].sum()), 1)) for t, w in self.targets.items()}
        self._groups = np.concatenate([np.full(int(self._cells[t].sum()), t, dtype=object) for t in self.targets])

    def differences(self, sim: SimTable) -> dict[str, np.ndarray]:
        """Per target, log(1 + sim) − log(1 + obs) over its fitted cells (unweighted)."""
        return {t: np.log1p(np.maximum(sim.mean(t)[c], 0)) - self._log_obs[t] for t, c in self._cells.items()}

    def residuals(self, sim: SimTable) -> np.ndarray:
        d = self.differences(sim)
        return np.concatenate([self._scale[t] * d[t] for t in self.targets])

    @property
    def groups(self) -> np.ndarray:
        return self._groups


class Moments(Loss):
    """Method of simulated moments with a diagonal inverse-variance weight (module docstring)."""

    name = "msm"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._spec = []          # (target, sku index or None, kind)
        obs_m, sd = [], []
        for t in self.targets:
            o = self.obs[t]
            c = self.cells(t)
            if o.ndim == 1:
                y = np.log1p(o[c])
                if y.size:
                    self._spec.append((t, None, "mean"))
                    obs_m.append(y.mean())
                    sd.append(_sd_mean(y))
                continue
            for k in range(o.shape[1]):
                ck = c[:, k]
                y = np.log1p(o[ck, k])
                if y.size == 0:
                    continue
                self._spec.append((t, k, "mean"))
                obs_m.append(y.mean())
                sd.append(_sd_mean(y))
                if self.log_price is not None:
                    x = self.log_price[ck, k]
                    if np.ptp(x) > 1e-9 and y.size > 3:
                        slope, se = _slope(x, y)
                        self._spec.append((t, k, "slope"))
                        obs_m.append(slope)
                        sd.append(se)
                if self.promo is not None:
                    p = self.promo[ck, k]
                    if 1 < p.sum() < p.size - 1:
                        self._spec.append((t, k, "lift"))
                        obs_m.append(y[p].mean() - y[~p].mean())
                        sd.append(np.sqrt(_var(y[p]) / p.sum() + _var(y[~p]) / (~p).sum()))
        self._obs_m = np.array(obs_m)
        self._sd = np.maximum(np.array(sd), 1e-6)
        self._groups = np.array([t for t, _, _ in self._spec], dtype=object)

    def moments(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """The moment vector of tables `values[t]` ((P, K) or (P,), on the observed cells)."""
        out = []
        for t, k, kind in self._spec:
            c = self.cells(t)
            if k is None:
                out.append(np.log1p(np.maximum(values[t][c], 0)).mean())
                continue
            ck = c[:, k]
            y = np.log1p(np.maximum(values[t][ck, k], 0))
            if kind == "mean":
                out.append(y.mean())
            elif kind == "slope":
                out.append(_slope(self.log_price[ck, k], y)[0])
            else:
                p = self.promo[ck, k]
                out.append(y[p].mean() - y[~p].mean())
        return np.array(out)

    def residuals(self, sim: SimTable) -> np.ndarray:
        m = self.moments({t: sim.mean(t) for t in self.targets})
        return (m - self._obs_m) / self._sd

    @property
    def groups(self) -> np.ndarray:
        return self._groups

    @property
    def chi2(self) -> bool:
        return True


def _var(y: np.ndarray) -> float:
    return float(np.var(y, ddof=1)) if y.size > 1 else 0.0


def _sd_mean(y: np.ndarray) -> float:
    return float(np.sqrt(_var(y) / max(y.size, 1)))


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    xc = x - x.mean()
    sxx = float(xc @ xc)
    b = float(xc @ (y - y.mean()) / sxx)
    resid = y - y.mean() - b * xc
    s2 = float(resid @ resid) / max(y.size - 2, 1)
    return b, float(np.sqrt(s2 / sxx))


LOSSES = {"log_scaled": LogScaled, "msm": Moments}
