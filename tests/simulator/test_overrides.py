"""`Scenario.with_overrides`: dotted parameter paths, `*` wildcards, per-phase discounts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from simulator.scenario import Scenario, ScenarioError
from simulator.scenario.overrides import parse_value


def test_concrete_path_sets_one_value_and_leaves_the_original(minimal):
    new = minimal.with_overrides({"channels.ads.cpc": 2.5})
    assert isinstance(new, Scenario) and new is not minimal
    assert new.channels["ads"].cpc == 2.5
    assert minimal.channels["ads"].cpc == 1.2
    # nothing else moved
    assert new.model_dump(exclude={"channels"}) == minimal.model_dump(exclude={"channels"})
    assert new.channels["organic"] == minimal.channels["organic"]


def test_wildcard_sets_every_sku(minimal):
    new = minimal.with_overrides({"skus.*.discount": 0.25})
    assert {sid: sku.discount for sid, sku in new.skus.items()} == {"lipstick": 0.25, "serum": 0.25}
    assert minimal.skus["lipstick"].discount == 0.1
    assert minimal.skus["serum"].discount == {"warmup": 0.05, "burst": 0.2}


def test_wildcard_over_a_list(minimal):
    new = minimal.with_overrides({"calendar.phases.*.intent": 2.0})
    assert [p.intent for p in new.calendar.phases] == [2.0, 2.0]
    assert [p.intent for p in minimal.calendar.phases] == [1.0, 1.5]


def test_per_phase_discount_turns_a_single_number_into_a_mapping(minimal):
    new = minimal.with_overrides({"skus.*.discount.burst": 0.3})
    lipstick, serum = new.skus["lipstick"], new.skus["serum"]
    assert lipstick.discount == {"default": 0.1, "burst": 0.3}
    assert [lipstick.discount_in(p) for p in ("burst", "warmup", None)] == [0.3, 0.1, 0.1]
    assert serum.discount == {"warmup": 0.05, "burst": 0.3}
    assert minimal.skus["lipstick"].discount == 0.1
    assert minimal.skus["serum"].discount == {"warmup": 0.05, "burst": 0.2}


def test_several_overrides_are_validated_together(minimal):
    """A later start alone leaves the warm-up outside the campaign; moving the phase too is fine."""
    with pytest.raises(ScenarioError, match="lies outside the campaign"):
        minimal.with_overrides({"meta.start": "2026-11-10 12:00"})
    noon = "2026-11-10 12:00"
    new = minimal.with_overrides({"meta.start": noon, "calendar.phases.0.start": noon})
    assert new.meta.start.hour == 12 and new.calendar.phases[0].start.hour == 12


def test_the_result_is_validated_again(minimal):
    """Cross-field checks run on the new scenario, not only field types."""
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({"skus.lipstick.discount.brust": 0.3})
    [issue] = info.value.issues
    assert issue.path == "skus.lipstick.discount.brust"
    assert "did you mean 'burst'?" in issue.message


def test_invalid_value_names_the_path(minimal):
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({"skus.lipstick.discount": 1.5})
    [issue] = info.value.issues
    assert issue.path == "skus.lipstick.discount"
    assert "expected a number from 0 up to but not including 1 (a fraction off the list price), got 1.5" in issue.message
    assert "skus.lipstick.discount: expected a number from 0 up to but not including 1" in str(info.value)
    assert minimal.skus["lipstick"].discount == 0.1


def test_invalid_value_through_a_wildcard_names_every_match(minimal):
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({"skus.*.discount": 1.5})
    assert [i.path for i in info.value.issues] == ["skus.lipstick.discount", "skus.serum.discount"]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("skus.lipstick.discont", "did you mean 'discount'?"),
        ("chanels.ads.cpc", "did you mean 'channels'?"),
        ("channels.adz.cpc", "did you mean 'ads'?"),
        ("skus.nosuch.price", "expected one of lipstick, serum"),
        ("calendar.phases.7.intent", "expected one of 0, 1"),
        ("skus.lipstick.reorder.point", "skus.lipstick.reorder is not set"),
    ],
)
def test_unknown_path_raises_with_a_hint(minimal, path, fragment):
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({path: 1})
    [issue] = info.value.issues
    assert issue.path == path
    assert fragment in issue.message, issue.message


def test_scenario_is_frozen(minimal):
    with pytest.raises(ValidationError, match="frozen"):
        minimal.meta = minimal.meta
    with pytest.raises(ValidationError, match="frozen"):
        minimal.skus["lipstick"].stock = 0
    assert minimal.skus["lipstick"].stock == 500


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.2", 0.2), ("12", 12), ("true", True), ("[1, 2]", [1, 2]), ("burst", "burst")],
)
def test_command_line_values_read_as_yaml(text, value):
    assert parse_value(text) == value


def test_a_problem_repeated_across_a_wildcards_matches_is_said_once():
    """A typo under `skus.*` is one message for the wildcard, naming how many places it
    matched and a few of them — not one line per SKU; a problem only some matches have says
    how many of them."""
    from pathlib import Path

    from simulator.scenario import load_scenario
    from simulator.scenario.overrides import apply_overrides, parse_overrides

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "618_electronics.yaml")
    with pytest.raises(ScenarioError) as e:
        apply_overrides(sc, parse_overrides(["skus.*.discont=0.5"]))
    assert len(e.value.issues) == 1
    only = str(e.value.issues[0])
    assert only.startswith("--set 'skus.*.discont=0.5': skus.*.discont: unknown field 'discont'; did you mean 'discount'?")
    assert f"(for all {len(sc.skus)} matches of *: " in only and only.endswith(" …)")
    with pytest.raises(ScenarioError) as e:
        apply_overrides(sc, parse_overrides(["channels.*.visits_per_hour=-1"]))
    lines = [str(i) for i in e.value.issues]
    assert any(f"got -1 (for 3 of the {len(sc.channels)} matches of *: " in x for x in lines), lines


def test_allow_empty_drops_unset_blocks_and_empty_wildcards_but_not_typos():
    from simulator.scenario.overrides import expand

    data = {"coupons": {}, "channels": {"a": {"auction": None}, "b": {"auction": {"bid": 1.0}}}}
    assert expand(data, "coupons.*.claim_rate", allow_empty=True) == []
    assert expand(data, "channels.*.auction.bid", allow_empty=True) == [("channels", "b", "auction", "bid")]
    with pytest.raises(ScenarioError, match="wildcard matches nothing"):
        expand(data, "coupons.*.claim_rate")
    with pytest.raises(ScenarioError, match="did you mean 'channels'"):
        expand(data, "chanels.*.auction.bid", allow_empty=True)
