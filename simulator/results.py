"""Results of many replications: KPIs with their spread, tidy tables, and files on disk.

Files (`write`): summary.json (deterministic: no times, paths or dates of the run),
run.json (provenance), scenario.json (the validated scenario that ran, overrides and
catalogue applied: what a report needs besides the numbers — names, phases, targets),
kpis.parquet (one row per replication), timeseries.parquet (per hour, by channel and by
SKU), events.parquet. `fmt="csv"` writes CSV instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.daily_budgets import day_rows, owners, summarize
from simulator.files import atomic_write_bytes, atomic_write_text, json_safe, table_bytes
from simulator.kpis import (
    channel_kpis,
    coupon_kpis,
    flash_kpis,
    period_profit,
    quantiles,
    run_kpis,
    sku_kpis,
)
from simulator.model import Model
from simulator.naming import RUN_KPIS
from simulator.record import CHANNEL_FLOWS, SKU_FLOWS, RunRecord


@dataclass
class Results:
    """Replications of one scenario. `records[i]` ran with `seeds[i]`."""

    model: Model
    seed: int
    seeds: list[int]
    records: list[RunRecord]
    engine: str = "fast"
    timing: dict[str, float] = field(default_factory=dict)
    assumptions: list[dict[str, float]] | None = None   # per replication, under an uncertainty block

    @property
    def scenario(self):
        return self.model.scenario

    @property
    def reps(self) -> int:
        return len(self.records)

    # ------------------------------------------------------------- tables
    def kpis(self) -> pd.DataFrame:
        """One row per replication: `replication` and every run-level KPI."""
        rows = [{"replication": i, **run_kpis(r, self.model)} for i, r in enumerate(self.records)]
        df = pd.DataFrame(rows, columns=["replication", *RUN_KPIS])
        for name in (self.assumptions or [{}])[0]:                  # what each replication assumed
            df[f"assumption.{name}"] = [a[name] for a in self.assumptions]
        return df

    def timeseries(self) -> pd.DataFrame:
        """Long table per replication × hour × (channel or SKU): flows and stock.

        Columns: replication, period_start (local time), level ('channel'|'sku'),
        name, then every flow (zeros where a flow does not apply to the level).
        """
        g = self.model.grid
        starts = g.period_start
        H = len(starts)
        frames = []
        for i, r in enumerate(self.records):
            for level, names, flows in (("channel", self.model.channels, r.by_channel),
                                        ("sku", self.model.skus, r.by_sku)):
                n = len(names)
                cols = {
                    "replication": np.full(H * n, i, dtype=np.int64),
                    "period_start": np.repeat(starts, n),
                    "level": np.full(H * n, level),
                    "name": np.tile(np.array(names, dtype=object), H),
                }
                for f in dict.fromkeys(CHANNEL_FLOWS + SKU_FLOWS):
                    cols[f] = flows[f].ravel() if f in flows else np.zeros(H * n)
                cols["stock"] = r.stock.ravel() if level == "sku" else np.zeros(H * n)
                frames.append(pd.DataFrame(cols))
        out = pd.concat(frames, ignore_index=True)
        out["stockout_minutes"] = out.pop("stockout_ticks") * g.tick_minutes
        return out

    def events(self) -> pd.DataFrame:
        """Every event of every replication: replication, tick, time, kind, subject, value."""
        g = self.model.grid
        rows = [(i, t, kind, subject, value)
                for i, r in enumerate(self.records) for t, kind, subject, value in r.sorted_events()]
        df = pd.DataFrame(rows, columns=["replication", "tick", "kind", "subject", "value"])
        df["tick"] = df["tick"].astype(np.int64)
        df.insert(2, "time", pd.Timestamp(g.start) + pd.to_timedelta(df["tick"] * g.tick_minutes, unit="min"))
        return df

    def daily(self) -> pd.DataFrame:
        """The daily report (日报), mean over replications: visits, carts, orders, conversion,
        GMV (at the activity price), paid_by_buyers (支付金额: what buyers paid that day — sales
        after coupons and reductions, deposits, balances), coupon_cost, reduction_cost (the whole
        满减: the store's and the platform's share), AOV, marketing cost (`spend`), ROI, profit (after
        marketing: `kpis.period_profit`, the end-of-run write-offs on the last day), lost units."""
        g = self.model.grid
        day_of_period = pd.DatetimeIndex(g.period_start).normalize()
        days = day_of_period.unique()
        idx = np.searchsorted(days, day_of_period)
        acc = {k: np.zeros(len(days)) for k in ("visits", "carts", "orders", "gmv", "paid_by_buyers", "coupon_cost",
                                                 "reduction_cost", "spend", "lost_units", "profit")}
        for r in self.records:
            ch, sk = r.by_channel, r.by_sku
            for k, v in (("visits", ch["visits"]), ("carts", ch["carts"]), ("orders", ch["orders"]),
                         ("gmv", ch["gmv"]), ("paid_by_buyers", sk["paid"]), ("coupon_cost", sk["coupon_cost"]),
                         ("reduction_cost", sk["reduction_cost"] + sk["platform_subsidy"]),
                         ("spend", ch["ad_spend"] + ch["fees"] + ch["commissions"]),
                         ("lost_units", sk["lost_units"])):
                acc[k] += np.bincount(idx, weights=v.sum(axis=1), minlength=len(days))
            acc["profit"] += np.bincount(idx, weights=period_profit(r, self.model), minlength=len(days))
        n = max(self.reps, 1)
        df = pd.DataFrame({"date": [d.date().isoformat() for d in days],
                           **{k: v / n for k, v in acc.items()}})
        df["aov"] = _safe_div(df["gmv"], df["orders"])
        df["conversion_rate"] = _safe_div(df["orders"], df["visits"])
        df["roi"] = _safe_div(df["gmv"], df["spend"])
        return df[["date", "visits", "carts", "orders", "conversion_rate", "gmv", "paid_by_buyers", "coupon_cost",
                   "reduction_cost", "aov", "spend", "roi", "profit", "lost_units"]]

    def summary(self) -> dict:
        """KPIs across replications (mean, p5, p50, p95), per channel and per SKU (means); each
        channel with a budget also has `daily_budget`, its use per local day
        (`daily_budgets.summarize`)."""
        per_run = [run_kpis(r, self.model) for r in self.records]
        chans = [channel_kpis(r, self.model, k) for r, k in zip(self.records, per_run)]
        skus = [sku_kpis(r, self.model) for r in self.records]
        channels = _means(chans)
        budgeted = owners(self.model)
        for name, rows in summarize([day_rows(r, self.model, budgeted) for r in self.records], self.model).items():
            channels[name]["daily_budget"] = rows
        return json_safe({
            "scenario": self.scenario.meta.name,
            "engine": self.engine,
            "reps": self.reps,
            "seed": self.seed,
            "currency": self.scenario.meta.currency,
            "kpis": {k: quantiles([p[k] for p in per_run]) for k in RUN_KPIS},
            "channels": channels,
            "skus": _means(skus),
            "coupons": _means([coupon_kpis(r, self.model) for r in self.records]),
            "flash_sales": _flash([flash_kpis(r, self.model) for r in self.records]),
            "daily": self.daily().to_dict(orient="records"),
            **self._uncertainty(per_run),
        })

    def _uncertainty(self, per_run: list[dict]) -> dict:
        """`targets` (the chance of reaching each of `meta.targets`, with its standard error)
        and, under an uncertainty block, `assumptions` (their draws' quantiles) and `spread`
        (each KPI's variance split into assumptions and shopper noise; `simulator.assumptions`)."""
        from simulator.assumptions import by_twin, spread

        out: dict = {}
        targets = self.scenario.meta.targets
        if targets is not None and targets.gmv is not None:
            reached = [float(p["gmv"] >= targets.gmv) for p in per_run]
            if self.assumptions is not None:          # twins share an assumption draw: not independent
                hits = np.array([np.mean(g) for g in by_twin(reached, self.seeds)])
            else:
                hits = np.array(reached)
            se = float(hits.std(ddof=1) / np.sqrt(hits.size)) if hits.size > 1 else None
            out["targets"] = {"gmv": {"value": targets.gmv, "p_reach": float(hits.mean()), "se": se,
                                      "draws": int(hits.size)}}
        if self.assumptions is not None:
            names = list(self.assumptions[0]) if self.assumptions else []
            out["assumptions"] = {n: quantiles([a[n] for a in self.assumptions]) for n in names}
            out["spread"] = {k: spread(np.array([np.nan if p[k] is None else p[k] for p in per_run], dtype=float),
                                       self.seeds) for k in RUN_KPIS
                             if all(p[k] is not None for p in per_run)}
        return out

    # --------------------------------------------------------------- files
    def write(self, out: str | Path, fmt: str = "parquet", provenance: dict | None = None) -> Path:
        """Write every result file into `out` (created), each atomically; `run.json`, written
        last, lists every other file with its SHA-256 (`files`), so that a reader can refuse a
        folder whose files come from different runs. `promosim run --out` writes into a fresh
        folder that replaces the old one in one step (`simulator.output_set`)."""
        from simulator.output_set import digests

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "summary.json", json.dumps(self.summary(), indent=2, ensure_ascii=False) + "\n")
        atomic_write_text(out / "scenario.json", json.dumps(self.scenario.model_dump(mode="json"),
                                                            indent=2, ensure_ascii=False) + "\n")
        for name, df in (("kpis", self.kpis()), ("timeseries", self.timeseries()), ("events", self.events())):
            atomic_write_bytes(out / f"{name}.{fmt}", table_bytes(df, fmt))
        run = {"engine": self.engine, "reps": self.reps, "seed": self.seed, "seeds": self.seeds,
               "scale": self.model.scale, "timing": self.timing, **(provenance or {}),
               "files": digests(out, ["summary.json", "scenario.json",
                                      *(f"{n}.{fmt}" for n in ("kpis", "timeseries", "events"))])}
        atomic_write_text(out / "run.json", json.dumps(json_safe(run), indent=2, ensure_ascii=False) + "\n")
        return out


RUN_FILES = frozenset({"summary.json", "run.json", "scenario.json", "report.html", "daily_report.xlsx", "figures",
                       *(f"{n}.{f}" for n in ("kpis", "timeseries", "events") for f in ("parquet", "csv"))})
"""Every name `promosim run --out` and `promosim report` write in a results folder."""


def _safe_div(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b != 0)).astype(object).where(b != 0, None)


def _flash(per_run: list[dict[str, dict]]) -> dict[str, dict]:
    """Per flash sale: mean units, share of runs that sold out, mean sell-out minute of those."""
    out = {}
    for name in per_run[0] if per_run else []:
        runs = [r[name] for r in per_run]
        out[name] = {"units": quantiles([r["units"] for r in runs])["mean"],
                     "sold_out_share": float(np.mean([r["sold_out"] for r in runs])),
                     "sellout_minute": quantiles([r["sellout_minute"] for r in runs])["mean"]}
    return out


def _means(per_run: list[dict[str, dict]]) -> dict[str, dict]:
    """Mean of each KPI over runs, per key (None values skipped; nested tables such as a
    channel's `ad_groups` averaged the same way)."""
    out = {}
    for name in per_run[0] if per_run else []:
        out[name] = {k: _means([r[name][k] for r in per_run]) if isinstance(per_run[0][name][k], dict)
                     else quantiles([r[name][k] for r in per_run])["mean"] for k in per_run[0][name]}
    return out

