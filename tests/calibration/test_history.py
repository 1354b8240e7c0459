"""Loading a store's history: mapping, periods, time zones, missing periods, and every wrong
history located by file, line (CSV) or row (Parquet), column and message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from calibration.history import (
    MAX_ISSUES,
    History,
    HistoryError,
    HistoryIssue,
    history_from_frame,
    load_history,
    parse_map,
)
from simulator.scenario.history_schema import HistorySpec

BAD = Path(__file__).parent / "bad_history"
SKUS = ["lipstick", "serum"]
CHANNELS = ["organic", "ads"]
WEEKLY = {"columns": {"period": "week", "sku": "brand"}, "sku_map": {1: "lipstick"},
          "period": {"unit": "week", "start": "2026-01-01"}}

# file: (spec, line, row, column, message fragment) — each file holds exactly one mistake.
# `line` is the CSV line (the header is line 1); `row` the 1-based data row (None for the
# header or the whole file).
CASES = {
    "missing_period_column": ({}, 1, None, "period", "missing required column 'period'; name the export's column with columns: {period: <name>} (--map period=<name>); did you mean 'perod'?"),
    "missing_sku_column": ({}, 1, None, "sku", "missing required column 'sku'"),
    "no_target_column": ({}, 1, None, "", "no target column: expected at least one of visits, add_to_carts, orders, units"),
    "mapped_column_absent": ({"columns": {"units": "qty"}}, 1, None, "qty", "no column 'qty' (mapped to units) in the file; did you mean 'qtty'?"),
    "unknown_sku": ({}, 3, 2, "sku", "unknown SKU 'lipstik'; did you mean 'lipstick'?"),
    "unknown_channel": ({}, 5, 4, "channel", "unknown channel 'adds'; did you mean 'ads'?"),
    "negative_units": ({}, 4, 3, "units", "negative count -3"),
    "negative_revenue": ({}, 3, 2, "revenue", "negative amount -99"),
    "non_numeric_units": ({}, 3, 2, "units", "expected a number, got 'lots'"),
    "duplicate_row": ({}, 5, 4, "period", "duplicate row: period 2026-11-01, SKU 'lipstick' is already on line 2"),
    "unparseable_date": ({}, 4, 3, "period", "cannot read '2026-13-03' as a date or date-time"),
    "off_grid_date": ({}, 3, 2, "period", "2026-11-02 12:00 is off the daily grid: periods start every day at 00:00 from 2026-11-01"),
    "price_zero": ({}, 3, 2, "price", "price must be > 0, got 0"),
    "discount_percent": ({}, 3, 2, "discount", "discount must be a fraction in [0, 1), got 25 (write 25 % as 0.25)"),
    "promo_not_binary": ({}, 3, 2, "promo", "promo must be 0 or 1, got 2"),
    "ragged_row": ({}, 3, 2, "", "expected 3 fields as in the header, found 4"),
    "duplicate_header": ({}, 1, None, "units", "column 'units' appears twice"),
    "week_not_a_number": (WEEKLY, 4, 3, "week", "expected a whole-number week index (period.start is set), got '3b'"),
    "week_before_base": (WEEKLY, 2, 1, "week", "week index 0 comes before the first, 1 (period.index_base)"),
    "week_numbers_without_start": ({"period": {"unit": "week"}}, 1, None, "period", "the period column 'period' holds whole numbers, not dates; to read them as week numbers set period.start (the start of week 1)"),
    "dst_ambiguous_hour": ({"period": {"unit": "hour"}, "timezone": "America/Chicago"}, 3, 2, "period", "'2026-11-01 01:00' is not one instant in America/Chicago (a daylight-saving change skips or repeats it); write it with its UTC offset"),
    "mapped_units_negative": ({"columns": {"period": "date", "sku": "item", "units": "qty_sold"}}, 4, 2, "qty_sold", "negative count -1 (read as units)"),
    "empty": ({}, None, None, "", "the file is empty; expected a header line and rows"),
    # issue 16: files that are not a readable table, and cells a spreadsheet export writes
    "binary": ({}, 1, None, "", "a NUL byte (binary data); expected a history CSV"),
    "gzip_compressed": ({}, None, None, "", "is gzip-compressed; expected a history CSV (a header line period,sku,units,... and a row per period and SKU) in UTF-8 text (decompress it first)"),
    "latin1": ({}, 3, None, "", "byte 0xe9 at column 13 is not UTF-8; expected a history CSV"),
    "header_only": ({}, None, None, "", "no data rows after the header; expected a row per period and SKU"),
    "semicolons": ({}, 1, None, "", "the header is one column with semicolons in it: the file separates its values with semicolons; expected commas"),
    "thousands_separator": ({}, 3, 2, "units", "expected a number, got '1,200' (write numbers without thousands separators: 1200)"),
    "year_past_9999": ({}, 3, 2, "period", "cannot read '20261-11-02' as a date or date-time (years run to 9999: a mistyped year?)"),
    "period_year_minus_one": ({}, 3, 2, "period", "'-1' reads as the year -1: expected a date in the years 1 to 9999"),
    "mixed_offsets": ({}, 3, 2, "period", "2026-11-02 08:00 is off the daily grid: periods start every day at 00:00 from 2026-11-01; it is written as '2026-11-02T00:00Z', with a UTC offset"),
}


def test_every_bad_history_file_has_its_expectation():
    assert sorted(p.stem for p in BAD.glob("*.csv")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_history_is_located(name):
    spec, line, row, column, fragment = CASES[name]
    path = BAD / f"{name}.csv"
    with pytest.raises(HistoryError) as info:
        load_history(path, HistorySpec.model_validate(spec), SKUS, CHANNELS)
    issues = info.value.issues
    assert len(issues) == 1, f"one mistake, one message; got:\n{info.value}"
    issue = issues[0]
    assert (issue.file, issue.line, getattr(issue, "row", None), issue.path) == (str(path), line, row, column), str(issue)
    assert fragment in issue.message, str(issue)
    where = f"{path}:{line}" if line else str(path)
    assert str(info.value) == (f"{where}: {column}: {issue.message}" if column else f"{where}: {issue.message}")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["negative_units", "unknown_sku", "promo_not_binary", "off_grid_date"])
def test_parquet_issues_name_the_data_row(tmp_path, name):
    """Parquet has no lines: the same mistake is reported at its 1-based data row."""
    spec, _, row, column, fragment = CASES[name]
    frame = pd.read_csv(BAD / f"{name}.csv", dtype=str, keep_default_na=False)
    path = tmp_path / f"{name}.parquet"
    frame.to_parquet(path)
    with pytest.raises(HistoryError) as info:
        load_history(path, HistorySpec.model_validate(spec), SKUS, CHANNELS)
    [issue] = info.value.issues
    assert (issue.file, issue.line, issue.row, issue.path) == (str(path), None, row, column)
    assert fragment in issue.message
    assert str(issue) == f"{path}: row {row}: {column}: {issue.message}"


def test_typed_parquet_columns_are_checked_too(tmp_path):
    frame = pd.DataFrame({
        "period": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-03"]),
        "sku": ["lipstick"] * 3, "units": [10, -2, 5], "promo": [True, False, True],
        "price": [99.0, 99.0, float("inf")],
    })
    path = tmp_path / "typed.parquet"
    frame.to_parquet(path)
    with pytest.raises(HistoryError) as info:
        load_history(path, None, SKUS)
    assert [(i.row, i.path, i.message) for i in info.value.issues] == [
        (2, "units", "negative count -2"), (3, "price", "expected a finite number, got inf")]


def test_every_problem_is_listed_up_to_a_cap(tmp_path):
    n = MAX_ISSUES + 7
    lines = ["period,sku,units,price"] + [f"2026-11-{d:02d},lipstick,-1,99" for d in range(1, n + 1)]
    lines[3] = "2026-11-03,lipstick,-1,0"  # a second problem in one row
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryError) as info:
        load_history(path, None, SKUS)
    issues = info.value.issues
    assert len(issues) == MAX_ISSUES + 1
    assert [i.line for i in issues[:4]] == [2, 3, 4, 4]
    assert issues[-1].message == f"and {n + 1 - MAX_ISSUES} more problem(s) (units: {n + 1 - MAX_ISSUES})"


def test_unknown_sku_is_reported_once_with_its_row_count(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("period,sku,units\n2026-11-01,seru,1\n2026-11-02,seru,2\n2026-11-03,serum,2\n")
    with pytest.raises(HistoryError) as info:
        load_history(path, None, SKUS)
    [issue] = info.value.issues
    assert (issue.line, issue.message) == (2, "unknown SKU 'seru' in 2 rows, the first here; did you mean 'serum'?")


def test_sku_map_to_an_unknown_sku_names_the_scenario_block():
    spec = HistorySpec(sku_map={"1": "lipstik"})
    with pytest.raises(HistoryError) as info:
        load_history(BAD / "negative_units.csv", spec, SKUS, spec_file="tuna.yaml")
    assert str(info.value) == "tuna.yaml: sku_map.1: maps to unknown SKU 'lipstik'; did you mean 'lipstick'?"


def test_a_missing_file_and_a_wrong_extension():
    with pytest.raises(HistoryError, match="no such file"):
        load_history(BAD / "nope.csv", None, SKUS)
    with pytest.raises(HistoryError, match=r"expected a \.csv or \.parquet file, got '\.xlsx'"):
        load_history(BAD / "sales.xlsx", None, SKUS)


# ------------------------------------------------------------ mapping, --map
def test_parse_map():
    assert parse_map("units=qty_sold, period = week,sku=brand") == {
        "units": "qty_sold", "period": "week", "sku": "brand"}


@pytest.mark.parametrize("text, fragment", [
    ("units", "'units': expected ours=theirs"),
    ("units=", "expected ours=theirs with both names"),
    ("unts=qty", "unknown column 'unts'; ours are period, sku,"),
    ("unts=qty", "did you mean 'units'?"),
    ("units=a,units=b", "'units' is mapped twice ('a' and 'b')"),
    ("", "expected ours=theirs"),
])
def test_parse_map_rejects(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_map(text)
    assert fragment in str(info.value)


def test_spec_checks_its_names():
    with pytest.raises(ValidationError, match=r"unknown column 'prise'.*did you mean 'price'\?"):
        HistorySpec.model_validate({"columns": {"prise": "p"}})
    with pytest.raises(ValidationError, match=r"column 'qty' is mapped to more than one of ours \(units, orders\)"):
        HistorySpec.model_validate({"columns": {"units": "qty", "orders": "qty"}})
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        HistorySpec.model_validate({"timezone": "Mars/Olympus"})
    with pytest.raises(ValidationError, match="unit"):
        HistorySpec.model_validate({"period": {"unit": "month"}})
    with pytest.raises(ValidationError, match="extra"):
        HistorySpec.model_validate({"colums": {}})
    # YAML reads `1: lipstick` with an integer key
    assert HistorySpec.model_validate({"sku_map": {1: "lipstick", 2.0: "serum"}}).sku_map == {
        "1": "lipstick", "2": "serum"}


def test_map_on_the_command_line_overrides_the_block(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("day,item,qty,qty_net\n2026-11-01,lipstick,10,9\n2026-11-02,lipstick,12,11\n")
    spec = HistorySpec(columns={"period": "day", "sku": "item", "units": "qty"})
    assert load_history(path, spec, SKUS).frame["units"].tolist() == [10, 12]
    spec = spec.with_columns(parse_map("units=qty_net"))
    assert spec.columns == {"period": "day", "sku": "item", "units": "qty_net"}
    h = load_history(path, spec, SKUS)
    assert h.frame["units"].tolist() == [9, 11]
    assert h.ignored_columns == ("qty",)
    assert h.columns == {"period": "day", "sku": "item", "units": "qty_net"}


def test_a_mapped_name_hides_the_export_column_of_the_same_name(tmp_path):
    """`units: qty` reads units from qty even when the export also has a `units` column."""
    path = tmp_path / "export.csv"
    path.write_text("period,sku,units,qty\n2026-11-01,lipstick,-5,10\n")
    h = load_history(path, HistorySpec(columns={"units": "qty"}), SKUS)
    assert h.frame["units"].tolist() == [10]
    assert h.ignored_columns == ("units",)


def test_sku_map_and_scenario_ids(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("period,sku,units\n2026-11-01,1,10\n2026-11-01,serum,3\n")
    h = load_history(path, HistorySpec(sku_map={"1": "lipstick"}), SKUS)
    assert list(h.frame.index.get_level_values("sku")) == ["lipstick", "serum"]


def test_two_ids_mapped_to_one_sku_in_one_period_are_duplicates(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("period,sku,units\n2026-11-01,1,10\n2026-11-01,2,3\n")
    with pytest.raises(HistoryError) as info:
        load_history(path, HistorySpec(sku_map={"1": "lipstick", "2": "lipstick"}), SKUS)
    [issue] = info.value.issues
    assert (issue.line, issue.message) == (3, "duplicate row: period 2026-11-01, SKU 'lipstick' is already on line 2")


def test_spec_file_is_read_relative_to_the_scenario(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "h.csv").write_text("period,sku,units\n2026-11-01,lipstick,1\n")
    h = load_history(None, HistorySpec(file="data/h.csv"), SKUS, base_dir=tmp_path)
    assert h.source == str(tmp_path / "data" / "h.csv")
    with pytest.raises(HistoryError, match="no history file given"):
        load_history(None, HistorySpec(), SKUS)


# --------------------------------------------------------------- periods, tz
def test_integer_week_index_with_start_and_time_zone(tmp_path):
    """Dominick's style: week numbers from a declared Thursday start, Chicago time. Weeks are
    calendar weeks: every period starts at local midnight on a Thursday, across DST."""
    path = tmp_path / "tuna.csv"
    path.write_text("week,brand,units,on_sale\n1,1,100,0\n2,1,90,1\n8,1,80,0\n")
    spec = HistorySpec.model_validate({
        "columns": {"period": "week", "sku": "brand", "promo": "on_sale"},
        "period": {"unit": "week", "start": "1989-09-14"}, "timezone": "America/Chicago",
        "sku_map": {1: "lipstick"}})
    h = load_history(path, spec, SKUS)
    t = h.frame.index.get_level_values("period")
    assert [str(x) for x in t] == [
        "1989-09-14 00:00:00-05:00", "1989-09-21 00:00:00-05:00", "1989-11-02 00:00:00-06:00"]
    assert all(x.day_name() == "Thursday" and x.hour == 0 for x in h.periods)
    assert len(h.periods) == 8 and h.unit == "week" and h.timezone == "America/Chicago"
    assert [h.period_index(x) for x in h.missing] == [3, 4, 5, 6, 7]
    assert h.label(h.missing[0]) == "week 3 (1989-09-28)"
    assert h.frame["promo"].tolist() == [0, 1, 0]


def test_index_base_zero_and_a_start_with_an_offset(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("day,sku,units\n0,lipstick,1\n2,lipstick,3\n")
    spec = HistorySpec.model_validate({
        "columns": {"period": "day"},
        "period": {"unit": "day", "start": "2026-11-01T00:00:00+00:00", "index_base": 0}})
    h = load_history(path, spec, SKUS)  # the scenario's zone: Asia/Shanghai
    assert [str(x) for x in h.periods] == [
        "2026-11-01 08:00:00+08:00", "2026-11-02 08:00:00+08:00", "2026-11-03 08:00:00+08:00"]


def test_timestamps_naive_and_with_offsets(tmp_path):
    """Naive times are wall-clock times in the zone; a written offset wins."""
    path = tmp_path / "h.csv"
    path.write_text("period,sku,units\n2026-11-01,lipstick,1\n2026-11-01T16:00:00Z,serum,2\n"
                    "2026/11/02,lipstick,3\n")
    h = load_history(path, HistorySpec(timezone="Asia/Shanghai"), SKUS)
    assert [str(x) for x in h.periods] == ["2026-11-01 00:00:00+08:00", "2026-11-02 00:00:00+08:00"]
    assert h.frame["units"].tolist() == [1, 3, 2]


def test_hourly_periods_across_a_daylight_saving_change(tmp_path):
    """Hours are 60 minutes: the repeated 01:00 is written with its offset, and both are periods."""
    path = tmp_path / "h.csv"
    path.write_text("period,sku,units\n2026-11-01 00:00,lipstick,1\n2026-11-01T01:00-05:00,lipstick,2\n"
                    "2026-11-01T01:00-06:00,lipstick,3\n2026-11-01 02:00,lipstick,4\n")
    h = load_history(path, HistorySpec.model_validate({"period": {"unit": "hour"}, "timezone": "America/Chicago"}), SKUS)
    assert len(h.periods) == 4 and len(h.missing) == 0
    assert h.frame["units"].tolist() == [1, 2, 3, 4]


def test_daily_periods_across_a_daylight_saving_change_are_calendar_days(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("period,sku,units\n2026-03-07,lipstick,1\n2026-03-10,lipstick,2\n")
    h = load_history(path, HistorySpec(timezone="America/Chicago"), SKUS)
    assert [x.strftime("%m-%d %H:%M %z") for x in h.periods] == [
        "03-07 00:00 -0600", "03-08 00:00 -0600", "03-09 00:00 -0500", "03-10 00:00 -0500"]
    assert [x.strftime("%m-%d") for x in h.missing] == ["03-08", "03-09"]


def test_the_grid_follows_the_most_common_phase(tmp_path):
    """One row off the grid is the one reported, even when it comes first."""
    path = tmp_path / "h.csv"
    path.write_text("period,sku,units\n2026-11-01 06:00,lipstick,1\n2026-11-02,lipstick,1\n"
                    "2026-11-03,lipstick,1\n")
    with pytest.raises(HistoryError) as info:
        load_history(path, None, SKUS)
    [issue] = info.value.issues
    assert issue.line == 2 and "off the daily grid: periods start every day at 00:00 from 2026-11-02" in issue.message


# ---------------------------------------------------------- missing periods
def _gappy(tmp_path) -> Path:
    path = tmp_path / "gappy.csv"
    path.write_text(
        "period,sku,units\n"
        "2026-11-01,lipstick,10\n2026-11-01,serum,1\n"
        "2026-11-02,lipstick,11\n"                       # serum has a gap
        "2026-11-05,lipstick,14\n2026-11-05,serum,4\n"   # 03 and 04 missing
        "2026-11-06,lipstick,15\n2026-11-06,serum,5\n")
    return path


def test_missing_periods_and_gaps_are_reported_and_left_out(tmp_path):
    h = load_history(_gappy(tmp_path), None, SKUS)
    assert [x.strftime("%d") for x in h.periods] == ["01", "02", "03", "04", "05", "06"]
    assert [x.strftime("%d") for x in h.missing] == ["03", "04"]
    assert [(t.strftime("%d"), s) for t, s in h.gaps] == [("02", "serum")]
    assert [x.strftime("%d") for x in h.observed] == ["01", "02", "05", "06"]
    assert len(h.frame) == 7  # no rows invented
    wide = h.wide("units")
    assert wide.shape == (6, 2) and wide.isna().sum().tolist() == [2, 3]
    assert h.missing_summary() == (
        "2 of 6 days missing: 2026-11-03 – 2026-11-04 (2 days) (left out of fits); "
        "1 SKU gap(s) in other periods")


def test_strict_makes_missing_periods_and_gaps_errors(tmp_path):
    path = _gappy(tmp_path)
    for kwargs in ({"strict": True}, {"spec": HistorySpec(strict=True)}):
        with pytest.raises(HistoryError) as info:
            load_history(path, kwargs.get("spec"), SKUS, strict=kwargs.get("strict", False))
        assert [str(i) for i in info.value.issues] == [
            f"{path}:1: period: missing 2026-11-03 – 2026-11-04 (2 days): no rows (strict)",
            f"{path}:1: sku: sku 'serum' has no row for 2026-11-02 (strict)",
        ]


def test_empty_measure_cells_are_not_recorded_values(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("period,sku,units,price,promo\n2026-11-01,lipstick,,99,TRUE\n2026-11-02,lipstick,NA,,false\n")
    h = load_history(path, None, SKUS)
    assert h.frame["units"].isna().all()
    assert h.frame["price"].tolist()[0] == 99 and np.isnan(h.frame["price"].tolist()[1])
    assert h.frame["promo"].tolist() == [1, 0]


def test_channels_make_a_third_index_level(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("period,sku,channel,units\n2026-11-01,lipstick,ads,1\n2026-11-01,lipstick,organic,2\n"
                    "2026-11-02,lipstick,ads,3\n")
    h = load_history(path, None, SKUS, CHANNELS)
    assert h.frame.index.names == ["period", "sku", "channel"]
    assert h.keys == ["sku", "channel"]
    assert h.series_keys() == [("lipstick", "ads"), ("lipstick", "organic")]
    assert [(t.strftime("%d"), s, c) for t, s, c in h.gaps] == [("02", "lipstick", "organic")]


# ------------------------------------------------------------ CSV = Parquet
def test_csv_and_parquet_give_the_same_history(tmp_path):
    csv = _gappy(tmp_path)
    a = load_history(csv, None, SKUS)
    frame = pd.read_csv(csv)
    frame["period"] = pd.to_datetime(frame["period"])  # a typed timestamp column
    frame.to_parquet(tmp_path / "gappy.parquet")
    b = load_history(tmp_path / "gappy.parquet", None, SKUS)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.periods.equals(b.periods) and a.missing.equals(b.missing) and a.gaps.equals(b.gaps)
    frame["period"] = frame["period"].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")  # aware
    frame.to_parquet(tmp_path / "aware.parquet")
    pd.testing.assert_frame_equal(a.frame, load_history(tmp_path / "aware.parquet", None, SKUS).frame)


def test_history_from_a_frame(tmp_path):
    h = load_history(_gappy(tmp_path), None, SKUS)
    again = history_from_frame(h.frame, "day")
    assert isinstance(again, History)
    assert again.periods.equals(h.periods) and again.missing.equals(h.missing) and again.gaps.equals(h.gaps)
    with pytest.raises(ValueError, match="not on a weekly grid"):
        history_from_frame(h.frame, "week")


def test_between_cuts_periods_missing_and_gaps(tmp_path):
    h = load_history(_gappy(tmp_path), None, SKUS)
    cut = pd.Timestamp(dt.datetime(2026, 11, 4), tz="Asia/Shanghai")
    a, b = h.between(None, cut), h.between(cut, None)
    assert [x.strftime("%d") for x in a.periods] == ["01", "02", "03"]
    assert [x.strftime("%d") for x in b.missing] == ["04"] and len(b.gaps) == 0
    assert len(a.frame) + len(b.frame) == len(h.frame)


def test_issue_type_is_the_scenario_issue():
    from simulator.scenario.errors import Issue

    issue = HistoryIssue("h.csv", 3, "units", "negative count -1", row=2)
    assert isinstance(issue, Issue) and str(issue) == "h.csv:3: units: negative count -1"


def test_an_empty_timestamp_in_parquet_is_a_missing_period(tmp_path):
    frame = pd.DataFrame({"period": pd.to_datetime(["2026-11-01", None, "2026-11-03"]),
                          "sku": ["lipstick", "lipstick", None], "units": [1, 2, 3]})
    path = tmp_path / "h.parquet"
    frame.to_parquet(path)
    with pytest.raises(HistoryError) as info:
        load_history(path, None, SKUS)
    assert [str(i) for i in info.value.issues] == [
        f"{path}: row 2: period: missing period", f"{path}: row 3: sku: missing SKU id"]


def test_rows_and_lines_after_a_blank_line_and_a_ragged_row(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("period,sku,units\n2026-11-01,lipstick,1,9\n\n2026-11-02,lipstick\n")
    with pytest.raises(HistoryError) as info:
        load_history(path, None, SKUS)
    assert [(i.line, i.row) for i in info.value.issues] == [(2, 1), (4, 2)]


def test_spec_errors_read_like_scenario_errors():
    """The scenario loader's machinery locates and explains a wrong `calibrate.history` block."""
    from simulator.scenario.errors import issues_from

    def shown(data):
        with pytest.raises(ValidationError) as info:
            HistorySpec.model_validate(data)
        return [str(i) for i in issues_from(info.value, HistorySpec, "s.yaml", lambda loc: 7)]

    assert shown({"period": {"unit": "weak"}}) == [
        "s.yaml:7: period.unit: expected one of 'hour', 'day' or 'week', got 'weak'; did you mean 'week'?"]
    assert shown({"colums": {}}) == ["s.yaml:7: colums: unknown field 'colums'; did you mean 'columns'?"]
    assert shown({"period": {"index_base": 2}}) == ["s.yaml:7: period.index_base: expected one of 0 or 1, got 2"]
