"""Paired differences of KPIs between two plans played on the same seeds.

A small private helper until `simulator/compare.py` (the `promosim compare` module) settles;
the two should merge then.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def paired_differences(start: list[dict], best: list[dict], kpis, level: float = 0.95) -> dict:
    """Per KPI, the mean of best − start over replications paired by seed, with a Student-t
    interval at `level`: {kpi: {"mean", "ci_low", "ci_high", "start", "best", "n"}}.

    Replications where either value is undefined (None) are left out; fewer than two pairs
    give None for the interval."""
    out = {}
    for k in kpis:
        pairs = [(a[k], b[k]) for a, b in zip(start, best) if a.get(k) is not None and b.get(k) is not None]
        if not pairs:
            out[k] = {"mean": None, "ci_low": None, "ci_high": None, "start": None, "best": None, "n": 0}
            continue
        a = np.array([p[0] for p in pairs], dtype=float)
        b = np.array([p[1] for p in pairs], dtype=float)
        d = b - a
        mean = float(d.mean())
        if d.size >= 2:
            half = float(stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
            lo, hi = mean - half, mean + half
        else:
            lo = hi = None
        out[k] = {"mean": mean, "ci_low": lo, "ci_high": hi, "start": float(a.mean()),
                  "best": float(b.mean()), "n": int(d.size)}
    return out
