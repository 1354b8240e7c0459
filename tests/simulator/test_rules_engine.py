"""Mid-campaign rules executed by the engines (docs/rules.md, "In the engines").

* A rule that raises a spent daily budget at 06:00 lets paid search spend again from that
  tick, up to the new budget to the click, in both engines; the KPIs count the firing and
  report the budget in force.
* A rule that raises a bid at noon leaves every hour before noon as it was (the same seed and
  cuts) and never lowers an hour's impressions after it.
* A rule whose metric is undefined does not fire: `rule_failed` events, the run goes on.
* What the engines do not execute is refused when the model is built, with the rule's name.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine import FastEngine
from simulator.engine.expected import ExpectedEngine
from simulator.kpis import channel_kpis, run_kpis
from simulator.model import build_model
from simulator.reference import ReferenceEngine
from simulator.runner import replication_seed
from simulator.scenario import ScenarioError
from tests.helpers import events_of, one_sku


def flat_search(rules: list, **ads) -> object:
    """One day of hourly ticks; `ads`: paid search at 1.0 per click, far more clicks than budget."""
    channel = {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 200.0, "daily_budget": 100.0, **ads}
    return one_sku(stock=10**9, hours=24, extra={"channels": {"ads": channel}, "rules": rules})


RAISE_AT_SIX = {"name": "top_up", "every": "1h", "when": "hour == 6 and budget_left('ads') < 1",
                "then": "ads.daily_budget = 300"}


@pytest.mark.parametrize("engine", [FastEngine, ReferenceEngine])
def test_a_budget_rule_lets_spend_resume_from_its_tick(engine):
    model = build_model(flat_search([RAISE_AT_SIX]))
    for i in range(3):
        rec = engine(model).run(replication_seed(3, i))
        spend = rec.by_channel["ad_spend"][:, 1]
        assert spend[:6].sum() == pytest.approx(100.0)                  # spent out before 06:00
        assert spend[6] > 0                                             # spending again from 06:00
        assert spend.sum() == pytest.approx(300.0)                      # the new budget, to the click
        fired = events_of(rec, "rule_fired")
        assert fired == [(6, "rule_fired", "top_up", 1.0)]
        assert run_kpis(rec, model)["rule_firings"] == 1.0
        assert channel_kpis(rec, model)["ads"]["budget"] == 300.0
        exhausted = [e[0] for e in events_of(rec, "budget_exhausted")]
        assert len(exhausted) == 2 and exhausted[0] < 6 <= exhausted[1]


def test_a_rule_that_never_holds_changes_nothing_but_the_cuts():
    never = dict(RAISE_AT_SIX, when="hour == 99")
    model = build_model(flat_search([never]))
    rec = FastEngine(model).run(replication_seed(3, 0))
    assert rec.by_channel["ad_spend"].sum() == pytest.approx(100.0)
    assert events_of(rec, "rule_fired") == [] and run_kpis(rec, model)["rule_firings"] == 0.0
    assert channel_kpis(rec, model)["ads"]["budget"] == 100.0


def test_a_bid_rule_changes_impressions_only_from_its_tick():
    def scenario(when: str):
        group = {"bid": 0.8, "auctions_per_hour": 600, "rivals": {"median": 1.0, "sigma": 0.5, "count": 2}}
        channels = {"search": {"kind": "paid_search", "ctr_by_position": [0.1, 0.05], "ad_groups": {"kw": group}}}
        rule = {"name": "bid_up", "every": "1h", "when": when, "then": "search.kw.bid *= 3", "max_firings": 1}
        return one_sku(stock=10**9, hours=24, tick_minutes=15, extra={"channels": channels, "rules": [rule]})

    fired, never = build_model(scenario("hour == 12")), build_model(scenario("hour == 99"))
    for i in range(4):
        a = FastEngine(fired).run(replication_seed(8, i)).ad_groups["search"]
        b = FastEngine(never).run(replication_seed(8, i)).ad_groups["search"]
        assert np.array_equal(a["impressions"][:12], b["impressions"][:12])
        assert np.array_equal(a["ad_spend"][:12], b["ad_spend"][:12])
        assert np.all(a["impressions"][12:] >= b["impressions"][12:])
        assert a["impressions"][12:].sum() > b["impressions"][12:].sum()


def test_an_undefined_metric_makes_the_rule_fail_not_the_run():
    rule = {"name": "roi_guard", "every": "1h", "when": "roi_1h('organic') > 1", "then": "ads.daily_budget *= 2"}
    model = build_model(flat_search([rule]))
    rec = FastEngine(model).run(replication_seed(1, 0))
    failed = events_of(rec, "rule_failed")
    assert len(failed) == 23 and [e[3] for e in failed] == list(map(float, range(1, 24)))
    assert events_of(rec, "rule_fired") == []
    assert rec.by_channel["ad_spend"].sum() == pytest.approx(100.0)


def test_rules_the_engines_do_not_execute_are_refused_by_name_at_load():
    extra = {"channels": {"feed": {"kind": "display", "cpm": 20.0, "impressions_per_hour": 1000.0, "ctr": 0.01,
                                   "daily_budget": 50.0}},
             "rules": [{"name": "more_display", "when": "hour == 3", "then": "feed.daily_budget *= 2"}]}
    with pytest.raises(ValueError, match="more_display.*display"):
        one_sku(stock=100, hours=24, extra=extra)
    with pytest.raises(ScenarioError, match="does not execute mid-campaign rules"):
        ExpectedEngine(build_model(flat_search([RAISE_AT_SIX])))


def test_a_cadence_off_the_reporting_hour_is_an_error_at_load_time():
    with pytest.raises(ValueError, match="whole reporting periods of 60 minutes"):
        one_sku(stock=10, hours=24, tick_minutes=15,
                extra={"channels": {"ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 10.0,
                                            "daily_budget": 5.0}},
                       "rules": [dict(RAISE_AT_SIX, every="45min")]})
