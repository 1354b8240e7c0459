"""The fast engine's decisive moments are SimPy events that the processes needing them wait on.

One test per mechanism (the delivery and the flat-cpc budget have theirs in
test_engine_events.py): a small scenario where the moment is certain, a check that the part's
process resumed at exactly the moment's tick and acted (the carts pay, the pool closes, the
flash sale falls back, the rule's change applies; a launch, a stock-out and an auction budget
running out, which no part of the engine reacts to yet, reach a waiting process), and the
same check failing when the moment is removed — `Moments.fire` patched to hand back a zero
timeout in its place, so the campaign goes on but no waiting process resumes: nothing else
stands in for it.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from simulator.engine import FastEngine
from simulator.engine import fast as fast_module
from simulator.engine.carts import Carts
from simulator.engine.flash import FlashSales
from simulator.engine.moments import Moments
from simulator.engine.promo_state import PromoState
from simulator.model import build_model
from simulator.scenario import Scenario
from tests.helpers import at, events_of, one_sku


def without(monkeypatch, kind: str, value=None) -> None:
    """Remove the moments of `kind` (and `value`, when given): a zero timeout stands in for each."""
    fire = Moments.fire

    def fire_but(self, k, subject, v=None):
        if k == kind and (value is None or v == value):
            return self.env.timeout(0)
        return fire(self, k, subject, v)

    monkeypatch.setattr(Moments, "fire", fire_but)


def watching(monkeypatch, kind: str, subject: str) -> list:
    """A process of the test's own waits on every (kind, subject) moment of the next runs and
    records (tick, value) when it resumes."""
    seen = []
    init = Moments.__init__

    def watch(moments):
        while True:
            value = yield moments.next(kind, subject)
            seen.append((int(moments.env.now), value))

    def start(self, env):
        init(self, env)
        env.process(watch(self))

    monkeypatch.setattr(Moments, "__init__", start)
    return seen


# --------------------------------------------------------------------------- Moments
def test_a_tick_s_moments_wake_their_processes_in_rank_order_before_its_ordinary_events():
    """`open` fires the moments due at a tick by rank, each waited on: the waiting processes
    act before the opener goes on, and before an ordinary event of the same tick."""
    env = simpy.Environment()
    moments, log = Moments(env), []

    def waiter(kind):
        value = yield moments.next(kind, "x")
        log.append((env.now, kind, value))

    def ordinary():
        yield env.timeout(3)
        log.append((env.now, "timeout", None))

    def opener():
        yield env.timeout(3)
        yield from moments.open(3)
        log.append((env.now, "opener", None))

    for kind in ("late", "early"):
        env.process(waiter(kind))
    moments.due(3, (2,), "late", "x", "b")
    moments.due(3, (0,), "early", "x", "a")
    env.process(opener())
    env.process(ordinary())
    env.run()
    assert log == [(3, "early", "a"), (3, "late", "b"), (3, "opener", None), (3, "timeout", None)]


# -------------------------------------------------------------------- phase start
def carts_plan() -> Scenario:
    """A warm-up (hours 0–2) whose carts all pay in the sale (hours 2–6), which brings no
    visits of its own: every order of the sale is a cart paying."""
    return one_sku(stock=100_000, hours=6, visits_per_hour=400.0, extra={"calendar": {
        "cart_pay_minutes": 30.0, "cart_pay_through": 1.0,
        "phases": [{"name": "warm", "kind": "warmup", "start": at(0), "end": at(2)},
                   {"name": "sale", "start": at(2), "end": at(6), "traffic": {"organic": 0.0}}]}})


def test_a_sale_phase_starting_is_the_event_the_warm_up_carts_wait_on_to_pay(monkeypatch):
    paid = []
    pay = Carts._pay

    def spy(self, cp, sale):
        yield from pay(self, cp, sale)
        paid.append((int(self.moments.env.now), int(self.pending.n.sum())))

    monkeypatch.setattr(Carts, "_pay", spy)
    model = build_model(carts_plan())

    def check(seed):
        paid.clear()
        rec = FastEngine(model).run(seed)
        carts = rec.by_channel["carts"][:2].sum()
        assert carts > 0 and paid == [(2, carts)]                     # at the sale's first tick, every cart
        assert rec.by_channel["orders"][2:].sum() == carts             # ... and they are the sale's orders

    for seed in range(3):
        check(seed)
    without(monkeypatch, "phase_start")
    with pytest.raises(AssertionError):
        check(0)


def test_a_launch_is_a_simpy_event_at_its_tick(monkeypatch):
    """Half-hour ticks, a launch on every channel at 04:00 (tick 8): the calendar process logs
    it and a process waiting on its moment resumes then, with its amplitude."""
    seen = watching(monkeypatch, "launch", "all")
    model = build_model(one_sku(stock=1000, hours=10, tick_minutes=30, extra={"calendar": {
        "spikes": [{"at": at(4), "amplitude": 3.0, "decay_minutes": 20.0}]}}))

    def check():
        seen.clear()
        rec = FastEngine(model).run(7)
        assert events_of(rec, "launch") == [(8, "launch", "all", 3.0)] and seen == [(8, 3.0)]

    check()
    without(monkeypatch, "launch")
    with pytest.raises(AssertionError):
        check()


# ------------------------------------------------------------------- pool empties
def coupon_plan() -> Scenario:
    """A coupon pool of 30 that half the visitors try to claim: ~12 claims a 15-minute tick
    empty it in the first hour, at a tick that varies with the seed."""
    return one_sku(stock=100_000, hours=6, tick_minutes=15, extra={"coupons": {"c50": {
        "threshold": 50.0, "amount": 10.0, "quantity": 30, "claim_rate": 0.5,
        "claim_from": at(0), "claim_to": at(6), "valid_from": at(0), "valid_to": at(6)}}})


def test_a_coupon_pool_emptying_is_the_event_its_process_waits_on_to_close_it(monkeypatch):
    closed = []
    pool = PromoState._pool

    def spy(self, j, name):
        yield from pool(self, j, name)
        closed.append((int(self.moments.env.now), bool(self.open[j])))

    monkeypatch.setattr(PromoState, "_pool", spy)
    model = build_model(coupon_plan())

    def check(seed):
        closed.clear()
        rec = FastEngine(model).run(seed)
        empties = events_of(rec, "coupon_empty")
        assert len(empties) == 1 and empties[0][3] == 30.0
        assert closed == [(empties[0][0], False)]                       # closed at that tick
        assert rec.coupons["c50"]["claimed"] == 30.0                   # the closed pool gives no more

    for seed in range(3):
        check(seed)
    without(monkeypatch, "coupon_empty")
    with pytest.raises(AssertionError):
        check(0)


# ------------------------------------------------------------------ flash sell-out
def flash_plan() -> Scenario:
    """100 orders an hour against a flash allotment of 20 from hour 1: it sells out in
    hour 1, and with `after_sellout: regular` the held-back stock sells at 100 from hour 2."""
    return one_sku(stock=1000, hours=5, visits_per_hour=1000.0, extra={"flash_sales": {"deal": {
        "sku": "item", "price": 50.0, "quantity": 20, "start": at(1), "end": at(5), "after_sellout": "regular"}}})


def test_a_flash_sale_selling_out_is_the_event_its_process_waits_on_to_fall_back(monkeypatch):
    sold = []
    sellout = FlashSales._sellout

    def spy(self, i, now):
        sellout(self, i, now)
        sold.append((int(self.moments.env.now), self.status[i]))

    monkeypatch.setattr(FlashSales, "_sellout", spy)
    model = build_model(flash_plan())

    def check(seed):
        sold.clear()
        rec = FastEngine(model).run(seed)
        assert events_of(rec, "flash_sellout") == [(1, "flash_sellout", "deal", 20.0)]
        assert sold == [(1, "sold_out")] and rec.flash["deal"]["units"] == 20.0
        units, gmv = rec.by_sku["units"][2:, 0], rec.by_sku["gmv"][2:, 0]
        assert units.min() > 0 and np.array_equal(gmv, 100.0 * units)   # the regular price from hour 2

    for seed in range(3):
        check(seed)
    without(monkeypatch, "flash", "sellout")
    with pytest.raises(AssertionError):
        check(0)


# ------------------------------------------------------------------ rule evaluation
def rule_plan() -> Scenario:
    """Paid search (50 clicks an hour at 1.0) whose daily budget of 20 runs out in hour 0; a
    rule evaluated hourly raises it to 1,000 from hour 3."""
    return one_sku(stock=100_000, hours=6, extra={
        "channels": {"ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 50.0, "daily_budget": 20.0}},
        "rules": [{"name": "refill", "every": "1h", "when": "hour >= 3", "then": "ads.daily_budget = 1000",
                   "max_firings": 1}]})


def test_a_rule_evaluation_is_the_event_the_rules_process_waits_on_to_apply_its_change(monkeypatch):
    applied = []
    apply = fast_module.apply_changes

    def spy(engine, run, changes):
        applied.append((int(run.env.now), dict(changes)))
        apply(engine, run, changes)

    monkeypatch.setattr(fast_module, "apply_changes", spy)
    model = build_model(rule_plan())

    def check(seed):
        applied.clear()
        rec = FastEngine(model).run(seed)
        assert [t for t, ch in applied if ch] == [3]                    # evaluated hourly, fires at hour 3
        assert [t for t, _ in applied] == [1, 2, 3, 4, 5]                 # at the end of every hour
        clicks = rec.by_channel["visits"][:, 1]
        assert clicks[0] == 20 and clicks[1:3].sum() == 0 and clicks[3] > 20   # stopped, then refilled

    for seed in range(3):
        check(seed)
    without(monkeypatch, "rule_evaluation")
    with pytest.raises(AssertionError):
        check(0)


# ------------------------------------------------------------------------ stock-out
def test_a_stock_out_is_a_simpy_event_at_its_tick(monkeypatch):
    """An empty shelf at the start (its stock-out at the first tick with demand) and a
    shipment of 10 at 03:00 that the demand outruns: a process waiting on the SKU's stock-out
    moments resumes at each logged stock-out's tick with the units it turned away."""
    seen = watching(monkeypatch, "stockout", "item")
    model = build_model(one_sku(stock=0, hours=6, tick_minutes=15, visits_per_hour=40.0,
                                sku={"inbound": [{"at": at(3), "quantity": 10}]}))

    def check(seed):
        seen.clear()
        rec = FastEngine(model).run(seed)
        logged = [(t, v) for t, _, _, v in events_of(rec, "stockout")]
        assert len(logged) == 2 and logged[1][0] >= 12
        assert seen == logged

    for seed in range(5):
        check(seed)
    without(monkeypatch, "stockout")
    with pytest.raises(AssertionError):
        check(0)


# ------------------------------------------------------------- auction budget reached
def test_an_auction_budget_running_out_is_a_simpy_event_at_its_tick(monkeypatch):
    """The equivalence suite's auction scenario: an ad group's daily budget runs out each day;
    a process waiting on its moments resumes at each logged `budget_exhausted` tick, with the
    day's spend. (The auctions' budget line stops the spend at that tick; the booking logs it.)"""
    from pathlib import Path

    from simulator import load_scenario

    seen = watching(monkeypatch, "budget_exhausted", "paid_search/brand")
    path = Path(__file__).resolve().parents[1] / "scenarios" / "equivalence" / "auctions.yaml"
    model = build_model(load_scenario(path))

    def check(seed):
        seen.clear()
        rec = FastEngine(model).run(seed)
        logged = [(t, v) for t, _, s, v in events_of(rec, "budget_exhausted") if s == "paid_search/brand"]
        assert logged and seen == logged

    for seed in range(2):
        check(seed)
    without(monkeypatch, "budget_exhausted")
    with pytest.raises(AssertionError):
        check(0)
