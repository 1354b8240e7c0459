"""Load a scenario YAML (and the CSV catalogue it names) into a validated `Scenario`.

Errors name the file, the line, the dotted field path and what was expected.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from simulator.scenario.errors import Issue, ScenarioError, issues_from
from simulator.scenario.schema import Scenario, Sku
from simulator.scenario.source import MiB, Unreadable, read_text
from simulator.scenario.yaml_limits import MAX_DEPTH, _too_deep
from simulator.scenario.yaml_limits import plain_yaml as _plain_yaml


def _yaml() -> YAML:
    """A round-trip YAML reader that keeps line numbers and leaves timestamps as text."""
    y = YAML(typ="rt")
    y.constructor.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    return y


def _quick_yaml() -> YAML:
    """The C YAML reader (ruamel.yaml.clib): five times faster than the round-trip reader,
    without line numbers; timestamps left as text, as there."""
    y = YAML(typ="safe", pure=False)
    y.constructor.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    return y


_MAYBE_TAG = re.compile(r"(?:^|[\s\[{,])!")


def _quick_load(text: str) -> Scenario | None:
    """The plan, when the text is a valid scenario without a catalogue, read by the C reader;
    None for anything else — the round-trip reader then reads it again and names every
    problem with its line. Both readers resolve YAML 1.2 alike, so a plan read here is the
    plan read there."""
    if _MAYBE_TAG.search(text):
        return None               # explicit tags (`!!str 1`): the round-trip reader keeps them, this one does not
    try:
        doc = _quick_yaml().load(text)
        if not isinstance(doc, dict) or doc.get("catalogue") or _needs_fit_sample(doc):
            return None
        return Scenario.model_validate(_plain_yaml(doc, "<scenario>"))
    except Exception:  # noqa: BLE001 - any problem is found and named by the round-trip reader
        return None


def _needs_fit_sample(doc) -> bool:
    """Whether the `uncertainty:` block names a fit sample to read (`from:` without the draws
    themselves; a plan promosim serializes from scratch carries them as `sample:`)."""
    unc = doc.get("uncertainty")
    return isinstance(unc, dict) and unc.get("from") is not None and unc.get("sample") is None


MAX_FIT_SAMPLE_BYTES = 64 * MiB
"""A fit sample is at most this large (1,000 draws of 20 parameters is 400 KB)."""

MAX_SCENARIO_BYTES = 16 * MiB
"""A scenario file is at most this large (the bundled Double 11 is 30 KB)."""

MAX_CATALOGUE_BYTES = 256 * MiB
"""A SKU catalogue is at most this large (a million SKUs at 256 bytes a row)."""

def plain_yaml(doc, shown: str, path: str = "") -> object:
    """`yaml_limits.plain_yaml` with the line of the offending top-level key."""
    return _plain_yaml(doc, shown, path, line_of=lambda key: _Lines(doc)((key,)))


class _Lines:
    """Maps a dotted location to its line in the YAML document (1-based)."""

    def __init__(self, doc, sku_lines: dict[str, tuple[str, int]] | None = None):
        self.doc = doc
        self.sku_lines = sku_lines or {}

    def __call__(self, loc: tuple) -> int | None:
        node, line = self.doc, 1
        for step in loc:
            lc = getattr(node, "lc", None)
            if isinstance(node, dict) and step in node:
                if lc is not None:
                    line = lc.key(step)[0] + 1
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                if lc is not None:
                    line = lc.item(step)[0] + 1
                node = node[step]
            else:
                break
        return line


_REORDER_COLUMNS = {"reorder_point": "point", "reorder_quantity": "quantity",
                    "reorder_lead_time_hours": "lead_time_hours"}


def _read_catalogue(
    path: Path, shown: str, line: int | None = None
) -> tuple[dict[str, dict], list[Issue]]:
    """SKU rows from a CSV catalogue: columns are SKU fields (`discount.<phase>` for phase
    discounts, `reorder_point`/`reorder_quantity`/`reorder_lead_time_hours`).

    Issues name the CSV file (as `path` is written) and its line; `line` is the line of
    `catalogue:` in the scenario `shown`, for a file that cannot be read."""
    issues: list[Issue] = []
    try:
        text = read_text(path, "a SKU catalogue (CSV: a header line id,price,... and a row per SKU)", MAX_CATALOGUE_BYTES)
    except Unreadable as e:
        if e.line is not None:
            return {}, [Issue(str(path), e.line, "", e.message)]
        return {}, [Issue(shown, line, "catalogue", f"the SKU catalogue {str(path)!r} {e.message}"
                          if not e.message.startswith(("no such", "cannot")) else
                          f"cannot read the SKU catalogue {str(path)!r}: {e.message}")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as e:
        return {}, [Issue(str(path), reader.line_num, "", f"malformed CSV: {e}")]
    if not reader.fieldnames:
        return {}, [Issue(str(path), None, "", "the catalogue is empty; expected a header line (id,price,...) "
                          "and a row per SKU")]
    skus: dict[str, dict] = {}
    fields = set(Sku.model_fields) | {"id", *_REORDER_COLUMNS}
    from simulator.naming import did_you_mean

    seen: set[str] = set()
    header: list[Issue] = []          # a header that cannot be read column by column
    for j, col in enumerate(reader.fieldnames):
        col = (col or "").strip()
        if not col:
            header.append(Issue(str(path), 1, "", f"column {j + 1} of the header has no name"))
        elif col in seen:
            header.append(Issue(str(path), 1, col, f"column {col!r} appears twice in the header; "
                                "expected each column once (which one holds the values?)"))
        elif not col.startswith("discount.") and col not in fields:
            hint = did_you_mean(col, sorted(fields))
            issues.append(Issue(str(path), 1, col, f"unknown catalogue column {col!r}{hint}"))
        seen.add(col)
    if header:
        return {}, header + issues
    for n, row in enumerate(rows, start=2):
        sku: dict = {}
        reorder: dict = {}
        discount: dict = {}
        for col, value in row.items():
            if col is None or value is None or value == "":
                continue
            col = col.strip()
            if col.startswith("discount."):
                discount[col.split(".", 1)[1]] = value
            elif col in _REORDER_COLUMNS:
                reorder[_REORDER_COLUMNS[col]] = value
            elif col in fields:
                sku[col] = value
        sid = sku.pop("id", None)
        if not sid:
            issues.append(Issue(str(path), n, "id", "missing SKU id"))
            continue
        if sid in skus:
            issues.append(Issue(str(path), n, "id", f"SKU id {sid!r} appears twice"))
        if discount:
            if "discount" in sku:
                discount.setdefault("default", sku["discount"])
            sku["discount"] = discount
        if reorder:
            sku["reorder"] = reorder
        skus[sid] = (sku, n)
    return skus, issues


def _read_fit_sample(unc: dict, base_dir: Path | None, shown: str, lines: _Lines) -> list[Issue]:
    """Read the fit sample `unc["from"]` names (relative to the scenario's folder) into
    `unc["sample"]`; the issues of a missing or unreadable file, or of one that is not a fit
    sample, named by that file (or by the `from:` line of the scenario)."""
    import json
    import math

    line = lines(("uncertainty", "from"))
    if not isinstance(unc.get("from"), str) or not unc["from"].strip():
        return []                                           # the schema names what from: expects
    path = (base_dir or Path(".")) / unc["from"]
    if path.is_dir() and (path / "fit_sample.json").is_file():
        return [Issue(shown, line, "uncertainty.from", f"{unc['from']!r} is a calibration's folder; name the "
                      f"fit sample inside it: from: {Path(unc['from'], 'fit_sample.json').as_posix()}")]
    if path.name == "fit.json" and (path.parent / "fit_sample.json").is_file():
        return [Issue(shown, line, "uncertainty.from", "fit.json holds the fitted values, not their joint "
                      f"sample; name the file beside it: from: {Path(unc['from']).with_name('fit_sample.json').as_posix()}")]
    what = "a calibration's fit sample (fit_sample.json, written by promosim calibrate)"
    try:
        text = read_text(path, what, MAX_FIT_SAMPLE_BYTES)
    except Unreadable as e:
        if e.message.startswith("no such file"):
            message = (f"{e.message}: {str(path)!r}; expected {what} (run promosim calibrate to write one; "
                       "from: is relative to this scenario's folder)")
        else:
            message = f"the fit sample {str(path)!r} {e.message}"
        return [Issue(shown, line, "uncertainty.from", message)]
    def bad(message: str) -> list[Issue]:
        return [Issue(shown, line, "uncertainty.from", f"the fit sample {str(path)!r}: {message}")]

    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        at = f" at line {e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        return bad(f"not JSON ({getattr(e, 'msg', e)}{at}); expected {what}")
    if not isinstance(doc, dict) or not {"parameters", "draws"} <= set(doc):
        return bad(f"expected {what}: an object with parameters and draws")
    params, draws = doc["parameters"], doc["draws"]
    if not isinstance(params, list) or not params or not all(isinstance(p, str) and p for p in params):
        return bad("parameters: expected a list of the fitted parameters' paths")
    if not isinstance(draws, list) or not draws:
        return bad("draws: the sample is empty (no draws); run promosim calibrate again without --sample 0")
    for i, row in enumerate(draws):
        if (not isinstance(row, list) or len(row) != len(params)
                or not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in row)):
            return bad(f"draws.{i}: expected {len(params)} finite numbers, one per parameter")
    unc["sample"] = {"method": str(doc.get("method", "")), "fit": doc.get("fit") if isinstance(doc.get("fit"), dict)
                     else {}, "parameters": params, "draws": draws}
    return []


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises `ScenarioError` listing every problem."""
    path = Path(path)
    shown = str(path)
    try:
        text = read_text(path, "a scenario YAML file", MAX_SCENARIO_BYTES)
    except Unreadable as e:
        raise ScenarioError([Issue(shown, e.line, "", e.message)]) from None
    return parse_scenario(text, shown, base_dir=path.parent)


def parse_scenario(text: str, shown: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate scenario YAML text; `shown` names it in errors, `base_dir` resolves the catalogue."""
    empty = ScenarioError(
        [Issue(shown, None, "", "the file is empty; expected a scenario with meta, channels and skus")]
    )
    if not text.strip():
        raise empty
    if "\0" in text:
        line = text[:text.index("\0")].count("\n") + 1
        raise ScenarioError([Issue(shown, line, "", "a NUL byte (binary data); expected YAML text")])
    deep = _too_deep(text)
    if deep is not None:
        raise ScenarioError([Issue(shown, deep, "", f"brackets nest deeper than {MAX_DEPTH} levels; a scenario "
                                   "nests a few levels")])
    quick = _quick_load(text)
    if quick is not None:
        return quick
    try:
        doc = _yaml().load(text)
    except RecursionError:
        raise ScenarioError([Issue(shown, None, "", f"the YAML nests deeper than Python can read; a scenario "
                                   f"nests a few levels (at most {MAX_DEPTH})")]) from None
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise ScenarioError([Issue(shown, line, "", f"malformed YAML: {what}")]) from None
    except YAMLError as e:
        raise ScenarioError([Issue(shown, None, "", f"malformed YAML: {e}")]) from None
    if doc is None:
        raise empty  # nothing but comments
    if not isinstance(doc, dict):
        got = "a list" if isinstance(doc, list) else "text" if isinstance(doc, str) else repr(doc)
        message = f"expected a mapping at the top (meta:, channels:, skus:), got {got}"
        raise ScenarioError([Issue(shown, 1, "", message)])

    data = plain_yaml(doc, shown)
    catalogue_issues: list[Issue] = []
    sku_src: dict[str, tuple[str, int]] = {}
    if data.get("catalogue"):
        cat_path = (base_dir or Path(".")) / str(data["catalogue"])
        rows, catalogue_issues = _read_catalogue(cat_path, shown, _Lines(doc)(("catalogue",)))
        inline = data.get("skus") or {}
        merged = {}
        for sid, (row, n) in rows.items():
            merged[sid] = row
            sku_src[sid] = (str(cat_path), n)
        for sid, sku in inline.items() if isinstance(inline, dict) else []:
            merged[sid] = {**merged.get(sid, {}), **sku} if isinstance(sku, dict) else sku
        data["skus"] = merged
        if catalogue_issues and not rows:
            raise ScenarioError(catalogue_issues)  # nothing read: checking SKUs only adds noise

    lines = _Lines(doc)
    if _needs_fit_sample(data):
        issues = _read_fit_sample(data["uncertainty"], base_dir, shown, lines)
        if issues:
            raise ScenarioError(issues)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        issues = issues_from(e, Scenario, shown, lines)
        fixed = []
        inline = doc.get("skus") if isinstance(doc.get("skus"), dict) else {}
        for i in issues:
            parts = i.path.split(".")
            if len(parts) >= 2 and parts[0] == "skus" and parts[1] in sku_src:
                written = inline.get(parts[1])
                if isinstance(written, dict) and (len(parts) == 2 or parts[2] in written):
                    fixed.append(i)  # the value comes from the scenario file, whose line is right
                    continue
                file, row = sku_src[parts[1]]
                col = ".".join(parts[2:]) or "id"
                if parts[2:3] == ["reorder"] and len(parts) > 3:
                    col = f"reorder_{parts[3]}"
                i = Issue(file, row, i.path, f"{i.message} (catalogue column {col!r})")
            fixed.append(i)
        raise ScenarioError(catalogue_issues + fixed) from None
    if catalogue_issues:
        raise ScenarioError(catalogue_issues)
    return scenario


def locate(error: ScenarioError, path: str | Path) -> ScenarioError:
    """`error` with its issues that name no file (`<scenario>`: found after load, by an
    engine that cannot play a block) placed in the scenario file `path`, at their line."""
    if not any(i.file == "<scenario>" for i in error.issues):
        return error
    return ScenarioError(place(error.issues, path))


def place(issues: list[Issue], path: str | Path) -> list[Issue]:
    """`issues` with those that name no file (`<scenario>`) placed in the scenario file `path`
    at the line of their field — or, for a field of a SKU read from the catalogue, in the
    catalogue at the SKU's row. The file is read again only when some issue needs it."""
    if not any(i.file == "<scenario>" for i in issues):
        return list(issues)
    path = Path(path)
    try:
        doc = _yaml().load(read_text(path, "a scenario YAML file", MAX_SCENARIO_BYTES))
        lines = _Lines(doc) if isinstance(doc, dict) else None
    except Exception:  # noqa: BLE001 - the file changed meanwhile: name it without a line
        doc, lines = None, None
    rows = _catalogue_rows(doc, path)

    def where(p: str) -> tuple[str, int | None]:
        parts = p.split(".")
        if parts[0] == "skus" and len(parts) > 1 and parts[1] in rows:
            inline = doc.get("skus") if isinstance(doc.get("skus"), dict) else {}
            written = inline.get(parts[1])
            if not (isinstance(written, dict) and (len(parts) == 2 or parts[2] in written)):
                return rows[parts[1]]
        if lines is None or not p:
            return str(path), None
        return str(path), lines(tuple(int(k) if k.isdigit() else k for k in parts))

    return [Issue(*where(i.path), i.path, i.message) if i.file == "<scenario>" else i for i in issues]


def _catalogue_rows(doc, path: Path) -> dict[str, tuple[str, int]]:
    """SKU id → (catalogue file, row) of the catalogue `doc` names (empty: none, or unreadable)."""
    if not isinstance(doc, dict) or not doc.get("catalogue"):
        return {}
    cat = path.parent / str(doc["catalogue"])
    rows, _ = _read_catalogue(cat, str(path))
    return {sid: (str(cat), n) for sid, (_, n) in rows.items()}
