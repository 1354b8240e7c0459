"""The names a rule can read (metrics), the functions it can call, and the fields it can set.

This table is the contract between the rules language and the engines: a rule may
name only what is listed here, and an engine's metrics snapshot must answer every
name listed here (`Metrics.get(name, subject)`). `docs/rules.md` explains each one.

Time. A rule is evaluated at a moment t, the end of its cadence period (and the start of
the tick its actions first apply to). Flow metrics describe the time before t:
`_1h` the last 60 minutes, `_today` the local day of the last tick before t (from its
midnight up to t), `_total` the campaign so far. Clock metrics describe t itself.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMBER, STRING, BOOL = "number", "string", "bool"

# who a metric can be about: a channel, a SKU, either (a name that is both is ambiguous)
CHANNEL, SKU, CHANNEL_OR_SKU = "channel", "SKU", "channel or SKU"


@dataclass(frozen=True)
class MetricSpec:
    """One readable name.

    `subject`: what the one optional argument names (None: the metric takes none; without
    the argument a metric is about the whole store). `needs`: `"hourly"` for metrics that
    need ticks of at most an hour, `"budget"`, `"daily_budget"`, `"total_budget"` for
    metrics that need a budget set on the channel (on some channel, for the store).
    """

    name: str
    type: str
    subject: str | None
    doc: str
    needs: str | None = None


_FLOW_DOCS = {
    "gmv": ("gmv (Σ units × price after the SKU discount)", CHANNEL_OR_SKU),
    "orders": ("paid orders", CHANNEL_OR_SKU),
    "units": ("units sold", CHANNEL_OR_SKU),
    "visits": ("visits (paid-search visits are clicks)", CHANNEL),
    "spend": ("marketing cost: ad spend + fees + commissions", CHANNEL),
    "roi": ("gmv / spend (undefined when spend is 0)", CHANNEL),
}
_WINDOWS = {
    "1h": "in the last 60 minutes",
    "today": "since local midnight of the day of the last tick",
    "total": "since the campaign started",
}


def _catalogue() -> dict[str, MetricSpec]:
    out: dict[str, MetricSpec] = {}
    for flow, (what, subject) in _FLOW_DOCS.items():
        for window, when in _WINDOWS.items():
            name = f"{flow}_{window}"
            out[name] = MetricSpec(name, NUMBER, subject, f"{what} {when}",
                                   "hourly" if window == "1h" else None)
    extra = [
        MetricSpec("budget_left", NUMBER, CHANNEL,
                   "money left to spend today: the daily budget minus today's spend, or the "
                   "total budget minus all spend if that is smaller (store: sum over channels "
                   "with a budget)", "budget"),
        MetricSpec("budget_left_share", NUMBER, CHANNEL,
                   "budget_left as a share (0–1) of the daily budget, or of the total budget "
                   "for a channel without a daily one", "budget"),
        MetricSpec("daily_budget", NUMBER, CHANNEL,
                   "the daily budget now in force (after earlier rule firings)", "daily_budget"),
        MetricSpec("total_budget", NUMBER, CHANNEL,
                   "the total budget now in force (after earlier rule firings)", "total_budget"),
        MetricSpec("stock_left", NUMBER, SKU, "units on hand"),
        MetricSpec("stock_share", NUMBER, SKU,
                   "units on hand / initial stock (undefined when initial stock is 0)"),
        MetricSpec("hour", NUMBER, None, "local hour of day at t, 0–23"),
        MetricSpec("day", NUMBER, None,
                   "local calendar days since the start's date (0 on the first day)"),
        MetricSpec("minutes_since_start", NUMBER, None, "minutes from the campaign start to t"),
        MetricSpec("phase", STRING, None,
                   "name of the phase at t, '(none)' outside every phase; compare with == or !="),
    ]
    out.update({m.name: m for m in extra})
    return out


METRICS: dict[str, MetricSpec] = _catalogue()
"""Every metric by name."""

CLOCK = ("hour", "day", "minutes_since_start", "phase")
NO_PHASE = "(none)"

FUNCTIONS = {"min": "the smallest of its arguments", "max": "the largest of its arguments"}
"""Pure functions of numbers (two or more arguments)."""


@dataclass(frozen=True)
class ActionField:
    """A field a rule may set. `type` NUMBER or STRING; `choices` for a STRING field."""

    name: str
    type: str
    doc: str
    choices: tuple[str, ...] = ()


PACING_MODES = ("asap", "even", "launch_weighted", "roi_target")

ACTION_FIELDS: dict[str, ActionField] = {
    f.name: f
    for f in (
        ActionField("daily_budget", NUMBER, "the channel's (or ad group's) daily budget"),
        ActionField("total_budget", NUMBER, "the campaign budget of the channel"),
        ActionField("bid", NUMBER, "the bid of a paid-search channel or ad group"),
        ActionField("pacing", STRING, "how the budget is spread over the day", PACING_MODES),
    )
}
"""What actions may change: budgets, bids and pacing — and only where the scenario has them."""
