"""Start-up benchmark: how long the command line takes to answer, against `import numpy`.

Each command runs in a fresh interpreter, as a planner starts it; the rounds are interleaved
(every command once per round) so that a machine busy for a moment slows all of them alike.
The baseline is `python -c "import numpy"` timed beside them; the issue's bar is
`promosim --help` and `promosim validate` of the bundled 618 at most 3 × that. `run` plays one
replication of the bundled 618 with `--json`: its wall time less the engine's own time (from
the JSON) is what a planner waits for on every `promosim run --set …` of a scan, beyond the
simulation itself. Prints a Markdown table (median and best of the rounds).

    python benchmarks/bench_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIO = "scenarios/618_electronics.yaml"


def promosim() -> list[str]:
    """The installed `promosim` script beside this interpreter, else `python -m simulator.cli`."""
    script = Path(sys.executable).with_name("promosim")
    found = str(script) if script.exists() else shutil.which("promosim")
    return [found] if found else [sys.executable, "-m", "simulator.cli"]


def commands() -> dict[str, list[str]]:
    cli = promosim()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import numpy' (baseline)": [sys.executable, "-c", "import numpy"],
        "python -c 'import simulator'": [sys.executable, "-c", "import simulator"],
        "promosim --help": [*cli, "--help"],
        f"promosim validate {SCENARIO}": [*cli, "validate", SCENARIO],
        f"promosim run {SCENARIO} --reps 1 --json": [*cli, "run", SCENARIO, "--reps", "1", "--json", "--quiet"],
    }


def timed(argv: list[str]) -> tuple[float, str]:
    """Wall seconds of one run (checked: a failing command is an error), and its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "100"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    cmds = commands()
    load = os.getloadavg()[0]
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    engine: list[float] = []
    for name, argv in cmds.items():   # one unrecorded round: files in the page cache for all
        timed(argv)
    for _ in range(args.rounds):
        for name, argv in cmds.items():
            wall, out = timed(argv)
            walls[name].append(wall)
            if " run " in name:
                engine.append(json.loads(out)["timing"]["engine_s"])
    base = statistics.median(walls["python -c 'import numpy' (baseline)"])
    print(f"{args.rounds} interleaved rounds; Python {sys.version.split()[0]}, {os.cpu_count()} cores; "
          f"1-minute load average at the start: {load:.2f}\n")
    print("| command | median s | best s | median ÷ `import numpy` |")
    print("|---|---:|---:|---:|")
    for name, w in walls.items():
        med = statistics.median(w)
        print(f"| `{name}` | {med:.3f} | {min(w):.3f} | {med / base:.2f} |")
    if engine:
        run = statistics.median(walls[next(n for n in walls if " run " in n)])
        eng = statistics.median(engine)
        print(f"\n`run`: engine {eng:.3f} s of {run:.3f} s (median); the rest, {run - eng:.3f} s, is start-up, "
              "loading the scenario, building the model and printing.")


if __name__ == "__main__":
    main()
