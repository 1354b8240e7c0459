"""Load a scenario YAML (and the CSV catalogue it names) into a validated `Scenario`.

Errors name the file, the line, the dotted field path and what was expected.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from simulator.scenario.errors import Issue, ScenarioError, issues_from
from simulator.scenario.schema import Scenario, Sku


def _yaml() -> YAML:
    """A round-trip YAML reader that keeps line numbers and leaves timestamps as text."""
    y = YAML(typ="rt")
    y.constructor.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    return y


def _plain(node):
    """ruamel's commented containers → plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, int | float) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if hasattr(node, "real") and type(node).__module__.startswith("ruamel"):
        return float(node) if isinstance(node, float) else int(node)
    if type(node).__module__.startswith("ruamel") and isinstance(node, str):
        return str(node)
    return node


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
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        message = f"cannot read the SKU catalogue {str(path)!r}: {e.strerror}"
        return {}, [Issue(shown, line, "catalogue", message)]
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    skus: dict[str, dict] = {}
    fields = set(Sku.model_fields) | {"id", *_REORDER_COLUMNS}
    from simulator.naming import did_you_mean

    for col in reader.fieldnames or []:
        col = col.strip()
        if not col.startswith("discount.") and col not in fields:
            hint = did_you_mean(col, sorted(fields))
            issues.append(Issue(str(path), 1, col, f"unknown catalogue column {col!r}{hint}"))
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


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises `ScenarioError` listing every problem."""
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Issue(shown, None, "", "no such file")]) from None
    except OSError as e:
        raise ScenarioError([Issue(shown, None, "", f"cannot read: {e.strerror}")]) from None
    return parse_scenario(text, shown, base_dir=path.parent)


def parse_scenario(text: str, shown: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate scenario YAML text; `shown` names it in errors, `base_dir` resolves the catalogue."""
    empty = ScenarioError(
        [Issue(shown, None, "", "the file is empty; expected a scenario with meta, channels and skus")]
    )
    if not text.strip():
        raise empty
    try:
        doc = _yaml().load(text)
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

    data = _plain(doc)
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
