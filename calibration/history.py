"""Load a store's history (CSV or Parquet) into a tidy, validated `History`.

A history is one row per period × SKU (× channel where known) with any of the target
columns (visits, add_to_carts, orders, units, revenue, returns, ad_spend, clicks,
impressions) and the plan columns (price, discount, promo). `HistorySpec` (the
scenario's `calibrate.history` block, `--map` on the command line) says how a store's
export maps onto our names, its SKU ids and its calendar.

Wrong history is rejected at the door with every problem located: the file, the row and
the column. For a CSV file `Issue.line` is the line in the file (the header is line 1, so
the first data row is line 2; a blank line or a quoted value spanning lines shifts it), and
`HistoryIssue.row` is the 1-based data row; a Parquet file has no lines, so issues there
carry the row only (`history.parquet: row 7: units: ...`). Columns are named as the export
names them, with ours in brackets when they differ.

Missing periods are real (Dominick's skips weeks): a period of the grid from the first to
the last period with no row at all is *missing*; a SKU (× channel) without a row in a
period that other SKUs have is a *gap*. Both are reported and left out of fits; with
`strict` they are errors.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.naming import did_you_mean
from simulator.scenario.errors import InputError, Issue
from simulator.scenario.history_schema import (
    CANONICAL,
    COUNTS,
    KEYS,
    MONEY,
    PLAN,
    TARGETS,
    HistorySpec,
    PeriodUnit,
    check_column_name,
)
from simulator.scenario.source import MiB, Unreadable, check_regular, decode, read_bytes

FAR_APART = 10
"""Rows separated from the rest by a gap of more than this many times the periods with data
(and at least 100 periods) are taken for mistyped dates (`_Validator.outliers`)."""

MAX_ISSUES = 20
"""A `HistoryError` lists at most this many problems, then says how many more there are."""

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
"""Cell texts read as "not recorded" in a measure column (case-insensitive)."""

_UNIT_DAYS = {"day": 1, "week": 7}
_UNIT_WORD = {"hour": "hourly", "day": "daily", "week": "weekly"}


# ------------------------------------------------------------------- errors
@dataclass(frozen=True)
class HistoryIssue(Issue):
    """One problem in a history file. `line` is the CSV line (None for Parquet); `row` is
    the 1-based data row (None for a problem of the whole file or a column); `path` is the
    column as the export names it."""

    row: int | None = None

    def __str__(self) -> str:
        if self.line is None and self.row is not None:
            where = f"{self.file}: row {self.row}"
            return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return super().__str__()


class HistoryError(InputError):
    """A history that cannot be used; `issues` lists every problem found (at most
    `MAX_ISSUES`, the last one saying how many more there are)."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def _capped(issues: list[Issue], limit: int = MAX_ISSUES) -> list[Issue]:
    """The first `limit` issues, and one more that counts the rest by column."""
    if len(issues) <= limit:
        return issues
    rest = issues[limit:]
    by: dict[str, int] = {}
    for i in rest:
        by[i.path or "(file)"] = by.get(i.path or "(file)", 0) + 1
    detail = ", ".join(f"{k}: {v}" for k, v in by.items())
    more = Issue(issues[0].file, None, "", f"and {len(rest)} more problem(s) ({detail})")
    return issues[:limit] + [more]


# --------------------------------------------------------------------- grid
@dataclass(frozen=True)
class PeriodGrid:
    """The periods of a history: `anchor` + k units for whole k, in time zone `tz`.

    Days and weeks step in calendar days of the local wall clock (so a day across a
    daylight-saving change lasts 23 or 25 hours); hours step in 60 minutes.
    """

    unit: PeriodUnit
    tz: str
    anchor: pd.Timestamp

    @property
    def season(self) -> int:
        """Periods in one season: 52 weeks, 7 days or 24 hours."""
        return {"week": 52, "day": 7, "hour": 24}[self.unit]

    def offsets(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """Units from the anchor to each of `ts` (float; whole for periods on the grid)."""
        ts = pd.DatetimeIndex(ts)
        if self.unit == "hour":
            return np.asarray((ts - self.anchor) / pd.Timedelta(hours=1), dtype=float)
        wall = ts.tz_localize(None) - self.anchor.tz_localize(None)
        return np.asarray(wall / pd.Timedelta(days=_UNIT_DAYS[self.unit]), dtype=float)

    def positions(self, ts: Iterable) -> np.ndarray:
        """Whole-unit positions of periods on the grid (ValueError for one off it)."""
        off = self.offsets(pd.DatetimeIndex(list(ts) if not isinstance(ts, pd.Index) else ts))
        pos = np.rint(off)
        if not np.allclose(off, pos, rtol=0, atol=1e-9):
            raise ValueError("a period off the grid")
        return pos.astype(np.int64)

    def at(self, positions) -> pd.DatetimeIndex:
        """The start of the period at each whole-unit position."""
        k = np.asarray(positions, dtype=np.int64)
        if self.unit == "hour":
            return pd.DatetimeIndex(self.anchor + pd.to_timedelta(k, unit="h"))
        wall = self.anchor.tz_localize(None) + pd.to_timedelta(k * _UNIT_DAYS[self.unit], unit="D")
        return _localize_wall(pd.DatetimeIndex(wall), self.tz)

    def describe(self) -> str:
        """The grid in words, for error messages."""
        a = self.anchor
        if self.unit == "hour":
            return f"periods start every hour at :{a:%M} from {a:%Y-%m-%d %H:%M}"
        if self.unit == "day":
            return f"periods start every day at {a:%H:%M} from {a:%Y-%m-%d}"
        return f"periods start every 7 days ({a:%A}s) at {a:%H:%M} from {a:%Y-%m-%d}"


def _localize_wall(wall: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """Wall-clock times as aware times in `tz`: a time that a daylight-saving change skips
    moves forward, one it repeats is the first (so a period starts at its first instant)."""
    return wall.tz_localize(tz, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward")


# ------------------------------------------------------------------ history
@dataclass(frozen=True, eq=False)  # holds DataFrames: compare their parts
class History:
    """A validated history.

    `frame`: one row per observed period × SKU (× channel), indexed by (`period`, `sku`[,
    `channel`]) — `period` the tz-aware start of the period — with float columns for each of
    our target and plan columns that the file has (NaN where a cell was empty), sorted.
    `periods`: every period of the grid from the first to the last one with data;
    `missing`: those without any row; `gaps`: (period, sku[, channel]) cells without a row
    in a period that is not missing. Fits leave both out.
    """

    frame: pd.DataFrame
    unit: PeriodUnit
    timezone: str
    grid: PeriodGrid
    periods: pd.DatetimeIndex
    missing: pd.DatetimeIndex
    gaps: pd.MultiIndex
    source: str = ""
    index_base: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    # -- shape
    @property
    def keys(self) -> list[str]:
        """The index levels that name a series: `["sku"]` or `["sku", "channel"]`."""
        return [n for n in self.frame.index.names if n != "period"]

    @property
    def targets(self) -> list[str]:
        """Target columns present (units, orders, ...)."""
        return [c for c in self.frame.columns if c in TARGETS]

    @property
    def observed(self) -> pd.DatetimeIndex:
        """Periods with at least one row."""
        return self.periods.difference(self.missing)

    def series_keys(self) -> list:
        """Every series (a SKU, or a (SKU, channel) pair), in sorted order."""
        idx = self.frame.index.droplevel("period").unique().sort_values()
        return list(idx)

    def wide(self, column: str) -> pd.DataFrame:
        """`column` as a (periods × series) table over every period of the grid; NaN for
        missing periods, gaps and empty cells."""
        table = self.frame[column].unstack(self.keys)
        return table.reindex(self.periods)

    def plan(self) -> pd.DataFrame:
        """The plan columns present (price, discount, promo), as a planner knows them."""
        return self.frame[[c for c in self.frame.columns if c in PLAN]]

    # -- periods in words
    def period_index(self, t) -> int | None:
        """The export's period number of period `t` (None when the export used timestamps)."""
        if self.index_base is None:
            return None
        return int(self.grid.positions([pd.Timestamp(t)])[0]) + self.index_base

    def label(self, t) -> str:
        """`week 211 (1993-08-19)` for an indexed export, else the period's start."""
        t = pd.Timestamp(t)
        when = f"{t:%Y-%m-%d %H:%M}" if self.unit == "hour" else f"{t:%Y-%m-%d}"
        if self.index_base is None:
            return when
        return f"{self.unit} {self.period_index(t)} ({when})"

    def missing_runs(self) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
        """Missing periods as runs of consecutive periods: (first, last, count)."""
        return _runs(self.grid, self.missing)

    def missing_summary(self) -> str:
        """One line for a report: how many periods are missing, and which."""
        n, total = len(self.missing), len(self.periods)
        head = f"{n} of {total} {self.unit}s missing"
        if not n:
            return f"no missing {self.unit}s ({total} {self.unit}s)"
        runs = [self._run_text(a, b, k) for a, b, k in self.missing_runs()]
        text = ", ".join(runs[:12]) + (f", and {len(runs) - 12} more runs" if len(runs) > 12 else "")
        tail = f"; {len(self.gaps)} SKU gap(s) in other periods" if len(self.gaps) else ""
        return f"{head}: {text} (left out of fits){tail}"

    def _run_text(self, first, last, count) -> str:
        if count == 1:
            return self.label(first)
        if self.index_base is not None:
            i, j = self.period_index(first), self.period_index(last)
            return f"{self.unit}s {i}–{j} ({first:%Y-%m-%d} – {last:%Y-%m-%d})"
        fmt = "%Y-%m-%d %H:%M" if self.unit == "hour" else "%Y-%m-%d"
        return f"{first.strftime(fmt)} – {last.strftime(fmt)} ({count} {self.unit}s)"

    # -- slicing
    def _aware(self, t) -> pd.Timestamp:
        """`t` as an aware time; naive means the history's time zone."""
        t = pd.Timestamp(t)
        return t.tz_localize(self.timezone) if t.tzinfo is None else t.tz_convert(self.timezone)

    def between(self, first=None, stop=None) -> History:
        """The history restricted to the periods in [first, stop) (an end None is open);
        missing periods and gaps are cut to match, the grid is kept."""
        keep = np.ones(len(self.periods), dtype=bool)
        if first is not None:
            keep &= self.periods >= self._aware(first)
        if stop is not None:
            keep &= self.periods < self._aware(stop)
        periods = self.periods[keep]
        frame = self.frame[self.frame.index.get_level_values("period").isin(periods)]
        gaps = self.gaps[self.gaps.get_level_values("period").isin(periods)]
        return History(
            frame=frame, unit=self.unit, timezone=self.timezone, grid=self.grid,
            periods=periods, missing=self.missing[self.missing.isin(periods)], gaps=gaps,
            source=self.source, index_base=self.index_base, columns=self.columns,
            ignored_columns=self.ignored_columns, warnings=self.warnings,
        )


def _runs(grid: PeriodGrid, ts: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    if len(ts) == 0:
        return []
    # periods of the grid itself (missing ones, gaps): rounded, since a day that starts at 01:00
    # because a daylight-saving change skips its midnight is still one whole day from the last
    pos = np.rint(grid.offsets(ts)).astype(np.int64)
    out = []
    start = 0
    for i in range(1, len(pos) + 1):
        if i == len(pos) or pos[i] != pos[i - 1] + 1:
            out.append((ts[start], ts[i - 1], i - start))
            start = i
    return out


# -------------------------------------------------------------- --map parsing
def parse_map(text: str) -> dict[str, str]:
    """`"units=qty_sold,period=week"` (the CLI's `--map`) as `{ours: theirs}`.

    Raises ValueError naming the bad item (no `=`, an unknown name of ours with the nearest
    one, an empty name, a name given twice)."""
    out: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        if "=" not in item:
            raise ValueError(f"--map: {item!r}: expected ours=theirs, e.g. units=qty_sold")
        ours, theirs = (s.strip() for s in item.split("=", 1))
        if not ours or not theirs:
            raise ValueError(f"--map: {item!r}: expected ours=theirs with both names")
        try:
            check_column_name(ours)
        except ValueError as e:
            raise ValueError(f"--map: {item!r}: {e}") from None
        if ours in out:
            raise ValueError(f"--map: {ours!r} is mapped twice ({out[ours]!r} and {theirs!r})")
        out[ours] = theirs
    if not out:
        raise ValueError("--map: expected ours=theirs[,ours=theirs...], e.g. units=qty_sold")
    return out


# ------------------------------------------------------------------ reading
@dataclass
class _Raw:
    """The file as read: columns as the export names them, one entry per data row."""

    shown: str
    frame: pd.DataFrame
    rows: np.ndarray  # 1-based data row
    lines: np.ndarray | None  # CSV line of each row; None for Parquet

    def issue(self, i: int | None, column: str, message: str) -> HistoryIssue:
        """An issue at data row position `i` (None: the whole column / the header)."""
        if i is None:
            line = 1 if self.lines is not None else None
            return HistoryIssue(self.shown, line, column, message)
        line = int(self.lines[i]) if self.lines is not None else None
        return HistoryIssue(self.shown, line, column, message, row=int(self.rows[i]))

    def where(self, i: int) -> str:
        """`line 5` for a CSV row, `row 4` for a Parquet one."""
        return f"line {int(self.lines[i])}" if self.lines is not None else f"row {int(self.rows[i])}"


MAX_CSV_BYTES = 512 * MiB
"""A CSV history is at most this large (ten years of daily rows for 10,000 SKUs)."""

MAX_PARQUET_BYTES = 1024 * MiB

_CSV = "a history CSV (a header line period,sku,units,... and a row per period and SKU)"


def _read(path: Path, shown: str) -> _Raw:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise HistoryError([Issue(shown, None, "", f"expected a .csv or .parquet file, got {suffix or 'no extension'!r}")])
    try:
        check_regular(path, _CSV if suffix == ".csv" else "a history Parquet file")
    except Unreadable as e:
        raise HistoryError([Issue(shown, None, "", e.message)]) from None
    if suffix == ".csv":
        return _read_csv(path, shown)
    return _read_parquet(path, shown)


def _read_csv(path: Path, shown: str) -> _Raw:
    try:
        text = decode(read_bytes(path, _CSV, MAX_CSV_BYTES), _CSV)
    except Unreadable as e:
        raise HistoryError([Issue(shown, e.line, "", e.message)]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise HistoryError([Issue(shown, None, "", "the file is empty; expected a header line and rows")]) from None
    except csv.Error as e:
        raise HistoryError([Issue(shown, 1, "", f"malformed CSV: {e}")]) from None
    header = [h.strip() for h in header]
    if len(header) == 1:
        sep = next((d for d in (";", "\t", "|") if d in header[0]), None)
        if sep is not None:
            name = {";": "semicolons", "\t": "tabs", "|": "'|'"}[sep]
            raise HistoryError([Issue(shown, 1, "", (
                f"the header is one column with {name} in it: the file separates its values with {name}; "
                "expected commas (save it as comma-separated CSV: period,sku,units)"))])
    issues = _header_issues(header, shown, 1)
    records: list[list[str]] = []
    lines: list[int] = []
    previous = reader.line_num
    row = 0
    try:
        for rec in reader:
            first, previous = previous + 1, reader.line_num
            if not any(c.strip() for c in rec):
                continue  # a blank line
            row += 1
            if len(rec) != len(header):
                issues.append(HistoryIssue(
                    shown, first, "", f"expected {len(header)} fields as in the header, found {len(rec)}",
                    row=row))
                continue
            records.append([c.strip() for c in rec])
            lines.append(first)
    except csv.Error as e:
        issues.append(Issue(shown, reader.line_num, "", f"malformed CSV: {e}"))
    if issues:
        raise HistoryError(_capped(issues))
    if not records:
        raise HistoryError([Issue(shown, None, "", "no data rows after the header; expected a row per period "
                                  "and SKU")])
    frame = pd.DataFrame({h: [r[j] for r in records] for j, h in enumerate(header)}, dtype=object)
    return _Raw(shown, frame, np.arange(1, len(records) + 1), np.asarray(lines))


def _read_parquet(path: Path, shown: str) -> _Raw:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if path.stat().st_size > MAX_PARQUET_BYTES:
            raise HistoryError([Issue(shown, None, "", f"is {path.stat().st_size / MiB:,.0f} MiB; expected a "
                                      f"history Parquet file of at most {MAX_PARQUET_BYTES // MiB} MiB")])
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HistoryError([Issue(shown, None, "", f"cannot read it as Parquet ({first}); expected a "
                                  "complete Parquet file (a truncated copy, or another format named .parquet?)")]) from None
    names = [str(n).strip() for n in table.column_names]
    issues = _header_issues(names, shown, None)
    if issues:
        raise HistoryError(issues)
    frame = table.rename_columns(names).to_pandas()
    if frame.empty:
        raise HistoryError([Issue(shown, None, "", "no data rows")])
    return _Raw(shown, frame.reset_index(drop=True), np.arange(1, len(frame) + 1), None)


def _header_issues(names: list[str], shown: str, line: int | None) -> list[Issue]:
    issues = []
    for j, name in enumerate(names):
        if not name:
            issues.append(Issue(shown, line, "", f"column {j + 1} has no name"))
        elif names.index(name) < j:
            issues.append(Issue(shown, line, name, f"column {name!r} appears twice"))
    return issues


# --------------------------------------------------------------- validating
def load_history(
    path: str | Path | None,
    spec: HistorySpec | None = None,
    skus: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    strict: bool = False,
    *,
    timezone: str = "Asia/Shanghai",
    base_dir: str | Path | None = None,
    spec_file: str = "calibrate.history",
) -> History:
    """Read and validate a history file (CSV or Parquet, by extension).

    `path` None reads `spec.file`, relative to `base_dir` (the scenario's folder). `skus`
    and `channels` are the scenario's: a row with any other SKU or channel is an error
    (None accepts any). `strict` (or `spec.strict`) makes missing periods and gaps errors.
    `timezone` is the scenario's, used unless the spec names one. `spec_file` names the
    scenario in issues about the spec itself (a `sku_map` to an unknown SKU).

    Raises `HistoryError` listing every problem (file, row, column, what was expected).
    """
    spec = spec or HistorySpec()
    tz = spec.timezone or timezone
    strict = strict or spec.strict
    if path is None:
        if spec.file is None:
            raise HistoryError([Issue(spec_file, None, "file", "no history file given (and no calibrate.history.file)")])
        path = Path(base_dir or ".") / spec.file
    path = Path(path)
    shown = str(path)

    spec_issues = []
    if skus is not None:
        for theirs, ours in spec.sku_map.items():
            if ours not in skus:
                spec_issues.append(Issue(spec_file, None, f"sku_map.{theirs}",
                                         f"maps to unknown SKU {ours!r}{did_you_mean(ours, skus)}"))
    if spec_issues:
        raise HistoryError(_capped(spec_issues))

    raw = _read(path, shown)
    return _Validator(raw, spec, tz, skus, channels, strict).run()


class _Validator:
    """Checks every column of a raw history, collecting issues, then builds the History."""

    def __init__(self, raw: _Raw, spec: HistorySpec, tz: str, skus, channels, strict: bool):
        self.raw, self.spec, self.tz, self.strict = raw, spec, tz, strict
        self.skus = list(skus) if skus is not None else None
        self.channels = list(channels) if channels is not None else None
        self.issues: list[HistoryIssue] = []
        self.n = len(raw.frame)

    # -- helpers
    def add(self, i, ours: str, message: str) -> None:
        theirs = self.source[ours]
        if theirs != ours and ours not in KEYS:  # a key's message already says what it is
            message = f"{message} (read as {ours})"
        self.issues.append(self.raw.issue(i, theirs, message))

    def text(self, ours: str) -> np.ndarray:
        """The column as stripped text, '' for an empty cell (whole floats as integers)."""
        col = self.raw.frame[self.source[ours]]
        if self.raw.lines is not None:  # CSV: read as stripped text already
            return col.to_numpy(dtype=object)
        out = np.empty(self.n, dtype=object)
        for i, v in enumerate(col.tolist()):
            if v is None or (not isinstance(v, str) and pd.isna(v)):  # None, NaN, NaT, pd.NA
                out[i] = ""
            elif isinstance(v, float) and v.is_integer():
                out[i] = str(int(v))
            else:
                out[i] = str(v).strip()
        return out

    # -- columns
    def resolve_columns(self) -> None:
        present = list(self.raw.frame.columns)
        mapped_from = set(self.spec.columns.values())
        self.source: dict[str, str] = {}
        header: list[Issue] = []
        for ours in CANONICAL:
            if ours in self.spec.columns:
                theirs = self.spec.columns[ours]
                if theirs in present:
                    self.source[ours] = theirs
                else:
                    header.append(self.raw.issue(None, theirs,
                        f"no column {theirs!r} (mapped to {ours}) in the file{did_you_mean(theirs, present)}"))
            elif ours in present and ours not in mapped_from:
                self.source[ours] = ours
        for ours in ("period", "sku"):
            if ours not in self.source and ours not in self.spec.columns:
                header.append(self.raw.issue(None, ours,
                    f"missing required column {ours!r}; name the export's column with "
                    f"columns: {{{ours}: <name>}} (--map {ours}=<name>){did_you_mean(ours, present)}"))
        if not any(t in self.source for t in TARGETS) and not any(t in self.spec.columns for t in TARGETS):
            header.append(self.raw.issue(None, "",
                f"no target column: expected at least one of {', '.join(TARGETS)} "
                f"({_columns_text(present)})"))
        if header:
            raise HistoryError(_capped(header))
        used = set(self.source.values())
        self.ignored = tuple(c for c in present if c not in used)

    # -- keys
    def check_skus(self) -> np.ndarray:
        ids = self.text("sku")
        ours = np.array([self.spec.sku_map.get(x, x) for x in ids], dtype=object)
        valid = [*(self.skus or []), *self.spec.sku_map]
        self.check_names("sku", "SKU id", "SKU", ids, ours, self.skus, valid)
        return ours

    def check_channels(self) -> np.ndarray | None:
        if "channel" not in self.source:
            return None
        names = self.text("channel")
        self.check_names("channel", "channel name", "channel", names, names, self.channels, self.channels or [])
        return names

    def check_names(self, column: str, missing: str, what: str, ids, ours, known, valid) -> None:
        """Empty names and names (after mapping to `ours`) not in `known`; each unknown name is
        reported once, at its first row. `known` None: anything goes."""
        known_set = set(known or ())
        unknown: dict[str, list[int]] = {}
        for i, (x, o) in enumerate(zip(ids, ours)):
            if x == "":
                self.add(i, column, f"missing {missing}")
            elif known is not None and o not in known_set:
                unknown.setdefault(x, []).append(i)
        for x, rows in unknown.items():
            more = f" in {len(rows)} rows, the first here" if len(rows) > 1 else ""
            self.add(rows[0], column, f"unknown {what} {x!r}{more}{did_you_mean(x, valid)}")

    # -- periods
    def check_periods(self) -> tuple[pd.DatetimeIndex, PeriodGrid | None]:
        """Period starts (NaT where a row is wrong) and the grid."""
        if self.spec.period.start is not None:
            return self._indexed_periods()
        return self._timestamp_periods()

    def _indexed_periods(self):
        p = self.spec.period
        base = p.index_base
        start = pd.Timestamp(p.start)
        start = start.tz_localize(self.tz) if start.tzinfo is None else start.tz_convert(self.tz)
        grid = PeriodGrid(p.unit, self.tz, start)
        texts = self.text("period")
        k = np.zeros(self.n, dtype=np.int64)
        ok = np.zeros(self.n, dtype=bool)
        for i, s in enumerate(texts):
            try:
                v = float(s)
            except ValueError:
                v = math.nan
            if s == "":
                self.add(i, "period", "missing period")
            elif not (math.isfinite(v) and v.is_integer()):
                self.add(i, "period", f"expected a whole-number {p.unit} index (period.start is set), got {s!r}")
            elif v < base:
                self.add(i, "period", f"{p.unit} index {int(v)} comes before the first, {base} (period.index_base)")
            else:
                k[i], ok[i] = int(v) - base, True
        ts = grid.at(k)
        return ts.where(ok, pd.NaT), grid

    def _timestamp_periods(self):
        col = self.raw.frame[self.source["period"]]
        unit = self.spec.period.unit
        if pd.api.types.is_numeric_dtype(col) or _all_small_integers(self.text("period")):
            theirs = self.source["period"]
            raise HistoryError([self.raw.issue(None, theirs,
                f"the period column {theirs!r} holds whole numbers, not dates; to read them as "
                f"{unit} numbers set period.start (the start of {unit} {self.spec.period.index_base})")])
        ts = self._parse_times(col)
        good = ts[~ts.isna()]
        if len(good) == 0:
            return ts, None
        grid = PeriodGrid(unit, self.tz, _modal_anchor(good, unit))
        off = grid.offsets(ts)
        on = np.isclose(off, np.rint(off), rtol=0, atol=1e-9)
        for i in np.flatnonzero(~on & ~ts.isna()):
            texts = self.text("period")
            hint = ""
            if isinstance(texts[i], str) and _OFFSET.search(texts[i]):
                hint = (f"; it is written as {texts[i]!r}, with a UTC offset that puts it at "
                        f"{ts[i]:%H:%M} in {self.tz}: write every period in one time zone (or without an "
                        "offset, as wall-clock times in the history's time zone)")
            self.add(int(i), "period", f"{ts[i]:%Y-%m-%d %H:%M} is off the {_UNIT_WORD[unit]} grid: "
                     f"{grid.describe()}{hint}")
        return ts.where(on, pd.NaT), grid

    def _parse_times(self, col: pd.Series) -> pd.DatetimeIndex:
        """Aware times in the zone; NaT (with an issue) for a cell that is not one."""
        texts = self.text("period")
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out = pd.DatetimeIndex(col).tz_convert(self.tz)
        elif pd.api.types.is_datetime64_dtype(col):
            out = self._localize(pd.DatetimeIndex(col), texts)
        else:
            out = self._parse_text_times(texts)
        years = np.asarray(out.year, dtype=float)
        beyond = ~np.asarray(out.isna()) & ((years < 1) | (years > 9999))
        for i in np.flatnonzero(beyond):          # "-1" read as the year -1, "1200-01-01" ...
            self._flagged[i] = True
            self.add(int(i), "period", f"{_cell(texts[i])} reads as the year {int(years[i])}: expected a date "
                     "in the years 1 to 9999 (a mistyped year, or a number in the period column?)")
        out = out.where(~beyond, pd.NaT)
        for i in np.flatnonzero(out.isna() & ~self._flagged):
            if texts[i] in ("", "NaT"):
                self.add(int(i), "period", "missing period")
            else:
                year = re.match(r"\s*(\d{5,})-", texts[i])
                hint = " (years run to 9999: a mistyped year?)" if year else ""
                self.add(int(i), "period", f"cannot read {_cell(texts[i])} as a date or date-time{hint}")
        return out

    def _parse_text_times(self, texts: np.ndarray) -> pd.DatetimeIndex:
        """Text with an offset (`Z`, `+08:00`) is that instant; without, a wall-clock time
        in the zone. One format is inferred for speed; cells it misses are parsed one by one."""
        with_offset = np.array([bool(_OFFSET.search(s)) for s in texts], dtype=bool)
        out = pd.Series(pd.NaT, index=range(self.n), dtype=f"datetime64[us, {self.tz}]")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if with_offset.any():
                parsed = pd.to_datetime(pd.Series(texts[with_offset]), errors="coerce", utc=True, format="mixed")
                out[with_offset] = parsed.dt.tz_convert(self.tz).to_numpy()
            naive = ~with_offset
            if naive.any():
                s = pd.Series(texts[naive])
                parsed = pd.to_datetime(s, errors="coerce")
                if parsed.isna().any():  # mixed formats: parse the rest one by one
                    retry = pd.to_datetime(s[parsed.isna()], errors="coerce", format="mixed")
                    parsed = parsed.astype("datetime64[us]")
                    parsed[parsed.isna()] = retry.astype("datetime64[us]")
                out[naive] = self._localize(pd.DatetimeIndex(parsed), texts[naive], np.flatnonzero(naive))
        return pd.DatetimeIndex(out)

    def _localize(self, wall: pd.DatetimeIndex, texts, rows=None) -> pd.DatetimeIndex:
        rows = np.arange(len(wall)) if rows is None else rows
        aware = wall.tz_localize(self.tz, ambiguous="NaT", nonexistent="NaT")
        for j in np.flatnonzero(aware.isna() & ~wall.isna()):
            self._flagged[rows[j]] = True
            self.add(int(rows[j]), "period",
                f"{texts[j]!r} is not one instant in {self.tz} (a daylight-saving change "
                f"skips or repeats it); write it with its UTC offset")
        return aware

    # -- measures
    def check_measures(self) -> dict[str, np.ndarray]:
        out = {}
        for ours in CANONICAL:
            if ours in KEYS or ours not in self.source:
                continue
            out[ours] = self._numbers(ours)
        return out

    def _numbers(self, ours: str) -> np.ndarray:
        col = self.raw.frame[self.source[ours]]
        if pd.api.types.is_bool_dtype(col):
            vals = col.to_numpy(dtype=float, copy=True)
        elif pd.api.types.is_numeric_dtype(col):
            vals = col.to_numpy(dtype=float, copy=True)
            for i in np.flatnonzero(np.isinf(vals)):
                self.add(int(i), ours, f"expected a finite number, got {vals[i]}")
                vals[i] = np.nan
        else:
            texts = pd.Series(self.text(ours), dtype=object)
            vals = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=float, copy=True)
            low = texts.str.lower()
            empty = low.isin(MISSING_TOKENS).to_numpy()
            if ours == "promo":
                for word, flag in (("true", 1.0), ("false", 0.0)):
                    vals[(low == word).to_numpy()] = flag
            bad = (np.isnan(vals) | np.isinf(vals)) & ~empty
            if ours == "promo":
                bad &= ~low.isin(("true", "false")).to_numpy()
            for i in np.flatnonzero(bad):
                hint = ""
                if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", texts[i]):
                    hint = f" (write numbers without thousands separators: {texts[i].replace(',', '')})"
                elif re.fullmatch(r"[+-]?\d+,\d+", texts[i]):
                    hint = f" (a decimal comma? write {texts[i].replace(',', '.')})"
                self.add(int(i), ours, f"expected a number, got {_cell(texts[i])}{hint}")
            vals[bad | empty] = np.nan
        self._check_range(ours, vals)
        return vals

    def _check_range(self, ours: str, vals: np.ndarray) -> None:
        with np.errstate(invalid="ignore"):
            if ours in COUNTS:
                bad, what = vals < 0, lambda v: f"negative count {v:g}"
            elif ours in MONEY:
                bad, what = vals < 0, lambda v: f"negative amount {v:g}"
            elif ours == "price":
                bad, what = vals <= 0, lambda v: f"price must be > 0, got {v:g}"
            elif ours == "discount":
                bad = (vals < 0) | (vals >= 1)
                what = lambda v: (f"discount must be a fraction in [0, 1), got {v:g}"
                                  + (f" (write {v:g} % as {v / 100:g})" if 1 <= v < 100 else ""))
            else:  # promo
                bad, what = ~np.isin(vals, (0.0, 1.0)) & ~np.isnan(vals), lambda v: f"promo must be 0 or 1, got {v:g}"
        for i in np.flatnonzero(bad):
            self.add(int(i), ours, what(vals[i]))

    # -- duplicates
    def check_duplicates(self, ts, skus, channels) -> None:
        keys = pd.DataFrame({"period": ts, "sku": skus})
        if channels is not None:
            keys["channel"] = channels
        valid = ~keys["period"].isna().to_numpy() & (skus != "")
        k = keys[valid]
        dup = k.duplicated(keep=False)
        if not dup.any():
            return
        first: dict[tuple, int] = {}
        for i, row in zip(k.index[dup], k[dup].itertuples(index=False)):
            key = tuple(row)
            if key not in first:
                first[key] = int(i)
                continue
            where = self.raw.where(first[key])
            what = f"period {self._label(key[0])}, SKU {key[1]!r}" + (f", channel {key[2]!r}" if len(key) > 2 else "")
            self.add(int(i), "period", f"duplicate row: {what} is already on {where}")

    def _label(self, t) -> str:
        t = pd.Timestamp(t)
        when = f"{t:%Y-%m-%d %H:%M}" if self.spec.period.unit == "hour" else f"{t:%Y-%m-%d}"
        if self.spec.period.start is None:
            return when
        k = int(self.grid.positions([t])[0]) + self.spec.period.index_base
        return f"{self.spec.period.unit} {k} ({when})"

    # -- all
    def run(self) -> History:
        self.resolve_columns()
        self._flagged = np.zeros(self.n, dtype=bool)
        skus = self.check_skus()
        channels = self.check_channels()
        ts, self.grid = self.check_periods()
        measures = self.check_measures()
        self.check_duplicates(ts, skus, channels)
        if self.issues:
            raise HistoryError(_capped(_ordered(self.issues)))
        return self.build(ts, skus, channels, measures)

    def outliers(self, ts: pd.DatetimeIndex) -> tuple[np.ndarray, list[str]]:
        """Rows far apart in time from all the others — a mistyped year (1826 among 2026s) would
        make the history span centuries of missing periods. A gap of missing periods longer than
        `FAR_APART` × the periods with data (and at least 100) splits the history; the rows on the
        side with fewer periods are left out, with a warning (an error with `strict`)."""
        keep = np.ones(len(ts), dtype=bool)
        notes: list[str] = []
        pos = np.rint(self.grid.offsets(ts)).astype(np.int64)
        unit = self.spec.period.unit
        for _ in range(3):
            uniq = np.unique(pos[keep])
            if len(uniq) < 2:
                break
            gaps = np.diff(uniq) - 1
            j = int(np.argmax(gaps))
            if gaps[j] <= max(100, FAR_APART * len(uniq)):
                break
            left, right = uniq[: j + 1], uniq[j + 1:]
            out = keep & ((pos <= left[-1]) if len(right) >= len(left) else (pos >= right[0]))
            rows = np.flatnonzero(out)
            first = int(rows[np.argmin(pos[rows])]) if len(right) >= len(left) else int(rows[np.argmax(pos[rows])])
            when = f"{ts[first]:%Y-%m-%d}" if unit != "hour" else f"{ts[first]:%Y-%m-%d %H:%M}"
            note = (f"{len(rows)} row(s) lie {int(gaps[j]):,} {unit}s apart from the other {int(keep.sum()) - len(rows)} "
                    f"(the first on {self.raw.where(first)}: {when}): a mistyped date? They are left out; "
                    "correct them, or set strict: true to make this an error")
            if self.strict:
                self.issues.append(self.raw.issue(first, self.source["period"], note.replace(
                    "They are left out; correct them, or set strict: true to make this an error",
                    "correct them (strict)")))
            notes.append(f"{self.raw.shown}: {note}")
            keep &= ~out
        return keep, notes

    def build(self, ts, skus, channels, measures) -> History:
        keep, notes = self.outliers(ts)
        if self.issues:
            raise HistoryError(_capped(_ordered(self.issues)))
        if not keep.all():
            ts, skus = ts[keep], skus[keep]
            channels = channels[keep] if channels is not None else None
            measures = {k: v[keep] for k, v in measures.items()}
        data = {"period": ts, "sku": skus.astype(str)}
        if channels is not None:
            data["channel"] = channels.astype(str)
        frame = pd.DataFrame(data)
        for ours, vals in measures.items():
            frame[ours] = vals
        frame = frame.set_index([k for k in KEYS if k in frame.columns]).sort_index()
        history = _assemble(
            frame, self.grid, source=self.raw.shown,
            index_base=self.spec.period.index_base if self.spec.period.start is not None else None,
            columns=dict(self.source), ignored=self.ignored,
        )
        if notes:
            history = dataclasses.replace(history, warnings=tuple(notes))
        if self.strict and (len(history.missing) or len(history.gaps)):
            raise HistoryError(_capped(self._strict_issues(history)))
        return history

    def _strict_issues(self, h: History) -> list[Issue]:
        shown, theirs = self.raw.shown, self.source["period"]
        line = 1 if self.raw.lines is not None else None
        issues: list[Issue] = []
        for a, b, k in h.missing_runs():
            what = h.label(a) if k == 1 else h._run_text(a, b, k)
            issues.append(Issue(shown, line, theirs, f"missing {what}: no rows (strict)"))
        if len(h.gaps):
            gaps = h.gaps.to_frame(index=False)
            keys = h.keys
            for key, g in gaps.groupby(keys, sort=True):
                key = key if isinstance(key, tuple) else (key,)
                name = ", ".join(f"{k} {v!r}" for k, v in zip(keys, key))
                ts = pd.DatetimeIndex(g["period"])
                runs = [h.label(a) if n == 1 else h._run_text(a, b, n) for a, b, n in _runs(h.grid, ts)]
                issues.append(Issue(shown, line, self.source["sku"],
                                    f"{name} has no row for {', '.join(runs)} (strict)"))
        return issues


def _assemble(frame: pd.DataFrame, grid: PeriodGrid, *, source: str = "", index_base: int | None = None,
              columns: dict | None = None, ignored: tuple = ()) -> History:
    """A History from a sorted tidy frame on `grid`: the expected periods, missing ones, gaps."""
    keys = list(frame.index.names)
    observed = frame.index.get_level_values("period").unique()
    pos = grid.positions(observed)
    periods = grid.at(np.arange(pos.min(), pos.max() + 1))
    missing = periods.difference(observed)
    series = frame.index.droplevel("period").unique()
    full = pd.MultiIndex.from_arrays(
        [observed.repeat(len(series))]
        + [np.tile(series.get_level_values(k), len(observed)) for k in keys[1:]], names=keys)
    gaps = full.difference(frame.index)
    gaps = gaps.sort_values() if len(gaps) else pd.MultiIndex.from_arrays([[]] * len(keys), names=keys)
    return History(
        frame=frame, unit=grid.unit, timezone=grid.tz, grid=grid, periods=periods,
        missing=missing, gaps=gaps, source=source, index_base=index_base,
        columns=dict(columns or {}), ignored_columns=tuple(ignored),
    )


def history_from_frame(frame: pd.DataFrame, unit: PeriodUnit, source: str = "") -> History:
    """A History from a tidy frame already in our form (a simulated series, a test table):
    indexed by (`period`, `sku`[, `channel`]) with tz-aware period starts on a grid of
    `unit`s from the first one; columns among ours. Values are not re-checked."""
    names = list(frame.index.names)
    if names[:1] != ["period"] or names[1:2] != ["sku"] or not set(names) <= set(KEYS):
        raise ValueError(f"expected a frame indexed by (period, sku[, channel]), got {names}")
    unknown = [c for c in frame.columns if c not in CANONICAL]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; ours are {', '.join(CANONICAL)}")
    t = pd.DatetimeIndex(frame.index.get_level_values("period"))
    if t.tz is None:
        raise ValueError("period starts must be tz-aware")
    grid = PeriodGrid(unit, str(t.tz), t.min())
    try:
        grid.positions(t.unique())
    except ValueError:
        raise ValueError(f"periods are not on a {_UNIT_WORD[unit]} grid: {grid.describe()}") from None
    return _assemble(frame.sort_index().astype(float), grid, source=source)


_OFFSET = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def _cell(text: str) -> str:
    """A cell as quoted in a message: at most 40 characters."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _columns_text(present: list[str]) -> str:
    """The file's columns for a message — or, when they do not look like column names (a
    file that is not a history table), what was expected instead of an echo of its first line."""
    if len(present) <= 30 and all(0 < len(c) <= 40 and c.isprintable() for c in present):
        return f"the file has {', '.join(present)}"
    return "the first line does not look like a header of column names; expected one such as period,sku,units"


def _all_small_integers(texts: np.ndarray) -> bool:
    """Whole numbers of at most 6 digits (period numbers, not YYYYMMDD dates)."""
    filled = [t for t in texts if t != ""]
    return bool(filled) and all(t.isdigit() and len(t) <= 6 for t in filled)


def _modal_anchor(ts: pd.DatetimeIndex, unit: str) -> pd.Timestamp:
    """The earliest period start that shares the most common phase (time of the hour, of the
    day, or weekday and time), so that a few rows off the grid are the ones reported."""
    wall = ts.tz_localize(None)
    if unit == "hour":
        phase = wall.minute * 60 + wall.second
    elif unit == "day":
        phase = (wall - wall.normalize()).total_seconds()
    else:
        phase = wall.dayofweek * 86400 + (wall - wall.normalize()).total_seconds()
    phase = pd.Series(np.asarray(phase))
    counts = phase.value_counts()
    best = counts[counts == counts.max()].index
    first = ts[phase.isin(best).to_numpy()].min()
    return first


def _ordered(issues: list[HistoryIssue]) -> list[HistoryIssue]:
    """Column-level issues first, then by row (stable within a row: column order)."""
    return sorted(issues, key=lambda i: (-1 if getattr(i, "row", None) is None else i.row))
