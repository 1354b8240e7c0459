"""Fuzzing the command line as a careless or hostile user would: valid bundled scenarios,
histories and `--set` values, mutated, must each end with exit 0 (the input was fine) or 2
(it was refused with a message) — never a traceback on stderr — under a hang guard of 60 s
and a memory guard of 2 GiB of resident memory per command (above what the test process
holds: each command runs in a child forked from it, `sandbox.run_cli`). The guards sit far above any normal run
(every base input here runs in under a second): they catch hangs and runaway allocations,
they are not performance assertions.

CI runs a fixed set of examples (Hypothesis derandomized: the same inputs every time, about
a minute and a half on a 2-core machine). For a longer, random search locally:

    PROMOSIM_FUZZ_EXAMPLES=2000 python -m pytest tests/robustness/test_fuzz.py

A failure prints the command, its stderr and the file it ran on (kept in a temporary folder).
"""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.robustness.cases import INPUTS, MINIMAL, SCENARIOS
from tests.robustness.sandbox import run_cli

REPO = SCENARIOS.parents[1]
LONG = int(os.environ.get("PROMOSIM_FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int):
    """`ci_examples` derandomized examples in CI; PROMOSIM_FUZZ_EXAMPLES random ones locally."""
    return settings(max_examples=LONG or ci_examples, derandomize=not LONG, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


BASES = [MINIMAL, *sorted((SCENARIOS / "equivalence").glob("*.yaml")),
         *sorted((REPO / "scenarios").glob("*.yaml"))]

HOSTILE_VALUES = [
    0, -1, -1e-9, 1e300, -1e300, float("inf"), float("-inf"), float("nan"), True, False, None, "", "x" * 500,
    [], {}, [1, 2, 3], {"a": 1}, 2**70, 20261110, "9999-12-31 00:00", "0001-01-01 00:00", "2026-02-30 00:00",
    "2026-03-08 02:30", 1e-300, 10**12, 10**13, 1e9, "localtime", "*", "=HYPERLINK(\"x\")", "../../etc/passwd",
    "\u202e", "名字", 3.5, 0.999999, 1.0, 59, 61, 10080, 10**6,
]

HOSTILE_SET_VALUES = [
    "[0.1,", "{a: 1", ".inf", "-.inf", ".nan", "1e400", "true", "null", "''", "9999-12-31 00:00", "[&a [1,2], *a]",
    "&a [x, *a]", "*undefined", "!!python/object:os.system ls", "!!binary AAAA", "0x10", "1_000", "\t", "~",
    "{kind: display}", "[" * 100, "1e12", "-5", "0", "2026-11-11 02:30", "\"\\x00\"",
]

SET_PATHS = [
    "skus.*.discount", "skus.*.discount.burst", "skus.lipstick.stock", "skus.*.price", "meta.end", "meta.start",
    "meta.tick_minutes", "meta.timezone", "meta.seed", "channels.organic.visits_per_hour", "channels.ads.cpc",
    "calendar.phases.0.end", "calendar.spikes.0.amplitude", "calendar.intraday", "segments.new.share",
    "skus", "channels.*", "rules", "skus.lipstick.reorder", "nowhere.at.all", "skus.*.*", "", ".", "skus..price",
]


def _plain_yaml(path: Path):
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def _dump(data) -> str:
    from ruamel.yaml import YAML

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def _paths(node, prefix=()):
    """Every location in a plain YAML tree (containers and leaves)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _get(node, loc):
    for k in loc:
        node = node[k]
    return node


@st.composite
def mutated_scenario(draw) -> tuple[str, bytes]:
    """A bundled scenario with one to three structural mutations, or a textual one."""
    base = draw(st.sampled_from(BASES))
    data = _plain_yaml(base)
    if draw(st.integers(0, 4)) == 0:                 # a textual mutation of the YAML itself
        text = base.read_bytes()
        kind = draw(st.sampled_from(["truncate", "nul", "latin1", "dup_line", "drop_line", "alias", "indent"]))
        lines = text.split(b"\n")
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif kind == "nul":
            text = text[:i] + b"\0" + text[i:]
        elif kind == "latin1":
            text = text.replace(b"name:", b"name: caf\xe9", 1)
        elif kind == "dup_line":
            text = b"\n".join(lines[: i + 1] + lines[i:])
        elif kind == "drop_line":
            text = b"\n".join(lines[:i] + lines[i + 1:])
        elif kind == "alias":
            text = text + b"\nbomb: &b [" + b", ".join([b"*b"] * 3) + b"]\n"
        else:
            text = b"\n".join(lines[:i] + [b"  " + lines[i]] + lines[i + 1:])
        return f"{base.name} ({kind} at line {i + 1})", text
    data = copy.deepcopy(data)
    done = []
    for _ in range(draw(st.integers(1, 3))):
        locs = [loc for loc in _paths(data) if loc]
        loc = draw(st.sampled_from(locs))
        parent = _get(data, loc[:-1])
        op = draw(st.sampled_from(["value", "value", "value", "delete", "rename", "scale"]))
        if op == "delete":
            del parent[loc[-1]]
        elif op == "rename" and isinstance(parent, dict):
            parent[str(loc[-1]) + draw(st.sampled_from(["s", "_", "x"]))] = parent.pop(loc[-1])
        elif op == "scale" and isinstance(parent[loc[-1]], int | float) and not isinstance(parent[loc[-1]], bool):
            parent[loc[-1]] = parent[loc[-1]] * draw(st.sampled_from([1e3, 1e6, 1e12, -1, 0, 1e-6]))
        else:
            parent[loc[-1]] = draw(st.sampled_from(HOSTILE_VALUES))
        done.append(f"{op} {'.'.join(map(str, loc))}")
    return f"{base.name} ({'; '.join(done)})", _dump(data).encode("utf-8")


def _check(out, what: str) -> None:
    note(what)
    assert out.killed is None, f"guard fired: {out.describe()}"
    assert not out.traceback, out.describe()
    assert out.code in (0, 2), out.describe()
    if out.code == 2:
        assert out.stderr.strip(), f"refused without a word: {out.describe()}"


@pytest.fixture(scope="module")
def warm():
    """Import what the commands need once, so that every forked case starts warm."""
    import optuna  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import scipy.stats  # noqa: F401

    import calibration.api  # noqa: F401
    import simulator.runner  # noqa: F401


@fuzz_settings(100)
@given(case=mutated_scenario())
def test_a_mutated_scenario_is_run_or_refused_with_a_message(case, warm, tmp_path_factory):
    what, text = case
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "scenario.yaml"
    path.write_bytes(text)
    out = run_cli(["validate", str(path)], cwd=folder)
    _check(out, f"validate {what}")
    if out.code == 0:
        out = run_cli(["run", str(path), "--reps", "1", "--quiet", "--json", "--out", str(folder / "res")],
                      cwd=folder)
        _check(out, f"run {what}")


@fuzz_settings(60)
@given(path=st.sampled_from(SET_PATHS), value=st.one_of(st.sampled_from(HOSTILE_SET_VALUES),
                                                       st.text(max_size=30)))
def test_a_hostile_set_value_is_applied_or_refused_with_a_message(path, value, warm, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    out = run_cli(["run", str(MINIMAL), "--reps", "1", "--quiet", "--json", "--set", f"{path}={value}"],
                  cwd=folder)
    _check(out, f"--set {path}={value!r}")


HISTORY_CELLS = ["", "-1", "1e400", "nan", "NULL", "1,000", "2026-13-45", "99999-01-01", "\x00", "é", "inf",
                 "0x1F", "1/2", "2026-01-05T00:00Z", "2026-01-05 02:30", "true", "=1+1", " ", "9" * 400]


@st.composite
def mutated_history(draw) -> tuple[str, bytes]:
    lines = (INPUTS / "history.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in lines]
    done = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "drop_column", "dup_column", "drop_row", "dup_row",
                                     "delimiter", "header"]))
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(rows[0]) - 1))
        if kind == "cell":
            rows[r][c] = draw(st.sampled_from(HISTORY_CELLS))
        elif kind == "drop_column":
            rows = [row[:c] + row[c + 1:] for row in rows]
        elif kind == "dup_column":
            rows = [row + [row[c]] for row in rows]
        elif kind == "drop_row" and len(rows) > 1:
            rows.pop(r)
        elif kind == "dup_row":
            rows.insert(r, list(rows[r]))
        elif kind == "header":
            rows[0][c] = draw(st.sampled_from(["periods", "SKU", "unit", "", "units", "period"]))
        done.append(f"{kind} row {r} column {c}")
    sep = ";" if any(d.startswith("delimiter") for d in done) else ","
    text = "\n".join(sep.join(row) for row in rows) + "\n"
    data = text.encode("utf-8", errors="surrogateescape")
    if draw(st.integers(0, 9)) == 0:
        data = text.encode("latin-1", errors="replace")
        done.append("latin-1")
    return "; ".join(done), data


@fuzz_settings(40)
@given(case=mutated_history())
def test_a_mutated_history_is_fitted_or_refused_with_a_message(case, warm, tmp_path_factory):
    what, data = case
    folder = tmp_path_factory.mktemp("fuzz")
    history = folder / "history.csv"
    history.write_bytes(data)
    out = run_cli(["calibrate", str(INPUTS / "cal.yaml"), "--history", str(history), "--no-plots", "--quiet",
                   "--out", str(folder / "cal")], cwd=folder)
    _check(out, f"calibrate with a history mutated: {what}")


HOSTILE_OPTION_VALUES = ["0", "-1", "-0", "nan", "inf", "-inf", "1e20", "", " ", "1.5", "abc", "0x10", "+2",
                         "1_0", "٣", "99999999999999999999", "1e-320", "2", "true", "None", "--quiet", "-",
                         "/", "/dev/null", "/proc/self", ".", "..", "x" * 300, "a\nb", "~", "*", "0.5"]

OPTIONS = {
    "run": (["run", str(MINIMAL), "--reps", "1", "--quiet"],
            ["--reps", "--seed", "--workers", "--scale", "--format", "--engine", "--out", "--set"]),
    "compare": (["compare", str(MINIMAL), "--set", "skus.*.discount=0.2", "--reps", "2", "--quiet"],
                ["--reps", "--seed", "--workers", "--level", "--kpis", "--out"]),
    "optimize": (["optimize", str(INPUTS / "opt.yaml"), "--trials", "1", "--reps", "1", "--no-plots", "--quiet"],
                 ["--reps", "--timeout", "--heartbeat", "--study", "--storage", "--out"]),
    "calibrate": (["calibrate", str(INPUTS / "cal.yaml"), "--no-plots", "--quiet"],
                  ["--holdout", "--map", "--method", "--engine", "--seed", "--history", "--out"]),
    "report": (["report"], [None]),
    "validate": (["validate"], [None]),
    "bench": (["bench", str(MINIMAL), "--reps", "1", "--quiet"], ["--baseline", "--junit", "--summary"]),
}


@fuzz_settings(40)
@given(command=st.sampled_from(sorted(OPTIONS)), data=st.data())
def test_a_hostile_option_value_is_taken_or_refused_with_a_message(command, data, warm, tmp_path_factory):
    base, options = OPTIONS[command]
    option = data.draw(st.sampled_from(options))
    value = data.draw(st.sampled_from(HOSTILE_OPTION_VALUES))
    folder = tmp_path_factory.mktemp("fuzz")
    argv = [*base, *([option] if option else []), value]
    if command == "optimize" and "--out" not in argv:
        argv += ["--out", str(folder / "opt")]
    if command == "calibrate" and "--out" not in argv:
        argv += ["--out", str(folder / "cal")]
    if command == "bench" and "--baseline" not in argv:
        argv += ["--baseline", str(folder / "b.json"), "--update"]
    out = run_cli(argv, cwd=folder)
    _check(out, f"promosim {' '.join(argv)}")
