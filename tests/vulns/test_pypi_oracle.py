"""The PyPI oracle: every version an advisory lists matches it; other releases of the same
package (named in any of its advisories) match only when an advisory range covers them.

Precision and recall against the `versions` lists alone are printed (pytest -s); versions
that match outside a list are each checked to lie inside one of the advisory's ECOSYSTEM
ranges by an evaluation written here with `packaging` alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

from hostwatch.vulns import ranges, versions
from hostwatch.vulns.records import FeedRecord, RecordError
from hostwatch.vulns.sources import FeedInput, parse_input
from tests.shared import shared_data


def _records() -> list[FeedRecord]:
    found = []
    for path in sorted(Path(shared_data("osv_pypi", "vulns")).rglob("*.yaml")):
        _, parsed = parse_input(FeedInput(str(path), path))
        for record in parsed:
            assert not isinstance(record, RecordError), f"{path}: {record}"
            found.append(record)
    return found


def _in_range_by_packaging(version: str, entry_ranges: list[dict[str, object]]) -> bool:
    """An independent OSV range check: packaging's Version and the schema's event walk."""
    try:
        installed = Version(version)
    except InvalidVersion:
        return False
    for entry in entry_ranges:
        affected = False
        events = [next(iter(e.items())) for e in entry["events"]]  # type: ignore[union-attr]
        events.sort(key=lambda e: (e[1] != "0", Version(e[1]) if e[1] != "0" else Version("0")))
        for kind, bound in events:
            if kind == "introduced" and (bound == "0" or installed >= Version(bound)):
                affected = True
            elif (kind == "fixed" and installed >= Version(bound)) or (
                kind == "last_affected" and installed > Version(bound)
            ):
                affected = False
        if affected:
            return True
    return False


@pytest.fixture(scope="module")
def records() -> list[FeedRecord]:
    return _records()


def test_pypi_oracle_precision_and_recall(records: list[FeedRecord]) -> None:
    family: dict[str, set[str]] = {}
    for record in records:
        for affected in record.affected:
            family.setdefault(affected.package, set()).update(affected.versions)

    true_pos = false_pos = false_neg = true_neg = 0
    unexplained: list[tuple[str, str]] = []
    judged = 0
    for record in records:
        for affected in record.affected:
            if not affected.versions:
                continue  # no list to judge against
            judged += 1
            listed = set(affected.versions)
            for version in family[affected.package]:
                verdict = ranges.evaluate(
                    versions.PEP440, version, affected.ranges, affected.versions
                )
                matched = verdict.status == ranges.AFFECTED
                if version in listed:
                    true_pos += matched
                    false_neg += not matched
                elif matched:
                    false_pos += 1
                    if not _in_range_by_packaging(version, affected.ranges):
                        unexplained.append((record.record_id, version))
                else:
                    true_neg += 1

    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(
        f"\nPyPI oracle: {len(records)} advisories, {judged} with a versions list; "
        f"{true_pos} listed versions matched, {false_neg} missed, {false_pos} matched outside "
        f"the list (all inside a range), {true_neg} rejected; "
        f"precision {precision:.4f}, recall {recall:.4f}"
    )
    assert len(records) == 2661
    assert false_neg == 0
    assert recall == 1.0
    # Every match outside a list is a version an advisory range covers.
    assert unexplained == []
    assert (true_pos, false_pos) == (140845, 1730)


def test_pypi_oracle_against_lists_and_ranges_is_exact(records: list[FeedRecord]) -> None:
    """Against the OSV meaning (listed, or inside a range) there is no disagreement at all."""
    family: dict[str, set[str]] = {}
    for record in records:
        for affected in record.affected:
            family.setdefault(affected.package, set()).update(affected.versions)
    wrong = []
    for record in records:
        for affected in record.affected:
            for version in family[affected.package]:
                expected = version in affected.versions or _in_range_by_packaging(
                    version, affected.ranges
                )
                verdict = ranges.evaluate(
                    versions.PEP440, version, affected.ranges, affected.versions
                )
                if (verdict.status == ranges.AFFECTED) != expected:
                    wrong.append((record.record_id, version, verdict.status))

    assert wrong == []
