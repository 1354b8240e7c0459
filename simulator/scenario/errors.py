"""Readable scenario errors: file, line, field path, what was expected, nearest name."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from simulator.naming import CHANNEL_KINDS, did_you_mean, nearest


@dataclass(frozen=True)
class Issue:
    """One problem in a scenario: where it is and what is wrong."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class InputError(ValueError):
    """Input that cannot be used — a file, a value, an option, a folder. Its message says
    where, what was expected, what was found and what to do; the command line prints it and
    exits 2 (never a traceback)."""


class ScenarioError(InputError):
    """A scenario that cannot be used; `issues` lists every problem found."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class LocatedError(ValueError):
    """A cross-field error that knows the dotted path it belongs to (raised by the schema's
    validators; `describe` puts it at `loc` when set, a tuple, else at `path`)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _unwrap(annotation):
    """Strip Annotated/Optional to the concrete annotation."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _union_members(annotation) -> list:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def model_at(root: type[BaseModel], loc: tuple, field: str | None = None) -> type[BaseModel] | None:
    """The pydantic model class that sits at `loc` under `root` (None if not a model); where
    a union of models sits there, the one that has `field`."""
    current = root
    for step in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(step) if isinstance(step, str) else None
            if info is None:
                return None
            current = info.annotation
            continue
        members = _union_members(current)
        chosen = None
        for m in members:
            if isinstance(m, type) and issubclass(m, BaseModel):
                kind = m.model_fields.get("kind")
                if kind is not None and step in typing.get_args(kind.annotation):
                    chosen = m
                    break
        if chosen is None and isinstance(step, str):        # a union of models: the one with the field
            having = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)
                      and step in m.model_fields]
            if len(having) == 1:
                current = having[0].model_fields[step].annotation
                continue
        if chosen is not None:
            current = chosen
            continue
        for m in members:
            origin = typing.get_origin(m)
            if origin is dict and not isinstance(step, int):
                current = typing.get_args(m)[1]
                break
            if origin is list and isinstance(step, int):
                current = typing.get_args(m)[0]
                break
        else:
            return None
    current = _unwrap(current)
    if field is not None and not (isinstance(current, type) and issubclass(current, BaseModel)):
        having = [m for m in _union_members(current) if isinstance(m, type) and issubclass(m, BaseModel)
                  and field in m.model_fields]
        current = having[0] if len(having) == 1 else current
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


_EXPECT = {
    "greater_than": "expected a number > {gt}",
    "greater_than_equal": "expected a number ≥ {ge}",
    "less_than": "expected a number < {lt}",
    "less_than_equal": "expected a number ≤ {le}",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list",
    "datetime_parsing": "expected a date-time such as 2026-11-11 00:00",
    "datetime_from_date_parsing": "expected a date-time such as 2026-11-11 00:00",
    "datetime_type": "expected a date-time such as 2026-11-11 00:00",
    "too_short": "expected at least {min_length} item(s)",
    "too_long": "expected at most {max_length} item(s)",
    "finite_number": "expected a finite number",
    "int_parsing_size": "expected a whole number",
    "string_too_short": "expected text of at least {min_length} character(s)",
    "string_too_long": "expected text of at most {max_length} character(s)",
    "bool_type": "expected true or false",
    "date_from_datetime_parsing": "expected a date such as 2026-11-11",
    "date_parsing": "expected a date such as 2026-11-11",
    "datetime_object_invalid": "expected a date-time such as 2026-11-11 00:00",
    "enum": "expected one of {expected}",
}

_NUMERIC = {
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "float_parsing", "float_type",
    "int_parsing", "int_type", "int_from_float", "int_parsing_size", "finite_number", "wrong_scalar",
}
"""Errors of a number field: the message states the field's range and what it means."""


def _range_at(root: type[BaseModel], loc: tuple):
    """(Range, bounds, whole) of the number field at `loc` — a field, or an item of a list
    or mapping field — or None."""
    from simulator.scenario.numbers import field_range

    for cut in (1, 2):
        if len(loc) < cut:
            break
        name = loc[-cut]
        model = root if len(loc) == cut else model_at(root, loc[:-cut], name if isinstance(name, str) else None)
        if model is not None and isinstance(name, str) and name in model.model_fields:
            return field_range(model.model_fields[name])
    return None


def _shown(got) -> str:
    if isinstance(got, bool):
        return str(got).lower()
    if isinstance(got, str) and len(got) > 60:
        return repr(got[:57] + "...")
    return repr(got)


def _is_member_step(step) -> bool:
    """A step pydantic adds for a union member (`constrained-float`, `dict[str,...]`, a
    model's class name such as `Objective`, ...)."""
    return isinstance(step, str) and (
        step.startswith(("function-", "dict[", "list[", "union[", "literal[", "constrained-", "json-or-python["))
        or step in ("float", "int", "str", "bool", "datetime")
        or step in _model_names()
    )


def _model_names() -> frozenset[str]:
    """Class names of the scenario's models (a union member's step in an error location)."""
    global _MODEL_NAMES
    if _MODEL_NAMES is None:
        from simulator.scenario.numbers import Strict

        seen, todo = set(), list(Strict.__subclasses__())
        while todo:
            c = todo.pop()
            if c.__name__ not in seen:
                seen.add(c.__name__)
                todo.extend(c.__subclasses__())
        _MODEL_NAMES = frozenset(seen)
    return _MODEL_NAMES


_MODEL_NAMES: frozenset[str] | None = None


def _clean_loc(loc: tuple, root: type[BaseModel]) -> tuple:
    """Drop pydantic's union-member steps (`float`, `dict[str,...]`, tag names repeated)."""
    out: list = []
    for i, step in enumerate(loc):
        if _is_member_step(step):
            continue
        # discriminated unions repeat the tag: channels.<name>.<kind>.field
        if out and isinstance(step, str) and step != out[-1] and _is_tag(root, tuple(out), step):
            continue
        if out and step == out[-1] and _is_tag(root, tuple(out[:-1] + [out[-1]]), step):
            continue
        out.append(step)
    return tuple(out)


def _is_tag(root, loc, step) -> bool:
    parent = model_at(root, loc)
    if parent is not None:
        return False
    return step in CHANNEL_KINDS and len(loc) == 2 and loc[0] == "channels"


def describe(err: dict, root: type[BaseModel]) -> tuple[tuple, str]:
    """(cleaned location, readable message) for one pydantic error dict."""
    kind = err["type"]
    loc = _clean_loc(tuple(err["loc"]), root)
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        # the raw location keeps the channel kind, which picks the model of a tagged union
        model = model_at(root, tuple(err["loc"])[:-1]) or model_at(root, loc[:-1])
        valid = list(model.model_fields) if model else []
        return loc, f"unknown field {loc[-1]!r}{did_you_mean(str(loc[-1]), valid)}"
    if kind == "missing":
        return loc, f"missing required field {loc[-1]!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = ctx.get("tag", got.get("kind") if isinstance(got, dict) else None)
        if kind == "union_tag_not_found":
            return loc, f"missing 'kind'; expected one of {', '.join(CHANNEL_KINDS)}"
        return loc + ("kind",), (
            f"unknown channel kind {tag!r}; expected one of {', '.join(CHANNEL_KINDS)}"
            f"{did_you_mean(str(tag), CHANNEL_KINDS)}"
        )
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        names = [s.strip().strip("'") for s in expected.replace(" or ", ",").split(",") if s.strip()]
        return loc, f"expected one of {expected}, got {got!r}{did_you_mean(str(got), names)}"
    if kind == "value_error":
        exc = ctx.get("error")
        if isinstance(exc, LocatedError):
            return tuple(getattr(exc, "loc", None) or _split(exc.path)), exc.message
        text = str(exc) if exc is not None else err["msg"]
        return _field_named_first(root, loc, text)
    if kind in _NUMERIC:
        raw = tuple(step for step in err["loc"] if not _is_member_step(step))
        found = _range_at(root, raw) or _range_at(root, loc)
        if found is not None and not (kind == "wrong_scalar" and "date-time" in str(ctx.get("what"))):
            from simulator.scenario.numbers import describe_range

            note, bounds, whole = found
            if isinstance(got, dict | list):
                return loc, describe_range(note, bounds, whole)
            if isinstance(got, str) and len(got) > 60:
                got = got[:57] + "..."
            return loc, describe_range(note, bounds, whole, got)
        if kind == "wrong_scalar":
            return loc, f"expected {ctx['what']}, got {ctx['got']}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return loc, "expected a name, got empty text"
    if kind in _EXPECT:
        text = _EXPECT[kind].format(**{k: f"{v:g}" if isinstance(v, float) else v for k, v in ctx.items()})
        return loc, f"{text}, got {_shown(got)}" if not isinstance(got, dict | list) else text
    return loc, _plain_message(err["msg"])


def _plain_message(msg: str) -> str:
    """pydantic's own wording made to read like ours ("Input should be …" → "expected …")."""
    for prefix, ours in (("Input should be ", "expected "), ("Value error, ", ""), ("Assertion failed, ", "")):
        if msg.startswith(prefix):
            return ours + msg[len(prefix):]
    return msg


def _field_named_first(root: type[BaseModel], loc: tuple, text: str) -> tuple[tuple, str]:
    """A model-level check whose message starts with one of the model's fields
    (`segments: shares must ...`, `end (...) must be after start`) belongs to that field."""
    model = root if not loc else model_at(root, loc)
    m = re.match(r"([A-Za-z_]\w*)(:\s*|\s)", text)
    if model is None or m is None or m.group(1) not in model.model_fields:
        return loc, text
    return loc + (m.group(1),), text[m.end():] if m.group(2).startswith(":") else text


def _split(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in path.split(".")] if path else []


def issues_from(exc: ValidationError, root: type[BaseModel], file: str, line_of) -> list[Issue]:
    """Turn a pydantic ValidationError into located issues (deduplicated, in order)."""
    seen: dict[tuple, Issue] = {}
    notes: dict[tuple, tuple] = {}
    for err in exc.errors():
        loc, message = describe(err, root)
        issue = Issue(file, line_of(loc), ".".join(str(p) for p in loc), message)
        key = (issue.path, issue.message)
        if key not in seen:
            seen[key] = issue
            notes[key] = (err, loc)
    issues = _drop_union_alternatives(list(seen.values()), [notes[k] for k in seen], root)
    return _drop_missing_behind_typos(issues, [notes[(i.path, i.message)] for i in issues], root)


_TYPE_MISMATCH = {
    "float_parsing", "float_type", "int_parsing", "int_type", "bool_parsing", "bool_type",
    "string_type", "dict_type", "list_type", "model_type", "model_attributes_type",
    "literal_error", "datetime_parsing", "datetime_type", "datetime_from_date_parsing",
}
_CONTAINER_MISMATCH = {"dict_type", "list_type", "model_type", "model_attributes_type"}


def _drop_union_alternatives(issues: list[Issue], notes: list[tuple], root) -> list[Issue]:
    """A value tried against `float | dict` yields one error per member: keep the member the
    value was meant for. A member whose shape fits (an error deeper down, or a broken
    constraint) beats one that merely has the wrong type; between wrong types, a scalar
    message ("expected a number") beats "expected a mapping"."""
    groups: dict[tuple, list[int]] = {}
    shallow: dict[int, bool] = {}
    for n, (err, loc) in enumerate(notes):
        raw = tuple(err["loc"])
        cut = next((k for k, step in enumerate(raw) if _is_member_step(step)), None)
        if cut is None:
            continue
        at = _clean_loc(raw[:cut], root)
        groups.setdefault(at, []).append(n)
        shallow[n] = err["type"] in _TYPE_MISMATCH and loc == at
    drop: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        if any(not shallow[n] for n in members):
            drop.update(n for n in members if shallow[n])
        elif any(notes[n][0]["type"] not in _CONTAINER_MISMATCH for n in members):
            drop.update(n for n in members if notes[n][0]["type"] in _CONTAINER_MISMATCH)
    return [i for n, i in enumerate(issues) if n not in drop]


def _drop_missing_behind_typos(issues: list[Issue], notes: list[tuple], root) -> list[Issue]:
    """`base_convresion: 0.03` is one mistake: report the unknown field and its hint, not also
    the required `base_conversion` it leaves missing."""
    meant = set()
    for err, loc in notes:
        if err["type"] == "extra_forbidden":
            model = model_at(root, tuple(err["loc"])[:-1]) or model_at(root, loc[:-1])
            hit = nearest(str(loc[-1]), list(model.model_fields)) if model else None
            if hit:
                meant.add(loc[:-1] + (hit,))
    return [
        i for i, (err, loc) in zip(issues, notes) if not (err["type"] == "missing" and loc in meant)
    ]
