"""Imports go downward only: no cycle among the modules of `simulator` and `calibration`.

The graph is read from the source (Python's `ast`), so it counts every import: at the top of a
module, inside functions (lazy imports), under `if TYPE_CHECKING:`, relative ones, and a module
named by a string literal (how the CLI's registry names its commands for `importlib`). An edge
A → B means "running A can import B". Besides what a statement names, importing `a.b.c` first
runs the packages `a` and `a.b` (their `__init__`), so those count too, except the packages A
itself lives in (they are already running when A runs). A cycle fails with every edge of one
loop and the line that makes it.

`import simulator` and the two commands a planner runs first (`--help`, `validate`) must not
load the heavy libraries; checked in a fresh interpreter, where nothing else has loaded them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("simulator", "calibration")
HEAVY = ("pandas", "scipy", "pyarrow", "matplotlib", "optuna")


@dataclass
class ImportGraph:
    """Modules of `PACKAGES` (dotted names) and, per module, the modules it imports with the
    line of the first statement that does (`edges[a][b] = line`)."""

    root: Path
    files: dict[str, Path]
    edges: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> ImportGraph:
        files = {}
        for pkg in packages:
            for path in sorted((root / pkg).rglob("*.py")):
                parts = path.relative_to(root).with_suffix("").parts
                files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
        graph = cls(root, files)
        for name in files:
            graph.edges[name] = graph._imports_of(name)
        return graph

    def _module(self, dotted: str) -> str | None:
        """The longest prefix of `dotted` that is one of our modules (None: not ours)."""
        while dotted and dotted not in self.files:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def _package_of(self, name: str) -> str:
        return name if self.files[name].name == "__init__.py" else name.rpartition(".")[0]

    def _imports_of(self, name: str) -> dict[str, int]:
        tree = ast.parse(self.files[name].read_text(encoding="utf-8"), str(self.files[name]))
        found: dict[str, int] = {}

        def add(dotted: str, line: int) -> None:
            target = self._module(dotted)
            if target is None:
                return
            # importing a.b.c runs a and a.b first, unless `name` lives in them already
            parts = target.split(".")
            for k in range(1, len(parts) + 1):
                step = ".".join(parts[:k])
                mine = name == step or name.startswith(step + ".")
                if step in self.files and step != name and (k == len(parts) or not mine):
                    found.setdefault(step, line)

        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = self._package_of(name).split(".")
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([base] if base else []))
                add(base, node.lineno)
                for alias in node.names:   # `from pkg import submodule`
                    if f"{base}.{alias.name}" in self.files:
                        add(f"{base}.{alias.name}", node.lineno)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in self.files:
                add(node.value, node.lineno)   # a module named for importlib
        return found

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one module (Tarjan, iterative)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        out: list[list[str]] = []
        for root in sorted(self.edges):
            if root in index:
                continue
            work = [(root, iter(sorted(self.edges[root])))]
            index[root] = low[root] = len(index)
            stack.append(root)
            on_stack.add(root)
            while work:
                node, children = work[-1]
                child = next(children, None)
                if child is not None:
                    if child not in index:
                        index[child] = low[child] = len(index)
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(sorted(self.edges[child]))))
                    elif child in on_stack:
                        low[node] = min(low[node], index[child])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
        return out

    def loop(self, component: list[str]) -> list[str]:
        """One closed path through `component`, as `a -> b (file:line)` lines."""
        members = set(component)
        start = component[0]
        # breadth-first from start back to start inside the component
        prev: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in prev:
            nxt = []
            for a in frontier:
                for b in sorted(self.edges[a]):
                    if b in members and b not in prev:
                        prev[b] = a
                        nxt.append(b)
            frontier = nxt
        path = [start]
        while True:
            path.append(prev[path[-1]])
            if path[-1] == start:
                break
        path.reverse()
        return [f"{a} -> {b} ({self.files[a].relative_to(self.root)}:{self.edges[a][b]})"
                for a, b in zip(path, path[1:])]


def test_the_graph_reader_sees_every_kind_of_import(tmp_path):
    """The reader itself: a cycle hidden in a function, one through a package's `__init__`,
    one through a relative import and one through a module named for importlib are all
    found; a downward graph has none."""
    pkg = tmp_path / "simulator"
    (pkg / "sub").mkdir(parents=True)

    def layout(low: str, sub_init: str = "", a: str = "from simulator.sub import b\n", b: str = "") -> list:
        for path, text in ((pkg / "__init__.py", ""), (pkg / "high.py", "from simulator.low import x\n"),
                           (pkg / "low.py", low), (pkg / "sub" / "__init__.py", sub_init),
                           (pkg / "sub" / "a.py", a), (pkg / "sub" / "b.py", b)):
            path.write_text(text)
        return ImportGraph.read(tmp_path, ("simulator",))

    assert layout("import math\n", b="import simulator.low\n").cycles() == []
    assert layout("def f():\n    from simulator import high\n").cycles() == [["simulator.high", "simulator.low"]]
    # importing simulator.sub.b runs simulator/sub/__init__.py, which imports a, which imports sub
    graph = layout("def f():\n    from simulator.sub.b import y\n", sub_init="from simulator.sub.a import *\n")
    assert graph.cycles() == [["simulator.sub", "simulator.sub.a"]]
    graph = layout("def f():\n    from simulator.sub.b import y\n", sub_init="from simulator.sub.a import *\n",
                   a="import simulator.sub.b\n", b="import simulator.low\n")
    assert graph.cycles() == [["simulator.low", "simulator.sub", "simulator.sub.a", "simulator.sub.b"]]
    assert any("simulator/low.py:2" in step for step in graph.loop(graph.cycles()[0]))
    assert layout("", a="import simulator.sub.b\n", b="from .a import z\n").cycles() == [
        ["simulator.sub.a", "simulator.sub.b"]]
    assert layout("", a="import simulator.sub.b\n", b="NAMES = ('simulator.sub.a',)\n").cycles() == [
        ["simulator.sub.a", "simulator.sub.b"]]


def test_no_import_cycle_in_simulator_or_calibration():
    graph = ImportGraph.read()
    assert len(graph.files) > 80   # the walk found the packages
    assert "simulator.scenario.schema" in graph.edges["simulator.model"]
    problems = [f"{len(c)} modules: {', '.join(c)}\n  " + "\n  ".join(graph.loop(c)) for c in graph.cycles()]
    assert not problems, "import cycles:\n" + "\n".join(problems)


LAYERS = (
    ("vocabulary", ("simulator.naming", "simulator.lazy", "simulator.files", "simulator.record", "simulator.progress",
                    "simulator.formats")),
    ("scenario", ("simulator.scenario", "simulator.rules")),
    ("model", ("simulator.timegrid", "simulator.pacing", "simulator.auctions", "simulator.promotions", "simulator.plan",
               "simulator.rules.snapshot", "simulator.model", "simulator.kpis")),
    ("engines", ("simulator.engine", "simulator.reference")),
    ("runs", ("simulator", "simulator.assumptions", "simulator.runner", "simulator.results", "simulator.daily_budgets",
              "simulator.show")),
    ("uses", ("simulator.compare", "simulator.bench", "simulator.optimize", "simulator.report", "simulator.sensitivity",
              "simulator.explain", "calibration")),
    ("command line", ("simulator.commands", "simulator.cli")),
)
"""docs/decisions.md, "Start-up and layering": a module belongs to the layer of the longest
prefix that names it, and imports only from its own layer or below."""


def layer_of(module: str) -> int:
    best = max(((len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
                if module == p or module.startswith(p + ".")), default=None)
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and to docs/decisions.md)"
    return best[1]


def test_imports_go_downward_through_the_layers():
    graph = ImportGraph.read()
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]}): "
              f"{graph.files[a].relative_to(REPO)}:{line}"
              for a, targets in graph.edges.items() for b, line in targets.items() if layer_of(b) > layer_of(a)]
    assert not upward, "imports going up a layer:\n" + "\n".join(upward)


def _fresh(code: str) -> dict:
    """Run `code` in a fresh interpreter (cwd: the repository) and return the JSON it prints."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


LOADED = f"import json, sys; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"


def test_import_simulator_loads_no_heavy_library():
    """`python -X importtime -c "import simulator"`: none of pandas, scipy, pyarrow,
    matplotlib, optuna (the issue's acceptance, read from importtime's own report)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import simulator, calibration"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert {"simulator", "calibration"} <= imported
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["validate", "scenarios/618_electronics.yaml", "scenarios/double11_beauty_flagship.yaml"],
    ["schema"],
])
def test_quick_commands_load_no_heavy_library(argv):
    """`promosim --help`, `validate` and `schema` answer without the heavy libraries."""
    code = ("import contextlib, io, sys\nfrom simulator.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        rc = main({argv!r})\n    except SystemExit as e:\n        rc = e.code\n"
            "assert rc == 0, rc\n" + LOADED)
    assert _fresh(code) == []


def test_loading_a_scenario_loads_no_heavy_library():
    """The Python API's first step (`load_scenario`, `with_overrides`) stays light; `simulate`
    is there when asked for, and brings the engine with it."""
    code = ("import simulator\n"
            "s = simulator.load_scenario('scenarios/double11_beauty_flagship.yaml')\n"
            "s = s.with_overrides({'skus.*.discount.burst': 0.3})\n"
            "assert isinstance(s, simulator.Scenario)\n" + LOADED)
    assert _fresh(code) == []
    code = ("from simulator import simulate\nimport simulator.runner\n"
            "assert simulate is simulator.runner.simulate\n" + LOADED)
    assert "scipy" in _fresh(code)


def test_lazy_package_attributes_behave_like_eager_ones():
    import calibration
    import simulator
    import simulator.scenario

    for pkg in (simulator, simulator.scenario, calibration):
        assert set(pkg.__all__) <= set(dir(pkg))
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None
        with pytest.raises(AttributeError, match="no_such_name"):
            getattr(pkg, "no_such_name")
    from simulator.runner import simulate
    from simulator.scenario.loader import load_scenario

    assert simulator.simulate is simulate and simulator.load_scenario is load_scenario
