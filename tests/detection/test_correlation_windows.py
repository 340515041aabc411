"""Correlation windows and conditions, on rules loaded by the real loader and kept matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from hostwatch.detection.correlation import Entry, in_firing_windows
from hostwatch.detection.rules import CompiledCorrelation, RuleLoader

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BASE = (
    "title: base\nid: 11111111-1111-4111-8111-111111111111\nname: base_a\n"
    "logsource: {product: windows, service: security}\n"
    "detection: {sel: {EventID: 4625}, condition: sel}\n"
    "---\n"
    "title: other\nid: 22222222-2222-4222-8222-222222222222\nname: base_b\n"
    "logsource: {product: windows, service: security}\n"
    "detection: {sel: {EventID: 4624}, condition: sel}\n"
)


def correlation(
    kind: str, condition: dict[str, Any] | None, rules: list[str]
) -> CompiledCorrelation:
    body: dict[str, Any] = {"type": kind, "rules": rules, "group-by": ["U"], "timespan": "1m"}
    if condition is not None:
        body["condition"] = condition
    text = (
        BASE
        + "---\n"
        + yaml.safe_dump(
            {"title": "c", "id": "33333333-3333-4333-8333-333333333333", "correlation": body}
        )
    )
    loader = RuleLoader()
    loader.load_text("c.yml", text)
    loader.check_references(loader.known_here)
    assert loader.report.rejected == [], loader.report.rejected
    [found] = loader.correlations
    return found


def entries(*spec: tuple[float, str, str | None]) -> list[Entry]:
    """(seconds after START, base rule name a/b, value) per entry; event ids in order."""
    ids = {"a": "11111111-1111-4111-8111-111111111111", "b": "22222222-2222-4222-8222-222222222222"}
    return [
        Entry(START + timedelta(seconds=s), i, ids[rule], value)
        for i, (s, rule, value) in enumerate(spec)
    ]


A_ID = "11111111-1111-4111-8111-111111111111"
B_ID = "22222222-2222-4222-8222-222222222222"


@pytest.mark.parametrize(
    ("condition", "fired"),
    [
        ({"gte": 3}, {0, 1, 2}),
        ({"gt": 3}, set()),
        ({"eq": 2}, {1, 2}),
        ({"lt": 2}, {2, 3}),
        ({"lte": 1}, {2, 3}),
        ({"neq": 3}, {1, 2, 3}),
        ({"range": "2..2"}, {1, 2}),
        ({"range": "3..5"}, {0, 1, 2}),
    ],
)
def test_event_count_conditions(condition: dict[str, Any], fired: set[int]) -> None:
    # Entries at 0, 30, 50 and 111 s; the 60 s window from each holds 3 (0, 30, 50),
    # 2 (30, 50), 1 (50: 111 is 61 s later) and 1 entries.
    spec = correlation("event_count", condition, ["base_a"])
    found = entries((0, "a", None), (30, "a", None), (50, "a", None), (111, "a", None))

    assert in_firing_windows(spec, [A_ID], found) == fired


def test_value_count_counts_distinct_values() -> None:
    spec = correlation("value_count", {"gte": 2, "field": "T"}, ["base_a"])
    same = entries((0, "a", "x"), (1, "a", "x"), (2, "a", "x"), (3, "a", None))
    two = entries((0, "a", "x"), (1, "a", "x"), (59, "a", "y"), (61, "a", "z"))

    assert in_firing_windows(spec, [A_ID], same) == set()
    # From entry 0: x, x, y (2 values); from entry 2: y, z (2 values).
    assert in_firing_windows(spec, [A_ID], two) == {0, 1, 2, 3}


def test_temporal_needs_every_rule_in_any_order() -> None:
    spec = correlation("temporal", None, ["base_a", "base_b"])
    found = entries((0, "b", None), (20, "a", None), (200, "a", None))

    assert (spec.op, spec.count) == ("gte", 2)
    assert in_firing_windows(spec, [A_ID, B_ID], found) == {0, 1}


def test_temporal_ordered_needs_the_order() -> None:
    spec = correlation("temporal_ordered", None, ["base_a", "base_b"])
    wrong = entries((0, "b", None), (20, "a", None))
    right = entries((0, "b", None), (20, "a", None), (79, "b", None), (81, "b", None))

    assert in_firing_windows(spec, [A_ID, B_ID], wrong) == set()
    # The window from the failure at 20 s holds the logon at 79 s, not the one at 81 s.
    assert in_firing_windows(spec, [A_ID, B_ID], right) == {1, 2}


def test_bad_range_is_refused_with_file_and_reason() -> None:
    loader = RuleLoader()
    loader.load_text(
        "bad.yml",
        BASE + "---\ntitle: c\nid: 33333333-3333-4333-8333-333333333333\n"
        "correlation: {type: event_count, rules: [base_a], timespan: 1m, "
        "condition: {range: 9..2}}\n",
    )

    [rejected] = loader.report.rejected
    assert rejected.file == "bad.yml"
    assert "the range condition '9..2' has its bounds the wrong way round" in rejected.reason
