"""Start-up benchmark: how long the command line takes to answer, against `import numpy`.

Each command runs in a fresh interpreter, as a planner starts it; the rounds are interleaved
(every command once per round) so that a machine busy for a moment slows all of them alike.
The baseline is `python -c "import numpy"` timed beside them; the issue's bar is
`promosim --help` and `promosim validate` of the bundled 618 at most 3 × that. `run` plays one
replication of the bundled 618 with `--json`: its wall time less the engine's own time (from
the JSON) is what a planner waits for on every `promosim run --set …` of a scan, beyond the
simulation itself. `--before DIR` times the same commands on another checkout of the project
(an earlier commit) in the same rounds, with this interpreter and its packages. Commands run
with Python's bytecode cache, as an installed package does. Prints a Markdown table (median
and best of the rounds).

    python benchmarks/bench_startup.py [--rounds 15] [--before ../promosim-old] [--smoke]
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


def commands(cli: list[str]) -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import numpy' (baseline)": [sys.executable, "-c", "import numpy"],
        "python -c 'import simulator'": [sys.executable, "-c", "import simulator"],
        "promosim --help": [*cli, "--help"],
        f"promosim validate {SCENARIO}": [*cli, "validate", SCENARIO],
        f"promosim run {SCENARIO} --reps 1 --json": [*cli, "run", SCENARIO, "--reps", "1", "--json", "--quiet"],
    }


def timed(argv: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    """Wall seconds of one run (checked: a failing command is an error), and its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--before", type=Path, help="another checkout of the project, timed beside this one")
    ap.add_argument("--smoke", action="store_true", help="one round: runs every command, times nothing")
    args = ap.parse_args()
    if args.smoke:
        args.rounds = 1
    # as a planner's install runs: with Python's bytecode cache (pip compiles an installed
    # package; an editable checkout is compiled by the unrecorded round below), even where
    # the shell says PYTHONDONTWRITEBYTECODE (as CI does)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"COLUMNS": "100"}
    runs = {(name, "now"): (argv, REPO, env) for name, argv in commands(promosim()).items()}
    if args.before:
        old = args.before.resolve()
        old_env = {**env, "PYTHONPATH": str(old)}   # its simulator before the installed one
        old_cli = [sys.executable, "-c", "import sys; from simulator.cli import main; sys.exit(main())"]
        for name, argv in commands(old_cli).items():
            if "simulator" in name or "promosim" in name:
                runs[(name, "before")] = (argv, old, old_env)
    load = os.getloadavg()[0]
    walls: dict[tuple, list[float]] = {key: [] for key in runs}
    engine: dict[str, list[float]] = {}
    for argv, cwd, e in ([] if args.smoke else runs.values()):   # an unrecorded round: files in the page cache
        timed(argv, cwd, e)
    for _ in range(args.rounds):
        for key, (argv, cwd, e) in runs.items():
            wall, out = timed(argv, cwd, e)
            walls[key].append(wall)
            if " run " in key[0]:
                engine.setdefault(key[1], []).append(json.loads(out)["timing"]["engine_s"])
    base = statistics.median(walls[("python -c 'import numpy' (baseline)", "now")])
    print(f"{args.rounds} interleaved rounds; Python {sys.version.split()[0]}, {os.cpu_count()} cores; "
          f"1-minute load average at the start: {load:.2f}\n")
    print("| command | code | median s | best s | median ÷ `import numpy` |")
    print("|---|---|---:|---:|---:|")
    for (name, code), w in sorted(walls.items(), key=lambda kv: (list(commands([])).index(kv[0][0]), kv[0][1] != "before")):
        med = statistics.median(w)
        print(f"| `{name}` | {code} | {med:.3f} | {min(w):.3f} | {med / base:.2f} |")
    for code, eng in engine.items():
        name = next(n for n, c in walls if " run " in n and c == code)
        run, e = statistics.median(walls[(name, code)]), statistics.median(eng)
        print(f"\n`run` ({code}): engine {e:.3f} s of {run:.3f} s (median); the rest, {run - e:.3f} s, is "
              "start-up, loading the scenario, building the model and printing.")


if __name__ == "__main__":
    main()
