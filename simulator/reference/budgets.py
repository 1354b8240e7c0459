"""Budgets, pacing lines and mid-campaign rules in the reference engine (docs/pacing.md,
docs/rules.md, "In the engines").

A budget is spent click by click (or impression batch by batch); the pacing line's shape is
the plan's (`simulator.pacing.pace_share` over the channel's volume), recomputed when a rule
changes a budget or the pacing.
"""

from __future__ import annotations

import math

from simulator.pacing import pace_share


class Budget:
    """One budget of a channel (or of an ad group): the budgets in force, the pacing line, and
    spend today and so far."""

    def __init__(self, daily: float, total: float, pacing: str):
        self.daily, self.total, self.pacing = daily, total, pacing
        self.share: list[float] | None = None
        self.allowed = self.spent_today = self.spent_total = self.carried = 0.0
        self.exhausted = False

    def new_day(self, carry: bool) -> None:
        """Local midnight: the day's budget (plus what yesterday left, with carry-over)."""
        self.carried = self.allowed - self.spent_today if carry else 0.0
        self.spent_today = 0.0
        self.reset_day()

    def reset_day(self) -> None:
        """The day's budget from the budgets in force (spend so far today counts)."""
        self.allowed = min(self.daily + self.carried, self.total - (self.spent_total - self.spent_today))
        self.exhausted = self.allowed - self.spent_today <= 1e-9 * max(1.0, abs(self.allowed))

    def room(self, tick: int) -> float:
        """What may still be spent in this tick: the budget, and the pacing line."""
        left = self.allowed - self.spent_today
        if self.share is None:
            return left
        if math.isfinite(self.daily):
            return min(left, self.allowed * self.share[tick] - self.spent_today)
        return min(left, self.total * self.share[tick] - self.spent_total)

    def spend(self, amount: float) -> None:
        self.spent_today += amount
        self.spent_total += amount


class Budgets:
    """Pacing lines and the rules' evaluation moments."""

    def pace_line(self, c: int, b: Budget) -> list[float] | None:
        """Per tick, the share of the period's budget that may be spent by the tick's end (the
        local day with a daily budget, else the campaign), weighed by the channel's volume for
        `launch_weighted`; None for `asap`, `roi_target` or no budget."""
        if b.pacing in ("asap", "roi_target") or (math.isinf(b.daily) and math.isinf(b.total)):
            return None
        return pace_share(b.pacing, None if math.isinf(b.daily) else b.daily, None if math.isinf(b.total) else b.total,
                          self.plan.volume[:, c], self.plan.grid).tolist()

    def rule_moments(self):
        """Mid-campaign rules (docs/rules.md): at each evaluation moment, before the tick's
        visitors, the rules read the record so far; what fires changes budgets, bids or pacing
        from this tick on."""
        for tick in self.rules.ticks:
            yield self.env.timeout(tick - self.env.now)
            yield self.env.timeout(0)                     # after every channel has started the tick (a new day)
            for path, value in self.rules.fire(tick, self.rec).items():
                self.apply_rule(path, value)

    def apply_rule(self, path: str, value) -> None:
        """A fired action: a bid, a budget or the pacing of a channel or ad group, from now on."""
        parts = path.split(".")
        name = parts[1]
        if len(parts) == 5 and parts[4] == "bid":
            self.bids[name][parts[3]] = float(value)
            return
        key = f"{name}/{parts[3]}" if len(parts) == 5 else name
        targets = ([self.budgets[key]] if parts[-1] != "pacing" else
                   [bg for k, bg in self.budgets.items() if k == name or k.startswith(name + "/")])
        c = self.channels.index(name)
        for bg in targets:
            if parts[-1] == "daily_budget":
                bg.daily = float(value)
            elif parts[-1] == "total_budget":
                bg.total = float(value)
            else:
                bg.pacing = value
            bg.share = self.pace_line(c, bg) if self.plan.media[c] is not None else None
            bg.reset_day()
