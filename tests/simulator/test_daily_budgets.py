"""Daily budget used per channel (`simulator.daily_budgets`, docs/kpis.md "Daily budget used"):
per local day the spend, the budget in force, the share used and when the budget ran out, on
small plans whose answer is known — display spend is planned exactly (impressions × cpm), so
its budget runs out at a computable minute; paid search at 1,000 clicks an hour against a
1,500 daily budget runs out in its second hour —; a rule's new budget from its day on; and the
field in `promosim run --json`."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest
import yaml

from simulator.cli import main
from simulator.daily_budgets import day_rows, owners
from simulator.runner import simulate
from simulator.scenario import Scenario
from tests.helpers import at, deep_merge

REPS = 20
DAYS = ["2026-11-10", "2026-11-11", "2026-11-12"]


def plan(extra: dict | None = None) -> dict:
    """Three days, 10-minute ticks, flat intraday. Display 'disp': 10,000 impressions an hour at
    cpm 10 = 100 yuan an hour against a daily budget of 1,450: it runs out at 14:30 on a full
    day; on the quiet day (11-11) its traffic is halved, 1,200 yuan, and it does not.
    Paid search 'ads': 1,000 clicks an hour at cpc 1 against a daily budget of 1,500 (gone in
    the 01:00 hour), and a hundredth of that traffic on the quiet day (240 clicks expected).
    Organic search has no budget."""
    data = {
        "meta": {"name": "budgets", "start": at(0), "end": at(72), "tick_minutes": 10},
        "calendar": {"intraday": "flat",
                     "phases": [{"name": "quiet", "start": at(24), "end": at(48),
                                 "traffic": {"disp": 0.5, "ads": 0.01}}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 50.0},
                     "disp": {"kind": "display", "cpm": 10.0, "impressions_per_hour": 10000.0, "ctr": 0.01,
                              "daily_budget": 1450.0},
                     "ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 1000.0, "daily_budget": 1500.0}},
        "skus": {"item": {"price": 50.0, "unit_cost": 20.0, "base_conversion": 0.05, "stock": 100000}},
    }
    return deep_merge(data, extra or {})


def _run(extra: dict | None = None, reps: int = REPS):
    res = simulate(Scenario.model_validate(plan(extra)), reps=reps, seed=7)
    return res, res.summary()["channels"]


@pytest.fixture(scope="module")
def base():
    return _run()


def test_display_runs_out_at_the_minute_its_daily_budget_is_spent(base):
    _, ch = base
    rows = ch["disp"]["daily_budget"]
    assert [r["day"] for r in rows] == DAYS
    assert [r["budget"] for r in rows] == [1450.0] * 3
    assert [r["spend"] for r in rows] == pytest.approx([1450.0, 1200.0, 1450.0])
    assert [r["used"] for r in rows] == pytest.approx([1.0, 1200 / 1450, 1.0])
    assert [r["ran_out_share"] for r in rows] == [1.0, 0.0, 1.0]
    assert [r["ran_out_median"] for r in rows] == ["11-10 14:30", None, "11-12 14:30"]


def test_paid_search_runs_out_on_a_busy_day_and_not_on_a_quiet_one(base):
    res, ch = base
    rows = ch["ads"]["daily_budget"]
    assert [r["budget"] for r in rows] == [1500.0] * 3
    for d in (0, 2):                                                  # 1,000 clicks an hour: gone in the second
        assert rows[d]["spend"] == 1500.0 and rows[d]["used"] == 1.0 and rows[d]["ran_out_share"] == 1.0
        assert rows[d]["ran_out_median"][-5:-3] == "01"
    assert rows[1]["ran_out_share"] == 0.0 and rows[1]["ran_out_median"] is None
    # the quiet day's spend: Poisson clicks with mean 1,000 × 0.01 × 24 = 240, at cpc 1
    spend = np.array([day_rows(r, res.model)["ads"][1]["spend"] for r in res.records])
    se = spend.std(ddof=1) / np.sqrt(spend.size)
    assert abs(spend.mean() - 240.0) < 4 * se
    assert rows[1]["spend"] == pytest.approx(spend.mean())
    assert rows[1]["used"] == pytest.approx(spend.mean() / 1500.0)


def test_each_replication_has_its_own_run_out_tick_from_its_events(base):
    """The per-replication rows read the run's `budget_exhausted` events: a day ran out at the
    event's tick, and the days add up to the channel's spend."""
    res, _ = base
    day = res.model.grid.day
    for rec in res.records[:5]:
        rows = day_rows(rec, res.model)["ads"]
        stops = {int(day[t]): int(t) for t, kind, subject, _ in rec.events if kind == "budget_exhausted" and subject == "ads"}
        assert [r["ran_out_tick"] for r in rows] == [stops.get(d) for d in range(3)]
        c = res.model.channels.index("ads")
        assert sum(r["spend"] for r in rows) == pytest.approx(rec.by_channel["ad_spend"][:, c].sum())


def test_channels_without_a_budget_have_no_daily_budget(base):
    _, ch = base
    assert "daily_budget" not in ch["organic"]
    assert set(owners(base[0].model)) == {"disp", "ads"}


def test_a_rule_that_raises_the_daily_budget_shows_the_new_budget_from_its_day_on():
    """At 06:00 on 11-12 a rule sets the daily budget to 3,000: the 1,500 spent by 01:00 counts,
    the channel reopens, and the second 1,500 is gone about 07:20. That day and after show
    3,000 — not 1,500 — and the run-out is the second one, not the 01:00 one the rule undid."""
    rule = {"rules": [{"name": "more", "every": "1h", "when": "day == 2 and hour == 6",
                       "then": "ads.daily_budget = 3000"}]}
    extra = plan(rule)
    extra["meta"]["end"] = at(96)                                     # a fourth day keeps the new budget
    res = simulate(Scenario.model_validate(extra), reps=6, seed=3)
    rows = res.summary()["channels"]["ads"]["daily_budget"]
    assert [r["budget"] for r in rows] == [1500.0, 1500.0, 3000.0, 3000.0]
    assert rows[2]["spend"] == 3000.0 and rows[2]["ran_out_share"] == 1.0
    assert 7 * 60 + 10 <= minute(rows[2]["ran_out_median"]) <= 7 * 60 + 30      # 1,500 more at 1,000/h from 06:00
    assert 2 * 60 + 40 <= minute(rows[3]["ran_out_median"]) <= 3 * 60             # 3,000 at 1,000/h from 00:00


def test_a_budget_raised_after_it_ran_out_and_not_spent_again_did_not_run_out_that_day():
    """The 01:00 run-out is undone by a rule at 06:00 that sets a budget the rest of the day
    cannot spend (100,000 at 1,000 clicks an hour): the day ends with budget left."""
    rule = {"rules": [{"name": "more", "every": "1h", "when": "day == 2 and hour == 6",
                       "then": "ads.daily_budget = 100000"}]}
    res = simulate(Scenario.model_validate(plan(rule)), reps=2, seed=3)
    stops = [t for r in res.records for t, kind, s, _ in r.events if kind == "budget_exhausted" and s == "ads"
             and res.model.grid.day[t] == 2]
    assert len(stops) == 2                                            # it did run out at 01:xx in each
    rows = res.summary()["channels"]["ads"]["daily_budget"]
    assert rows[2]["budget"] == 100000.0 and rows[2]["ran_out_share"] == 0.0 and rows[2]["ran_out_median"] is None


def minute(clock: str) -> int:
    """Minutes after midnight of a clock time "11-12 07:20"."""
    h, m = clock.split(" ")[1].split(":")
    return int(h) * 60 + int(m)


def test_a_total_budget_caps_the_day_and_carry_over_adds_what_the_day_before_left():
    """Display, fully determined: with a total of 3,000 the third day may spend only what the
    first two left (3,000 − 1,450 − 1,200 = 350: gone at 03:30); with carry-over instead, the
    quiet day's unspent 250 adds to the third day's 1,450 (gone at 17:00)."""
    _, ch = _run({"channels": {"disp": {"total_budget": 3000.0}}}, reps=2)
    rows = ch["disp"]["daily_budget"]
    assert [r["budget"] for r in rows] == pytest.approx([1450.0, 1450.0, 350.0])
    assert [r["spend"] for r in rows] == pytest.approx([1450.0, 1200.0, 350.0])
    assert [r["ran_out_median"] for r in rows] == ["11-10 14:30", None, "11-12 03:30"]
    _, ch = _run({"channels": {"disp": {"carry_over": True}}}, reps=2)
    rows = ch["disp"]["daily_budget"]
    assert [r["budget"] for r in rows] == pytest.approx([1450.0, 1450.0, 1700.0])
    assert [r["ran_out_median"] for r in rows] == ["11-10 14:30", None, "11-12 17:00"]


def test_auction_ad_groups_with_budgets_count_toward_their_channel():
    """Budgets on two ad groups add up to the channel's day budget; the spend is theirs."""
    data = plan()
    del data["channels"]["ads"], data["calendar"]["phases"][0]["traffic"]["ads"]
    data["channels"]["kw"] = {"kind": "paid_search", "ad_groups": {
        "brand": {"bid": 2.0, "quality_score": 1.0, "auctions_per_hour": 2000, "daily_budget": 300.0,
                  "rivals": {"median": 1.0}},
        "generic": {"bid": 1.5, "quality_score": 1.0, "auctions_per_hour": 2000, "daily_budget": 200.0,
                    "rivals": {"median": 1.0}},
        "free": {"bid": 1.0, "quality_score": 1.0, "auctions_per_hour": 100, "rivals": {"median": 1.0}}}}
    res = simulate(Scenario.model_validate(data), reps=2, seed=1)
    rows = res.summary()["channels"]["kw"]["daily_budget"]
    assert [r["budget"] for r in rows] == [500.0] * 3
    groups = list(res.scenario.channels["kw"].ad_groups)
    for rec in res.records:
        spend = rec.ad_groups["kw"]["ad_spend"][:, [groups.index("brand"), groups.index("generic")]].sum()
        assert sum(r["spend"] for r in day_rows(rec, res.model)["kw"]) == pytest.approx(spend)


def test_run_json_carries_each_budgeted_channels_days(tmp_path):
    path = tmp_path / "budgets.yaml"
    path.write_text(yaml.safe_dump(plan(), allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["run", str(path), "--reps", "2", "--seed", "7", "--json", "--quiet"]) == 0
    ch = json.loads(out.getvalue())["channels"]
    assert "daily_budget" not in ch["organic"]
    rows = ch["disp"]["daily_budget"]
    assert [set(r) for r in rows] == [{"day", "spend", "budget", "used", "ran_out_share", "ran_out_median"}] * 3
    assert [r["ran_out_median"] for r in rows] == ["11-10 14:30", None, "11-12 14:30"]
