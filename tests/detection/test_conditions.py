"""Condition semantics: null, exists, fieldref, all, keywords, selectors, not, parentheses."""

from __future__ import annotations

import pytest

from tests.detection.rule_builder import matches


def test_null_matches_a_missing_field_only() -> None:
    detection = {"s": {"Parent": None}, "condition": "s"}

    assert matches(detection, {"Other": "x"})
    assert not matches(detection, {"Parent": "x"})
    assert not matches(detection, {"Parent": ""})


def test_exists_true_and_false() -> None:
    assert matches({"s": {"F|exists": True}, "condition": "s"}, {"F": ""})
    assert not matches({"s": {"F|exists": True}, "condition": "s"}, {"G": "x"})
    assert matches({"s": {"F|exists": False}, "condition": "s"}, {"G": "x"})
    assert not matches({"s": {"F|exists": False}, "condition": "s"}, {"F": "x"})


def test_fieldref_compares_two_fields_without_case() -> None:
    detection = {"s": {"ParentImage|fieldref": "Image"}, "condition": "s"}

    assert matches(detection, {"Image": r"C:\A.exe", "ParentImage": r"c:\a.EXE"})
    assert not matches(detection, {"Image": r"C:\A.exe", "ParentImage": r"C:\B.exe"})
    assert not matches(detection, {"ParentImage": r"C:\B.exe"})


def test_list_is_any_and_all_modifier_is_every() -> None:
    values = ["-nop", "-enc"]

    assert matches({"s": {"C|contains": values}, "condition": "s"}, {"C": "ps -enc AA"})
    assert not matches({"s": {"C|contains|all": values}, "condition": "s"}, {"C": "ps -enc AA"})
    assert matches({"s": {"C|contains|all": values}, "condition": "s"}, {"C": "ps -nop -enc"})


def test_fields_of_one_selection_are_and_and_list_of_maps_is_or() -> None:
    both = {"s": {"A": "1", "B": "2"}, "condition": "s"}
    either = {"s": [{"A": "1"}, {"B": "2"}], "condition": "s"}

    assert matches(both, {"A": "1", "B": "2"})
    assert not matches(both, {"A": "1", "B": "3"})
    assert matches(either, {"A": "0", "B": "2"})
    assert not matches(either, {"A": "0", "B": "0"})


def test_numbers_match_numbers_and_their_text() -> None:
    detection = {"s": {"EventID": 4688}, "condition": "s"}

    assert matches(detection, {"EventID": 4688})
    assert matches(detection, {"EventID": "4688"})
    assert not matches(detection, {"EventID": 46880})
    assert matches({"s": {"EventID": "4688"}, "condition": "s"}, {"EventID": 4688})


def test_multi_valued_field_matches_when_any_value_does() -> None:
    detection = {"s": {"Data|contains": "mimikatz"}, "condition": "s"}

    assert matches(detection, {"Data": ["x", "run Mimikatz.exe"]})
    assert not matches(detection, {"Data": ["x", "y"]})


def test_keywords_search_every_field_for_text() -> None:
    detection = {"keywords": ["sekurlsa::logonpasswords", "dpapi::*key"], "condition": "keywords"}

    assert matches(detection, {"A": "x", "Payload": "run SEKURLSA::LogonPasswords now"})
    assert matches(detection, {"Payload": "dpapi::masterkey /in:x"})
    assert not matches(detection, {"Payload": "sekurlsa"})


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        ("1 of sel_*", {"A": "1"}, True),
        ("1 of sel_*", {"C": "3"}, False),
        ("all of sel_*", {"A": "1"}, False),
        ("all of sel_*", {"A": "1", "B": "2"}, True),
        ("1 of them", {"C": "3"}, True),
        ("all of them", {"A": "1", "B": "2"}, False),
        ("all of them", {"A": "1", "B": "2", "C": "3"}, True),
        ("sel_a and not other", {"A": "1", "C": "3"}, False),
        ("sel_a and not other", {"A": "1"}, True),
        ("not sel_a or sel_b", {"A": "1"}, False),
        ("not (sel_a or sel_b)", {"C": "3"}, True),
        ("sel_a and (sel_b or other)", {"A": "1", "C": "3"}, True),
        ("sel_a and sel_b or other", {"C": "3"}, True),
        ("sel_a and (sel_b or other)", {"C": "3"}, False),
    ],
)
def test_condition_expressions(condition: str, event: dict[str, str], expected: bool) -> None:
    detection = {
        "sel_a": {"A": "1"},
        "sel_b": {"B": "2"},
        "other": {"C": "3"},
        "condition": condition,
    }

    assert matches(detection, event) is expected


def test_several_conditions_match_when_any_does() -> None:
    detection = {"a": {"A": "1"}, "b": {"B": "2"}, "condition": ["a", "b"]}

    assert matches(detection, {"B": "2"})
    assert not matches(detection, {"C": "2"})
