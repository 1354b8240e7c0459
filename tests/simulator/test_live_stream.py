"""Live-stream sessions (直播): visits from the audience curve, slot fees, host commission."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_ind

from simulator.engine.fast import FastEngine
from simulator.kpis import channel_kpis, run_kpis
from simulator.model import build_model
from simulator.runner import replication_seed, simulate
from tests.helpers import at, one_sku

LIVE = {"kind": "live_stream", "commission_rate": 0.2,
        "sessions": [{"start": at(20), "end": at(23), "viewers": 50000, "visit_rate": 0.04, "fee": 30000,
                      "decay_minutes": 40},
                     {"start": at(4), "end": at(6), "viewers": 6000, "visit_rate": 0.05, "fee": 2000, "curve": "flat"}]}


def _scenario(**extra):
    return one_sku(stock=10**6, hours=24, tick_minutes=10, visits_per_hour=100,
                   extra={"channels": {"live": LIVE}, **extra})


def test_visits_fees_and_commission():
    sc = _scenario()
    model = build_model(sc)
    live = model.channels.index("live")
    lam = model.traffic[:, live]
    assert np.isclose(lam.sum(), 50000 * 0.04 + 6000 * 0.05)            # every viewer's visit, once
    assert lam[:24].sum() == 0 and lam[36:120].sum() == 0 and lam[138:].sum() == 0
    assert np.allclose(lam[24:36], 300 / 12)                             # flat: evenly over 2 hours
    opening = lam[120:138]
    assert np.all(np.diff(opening) < 0)                                  # most come early
    want = 2000 * (1 - np.exp(-40 / 40)) / (1 - np.exp(-180 / 40))       # the first 40 minutes
    assert np.isclose(opening[:4].sum(), want)
    eng = FastEngine(model)
    recs = [eng.run(replication_seed(1, i)) for i in range(40)]
    visits = np.array([r.by_channel["visits"][:, live].sum() for r in recs])
    assert abs(visits.mean() - 2300) <= 4 * np.sqrt(2300 / visits.size)  # Poisson visits
    for r in recs:
        ch = channel_kpis(r, model)["live"]
        assert ch["fees"] == 32000
        assert np.isclose(ch["commissions"], 0.2 * (r.by_channel["gmv"][:, live] - r.by_channel["refunds"][:, live]).sum())
        assert r.by_channel["fees"][20, live] == 30000 and r.by_channel["fees"][4, live] == 2000
        assert [e[0] for e in r.events if e[1] == "live_start"] == [24, 120]


def test_launch_spikes_and_phase_multipliers_leave_a_session_alone():
    plain = build_model(_scenario()).traffic[:, 1]
    busy = build_model(_scenario(calendar={"intraday": "flat",
                                           "spikes": [{"at": at(20), "amplitude": 5.0, "decay_minutes": 30}],
                                           "phases": [{"name": "p", "start": at(0), "end": at(24),
                                                       "traffic": {"default": 3.0}}]})).traffic[:, 1]
    assert np.allclose(plain, busy)


@pytest.mark.slow
def test_live_stream_agrees_with_the_reference_engine():
    sc = _scenario()
    runs = {e: simulate(sc, reps=100, seed=4, engine=e) for e in ("fast", "reference")}
    p = []
    for k in ("visits", "orders", "gmv", "commissions", "fees"):
        a, b = ([run_kpis(r, res.model)[k] for r in res.records] for res in runs.values())
        if np.std(a) == 0 and np.std(b) == 0:
            assert np.mean(a) == np.mean(b), k
            continue
        p.append((ttest_ind(a, b, equal_var=False).pvalue, k, np.mean(a), np.mean(b)))
    low, k, fa, re = min(p)
    assert low > 0.01 / len(p), f"{k}: fast {fa:.1f} vs reference {re:.1f} (p = {low:.2g})"
