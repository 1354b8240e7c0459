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


def _read_catalogue(path: Path, shown: str) -> tuple[dict[str, dict], list[Issue]]:
    """SKU rows from a CSV catalogue: columns are SKU fields (`discount.<phase>` for phase
    discounts, `reorder_point`/`reorder_quantity`/`reorder_lead_time_hours`)."""
    issues: list[Issue] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        return {}, [Issue(shown, None, "catalogue", f"cannot read the SKU catalogue: {e.strerror}")]
    rows = list(csv.DictReader(io.StringIO(text)))
    skus: dict[str, dict] = {}
    fields = set(Sku.model_fields) | {"id", "reorder_point", "reorder_quantity", "reorder_lead_time_hours"}
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
            elif col.startswith("reorder_"):
                reorder[{"reorder_point": "point", "reorder_quantity": "quantity",
                         "reorder_lead_time_hours": "lead_time_hours"}.get(col, col)] = value
            elif col in fields:
                sku[col] = value
            else:
                from simulator.scenario.naming import did_you_mean

                issues.append(Issue(str(path.name), 1, col, f"unknown catalogue column {col!r}{did_you_mean(col, sorted(fields))}"))
        sid = sku.pop("id", None)
        if not sid:
            issues.append(Issue(path.name, n, "id", "missing SKU id"))
            continue
        if sid in skus:
            issues.append(Issue(path.name, n, "id", f"SKU id {sid!r} appears twice"))
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
    if not text.strip():
        raise ScenarioError([Issue(shown, None, "", "the file is empty; expected a scenario with meta, channels and skus")])
    try:
        doc = _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise ScenarioError([Issue(shown, line, "", f"malformed YAML: {what}")]) from None
    except YAMLError as e:
        raise ScenarioError([Issue(shown, None, "", f"malformed YAML: {e}")]) from None
    if not isinstance(doc, dict):
        raise ScenarioError([Issue(shown, 1, "", f"expected a mapping at the top (meta:, channels:, skus:), got {type(doc).__name__}")])

    data = _plain(doc)
    catalogue_issues: list[Issue] = []
    sku_src: dict[str, tuple[str, int]] = {}
    if data.get("catalogue"):
        cat_path = (base_dir or Path(".")) / str(data["catalogue"])
        rows, catalogue_issues = _read_catalogue(cat_path, shown)
        inline = data.get("skus") or {}
        merged = {}
        for sid, (row, n) in rows.items():
            merged[sid] = row
            sku_src[sid] = (cat_path.name, n)
        for sid, sku in inline.items() if isinstance(inline, dict) else []:
            merged[sid] = {**merged.get(sid, {}), **(sku or {})}
        data["skus"] = merged
    if catalogue_issues:
        raise ScenarioError(catalogue_issues)

    lines = _Lines(doc)
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        issues = issues_from(e, Scenario, shown, lines)
        fixed = []
        for i in issues:
            parts = i.path.split(".")
            if len(parts) >= 2 and parts[0] == "skus" and parts[1] in sku_src and parts[1] not in (doc.get("skus") or {}):
                file, row = sku_src[parts[1]]
                col = ".".join(parts[2:]) or "id"
                i = Issue(file, row, i.path, f"{i.message} (catalogue column {col!r})")
            fixed.append(i)
        raise ScenarioError(fixed) from None
