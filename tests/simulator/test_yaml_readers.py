"""A valid scenario is read by the C YAML reader; anything else by the round-trip reader,
which keeps lines for messages. The two must give the same plan whenever the fast one
succeeds — on every YAML file of the project and on scalars where YAML readers are known to
differ (YAML 1.1 booleans and octals, underscores, sexagesimal numbers, special floats, tags)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario import ScenarioError, loader

REPO = Path(__file__).resolve().parents[2]
FILES = sorted({*REPO.glob("scenarios/*.yaml"), *REPO.glob("tests/scenarios/**/*.yaml")})
MINIMAL = REPO / "tests" / "scenarios" / "valid_minimal.yaml"


def both(text: str, base_dir: Path):
    """(the fast reader's plan or None, the round-trip reader's plan or its error)."""
    fast = loader._quick_load(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader, "_quick_load", lambda text: None)
        try:
            slow = loader.parse_scenario(text, "<t>", base_dir)
        except ScenarioError as e:
            slow = e
    return fast, slow


def test_both_readers_give_the_same_plan_for_every_yaml_file_of_the_project():
    fast_read = 0
    for path in FILES:
        fast, slow = both(path.read_text(encoding="utf-8", errors="replace"), path.parent)
        if fast is None:
            continue
        fast_read += 1
        assert not isinstance(slow, ScenarioError), f"{path}: the fast reader took a plan the other refuses: {slow}"
        assert fast.model_dump_json() == slow.model_dump_json(), path
    # the bundled plans take the fast path (a file that does not is only slower)
    assert fast_read >= 3, f"only {fast_read} of {len(FILES)} files read by the fast reader"


TRICKY = ["yes", "no", "on", "off", "y", "n", "True", "NULL", "~", "0o17", "017", "0x1F", "1_000", "1:30", "190:20:30",
          ".5", "1e3", "1E3", "+1", "-.inf", ".NaN", "'1e3'", '"yes"', "2026-11-11", "2026-11-11 10:00",
          "2026-11-11T10:00:00+08:00", "名字", "a: b", "'a: b'", "@x", "`x", "=1+2", "[1, 2]", "{a: 1}",
          "!!str 1", "!!float 1", "!!int '3'", "0b101", "1__0", "- x", "? x", "&a x", "|\n    text", "0.05 # c"]


@pytest.mark.parametrize("value", TRICKY)
@pytest.mark.parametrize("field", ["name", "seed", "platform_fee_rate"])
def test_both_readers_agree_on_scalars_yaml_readers_read_differently(field, value):
    lines = [line for line in MINIMAL.read_text(encoding="utf-8").splitlines(keepends=True)
             if not line.startswith(f"  {field}:")]
    at = lines.index("meta:\n") + 1
    text = "".join([*lines[:at], f"  {field}: {value}\n", *lines[at:]])
    fast, slow = both(text, MINIMAL.parent)
    if fast is not None:
        assert not isinstance(slow, ScenarioError), slow
        assert fast.model_dump_json() == slow.model_dump_json()


def test_a_valid_plan_takes_the_fast_path_and_a_wrong_one_is_named_by_line():
    text = MINIMAL.read_text(encoding="utf-8")
    assert loader._quick_load(text) is not None
    wrong = text.replace("  tick_minutes: 60\n", "  tick_minutes: 60\n  tick_minute: 5\n")
    assert loader._quick_load(wrong) is None
    with pytest.raises(ScenarioError) as e:
        loader.parse_scenario(wrong, "plan.yaml")
    assert "plan.yaml:8: meta.tick_minute" in str(e.value)
