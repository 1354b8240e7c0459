"""Every wrong scenario in `tests/scenarios/invalid/` fails with the message its first line states.

The first line of each file reads `# expect: [<file>:]<line>: <path>: <message fragment>`:
the line the error points at (`-` for none), the dotted path (`-` for none), and a piece
of the message. `<file>` names another file beside the scenario (a CSV catalogue) when
the error belongs there. Each file carries exactly one mistake, so exactly one issue.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from simulator.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

HERE = Path(__file__).resolve().parents[1] / "scenarios"
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
EXPECT = re.compile(
    r"^# expect: (?:(?P<file>[^\s:]+):)?(?P<line>\d+|-): (?P<path>[^\s:]+): (?P<fragment>.+)$"
)


def expectation(path: Path) -> dict:
    """The `# expect:` line: the file's first line, or the first line of `<name>.expect` beside
    a file that is not text (a gzip archive). Only the first line is decoded: a file whose
    mistake is its encoding starts with an ASCII expect line."""
    sidecar = path.with_suffix(".expect")
    raw = sidecar.read_bytes() if sidecar.exists() else path.read_bytes()
    first = raw.split(b"\n", 1)[0].decode("utf-8")
    m = EXPECT.match(first)
    assert m, f"{path.name}: first line must be '# expect: <line>: <path>: <fragment>': {first!r}"
    return m.groupdict()


def test_the_folder_covers_enough_mistakes():
    assert len(INVALID) >= 14


def test_the_folder_covers_every_kind_of_value_that_passed_validation_and_broke_a_run():
    """Issue 16's causes 2–4 and 10, one file each (the messages are in their first lines)."""
    names = {p.stem for p in INVALID}
    assert {"visits_infinite", "visits_beyond_any_platform", "price_infinite", "price_near_float_max",
            "intraday_weight_infinite", "traffic_multiplier_huge", "spike_amplitude_infinite",
            "intent_infinite", "elasticity_minus_infinity", "promo_lift_infinite", "stock_beyond_a_trillion",
            "stock_is_a_boolean", "stock_not_a_number_float", "tick_minutes_nan", "start_is_a_number",
            "coupon_quantity_beyond_a_trillion", "crm_audience_beyond_earth", "salvage_above_unit_cost",
            "timezone_localtime", "time_skipped_by_daylight_saving", "time_repeated_by_daylight_saving",
            "alias_bomb", "brackets_nested_deep", "nul_byte", "latin1_text", "gzip_compressed",
            "catalogue_duplicate_column", "catalogue_not_utf8"} <= names


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_scenario_reports_its_mistake(path: Path):
    want = expectation(path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    issues = info.value.issues
    assert len(issues) == 1, f"one mistake, one message; got:\n{info.value}"
    issue = issues[0]

    file = str(path.parent / want["file"]) if want["file"] else str(path)
    line = None if want["line"] == "-" else int(want["line"])
    dotted = "" if want["path"] == "-" else want["path"]
    assert (issue.file, issue.line, issue.path) == (file, line, dotted), str(issue)
    assert want["fragment"] in issue.message, str(issue)
    # the rendered form a planner sees: file:line: path: message
    where = f"{file}:{line}" if line else file
    shown = f"{where}: {dotted}: {issue.message}" if dotted else f"{where}: {issue.message}"
    assert str(info.value) == shown


def test_valid_minimal_loads():
    s = load_scenario(HERE / "valid_minimal.yaml")
    assert isinstance(s, Scenario)
    assert [p.name for p in s.calendar.phases] == ["warmup", "burst"]
    assert [p.kind for p in s.calendar.phases] == ["warmup", "sale"]
    assert {n: c.kind for n, c in s.channels.items()} == {
        "organic": "organic_search", "ads": "paid_search", "feed": "recommendation"}
    assert set(s.skus) == {"lipstick", "serum"}
    assert s.skus["serum"].discount_in("burst") == pytest.approx(0.2)
    assert s.skus["serum"].discount_in(None) == 0.0
    assert s.skus["lipstick"].discount_in("burst") == pytest.approx(0.1)


def test_the_catalogue_case_loads_once_its_bad_value_is_fixed(tmp_path):
    """So the one error really is that CSV value; the SKUs come from the CSV."""
    for name in ("catalogue_bad_value.yaml", "catalogue_bad_value.csv"):
        shutil.copy(HERE / "invalid" / name, tmp_path / name)
    csv = tmp_path / "catalogue_bad_value.csv"
    csv.write_text(csv.read_text().replace(",lots", ",300"))
    s = load_scenario(tmp_path / "catalogue_bad_value.yaml")
    assert s.skus["serum"].stock == 300
    assert s.skus["serum"].discount == {"default": 0.05, "burst": 0.2}


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    text = (HERE / "valid_minimal.yaml").read_text(encoding="utf-8")
    text = text.replace("    base_conversion: 0.03\n", "    base_convresion: 0.03\n")  # line 40
    text = text.replace("    visits_per_hour: 200\n", "    visit_per_hour: 200\n")  # line 26
    text = text.replace("    stock: 300\n", "    stock: -3\n")  # line 48
    bad = tmp_path / "three_mistakes.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    got = {(i.line, i.path) for i in info.value.issues}
    assert got == {
        (26, "channels.organic.visit_per_hour"),
        (40, "skus.lipstick.base_convresion"),
        (48, "skus.serum.stock"),
    }, str(info.value)
    assert all(i.file == str(bad) for i in info.value.issues)
    assert "did you mean 'visits_per_hour'?" in str(info.value)
    assert "did you mean 'base_conversion'?" in str(info.value)


def test_catalogue_and_scenario_problems_are_listed_together(tmp_path):
    scenario = (HERE / "invalid" / "catalogue_bad_value.yaml").read_text(encoding="utf-8")
    (tmp_path / "s.yaml").write_text(scenario.replace("tick_minutes: 60", "tick_minutes: -1"))
    csv = (HERE / "invalid" / "catalogue_bad_value.csv").read_text().splitlines()
    csv = [f"{csv[0]},note"] + [f"{row}," for row in csv[1:]]  # an unknown column too
    (tmp_path / "catalogue_bad_value.csv").write_text("\n".join(csv) + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.yaml")
    got = {(Path(i.file).name, i.line, i.path) for i in info.value.issues}
    assert got == {
        ("catalogue_bad_value.csv", 1, "note"),
        ("catalogue_bad_value.csv", 3, "skus.serum.stock"),
        ("s.yaml", 7, "meta.tick_minutes"),
    }, str(info.value)


def test_unknown_catalogue_column_is_reported_once_with_a_hint(tmp_path):
    scenario = (HERE / "invalid" / "catalogue_bad_value.yaml").read_text(encoding="utf-8")
    (tmp_path / "s.yaml").write_text(scenario)
    (tmp_path / "catalogue_bad_value.csv").write_text(
        "id,price,unit_cost,discount,base_convresion,base_conversion,stock\n"
        "lipstick,199,60,0.1,x,0.03,500\n"
        "serum,399,120,0.05,y,0.02,300\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.yaml")
    [issue] = info.value.issues
    where = (Path(issue.file).name, issue.line, issue.path)
    assert where == ("catalogue_bad_value.csv", 1, "base_convresion")
    assert "did you mean 'base_conversion'?" in issue.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- meta\n- skus\n", "got a list"),
        ("just words\n", "got text"),
        ("# only a comment\n", "the file is empty"),
    ],
)
def test_a_document_that_is_not_a_mapping(text, fragment):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "inline.yaml")
    assert fragment in str(info.value)
    assert str(info.value).startswith("inline.yaml")


def test_a_missing_file_is_named():
    with pytest.raises(ScenarioError, match=r"nowhere\.yaml: no such file"):
        load_scenario(HERE / "nowhere.yaml")
