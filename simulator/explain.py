"""What a plan implies in the store's own metrics (生意参谋), before running it: UV per day per
channel, 加购率, 支付转化率, 客单价 and 领券率 per phase, and each channel's ROI against its
break-even ROI (保本 ROI). docs/explain.md defines every figure.

Source of the figures: the expected engine where it plays the plan (every draw replaced by its
mean: the figures are exact expectations, no standard error); otherwise — it refuses promotion
mechanics, organic feedback, rules and auctions (docs/decisions.md, "What the expected engine
cannot play yet") — the fast engine's replications, each figure the mean of its per-replication
values with the standard error of that mean. The plan is played as written (no assumption draws
from an `uncertainty:` block). Every figure says which source it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.model import Model, build_model
from simulator.record import RunRecord
from simulator.scenario.errors import ScenarioError
from simulator.scenario.schema import Scenario


@dataclass(frozen=True)
class Source:
    """Where the figures came from: `engine` ("expected" or "fast"), replications and seed
    (fast), and why the expected engine could not play the plan (fast)."""

    engine: str
    reps: int = 0
    seed: int | None = None
    why: str = ""


def source_of(sc: Scenario) -> tuple[Source, Model]:
    """The expected engine if it plays `sc`, else the fast engine (with the refusal's reason)."""
    from simulator.engine.expected import ExpectedEngine

    model = build_model(sc)
    try:
        ExpectedEngine(model)
    except ScenarioError as e:
        issue = e.issues[0]
        why = issue.message.split(";")[0].replace("the expected engine (calibration's `method: least_squares`) ", "")
        return Source("fast", why=f"{issue.path}: it {why}" if issue.path else why), model
    return Source("expected"), model


def records(sc: Scenario, reps: int | None = None, seed: int | None = None,
            progress=None) -> tuple[Source, Model, list[RunRecord]]:
    """(source, model, records): one expected record, or `reps` fast replications."""
    from simulator.runner import simulate

    src, _ = source_of(sc)
    if src.engine == "expected":
        res = simulate(sc, reps=1, engine="expected", uncertainty=False)
        return src, res.model, res.records
    reps = reps or sc.meta.replications
    res = simulate(sc, reps=reps, seed=seed, engine="fast", uncertainty=False, progress=progress)
    return Source("fast", reps, res.seed, src.why), res.model, res.records


def stretches(model: Model, by: str = "phase") -> list[tuple[str, str, np.ndarray, float]]:
    """(name, kind, (H,) mask of the reporting periods, days) of every phase (`by="phase"`) or
    local day (`by="day"`, named `MM-DD`) with periods in it, in time order, then `campaign`
    (all of them). A period belongs to the phase and day of its first tick; time outside every
    phase is `(none)`. Kind: the phase's (`sale`, `warmup`; `none` outside phases), a day's is
    `warmup` when it holds warm-up hours, else `sale`; `campaign` is `all`. Days count real
    minutes / 1440."""
    per = model.grid.period
    first = np.r_[0, np.flatnonzero(np.diff(per)) + 1]
    phase = model.phase_of_tick[first]                                  # (H,)
    minutes = np.diff(np.r_[first, len(per)]) * model.grid.tick_minutes  # (H,)
    warm = np.asarray(model.warmup, bool)[phase]                        # (H,)
    key = phase if by == "phase" else model.grid.day[first]
    order = sorted(set(key.tolist()), key=lambda p: int(np.flatnonzero(key == p)[0]))
    out = []
    for k in order:
        mask = key == k
        if by == "phase":
            name = model.phases[k]
            kind = "none" if k == 0 else "warmup" if warm[mask].any() else "sale"
        else:
            name = f"{model.grid.period_start[int(np.flatnonzero(mask)[0])]:%m-%d}"
            kind = "warmup" if warm[mask].any() else "sale"
        out.append((name, kind, mask, float(minutes[mask].sum()) / 1440))
    return out + [("campaign", "all", np.ones(len(phase), bool), float(minutes.sum()) / 1440)]


def _div(a: float, b: float) -> float | None:
    return float(a) / float(b) if b else None


def stretch_figures(rec: RunRecord, model: Model, mask: np.ndarray, days: float, warmup: bool) -> dict:
    """One replication's figures over the periods in `mask` (`days` long): UV per day per channel
    and in all, 加购率 = carts / visits (a stretch with warm-up hours; None elsewhere), 支付转化率 =
    payments (orders + deposits) / visits, 客单价 (`aov`) = 支付金额 (paid by buyers) / payments,
    领券率 = coupons claimed / visits (None without coupons)."""
    ch, sk = rec.by_channel, rec.by_sku
    visits_c = ch["visits"][mask].sum(0)
    visits = float(visits_c.sum())
    payments = float(ch["orders"][mask].sum() + sk["deposits"][mask].sum())
    coupons = bool(model.scenario.coupons)
    return {
        "uv_per_day": {name: float(v) / days for name, v in zip(model.channels, visits_c)},
        "visits": visits,
        "visits_per_day": visits / days,
        "add_to_cart_rate": _div(ch["carts"][mask].sum(), visits) if warmup else None,
        "payment_conversion": _div(payments, visits),
        "aov": _div(sk["paid"][mask].sum(), payments),
        "coupon_claim_rate": _div(sk["coupons_claimed"][mask].sum(), visits) if coupons else None,
    }


def channel_margins(rec: RunRecord, model: Model) -> dict[str, dict]:
    """Per channel over the campaign, one replication: payment conversion (orders / visits),
    ROI (attributed GMV / spend), the gross-margin rate of its attributed sales and the
    break-even ROI (`simulator.kpis.channel_margins`)."""
    from simulator.kpis import channel_kpis

    return {name: {"payment_conversion": c["conversion_rate"], "roi": c["roi"],
                   "gross_margin_rate": c["gross_margin_rate"], "break_even_roi": c["break_even_roi"]}
            for name, c in channel_kpis(rec, model).items()}


def _mean(values: list, source: str) -> dict:
    """A figure over replications: value (mean of the non-null values), se (its standard
    error; null for one value or the expected engine), source."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"value": None, "se": None, "source": source}
    se = float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 and source == "fast" else None
    return {"value": float(np.mean(vals)), "se": se, "source": source}


def _combine(sheets: list, source: str):
    """Per-replication sheets (nested dicts of numbers) → one sheet of figures."""
    first = sheets[0]
    if isinstance(first, dict):
        return {key: _combine([s[key] for s in sheets], source) for key in first}
    return _mean(sheets, source)


def explain(sc: Scenario, reps: int | None = None, seed: int | None = None, progress=None,
            by: str = "phase") -> dict:
    """The plan's implied store metrics (docs/explain.md): `source`, `by`, `phases` (per phase —
    or per local day with `by="day"` — and `campaign`: name, kind, days, figures) and `channels`
    (per channel figures); every figure is {value, se, source}."""
    if by not in ("phase", "day"):
        raise ValueError(f"by: expected 'phase' or 'day', got {by!r}")
    src, model, recs = records(sc, reps, seed, progress)
    phases = []
    for name, kind, mask, days in stretches(model, by):
        sheets = [stretch_figures(r, model, mask, days, kind == "warmup") for r in recs]
        phases.append({"name": name, "kind": kind, "days": days, **_combine(sheets, src.engine)})
    channels = _combine([channel_margins(r, model) for r in recs], src.engine)
    return {"scenario": sc.meta.name, "currency": sc.meta.currency,
            "source": {"engine": src.engine, "reps": len(recs) if src.engine == "fast" else None,
                       "seed": src.seed, "why": src.why or None},
            "by": by, "phases": phases, "channels": channels}
