"""Golden event logs of the fast engine on cases worked out by hand.

Demand of 50 000 orders an hour (100 000 visits × 0.5) empties any small stock in
the first tick it meets, so what happens when is certain whatever the seed; only
the amount of lost demand is random. One-hour ticks make hours and ticks the same,
so the hourly record can be read tick by tick.

The last tests pin edge cases that were engine bugs (deliveries on a chunk's first tick,
SKUs starting at or below their reorder point, stock-out event values, the budget
exhaustion tick). A bug found later gets a test here marked xfail(strict=True) with the
diagnosis as its reason; it XPASSes — and so fails — once fixed: then drop the marker.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.runner import simulate
from simulator.scenario import Scenario
from tests.helpers import at, chunk_starts, events_of, one_sku

FLOOD = {"visits_per_hour": 100_000.0, "base_conversion": 0.5}   # ~50 000 orders per hour


def kinds(rec) -> list[tuple[int, str, str]]:
    """The event log without values: (tick, kind, subject)."""
    return [(t, k, s) for t, k, s, _ in events_of(rec)]


# ---------------------------------------------------------------- stock-outs
def test_flood_empties_the_stock_in_the_first_tick():
    res = simulate(one_sku(stock=5, hours=4, **FLOOD), reps=3, seed=1)
    for rec in res.records:
        assert kinds(rec) == [(0, "sold_out", "item"), (0, "stockout", "item")]   # the last unit goes, then
        lost = rec.by_sku["lost_units"][:, 0]                                    # demand is turned away
        assert events_of(rec, "stockout")[0][3] == lost[0]                 # the demand that met no stock at tick 0
        assert rec.by_sku["units"][:, 0].tolist() == [5, 0, 0, 0]
        assert rec.stock[:, 0].tolist() == [0, 0, 0, 0]
        assert rec.by_sku["stockout_ticks"][:, 0].tolist() == [1, 1, 1, 1]
        assert np.all(lost > 40_000)


def test_stock_sells_out_at_the_hand_computed_tick():
    """10-minute ticks with 1 200 orders each (±35) against 3 000 units: ticks 0 and 1 sell ≈2 400,
    tick 2 runs out — the stock-out event is at tick 2 whatever the seed."""
    sc = one_sku(stock=3000, hours=2, tick_minutes=10, visits_per_hour=14_400.0, base_conversion=0.5)
    res = simulate(sc, reps=5, seed=3)
    per_tick = 14_400 * 0.5 / 6
    first_short = math.ceil(3000 / per_tick) - 1            # the tick where cumulative demand passes 3 000
    assert first_short == 2
    for rec in res.records:
        (t, kind, subject, value), = events_of(rec, "stockout")
        assert (t, kind, subject) == (first_short, "stockout", "item")
        assert events_of(rec, "sold_out") == [(first_short, "sold_out", "item", 0.0)]
        assert rec.by_sku["units"][0, 0] == 3000 and rec.by_sku["units"][1, 0] == 0
        assert rec.by_sku["stockout_ticks"][:, 0].tolist() == [4, 6]   # ticks 2–5 of hour 0, all of hour 1
        assert 0 < value <= rec.by_sku["lost_units"][0, 0]


def test_an_inbound_shipment_arrives_at_its_tick():
    """15-minute ticks; a shipment at 03:15 lands at the start of tick 13, before that tick's demand."""
    sc = one_sku(stock=0, hours=5, tick_minutes=15, **FLOOD, sku={"inbound": [{"at": at(3.25), "quantity": 40}]})
    for rec in simulate(sc, reps=3, seed=2).records:
        assert kinds(rec) == [(0, "stockout", "item"), (13, "arrival", "item"), (13, "sold_out", "item"),
                              (13, "stockout", "item")]
        assert events_of(rec, "arrival") == [(13, "arrival", "item", 40.0)]
        assert rec.by_sku["inbound"][:, 0].tolist() == [0, 0, 0, 40, 0]
        assert rec.by_sku["units"][:, 0].tolist() == [0, 0, 0, 40, 0]
        # tick 13 opens with 40 units but its demand outruns them: still a stock-out tick
        assert rec.by_sku["stockout_ticks"][:, 0].tolist() == [4, 4, 4, 4, 4]


def test_a_delivery_is_the_simpy_event_that_wakes_stock_play():
    """A delivery is a SimPy process: at its tick it triggers the event stock play waits on —
    not a timeout standing in for it (a process waiting only on that event wakes at the tick,
    and finds the units in the inbox)."""
    import simpy

    from simulator.engine.moments import Moments
    from simulator.engine.stock import Replenishment, StockState
    from simulator.model import build_model
    from simulator.record import RunRecord

    model = build_model(one_sku(stock=0, hours=5, tick_minutes=15))
    env = simpy.Environment()
    st = StockState(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=bool), [], env.event())
    rec = RunRecord.empty(5, 1, 1, model.stock)
    woke = []

    def stock_play():
        yield st.signal
        woke.append((env.now, list(st.inbox)))

    env.process(stock_play())
    Replenishment(model, env, st, rec, Moments(env)).deliver(13, 0, 40, "inbound")
    env.run()
    assert woke == [(13, [(13, 0, 40, "inbound")])]
    assert rec.events == [(13, "arrival", "item", 40.0)]


# ------------------------------------------------------------ (s, Q) reorders
def test_reorder_golden_log_under_a_flood():
    """Stock 10, s = 3, Q = 8, lead 2 h: tick 0 sells out and orders (position 0 + 8 > 3); every
    delivery sells out in its tick and orders again; the order of tick 6 would land after the end."""
    sc = one_sku(stock=10, hours=7, **FLOOD, sku={"reorder": {"point": 3, "quantity": 8, "lead_time_hours": 2}})
    for rec in simulate(sc, reps=3, seed=4).records:
        log = [(0, "sold_out", "item"), (0, "stockout", "item"), (0, "reorder", "item")]
        for t in (2, 4, 6):
            log += [(t, "arrival", "item"), (t, "sold_out", "item"), (t, "stockout", "item"), (t, "reorder", "item")]
        assert kinds(rec) == log
        assert [v for _, k, _, v in events_of(rec) if k in ("reorder", "arrival")] == [8.0] * 7
        assert rec.by_sku["units"][:, 0].tolist() == [10, 0, 8, 0, 8, 0, 8]
        assert rec.by_sku["inbound"][:, 0].tolist() == [0, 0, 8, 0, 8, 0, 8]


def test_reorder_is_placed_when_stock_reaches_the_point_and_arrives_lead_time_later():
    """Moderate demand (10 an hour): the order goes out in the first tick whose closing stock is at
    or below s, and arrives exactly the lead time (3 ticks) later; until then nothing else arrives."""
    sc = one_sku(stock=50, hours=12, visits_per_hour=100.0, base_conversion=0.1,
                 sku={"reorder": {"point": 20, "quantity": 40, "lead_time_hours": 3}})
    for rec in simulate(sc, reps=10, seed=5).records:
        stock = rec.stock[:, 0]
        first = int(np.flatnonzero(stock <= 20)[0])              # closing stock first at/below the point
        orders = events_of(rec, "reorder")
        assert orders[0] == (first, "reorder", "item", 40.0)
        arrivals = events_of(rec, "arrival")
        assert arrivals[0] == (first + 3, "arrival", "item", 40.0)
        assert rec.by_sku["inbound"][first + 3, 0] == 40 and not rec.by_sku["inbound"][:first + 3, 0].any()
        assert np.all(stock[:first] > 20)


@pytest.mark.parametrize("tick, lead_hours, lead_ticks", [(20, 0.5, 2), (20, 1.0, 3), (15, 0.0, 1), (60, 0.25, 1)])
def test_lead_time_is_rounded_up_to_whole_ticks(tick, lead_hours, lead_ticks):
    sc = one_sku(stock=10, hours=4, tick_minutes=tick, **FLOOD,
                 sku={"reorder": {"point": 3, "quantity": 8, "lead_time_hours": lead_hours}})
    rec = simulate(sc, reps=1, seed=6).records[0]
    placed = [t for t, *_ in events_of(rec, "reorder")]
    landed = [t for t, *_ in events_of(rec, "arrival")]
    assert placed[0] == 0
    assert landed == [t + lead_ticks for t in placed if t + lead_ticks < sc_ticks(sc)]


def sc_ticks(sc: Scenario) -> int:
    m = sc.meta
    return int((m.local(m.end) - m.local(m.start)).total_seconds() // 60 // m.tick_minutes)


# ----------------------------------------------------------- calendar events
def test_calendar_golden_log():
    sc = Scenario.model_validate({
        "meta": {"name": "calendar", "start": at(0), "end": at(10), "tick_minutes": 30},
        "calendar": {"intraday": "flat",
                     "phases": [{"name": "warmup", "kind": "warmup", "start": at(1), "end": at(4)},
                                {"name": "burst", "start": at(4), "end": at(8)}],
                     "spikes": [{"at": at(4), "amplitude": 3.0, "decay_minutes": 20.0}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 10.0},
                     "push": {"kind": "crm_push", "audience": 500, "open_rate": 0.1,
                              "send_times": [at(6.5)]}},
        "skus": {"item": {"price": 10.0, "unit_cost": 4.0, "base_conversion": 0.01, "stock": 1000}},
    })
    rec = simulate(sc, reps=1, seed=7).records[0]
    assert events_of(rec) == [(2, "phase_start", "warmup", 0.0), (8, "phase_start", "burst", 0.0),
                              (8, "launch", "all", 3.0), (13, "crm_send", "push", 500.0)]


# ------------------------------------------------------------ events.parquet
def test_events_parquet_columns(tmp_path):
    sc = one_sku(stock=10, hours=7, tick_minutes=30, start_hour=20, **FLOOD,
                 sku={"reorder": {"point": 3, "quantity": 8, "lead_time_hours": 2}})
    res = simulate(sc, reps=2, seed=8)
    res.write(tmp_path)
    ev = pd.read_parquet(tmp_path / "events.parquet")
    assert list(ev.columns) == ["replication", "tick", "time", "kind", "subject", "value"]
    assert ev["tick"].dtype == np.int64 and ev["value"].dtype == np.float64
    assert sorted(ev["replication"].unique()) == [0, 1]
    start = pd.Timestamp("2026-11-10 20:00", tz="Asia/Shanghai")
    assert (ev["time"] == start + pd.to_timedelta(ev["tick"] * 30, unit="min")).all()
    assert str(ev["time"].dt.tz) == "Asia/Shanghai"
    for i, rec in enumerate(res.records):
        mine = ev[ev["replication"] == i]
        assert list(mine[["tick", "kind", "subject", "value"]].itertuples(index=False, name=None)) == events_of(rec)
        assert mine["tick"].is_monotonic_increasing


# ----------------------------------------------- edge cases that once broke
def test_arrival_at_a_chunk_boundary_is_recorded_as_inbound():
    """A delivery on the first tick of a chunk (here local midnight) counts in that hour's inbound."""
    sc = one_sku(stock=5, hours=8, start_hour=20, **FLOOD, sku={"inbound": [{"at": at(24), "quantity": 7}]})
    res = simulate(sc, reps=1, seed=9)
    rec, model = res.records[0], res.model
    assert 4 in chunk_starts(model)                               # local midnight: a new chunk
    assert events_of(rec, "arrival") == [(4, "arrival", "item", 7.0)]
    assert rec.by_sku["units"][:, 0].tolist() == [5, 0, 0, 0, 7, 0, 0, 0]
    assert rec.by_sku["inbound"][:, 0].tolist() == [0, 0, 0, 0, 7, 0, 0, 0]
    assert rec.initial_stock[0] + rec.by_sku["inbound"].sum() == rec.by_sku["units"].sum() + rec.ending_stock[0]


def test_sku_starting_with_no_stock_reorders_at_once():
    """Position 0 ≤ s at the start: the first order goes out at tick 0, not after some delivery."""
    sc = one_sku(stock=0, hours=6, **FLOOD, sku={"reorder": {"point": 2, "quantity": 10, "lead_time_hours": 2}})
    rec = simulate(sc, reps=1, seed=10).records[0]
    assert events_of(rec, "reorder")[:1] == [(0, "reorder", "item", 10.0)]
    assert events_of(rec, "arrival")[:1] == [(2, "arrival", "item", 10.0)]
    assert rec.by_sku["units"][2, 0] == 10


def test_stockout_value_is_the_demand_lost_at_its_tick_either_way():
    """Whether the shelf empties during tick 0 or was empty already, the value is tick 0's lost units."""
    empty = simulate(one_sku(stock=0, hours=2, **FLOOD), reps=1, seed=11).records[0]
    short = simulate(one_sku(stock=5, hours=2, **FLOOD), reps=1, seed=11).records[0]
    for rec in (short, empty):
        (t, kind, _, value), = events_of(rec, "stockout")
        assert (t, kind) == (0, "stockout")
        assert value == rec.by_sku["lost_units"][0, 0] > 0


def test_budget_exhausted_fires_at_the_tick_of_the_last_affordable_click():
    """The event marks the tick that bought the last click the budget pays for — also when the
    clicks reach the budget exactly (then no click is refused in that tick) and when that happens
    at the end of a chunk. One-hour ticks, a 2-click daily budget and ~1 click an hour; a quiet
    morning phase (≈2 clicks in 12 h) often uses up the budget exactly by noon, when the day's
    second chunk begins."""
    sc = Scenario.model_validate({
        "meta": {"name": "budget", "start": at(0), "end": at(48), "tick_minutes": 60},
        "calendar": {"intraday": "flat", "phases": [
            {"name": "quiet", "start": at(24), "end": at(36), "traffic": {"ads": 0.15}}]},
        "channels": {"ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 1.0, "daily_budget": 2.0}},
        "skus": {"item": {"price": 50.0, "unit_cost": 20.0, "base_conversion": 0.05, "stock": 1000}},
    })
    res = simulate(sc, reps=30, seed=12)
    day = res.model.grid.day
    for rec in res.records:
        clicks = rec.by_channel["visits"][:, 0]
        hits = {int(day[t]): t for t, *_ in events_of(rec, "budget_exhausted")}
        for d in (0, 1):
            hours = np.flatnonzero(day == d)
            cum = np.cumsum(clicks[hours])
            assert cum[-1] == 2                                   # ~12–24 clicks on offer: always used up
            assert hits.get(d) == hours[np.searchsorted(cum, 2)]  # the tick of the second click


def test_a_budget_exhaustion_is_the_simpy_event_that_stops_its_channel():
    """Paid search at a flat cpc: its budget running out is a SimPy event; the channel's process
    waits on it, logs `budget_exhausted` and stops the channel — no click of it is drawn later
    that day (the afternoon phase is a stretch of its own). A process that only logs the event
    leaves the channel open: the stop comes from the event, not from the budget arithmetic."""
    from simulator.engine import FastEngine
    from simulator.engine.budgets import FlatBudgets
    from simulator.model import build_model

    sc = Scenario.model_validate({
        "meta": {"name": "budget", "start": at(0), "end": at(24), "tick_minutes": 60},
        "calendar": {"intraday": "flat", "phases": [{"name": "afternoon", "start": at(12), "end": at(24)}]},
        "channels": {"ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 2.0, "daily_budget": 3.0}},
        "skus": {"item": {"price": 50.0, "unit_cost": 20.0, "base_conversion": 0.05, "stock": 1000}},
    })
    model = build_model(sc)

    class Spy(FlatBudgets):
        def __init__(self, model, close=True):
            super().__init__(model)
            self.asked, self.close = [], close

        def clicks(self, ch, run, c, offered):
            self.asked.append(ch.start)
            return super().clicks(ch, run, c, offered)

        def watch(self, env, run, rec, c):
            if self.close:
                yield from super().watch(env, run, rec, c)
                return
            while True:                                            # logs, never stops the channel
                spent = yield run.moments.next("budget_exhausted", "ads")
                rec.events.append((int(env.now), "budget_exhausted", "ads", spent))

    def engine(close: bool) -> FastEngine:
        eng = FastEngine(model)
        eng.budgets = Spy(model, close)
        return eng

    for seed in range(5):
        eng = engine(True)
        rec = eng.run(seed)
        (tick, _, _, spent), = events_of(rec, "budget_exhausted")
        assert tick < 12 and spent == 3.0
        assert eng.budgets.asked == [0]                            # the afternoon stretch asks for no click
        assert rec.by_channel["visits"][tick + 1:, 0].sum() == 0
        left_open = engine(False)
        left_open.run(seed)
        assert left_open.budgets.asked == [0, 12]


def test_initial_reorder_counts_a_delivery_of_tick_0():
    """The opening (s, Q) check sees the deliveries of tick 0, which land before its demand."""
    sc = one_sku(stock=0, hours=6, visits_per_hour=0.0,
                 sku={"reorder": {"point": 5, "quantity": 10, "lead_time_hours": 2},
                      "inbound": [{"at": at(0), "quantity": 50}]})
    rec = simulate(sc, reps=1, seed=13).records[0]
    assert events_of(rec) == [(0, "arrival", "item", 50.0)]              # 50 > s = 5: nothing to order
    assert rec.ending_stock[0] == 50


# ------------------------------------------------------ engine bugs found and fixed
def test_a_phase_shorter_than_a_tick_is_rejected_or_played():
    """One-hour ticks; the sale after a warm-up lasts 30 minutes (01:00–01:30): either the scenario
    is refused at the door, naming the phase, or it plays and the warm-up's carts pay."""
    try:
        sc = one_sku(stock=1000, hours=3, extra={"calendar": {"phases": [
            {"name": "warmup", "kind": "warmup", "start": at(0), "end": at(1)},
            {"name": "burst", "start": at(1), "end": at(1.5)}]}})
    except ValueError as e:
        assert "burst" in str(e)
        return
    rec = simulate(sc, reps=1, seed=14).records[0]
    assert rec.by_channel["carts"].sum() > 0 and rec.by_channel["orders"].sum() > 0


def test_demand_of_a_sku_out_of_stock_for_a_whole_stretch_is_drawn_in_bulk_with_the_same_law():
    """A SKU with no stock and nothing coming loses every order of a stretch: the engine draws
    that demand by cells (segment × coupon class per reporting period) instead of lines. On the
    same seeds it loses the same orders in the same ticks as the line path (the stock-out ticks
    and event agree exactly), and its lost units — baskets of 1 + Poisson(0.6), top-up to the
    reduction's threshold included — have the line path's mean within 4 standard errors."""
    from simulator.engine import FastEngine
    from simulator.engine.stock import Replenishment
    from simulator.model import build_model

    sc = one_sku(stock=0, hours=72, tick_minutes=30, visits_per_hour=200, base_conversion=0.2,
                 sku={"price": 140.0, "units_per_order": 1.6},
                 extra={"platform_reduction": {"every": 300, "off": 50},
                        "baskets": {"topup_reach": 0.2, "topup_probability": 0.5}})
    model = build_model(sc)
    bulk = [FastEngine(model).run(s) for s in range(120)]
    dead = Replenishment.dead
    try:
        Replenishment.dead = lambda self, a, b: np.zeros(len(model.skus), dtype=bool)
        lines = [FastEngine(model).run(s) for s in range(120)]
    finally:
        Replenishment.dead = dead
    for x, y in zip(bulk, lines):
        assert np.array_equal(x.by_sku["stockout_ticks"], y.by_sku["stockout_ticks"])
        assert [e for e in x.events if e[1] == "stockout"][0][0] == [e for e in y.events if e[1] == "stockout"][0][0]
        assert x.by_sku["units"].sum() == 0 and x.by_sku["lost_units"][24:].sum() > 0
    a = np.array([r.by_sku["lost_units"].sum() for r in bulk])
    b = np.array([r.by_sku["lost_units"].sum() for r in lines])
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) <= 4 * se
    hourly = np.array([r.by_sku["lost_units"][:, 0] for r in bulk]).mean(axis=0)
    assert hourly[24:].min() > 0                                  # every hour of days 2 and 3 books its loss
