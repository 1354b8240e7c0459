"""The bundled scenarios validate and run, and keep the shape their comments promise."""

from pathlib import Path

import pytest

from simulator import load_scenario
from simulator.kpis import period_profit
from simulator.runner import simulate

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bundled_scenario_validates_and_names_channels_after_their_kind(path):
    s = load_scenario(path)
    for name, ch in s.channels.items():
        assert name == ch.kind


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bundled_scenario_runs_and_money_adds_up(path):
    res = simulate(load_scenario(path), reps=2, seed=0)
    k = res.kpis()
    assert (k["visits"] > 0).all() and (k["gmv"] > 0).all()
    ts = res.timeseries()
    sku_gmv = ts[ts.level == "sku"].groupby("replication")["gmv"].sum()
    assert sku_gmv.tolist() == pytest.approx(k["gmv"].tolist(), rel=1e-9)
    # profit after marketing by day (the report's 日报) adds up to the run's
    daily = [period_profit(r, res.model).sum() for r in res.records]
    assert daily == pytest.approx(k["gross_profit"].tolist(), rel=1e-9, abs=1e-6)
    assert res.daily()["profit"].sum() == pytest.approx(k["gross_profit"].mean(), rel=1e-9)


def test_double11_is_a_ten_million_visit_campaign_with_a_burst_stockout():
    s = load_scenario(Path(SCENARIOS[0]).parent / "double11_beauty_flagship.yaml")
    res = simulate(s, reps=1, seed=0)
    k = res.kpis().iloc[0]
    assert k["visits"] >= 10_000_000
    ev = res.events()
    assert (ev["kind"] == "stockout").any()
    assert (ev["kind"] == "budget_exhausted").any()
    # warm-up carts pay in the burst
    assert k["add_to_carts"] > 0
