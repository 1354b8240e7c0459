"""Numbers and times as a planner reads them: money in 万 / 亿 for yuan (K / M / B for other
currencies), counts as whole numbers, clock times in the store's time zone.

`money(239_250_270, "CNY")` → "2.39亿"; `money(12_345, "CNY")` → "1.23万"; `money(9_870, "CNY")`
→ "9,870"; `money(1_250_000, "USD")` → "1.25M"; zero money is "0"; a missing value "–".
A figure is rounded first and then given its unit, so 9,999.6 yuan reads "1.00万", not
"10,000".
"""

from __future__ import annotations

import math

MISSING = "–"
CJK_UNITS = ((1e8, "亿"), (1e4, "万"))                        # yuan (and other CJK-market currencies)
WESTERN_UNITS = ((1e9, "B"), (1e6, "M"), (1e3, "K"))
CJK_CURRENCIES = frozenset({"CNY", "RMB", "JPY", "TWD", "HKD"})


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def _plain(v: float) -> str:
    """Below the first unit: whole above 100, two decimals below (a 9.90 price), 0 for zero."""
    if v == 0:
        return "0"
    return f"{v:,.0f}" if abs(v) >= 99.995 else f"{v:,.2f}"


def _scaled(x: float) -> str:
    """A figure already divided by its unit: three significant digits, thousands separated."""
    a = abs(x)
    digits = 2 if a < 9.995 else 1 if a < 99.95 else 0
    return f"{x:,.{digits}f}"


def money(v, currency: str = "CNY", western: bool = False) -> str:
    """An amount of `currency` with the unit a planner uses (module docstring): the largest
    unit the amount reaches, three significant digits (thousands separated past 999).
    `western`: K / M / B whatever the currency (a report in English)."""
    if _missing(v):
        return MISSING
    v = float(v)
    units = CJK_UNITS if currency.upper() in CJK_CURRENCIES and not western else WESTERN_UNITS
    for i, (size, name) in enumerate(units):
        if abs(v) >= size:
            shown = _scaled(v / size)
            if i and abs(_number(shown)) >= units[i - 1][0] / size:      # 9,999.99万 rounds to 1.00亿
                return _scaled(v / units[i - 1][0]) + units[i - 1][1]
            return shown + name
    plain = _plain(v)
    size, name = units[-1]
    return _scaled(v / size) + name if abs(_number(plain)) >= size else plain


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def money_unit(currency: str = "CNY", western: bool = False) -> str:
    """What a money column's header says of its unit: `元` for yuan, the code otherwise (and
    always in English: `western`)."""
    return "元" if currency.upper() in ("CNY", "RMB") and not western else currency.upper()


def amount(v, currency: str = "CNY", western: bool = False) -> str:
    """`money` with its currency: "2.39亿元", "239M USD" (`western`: "239M CNY")."""
    text = money(v, currency, western)
    if text == MISSING:
        return text
    unit = money_unit(currency, western)
    return text + unit if unit == "元" else f"{text} {unit}"


def count(v) -> str:
    """A count (visits, orders, units) as a whole number: a mean over replications is rounded."""
    if _missing(v):
        return MISSING
    x = float(v)
    return f"{int(math.copysign(math.floor(abs(x) + 0.5), x)):,d}"           # half away from zero


def clock(t, tz: str | None = None, with_date: bool = True) -> str:
    """A moment as a clock time, "11-11 00:24" (`with_date=False`: "00:24"), in `tz` when given
    (a naive time is taken as already local)."""
    import pandas as pd

    if t is None or (not isinstance(t, str) and pd.isna(t)):
        return MISSING
    ts = pd.Timestamp(t)
    if tz is not None and ts.tzinfo is not None:
        ts = ts.tz_convert(tz)
    return f"{ts:%m-%d %H:%M}" if with_date else f"{ts:%H:%M}"
