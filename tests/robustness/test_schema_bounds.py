"""Every number and every time a scenario holds is checked for the whole class, not the one
example: each number field of every scenario model (the calibrate and optimize blocks, rules,
promotions, auctions included — and any field added later) states a range with both ends and
a meaning, is finite, and refuses a boolean; each date-time field refuses a number."""

from __future__ import annotations

import datetime as dt
import typing

import pytest
from pydantic import BaseModel, ValidationError

from simulator.scenario.numbers import NUMBER_GUARD, TIME_GUARD, Strict, _members, field_range
from simulator.scenario.schema import Scenario


def _models() -> list[type[BaseModel]]:
    """Every model a scenario can hold: walked from `Scenario` through its fields' types (so a
    model with a base class of its own is found too)."""
    seen: dict[str, type[BaseModel]] = {}
    todo: list = [Scenario]
    while todo:
        t = todo.pop()
        if isinstance(t, type) and issubclass(t, BaseModel):
            if t.__name__ in seen:
                continue
            seen[t.__name__] = t
            todo.extend(f.annotation for f in t.model_fields.values())
            continue
        todo.extend(typing.get_args(t))
    return sorted(seen.values(), key=lambda c: c.__name__)


MODELS = _models()


def _leaves(annotation) -> list:
    """Scalar types at the bottom of an annotation (through unions, lists and mappings)."""
    out = []
    for m in _members(annotation):
        origin = typing.get_origin(m)
        if origin in (list, dict, tuple):
            for a in typing.get_args(m)[-1:]:
                out.extend(_leaves(a))
        else:
            out.append(m)
    return out


def _guards(field) -> set:
    """The before-validators of a field and of the types inside it."""
    found = set(m for m in field.metadata if m in (NUMBER_GUARD, TIME_GUARD))

    def walk(annotation):
        if typing.get_origin(annotation) is typing.Annotated:
            found.update(m for m in typing.get_args(annotation)[1:] if m in (NUMBER_GUARD, TIME_GUARD))
        for a in typing.get_args(annotation):
            walk(a)
    walk(field.annotation)
    return found


def number_fields():
    out = []
    for m in MODELS:
        for name, f in m.model_fields.items():
            leaves = _leaves(f.annotation)
            if any(t in (int, float) for t in leaves) and bool not in leaves:
                out.append((m, name))
    return out


def time_fields():
    return [(m, name) for m in MODELS for name, f in m.model_fields.items() if dt.datetime in _leaves(f.annotation)]


def test_the_walk_finds_the_models_and_fields():
    names = {m.__name__ for m in MODELS}
    assert {"Scenario", "Meta", "Sku", "Coupon", "FlashSale", "AdGroup", "Rule", "Optimize", "Calibrate",
            "HistorySpec", "Variable", "Parameter"} <= names
    assert len(number_fields()) > 80 and len(time_fields()) > 20


@pytest.mark.parametrize(("model", "name"), number_fields(), ids=[f"{m.__name__}.{n}" for m, n in number_fields()])
def test_every_number_field_states_a_bounded_range_and_refuses_a_boolean(model, name):
    field = model.model_fields[name]
    found = field_range(field)
    assert found is not None, f"{model.__name__}.{name}: no Range (use a type of simulator.scenario.numbers)"
    note, bounds, _ = found
    assert note.unit, f"{model.__name__}.{name}: the range says what the number is"
    assert ("ge" in bounds or "gt" in bounds) and ("le" in bounds or "lt" in bounds), \
        f"{model.__name__}.{name}: both ends of the range are stated, got {bounds}"
    assert NUMBER_GUARD in _guards(field), f"{model.__name__}.{name}: a boolean would be read as 1"


@pytest.mark.parametrize(("model", "name"), time_fields(), ids=[f"{m.__name__}.{n}" for m, n in time_fields()])
def test_every_time_field_refuses_a_number(model, name):
    assert TIME_GUARD in _guards(model.model_fields[name]), f"{model.__name__}.{name}: 20261110 would be a Unix time"


def test_every_model_is_strict_and_accepts_no_non_finite_number():
    for m in MODELS:
        assert issubclass(m, Strict), f"{m.__name__}: derive it from simulator.scenario.numbers.Strict"
        assert m.model_config.get("allow_inf_nan") is False, m.__name__
        assert m.model_config.get("extra") == "forbid", m.__name__


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e300, True, -1e300])
def test_a_hostile_number_anywhere_in_a_sku_is_refused(value, minimal):
    """Every number field of a SKU, one at a time, given a hostile value: refused with the range."""
    from simulator.scenario import ScenarioError

    base = minimal.model_dump(mode="python")
    for name in ("price", "unit_cost", "base_conversion", "elasticity", "attractiveness", "units_per_order",
                 "stock", "return_rate", "return_rate_per_discount", "salvage_value", "promo_lift", "discount"):
        data = {**base, "skus": {**base["skus"], "lipstick": {**base["skus"]["lipstick"], name: value}}}
        with pytest.raises(ScenarioError) as info:
            minimal.with_overrides({f"skus.lipstick.{name}": value})
        assert "expected" in str(info.value) and "Input should" not in str(info.value), str(info.value)
        with pytest.raises(ValidationError):
            Scenario.model_validate(data)
