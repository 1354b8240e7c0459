"""`best_plan.yaml`: the planner's own scenario file with the best decisions applied.

The original file is read with ruamel's round-trip loader, each decided value is set at its
path (every match of a wildcard; a single-number `discount` set for one phase becomes a
`{default: old, phase: new}` mapping, as `with_overrides` does; a SKU that comes from the CSV
catalogue gets an inline entry, which the loader merges over the catalogue row), relative paths
(`catalogue:`, `uncertainty.from:`) are rewritten for the new location, and the file is written
atomically. Comments and key order are kept; lines that ruamel would merely re-wrap (long flow mappings) are kept as
the planner wrapped them. The written file is loaded back and must give the evaluated plan.
"""

from __future__ import annotations

import difflib
import io
import os
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from simulator.files import atomic_write_text
from simulator.scenario.schema import Scenario


def _yaml(text: str) -> YAML:
    _, seq_indent, offset = load_yaml_guess_indent(text)
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=seq_indent or 2, offset=offset or 0)
    return y


def _flow(value):
    """Plain data as ruamel nodes (mappings and lists in flow style: `{a: 1, b: 2}`)."""
    if isinstance(value, dict):
        m = CommentedMap((k, _flow(v)) for k, v in value.items())
        m.fa.set_flow_style()
        return m
    if isinstance(value, list):
        s = CommentedSeq(_flow(v) for v in value)
        s.fa.set_flow_style()
        return s
    return value


def _get(data, loc):
    for k in loc:
        data = data[k]
    return data


def set_in_doc(doc, loc: tuple, value, best: dict) -> None:
    """Set `value` at `loc` in the round-trip document `doc`; where the document lacks a step
    (or holds a single value where a mapping is needed), write the whole sub-tree from `best`
    (the evaluated plan as plain data)."""
    node = doc
    for i, step in enumerate(loc[:-1]):
        here = loc[: i + 1]
        if isinstance(node, dict) and isinstance(node.get(step), dict | list):
            node = node[step]
            continue
        if isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            continue
        if isinstance(node, dict) and step not in node and (here == ("skus",) or here[:1] == ("skus",) and i == 1):
            node[step] = CommentedMap()     # an inline entry over a catalogue row
            node = node[step]
            continue
        node[step] = _flow(_get(best, here))  # a single number becoming a mapping, a missing part
        return
    old = node.get(loc[-1]) if isinstance(node, dict) else node[loc[-1]]
    if isinstance(old, int) and not isinstance(old, bool) and isinstance(value, float) and value.is_integer():
        value = int(value)                      # 1000000, not 1000000.0, where the planner wrote an int
    node[loc[-1]] = value


def _keep_wrapping(original: str, written: str) -> str:
    """Where `written` differs from `original` only by line wrapping, keep the original lines."""
    a, b = original.splitlines(keepends=True), written.splitlines(keepends=True)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal" or (op == "replace" and "".join(a[i1:i2]).split() == "".join(b[j1:j2]).split()):
            out.extend(a[i1:i2])
        else:
            out.extend(b[j1:j2])
    return "".join(out)


def plan_text(source: Path | None, plan_locs: list[tuple[tuple, object]], best: Scenario,
              out_dir: Path) -> str:
    """The text of the best plan: `source` (the planner's file) with `plan_locs` set, or the
    plan serialized from scratch when there is no source file."""
    best_data = best.model_dump(mode="json")
    if source is None:
        y = YAML(typ="rt")
        y.width = 100
        buf = io.StringIO()
        data = {k: v for k, v in best_data.items() if v is not None}
        y.dump(data, buf)
        return buf.getvalue()
    text = Path(source).read_text(encoding="utf-8")
    y = _yaml(text)
    doc = y.load(text)
    for loc, value in plan_locs:
        set_in_doc(doc, loc, value, best_data)
    cat = doc.get("catalogue")
    if cat and not os.path.isabs(str(cat)):
        doc["catalogue"] = _moved(source, str(cat), out_dir)
    unc = doc.get("uncertainty")
    if isinstance(unc, dict) and isinstance(unc.get("from"), str) and not os.path.isabs(unc["from"]):
        unc["from"] = _moved(source, unc["from"], out_dir)      # the fit sample, from the new folder
    buf = io.StringIO()
    y.dump(doc, buf)
    return _keep_wrapping(text, buf.getvalue())


def _moved(source: Path, relative: str, out_dir: Path) -> str:
    """`relative` (a path written in the file `source`) as written from `out_dir`."""
    target = (Path(source).parent / relative).resolve()
    return Path(os.path.relpath(target, Path(out_dir).resolve())).as_posix()


def write_best_plan(path: Path, source: Path | None, plan_locs: list[tuple[tuple, object]],
                    best: Scenario) -> Path:
    """Write the best plan to `path` atomically and check that it loads as `best` (the
    evaluated plan: same values everywhere, the optimize block aside)."""
    from simulator.scenario.loader import load_scenario

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = plan_text(source, plan_locs, best, path.parent)
    atomic_write_text(path, text)
    again = load_scenario(path)
    skip = {"optimize": True, "catalogue": True, "uncertainty": {"from_"}}   # paths as written differ by folder
    if again.model_dump(exclude=skip) != best.model_dump(exclude=skip):
        raise RuntimeError(f"{path} does not reproduce the best plan; please report this "
                           "(the plan is in optimize.json)")
    return path
