"""The README's examples run: its Python block, and every `promosim` command of the tour parses."""

import os
import re
import shlex
from pathlib import Path

import pytest

from simulator.cli import parser

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_the_python_example_runs(tmp_path, monkeypatch):
    (code,) = blocks("python")
    code = code.replace("reps=20", "reps=2")          # the same code, fewer replications
    monkeypatch.chdir(tmp_path)
    os.symlink(README.parent / "scenarios", tmp_path / "scenarios")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "results" / "618" / "summary.json").exists()


def test_every_command_in_the_tour_parses():
    commands = [line.split("#")[0].strip() for block in blocks("bash") for line in block.splitlines()
                if line.strip().startswith("promosim ")]
    assert len(commands) >= 8
    p = parser()
    for cmd in commands:
        argv = shlex.split(cmd)[1:]
        argv = [a for a in argv if a not in (">", "scenario.schema.json")]
        args = p.parse_args(argv)
        assert args.func, cmd
