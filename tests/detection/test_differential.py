"""The engine against pySigma's SQLite backend: every shared Windows rule, every shared event.

Both sides see the same events (their Sigma views) and the same rules processed by the same
pipelines; only the matching differs. The backend cannot convert keyword (field-less)
searches; those rules are counted and left to the engine's own tests (test_modifiers).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from hostwatch.detection.engine import Detector
from hostwatch.detection.rules import load_rules
from hostwatch.detection.view import sigma_view
from tests.detection.sqlite_reference import SqliteReference, sigma_rules
from tests.shared import shared_data

# Rules of the shared Windows set with keyword searches (see above).
KEYWORD_RULES = 12


def test_engine_agrees_with_sqlite_backend_on_shared_windows_rules(
    events: list[dict[str, Any]],
) -> None:
    folder = shared_data("sigma", "rules", "windows")
    rules, report = load_rules([folder])
    detector = Detector(rules)
    views = [sigma_view(row) for row in events]
    engine: dict[str, set[int]] = defaultdict(set)
    for index, view in enumerate(views):
        for rule_id, _ in detector.match_view(view):
            engine[rule_id].add(index)
    reference = SqliteReference(views)

    compared = 0
    pairs = 0
    unconvertible = []
    disagreements = []
    for path, rule in sigma_rules(sorted(folder.rglob("*.yml"))):
        try:
            expected = reference.matches(rule)
        except SigmaFeatureNotSupportedByBackendError:
            unconvertible.append(path.name)
            continue
        compared += 1
        pairs += len(expected)
        found = engine.get(str(rule.id), set())
        if found != expected:
            disagreements.append((str(rule.id), path.name, found - expected, expected - found))

    assert disagreements == []
    assert compared == report.loaded - KEYWORD_RULES
    assert len(unconvertible) == KEYWORD_RULES
    # Not a vacuous agreement: hundreds of (rule, event) matches on both sides.
    assert pairs > 1000
