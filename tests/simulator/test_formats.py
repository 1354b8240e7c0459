"""Numbers and times as a planner reads them (`simulator.formats`): 万 / 亿 for yuan, K / M / B
otherwise, whole counts, zero money as 0, clock times across midnight and time zones."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from simulator.formats import amount, clock, count, money
from simulator.report.plots import Scale


@pytest.mark.parametrize("v, shown", [
    (0, "0"), (0.0, "0"), (9.9, "9.90"), (474.3, "474"), (9_994, "9,994"),
    (9_999.6, "1.00万"),            # rounds to 10,000: shown in the next unit, not as "10,000"
    (10_000, "1.00万"), (12_345, "1.23万"), (99_949, "9.99万"), (99_950, "10.0万"),
    (999_949, "100万"), (9_994_000, "999万"), (12_345_678, "1,235万"),
    (99_994_999, "9,999万"), (99_999_999, "1.00亿"),     # 9,999.99万 rounds to 10,000万: 1.00亿
    (100_000_000, "1.00亿"), (239_250_270, "2.39亿"), (1.2e10, "120亿"), (3.4e12, "34,000亿"),
    (-56_700_000, "-5,670万"), (-12, "-12.00"),
])
def test_yuan_in_wan_and_yi_at_every_boundary(v, shown):
    assert money(v, "CNY") == shown


@pytest.mark.parametrize("v, shown", [
    (0, "0"), (999, "999"), (999.6, "1.00K"), (12_345, "12.3K"), (999_949, "1.00M"),
    (1_250_000, "1.25M"), (239_250_270, "239M"), (5e9, "5.00B"),
])
def test_other_currencies_in_k_m_b(v, shown):
    assert money(v, "USD") == shown


def test_missing_money_and_its_unit():
    assert money(None) == money(math.nan) == money(math.inf) == "–"
    assert amount(239_250_270, "CNY") == "2.39亿元" and amount(1_250_000, "USD") == "1.25M USD"
    assert amount(0, "CNY") == "0元" and amount(None, "CNY") == "–"


@pytest.mark.parametrize("v, shown", [(0, "0"), (0.4, "0"), (0.5, "1"), (2.5, "3"), (-2.5, "-3"),
                                      (12_405_682.4, "12,405,682"), (None, "–"), (math.nan, "–")])
def test_counts_are_whole_numbers(v, shown):
    assert count(v) == shown


def test_clock_times_across_midnight_and_time_zones():
    assert clock("2026-11-10 23:59") == "11-10 23:59"
    assert clock(pd.Timestamp("2026-11-10 23:59") + pd.Timedelta(minutes=25)) == "11-11 00:24"
    utc = pd.Timestamp("2026-11-10 16:24", tz="UTC")                # 00:24 in Shanghai, next day
    assert clock(utc, "Asia/Shanghai") == "11-11 00:24"
    assert clock(utc, "America/New_York") == "11-10 11:24"
    assert clock(utc, "Asia/Shanghai", with_date=False) == "00:24"
    assert clock(None) == clock(pd.NaT) == "–"


@pytest.mark.parametrize("vmax, currency, factor, unit", [
    (50_000, "CNY", 1.0, "CNY"), (2.6e8, "CNY", 1e4, "万元"), (2.6e9, "CNY", 1e8, "亿元"),
    (2.6e8, "USD", 1e6, "USD million"), (2.6e9, "USD", 1e9, "USD billion"), (2.6e8, "JPY", 1e4, "万 JPY"),
])
def test_axis_scales_follow_the_currency(vmax, currency, factor, unit):
    sc = Scale.for_max(vmax, currency)
    assert sc.factor == factor and sc.unit(currency) == unit
