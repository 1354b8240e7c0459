"""The result files of `promosim run --out DIR`, loaded into tidy frames for the report.

The report reads only these files (docs/report.md): summary.json, scenario.json (names,
phases, targets), run.json (provenance, optional), kpis / timeseries / events as
Parquet or CSV. Every function below is a pure function of the loaded tables.

Times are local times in the scenario's time zone (tz-aware pandas Timestamps).
Money is in the scenario's currency. "Mean" is the mean over replications; P5/P95
are `numpy.percentile` over replications, as in summary.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.formats import amount, money, money_unit
from simulator.report.errors import ReportError

# Event kinds of store coupons and flash sales (秒杀) running out (docs/promotions.md);
# `subject` is the coupon or flash sale's name.
POOL_KINDS = {"coupon_empty": "coupon", "flash_sellout": "flash sale"}
NO_PHASE = "(none)"
FLOWS = ("visits", "carts", "orders", "units", "gmv", "spend")


@dataclass(frozen=True)
class Phase:
    """A calendar phase: [start, end) in local time; kind 'sale' or 'warmup'."""

    name: str
    kind: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass
class ReportData:
    """Everything a report shows, as loaded from one results folder."""

    out_dir: Path
    summary: dict
    scenario: dict
    run: dict
    kpis: pd.DataFrame
    timeseries: pd.DataFrame
    events: pd.DataFrame
    timezone: str
    start: pd.Timestamp
    end: pd.Timestamp
    period: pd.Timedelta
    phases: list[Phase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lang: str = "both"           # "both": headings and tables in English and Chinese, charts in English

    def say(self, en: str, zh: str) -> str:
        """Text in one language: Chinese when the report is in Chinese, English otherwise
        (charts, notes and captions of a bilingual report are in English)."""
        return zh if self.lang == "zh" else en

    def money(self, v) -> str:
        """An amount in the report's currency: 万 / 亿 for yuan, K / M / B in an English report."""
        return money(v, self.currency, self.lang == "en")

    def amount(self, v) -> str:
        """`money` with its unit: "2.39亿元", "239M CNY" in English."""
        return amount(v, self.currency, self.lang == "en")

    @property
    def axis_currency(self) -> str | None:
        """The currency whose units a chart's money axis takes (None in English: million, billion)."""
        return None if self.lang == "en" else self.currency

    @property
    def unit(self) -> str:
        """A money column's unit: 元, or the currency code in English and for other currencies."""
        return money_unit(self.currency, self.lang == "en")

    def heading(self, en: str, zh: str) -> str:
        """A heading: "English · 中文" in a bilingual report, else one language."""
        return {"en": en, "zh": zh}.get(self.lang, f"{en} · {zh}")

    @property
    def name(self) -> str:
        return self.summary.get("scenario") or self.scenario["meta"]["name"]

    @property
    def currency(self) -> str:
        return self.summary.get("currency") or self.scenario["meta"].get("currency", "")

    @property
    def reps(self) -> int:
        return int(self.summary["reps"])

    @property
    def target_gmv(self) -> float | None:
        targets = self.scenario["meta"].get("targets") or {}
        return targets.get("gmv")

    def sku_label(self, sku: str) -> str:
        """A SKU's display name (its `name`, else its id)."""
        name = (self.scenario.get("skus", {}).get(sku) or {}).get("name")
        return name or sku


# ------------------------------------------------------------------------------- loading
def load(out_dir: str | Path) -> ReportData:
    """Read a results folder written by `promosim run --out`. Raises `ReportError`."""
    from simulator.output_set import verify

    out = Path(out_dir)
    if not out.is_dir():
        what = "is a file, not a folder" if out.exists() else "no such folder"
        raise ReportError(f"{out}: {what} (expected the --out folder of `promosim run`)")
    run = _json(out / "run.json") if (out / "run.json").exists() else {}
    manifest = run.get("files") if isinstance(run.get("files"), dict) else None
    family = [f"{n}.{f}" for n in ("kpis", "timeseries", "events") for f in ("parquet", "csv")]
    warnings = verify(out, manifest, family, "run.json", ReportError)
    summary = _json(out / "summary.json")
    scenario = _json(out / "scenario.json", hint=" (written by promosim run since the report "
                     "was added: run the scenario again with --out)")
    try:
        meta = scenario["meta"]
        tz = meta.get("timezone", "Asia/Shanghai")
        start, end = _local(meta["start"], tz), _local(meta["end"], tz)
        period = pd.Timedelta(minutes=max(60, int(meta.get("tick_minutes", 1))))
        phases = sorted((Phase(p["name"], p.get("kind", "sale"), _local(p["start"], tz), _local(p["end"], tz))
                         for p in scenario.get("calendar", {}).get("phases", [])), key=lambda p: p.start)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ReportError(f"{out / 'scenario.json'}: not the scenario promosim run writes ({type(e).__name__}: "
                          f"{e}); run the scenario again with --out") from None
    ts = _table(out, "timeseries", tz, manifest, time_cols=("period_start",))
    ev = _table(out, "events", tz, manifest, time_cols=("time",))
    ev["subject"] = ev["subject"].fillna("").astype(str)
    kp = _table(out, "kpis", tz, manifest)
    return ReportData(out, summary, scenario, run, kp, ts, ev, tz, start, end, period, phases, warnings)


def _json(path: Path, hint: str = "") -> dict:
    from simulator.scenario.source import Unreadable, read_text

    try:
        data = json.loads(read_text(path, "a JSON file written by promosim", 256 << 20))
    except Unreadable as e:
        if e.message == "no such file":
            raise ReportError(f"{path}: missing{hint}") from None
        raise ReportError(f"{path}: {e.message}") from None
    except ValueError as e:
        raise ReportError(f"{path}: not valid JSON ({e}); it is not a file promosim wrote completely") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _table(out: Path, name: str, tz: str, manifest: dict | None = None,
           time_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """`name`.parquet, else `name`.csv (the one the manifest lists, when there is one), with
    time columns as local tz-aware times."""
    from simulator.files import read_table

    formats = ("parquet", "csv")
    if manifest is not None:
        formats = tuple(f for f in formats if f"{name}.{f}" in manifest) or formats
    path = next((out / f"{name}.{f}" for f in formats if (out / f"{name}.{f}").is_file()), None)
    if path is None:
        raise ReportError(f"{out}: no {name}.parquet or {name}.csv "
                          "(expected the --out folder of `promosim run`)")
    try:
        df = read_table(path)
    except ValueError as e:
        raise ReportError(str(e)) from None
    for c in time_cols:
        if c not in df:
            raise ReportError(f"{path}: no column {c!r}")
        try:
            df[c] = pd.to_datetime(df[c], utc=True).dt.tz_convert(tz)
        except (ValueError, TypeError) as e:
            raise ReportError(f"{path}: column {c!r} does not hold times ({e})") from None
    return df


def _local(value: str, tz: str) -> pd.Timestamp:
    """A scenario time (naive: wall-clock in `tz`; with an offset: converted to `tz`)."""
    t = pd.Timestamp(value)
    return t.tz_localize(tz) if t.tzinfo is None else t.tz_convert(tz)


# ---------------------------------------------------------------------------- the frames
def hourly(d: ReportData) -> pd.DataFrame:
    """Per replication × period: the channel totals of FLOWS (spend = ad spend + fees +
    commissions). Columns: replication, period_start, *FLOWS."""
    ch = d.timeseries[d.timeseries["level"] == "channel"]
    ch = ch.assign(spend=ch["ad_spend"] + ch["fees"] + ch["commissions"])
    return (ch.groupby(["replication", "period_start"], sort=True)[list(FLOWS)].sum()
            .reset_index())


def cumulative_gmv(d: ReportData, h: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cumulative GMV at the end of each period, from 0 at the campaign's start.

    Index: time (end of period); columns mean, p5, p25, p50, p75, p95 over replications.
    The last row is the campaign's GMV (summary.json kpis.gmv).
    """
    h = hourly(d) if h is None else h
    wide = h.pivot(index="period_start", columns="replication", values="gmv").sort_index().cumsum()
    ends = wide.index + d.period
    values = np.vstack([np.zeros((1, wide.shape[1])), wide.to_numpy()])
    idx = pd.DatetimeIndex([wide.index[0]]).append(ends)
    p5, p25, p50, p75, p95 = np.percentile(values, [5, 25, 50, 75, 95], axis=1)
    return pd.DataFrame({"mean": values.mean(axis=1), "p5": p5, "p25": p25, "p50": p50, "p75": p75, "p95": p95},
                        index=idx.rename("time"))


def day_hour(d: ReportData, flow: str, h: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean `flow` per local date × hour of day: index date, columns 0–23 (always 24);
    NaN for hours outside the campaign."""
    h = hourly(d) if h is None else h
    mean = h.groupby("period_start")[flow].mean()
    t = mean.index
    df = pd.DataFrame({"date": t.date, "hour": t.hour, "v": mean.to_numpy()})
    pt = df.pivot_table(index="date", columns="hour", values="v", aggfunc="sum")
    return pt.reindex(columns=range(24))


def phase_of(times: pd.DatetimeIndex, phases: list[Phase]) -> np.ndarray:
    """The phase each time falls in ([start, end)); NO_PHASE outside every phase."""
    out = np.full(len(times), NO_PHASE, dtype=object)
    for p in phases:
        out[(times >= p.start) & (times < p.end)] = p.name
    return out


def funnel(d: ReportData, h: pd.DataFrame | None = None) -> pd.DataFrame:
    """Visits → carts → orders per phase (means over replications), in calendar order.

    An hour belongs to the phase its start falls in (phases start on the hour in practice;
    a phase that starts mid-hour gets the hours that start inside it). Columns: kind,
    visits, carts, orders, gmv, cart_rate (carts / visits), conversion_rate (orders /
    visits). Warm-up carts pay in the next sale phase, so their orders count there.
    """
    h = hourly(d) if h is None else h
    mean = h.groupby("period_start")[["visits", "carts", "orders", "gmv"]].mean()
    mean["phase"] = phase_of(mean.index, d.phases)
    g = mean.groupby("phase", sort=False)[["visits", "carts", "orders", "gmv"]].sum()
    order = [p.name for p in d.phases if p.name in g.index]
    if NO_PHASE in g.index and g.loc[NO_PHASE, "visits"] > 0:
        order.append(NO_PHASE)
    g = g.loc[order]
    kinds = {p.name: p.kind for p in d.phases}
    g.insert(0, "kind", [kinds.get(n, "") for n in g.index])
    g["cart_rate"] = g["carts"] / g["visits"].where(g["visits"] > 0)
    g["conversion_rate"] = g["orders"] / g["visits"].where(g["visits"] > 0)
    g.index.name = "phase"
    return g


def channels(d: ReportData) -> pd.DataFrame:
    """Per channel (means over replications): visits, orders, gmv, spend, roi,
    conversion_rate; sorted by GMV, largest first. roi is NaN without spend."""
    df = pd.DataFrame.from_dict(d.summary["channels"], orient="index")
    df = df.drop(columns=["ad_groups", "daily_budget"], errors="ignore")   # nested tables: `ad_groups`, `daily_budgets`
    df.index.name = "channel"
    df = df.astype(float)
    return df.sort_values("gmv", ascending=False)


def daily_budgets(d: ReportData) -> pd.DataFrame:
    """Per channel with a budget and per local day (summary.json `channels.<name>.daily_budget`):
    channel, day (local date), spend and budget (means), used (the mean share of the day's
    budget spent), ran_out_share (share of replications whose budget ran out that day),
    ran_out (the median time it did, "11-11 14:05"; None: never). In the scenario's channel
    order, then by day."""
    rows = [{"channel": name, **r} for name, k in d.summary["channels"].items() for r in k.get("daily_budget") or []]
    df = pd.DataFrame(rows, columns=["channel", "day", "spend", "budget", "used", "ran_out_share", "ran_out_median"])
    df = df.rename(columns={"ran_out_median": "ran_out"})
    for c in ("spend", "budget", "used", "ran_out_share"):
        df[c] = df[c].astype(float)
    return df


def unbudgeted(d: ReportData) -> list[str]:
    """The channels without a budget (none in the plan, none set by a rule), in scenario order."""
    return [name for name, k in d.summary["channels"].items() if not k.get("daily_budget")]


def skus(d: ReportData) -> pd.DataFrame:
    """Per SKU (means over replications) with `label`, sorted by GMV, largest first."""
    df = pd.DataFrame.from_dict(d.summary["skus"], orient="index").astype(float)
    df.index.name = "sku"
    df.insert(0, "label", [d.sku_label(s) for s in df.index])
    return df.sort_values("gmv", ascending=False)


def stockouts(d: ReportData) -> pd.DataFrame:
    """Stock-out events: replication, time, sku (the first tick of each stock-out)."""
    ev = d.events[d.events["kind"] == "stockout"]
    return ev[["replication", "time", "subject"]].rename(columns={"subject": "sku"}).reset_index(drop=True)


DAY_EVENTS = {"sold_out": "sell-outs", "flash_sellout": "flash sales sold out", "coupon_empty": "coupon pools empty",
              "budget_exhausted": "budgets run out", "rule_fired": "rules fired"}
"""The moments the big day's chart marks, by event kind (docs/model.md, "Events")."""


@dataclass
class BigDay:
    """The campaign's busiest day (the day of the highest mean GMV, 11-11 on a Double 11).

    `date` its local date; `hours` per hour of it (index: local hour start): `gmv` (mean over
    replications), `p5`, `p95`, `share` (the mean share of the day's GMV paid by the hour's end:
    the day's cumulative GMV ÷ its total, per replication, then averaged); `gmv_total` the
    day's mean GMV; `first_hour` the mean share of it paid in the day's first hour; `events`
    one row per (kind, subject) that happened that day: kind, subject, reps (in how many
    replications), median (the median time over them)."""

    date: object
    hours: pd.DataFrame
    gmv_total: float
    first_hour: float
    events: pd.DataFrame


def big_day(d: ReportData, h: pd.DataFrame | None = None) -> BigDay | None:
    """The busiest day (`BigDay`), None for a campaign without GMV."""
    h = hourly(d) if h is None else h
    if not len(h) or not h["gmv"].sum():
        return None
    days = h["period_start"].dt.normalize()
    day = h.assign(day=days).groupby("day")["gmv"].sum().idxmax()
    part = h[days == day]
    wide = part.pivot(index="period_start", columns="replication", values="gmv").sort_index().fillna(0.0)
    totals = wide.sum(axis=0).where(lambda x: x > 0)
    share = (wide.cumsum() / totals).mean(axis=1)
    p5, p95 = np.percentile(wide.to_numpy(), [5, 95], axis=1)
    hours = pd.DataFrame({"gmv": wide.mean(axis=1), "p5": p5, "p95": p95, "share": share}, index=wide.index)
    ev = d.events[d.events["kind"].isin(list(DAY_EVENTS)) & (d.events["time"].dt.normalize() == day)]
    first = ev.groupby(["kind", "subject", "replication"])["time"].min().reset_index()
    events = (first.groupby(["kind", "subject"])["time"].agg(reps="size", median="median").reset_index()
              .sort_values("median").reset_index(drop=True))
    return BigDay(day.date(), hours, float(wide.sum(axis=0).mean()), float(share.iloc[0]), events)


def sellouts(d: ReportData) -> pd.DataFrame:
    """Per SKU of the scenario: `share` of replications in which its shelf emptied (a `sold_out`
    event) and the `median` over those replications of the first time it did (NaT: never)."""
    ev = d.events[d.events["kind"] == "sold_out"]
    first = ev.groupby(["subject", "replication"])["time"].min()
    skus = list(d.scenario.get("skus", {}))
    share = first.groupby(level=0).size().reindex(skus, fill_value=0) / max(d.reps, 1)
    median = first.groupby(level=0).median().reindex(skus) if len(first) else pd.Series(pd.NaT, index=skus)
    return pd.DataFrame({"share": share.astype(float), "median": median})


def stockout_table(d: ReportData) -> pd.DataFrame:
    """Every SKU, most lost units first: label, share and median first sell-out (`sellouts`),
    lost_units, lost_gmv (the engines book it: each lost unit at the activity price it would
    have paid), switched_units (its buyers who took another SKU of the category instead; 0 in
    results written before it was booked), stockout_minutes, ending_stock."""
    sk = skus(d)
    out = sellouts(d)
    switched = sk["switched_units"] if "switched_units" in sk else 0.0
    df = pd.DataFrame({"label": sk["label"], "share": out["share"].reindex(sk.index),
                       "first": out["median"].reindex(sk.index), "lost_units": sk["lost_units"],
                       "lost_gmv": sk["lost_gmv"], "switched_units": switched,
                       "stockout_minutes": sk["stockout_minutes"], "ending_stock": sk["ending_stock"]})
    return df.sort_values(["lost_units", "share"], ascending=False, kind="stable")


def coupons(d: ReportData) -> pd.DataFrame:
    """Every store coupon: claimed, redeemed (means), redemption_rate (the mean of each run's
    redeemed ÷ claimed, summary.json), cost,
    emptied (share of replications whose pool emptied), empty (the median emptying time)."""
    ev = d.events[d.events["kind"] == "coupon_empty"]
    first = ev.groupby(["subject", "replication"])["time"].min()
    rows = {}
    for name, c in d.summary.get("coupons", {}).items():
        t = first.loc[name] if name in first.index.get_level_values(0) else pd.Series(dtype="datetime64[ns]")
        rate = c.get("redemption_rate", c["redeemed"] / c["claimed"] if c["claimed"] else None)
        rows[name] = {"claimed": c["claimed"], "redeemed": c["redeemed"], "redemption_rate": rate, "cost": c["cost"],
                      "emptied": len(t) / max(d.reps, 1), "empty": t.median() if len(t) else None}
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["claimed", "redeemed", "redemption_rate", "cost", "emptied", "empty"])


def at_minute(d: ReportData, minute) -> pd.Timestamp | None:
    """The local time `minute` minutes after the campaign's start (None for None)."""
    return None if minute is None else d.start + pd.Timedelta(minutes=float(minute))


def flash_sales(d: ReportData) -> pd.DataFrame:
    """Every flash sale of the scenario, sold out or not: sku, price, quantity, units (mean),
    margin ((price − unit cost) × units), sold_out_share, sellout (mean sell-out time, None
    when none sold out)."""
    rows = {}
    for name, f in (d.scenario.get("flash_sales") or {}).items():
        got = d.summary.get("flash_sales", {}).get(name, {})
        cost = (d.scenario["skus"].get(f["sku"]) or {}).get("unit_cost", 0.0)
        units = float(got.get("units", 0.0))
        rows[name] = {"sku": f["sku"], "price": float(f["price"]), "quantity": float(f["quantity"]), "units": units,
                      "margin": (float(f["price"]) - float(cost)) * units,
                      "sold_out_share": float(got.get("sold_out_share", 0.0)),
                      "sellout": at_minute(d, got.get("sellout_minute"))}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["sku", "price", "quantity", "units", "margin",
                                                                 "sold_out_share", "sellout"])


def stock_skus(d: ReportData, n: int = 8) -> list[str]:
    """The SKUs whose stock the report draws: every SKU that ran out in some replication
    (largest GMV first), then the top SKUs by GMV, `n` in all."""
    by_gmv = list(skus(d).index)
    out = set(stockouts(d)["sku"])
    chosen = [s for s in by_gmv if s in out] + [s for s in by_gmv if s not in out]
    return chosen[:n]


def stock(d: ReportData, sku: str) -> pd.DataFrame:
    """Units on hand of `sku` at the end of each period, from its initial stock at the
    start. Index: time; columns mean, p5, p95 over replications."""
    s = d.timeseries[(d.timeseries["level"] == "sku") & (d.timeseries["name"] == sku)]
    if s.empty:
        raise ReportError(f"timeseries has no rows for SKU {sku!r}")
    wide = s.pivot(index="period_start", columns="replication", values="stock").sort_index()
    initial = float((d.scenario.get("skus", {}).get(sku) or {}).get("stock", np.nan))
    values = np.vstack([np.full((1, wide.shape[1]), initial), wide.to_numpy()])
    if np.isnan(initial):
        values = values[1:]
        idx = wide.index + d.period
    else:
        idx = pd.DatetimeIndex([wide.index[0]]).append(wide.index + d.period)
    p5, p95 = np.percentile(values, [5, 95], axis=1)
    return pd.DataFrame({"mean": values.mean(axis=1), "p5": p5, "p95": p95}, index=idx.rename("time"))


def pools(d: ReportData) -> pd.DataFrame:
    """Coupon pools emptying and flash sales selling out: kind ('coupon' | 'flash sale'),
    name, replication, time. Empty when the events hold none."""
    ev = d.events[d.events["kind"].isin(list(POOL_KINDS))]
    return pd.DataFrame({"kind": ev["kind"].map(POOL_KINDS), "name": ev["subject"],
                         "replication": ev["replication"], "time": ev["time"]}).reset_index(drop=True)


def daily(d: ReportData) -> pd.DataFrame:
    """The daily report (日报) of summary.json, with cumulative GMV and, when the scenario
    has a GMV target, the share of it reached by the end of each day."""
    df = pd.DataFrame(d.summary["daily"])
    df["gmv_cumulative"] = df["gmv"].cumsum()
    if d.target_gmv:
        df["target_reached"] = df["gmv_cumulative"] / d.target_gmv
    return df


def assumption_swings(d: ReportData, kpi: str = "gmv") -> pd.DataFrame:
    """How far each assumption of the run's `uncertainty:` block moves `kpi`, from the run's
    own replications: a least-squares line of `kpi` on every assumption drawn (the
    `assumption.<name>` columns), read at each assumption's P5 and P95 with the others at their
    means. Index: assumption; columns p5, p95 (its values), low, high (`kpi` there), sorted by
    swing. Empty without assumptions or with too few replications (fewer than A + 3)."""
    cols = [c for c in d.kpis.columns if c.startswith("assumption.")]
    if not cols or len(d.kpis) < len(cols) + 3 or kpi not in d.kpis:
        return pd.DataFrame(columns=["p5", "p95", "low", "high"])
    x = d.kpis[cols].to_numpy(dtype=float)
    y = d.kpis[kpi].to_numpy(dtype=float)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    mean = x.mean(axis=0)
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(x)), x - mean]), y, rcond=None)
    p5, p95 = np.percentile(x, [5, 95], axis=0)
    rows = {c.removeprefix("assumption."): {"p5": p5[i], "p95": p95[i],
                                           "low": coef[0] + coef[i + 1] * (p5[i] - mean[i]),
                                           "high": coef[0] + coef[i + 1] * (p95[i] - mean[i])}
            for i, c in enumerate(cols)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    return out.loc[(out["high"] - out["low"]).abs().sort_values().index]
