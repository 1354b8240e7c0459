"""Numbers and times a planner writes, and the base of every scenario model.

Every number in a scenario is finite, lies in a stated range with a physical meaning, and
has the type its field means: `stock: true` is not 1, `start: 20261110` is not a Unix time,
`visits_per_hour: .inf` and `price: 1.7e308` are refused at load with the range in the
message (`expected a number from 0 to 10⁹ (visits per hour), got 1e+12`). The ranges are
wide — far beyond any real store — and exist so that no value that passes validation can
break a run (an overflow, a non-finite KPI, an allocation of terabytes).

`Strict` is the base of every scenario model: unknown fields rejected, values frozen,
non-finite numbers refused. The named number types below (`Volume`, `Count`, `UnitMoney` …)
refuse a boolean, carry their range in the JSON Schema (`promosim schema`) and a `Range`
note that error messages quote; `When` refuses a number where a date-time is meant.
"""

from __future__ import annotations

import datetime as dt
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class Range:
    """What a number means, for messages: `unit` ("visits per hour"), `why` (what the upper
    end stands for, optional)."""

    unit: str
    why: str = ""


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def show(x: float) -> str:
    """A bound as a planner reads it: 1,000 · 10⁹ · 0.5 · 2⁶³ − 1."""
    if x == 2**63 - 1:
        return "2⁶³ − 1"
    if x < 0:
        return "−" + show(-x)
    if x >= 1e6 and float(x) == 10.0 ** round(math.log10(x)):
        return "10" + str(round(math.log10(x))).translate(_SUPERSCRIPT)
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:g}"


# ------------------------------------------------------------------ types
def _not_a_bool(value):
    """YAML `true` is not 1: refuse a boolean where a number is meant."""
    if isinstance(value, bool):
        raise PydanticCustomError("wrong_scalar", "expected {what}, got {got}",
                                  {"what": "a number", "got": str(value).lower()})
    return value


def _not_a_number(value):
    """`start: 20261110` is not a Unix time: refuse a number where a date-time is meant."""
    if isinstance(value, int | float):
        raise PydanticCustomError("wrong_scalar", "expected {what}, got {got}",
                                  {"what": "a date-time such as 2026-11-11 00:00 (a number is not a time)",
                                   "got": repr(value) if not isinstance(value, bool) else str(value).lower()})
    return value


NUMBER_GUARD = BeforeValidator(_not_a_bool)
"""In the metadata of every number type of a scenario (a test checks that no number field
lacks it)."""

TIME_GUARD = BeforeValidator(_not_a_number)

When = Annotated[dt.datetime, TIME_GUARD]
"""A wall-clock date-time in `meta.timezone` (or with its own UTC offset)."""


def _members(annotation) -> list:
    """The alternatives of an annotation, Annotated and Optional stripped (recursively)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def bounded(*, gt=None, ge=None, lt=None, le=None, unit: str, why: str = "", whole: bool = False):
    """A number type: finite, never a boolean, in the stated range; `unit` and `why` (what the
    top stands for) are quoted by error messages."""
    return Annotated[int if whole else float, NUMBER_GUARD, Field(gt=gt, ge=ge, lt=lt, le=le), Range(unit, why)]


MAX_PEOPLE = 1e10
"""More people than live on Earth (about 8.2 × 10⁹ in 2025)."""

# -- volumes and counts
Volume = bounded(ge=0, le=1e9, unit="visits, clicks, impressions or auctions per hour",
              why="more than a whole platform's busiest hour")
Count = bounded(ge=0, le=10**12, unit="units", why="a trillion units of one thing", whole=True)
PositiveCount = bounded(gt=0, le=10**12, unit="units", why="a trillion units of one thing", whole=True)
People = bounded(ge=0, le=MAX_PEOPLE, unit="people", why="more people than live on Earth")
PositivePeople = bounded(gt=0, le=MAX_PEOPLE, unit="people", why="more people than live on Earth")
WholePeople = bounded(ge=0, le=int(MAX_PEOPLE), unit="people", why="more people than live on Earth", whole=True)
PositiveWholePeople = bounded(gt=0, le=int(MAX_PEOPLE), unit="people", why="more people than live on Earth",
                           whole=True)
OrdersPerDay = bounded(gt=0, le=1e9, unit="orders per day", why="a billion orders a day")

# -- money (in meta.currency)
UnitMoney = bounded(ge=0, le=1e8, unit="money per unit", why="a hundred million for one unit, click or message")
PositiveUnitMoney = bounded(gt=0, le=1e8, unit="money per unit", why="a hundred million for one unit, click or message")
Budget = bounded(ge=0, le=1e12, unit="money", why="a trillion")
PositiveMoney = bounded(gt=0, le=1e13, unit="money", why="ten trillion")

# -- factors and shapes
Factor = bounded(ge=0, le=1e3, unit="a multiplier", why="a thousandfold")
PositiveFactor = bounded(gt=0, le=1e3, unit="a multiplier", why="a thousandfold")
Weight = bounded(ge=0, le=1e9, unit="a relative weight")
PositiveWeight = bounded(gt=0, le=1e9, unit="a relative weight")
Elasticity = bounded(ge=-100, lt=0, unit="a price elasticity; real ones lie between −5 and −0.5")
Exponent = bounded(ge=0, le=10, unit="an exponent")
LogSpread = bounded(ge=0, le=10, unit="a log-standard deviation", why="e¹⁰ is a spread of 22,000-fold")
UnitsPerOrder = bounded(ge=1, le=1e4, unit="units per order")
Prob = bounded(ge=0, le=1, unit="a probability")
Discount = bounded(ge=0, lt=1, unit="a fraction off the list price")
Share = bounded(ge=0, le=1, unit="a share")
OpenShare = bounded(gt=0, lt=1, unit="a share strictly between 0 and 1")

# -- time
Minutes = bounded(gt=0, le=525_600, unit="minutes", why="a year")
NonNegMinutes = bounded(ge=0, le=525_600, unit="minutes", why="a year")
Hours = bounded(ge=0, le=87_600, unit="hours", why="ten years")
TickMinutes = bounded(gt=0, le=10_080, unit="minutes", why="a week", whole=True)

# -- run settings
Seed = bounded(ge=0, le=2**63 - 1, unit="a seed", whole=True)
Replications = bounded(gt=0, le=1_000_000, unit="replications", whole=True)
Trials = bounded(gt=0, le=1_000_000, unit="trials", whole=True)
Finite = bounded(ge=-1e15, le=1e15, unit="then checked against the field it sets")


class Strict(BaseModel):
    """Base of every scenario model: unknown fields rejected, values frozen, numbers finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def field_range(field) -> tuple[Range, dict, bool] | None:
    """`range_of` for a pydantic `FieldInfo` (whose own constraints sit in `metadata`)."""
    note = next((m for m in field.metadata if isinstance(m, Range)), None)
    if note is not None:
        members = _members(field.annotation)
        return note, _bounds(field.metadata), int in members and float not in members
    return range_of(field.annotation)


def _bounds(meta) -> dict:
    out = {}
    for m in meta:
        for obj in (m, *getattr(m, "metadata", [])):
            for k in ("gt", "ge", "lt", "le"):
                v = getattr(obj, k, None)
                if v is not None:
                    out[k] = v
    return out


def range_of(annotation) -> tuple[Range, dict, bool] | None:
    """The `Range` note, the bounds (gt/ge/lt/le) and whether it is a whole number, of the
    first bounded number in `annotation` (through Optional, unions, lists and mappings)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        note = next((m for m in meta if isinstance(m, Range)), None)
        if note is not None:
            return note, _bounds(meta), base is int
        return range_of(base)
    for a in typing.get_args(annotation):
        found = range_of(a)
        if found is not None:
            return found
    return None


def describe_range(note: Range, bounds: dict, whole: bool, got=None) -> str:
    """`expected a whole number from 0 to 10⁹ (units), got 1e+26: 10⁹ is already a billion
    units of one thing` — what the top stands for is said when `got` lies above it."""
    lo = bounds.get("ge", bounds.get("gt"))
    hi = bounds.get("le", bounds.get("lt"))
    kind = "a whole number" if whole else "a number"
    if lo is not None and hi is not None:
        span = {(False, False): f"from {show(lo)} to {show(hi)}",
                (False, True): f"from {show(lo)} up to but not including {show(hi)}",
                (True, False): f"above {show(lo)}, up to {show(hi)}",
                (True, True): f"between {show(lo)} and {show(hi)}, both excluded"}["gt" in bounds, "lt" in bounds]
    elif lo is not None:
        span = f"{'above' if 'gt' in bounds else 'at least'} {show(lo)}"
    else:
        span = f"{'below' if 'lt' in bounds else 'at most'} {show(hi)}"
    text = f"expected {kind} {span} ({note.unit})"
    if got is None:
        return text
    shown = str(got).lower() if isinstance(got, bool) else repr(got)
    if isinstance(got, float) and len(shown) > 12:
        shown = f"{got:.6g}"
    text = f"{text}, got {shown}"
    above = isinstance(got, int | float) and not isinstance(got, bool) and hi is not None and got >= hi
    if above and note.why and math.isfinite(got):
        text += f": {show(hi)} is already {note.why}"
    return text


# ------------------------------------------------------------------- time zones and times
_HOST_ZONES = {"localtime": "the host's own zone", "Factory": "a placeholder zone of the tz database",
               "posixrules": "the tz database's default rules"}


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone that means the same on every machine, else a
    ValueError: `localtime` follows the host (results would depend on the machine),
    `right/…` zones count leap seconds, `Factory` and `posixrules` are not places."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name in _HOST_ZONES:
        raise ValueError(f"time zone {name!r} is {_HOST_ZONES[name]}: results would depend on the machine; "
                         "give an IANA name such as 'Asia/Shanghai' or 'America/New_York'")
    if name.startswith("right/"):
        raise ValueError(f"time zone {name!r} counts leap seconds, unlike the clocks of a shop; write "
                         f"{name[6:]!r}")
    if name.startswith("posix/"):
        raise ValueError(f"time zone {name!r} is a copy of {name[6:]!r}; write {name[6:]!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        from zoneinfo import available_timezones

        from simulator.naming import did_you_mean

        hint = did_you_mean(name, sorted(available_timezones() - set(_HOST_ZONES)))
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'Asia/Shanghai'){hint}") from None
    return name


def wall_time_problem(t: dt.datetime, zone: str) -> str | None:
    """Why the wall-clock time `t` (naive) is not one instant in `zone`, or None: a time a
    daylight-saving change skips does not exist, one it repeats happens twice."""
    from zoneinfo import ZoneInfo

    if t.tzinfo is not None:
        return None
    tz = ZoneInfo(zone)
    first, second = t.replace(tzinfo=tz, fold=0), t.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    when = t.strftime("%Y-%m-%d %H:%M")

    def offset(x: dt.datetime) -> str:
        s = x.strftime("%z")
        return f"{s[:3]}:{s[3:]}"

    if first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != t:
        before = (first - dt.timedelta(hours=3)).astimezone(tz)
        after = (first + dt.timedelta(hours=3)).astimezone(tz)
        return (f"{when} does not exist in {zone}: a daylight-saving change skips it (the clocks go from "
                f"UTC{offset(before)} to UTC{offset(after)} that night); write a time outside the gap")
    return (f"{when} happens twice in {zone}: a daylight-saving change repeats it; write it with its UTC "
            f"offset: {when}{offset(first)} (the first) or {when}{offset(second)} (the second)")
