"""Parameter recovery: simulate a store's history with known parameters, fit from a perturbed
start, get them back (the basic test of a calibrator, as in black-it)."""

from __future__ import annotations

import pytest

from calibration import calibrate
from simulator.scenario import parse_scenario
from tests.calibration.synthetic import RANGES, START, TRUTH, scenario_text, synthetic_history


@pytest.mark.slow
def test_six_parameters_are_recovered_by_least_squares_on_the_expected_engine():
    _, history = synthetic_history()
    res = calibrate(parse_scenario(scenario_text(START)), history, band_replications=0)
    assert set(res.values) == set(TRUTH)
    for name, true in TRUTH.items():
        value, iv = res.values[name], res.intervals[name]
        assert iv.identified, (name, iv.reason)
        within_10 = abs(value - true) <= 0.1 * abs(true)
        covered = iv.low <= true <= iv.high and (iv.high - iv.low) <= 0.4 * abs(true)
        assert within_10 or covered, (name, true, value, iv)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["tpe", "cmaes"])
def test_optuna_on_simulated_replications_recovers_conversion_and_elasticity(method):
    _, history = synthetic_history()
    params = {k: RANGES[k] for k in ("skus.*.base_conversion", "skus.*.elasticity")}
    fixed = {k: v for k, v in TRUTH.items() if k not in params}
    s = parse_scenario(scenario_text(START | fixed, parameters=params, targets="{units: 1}", method=method,
                                     extra="  replications: 2\n  trials: 150\n"))
    res = calibrate(s, history, band_replications=0)
    assert res.fit.engine == "fast" and res.fit.evaluations == 150
    for name in params:
        assert res.values[name] == pytest.approx(TRUTH[name], rel=0.1), name
