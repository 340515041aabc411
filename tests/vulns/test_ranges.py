"""OSV range evaluation: introduced, fixed, last_affected, limit, version lists, SEMVER."""

from __future__ import annotations

import pytest

from hostwatch.vulns import ranges, versions


def _ecosystem(*events: tuple[str, str]) -> list[dict[str, object]]:
    return [{"type": "ECOSYSTEM", "events": [{kind: value} for kind, value in events]}]


TWO_BRANCHES = _ecosystem(
    ("introduced", "4.0"), ("fixed", "4.3"), ("introduced", "5.0"), ("fixed", "5.2")
)


@pytest.mark.parametrize(
    ("installed", "status", "fixed"),
    [
        ("3.9", ranges.NOT_AFFECTED, None),
        ("4.0", ranges.AFFECTED, "4.3"),
        ("4.2.9", ranges.AFFECTED, "4.3"),
        ("4.3", ranges.NOT_AFFECTED, None),
        ("4.9", ranges.NOT_AFFECTED, None),
        ("5.0rc1", ranges.NOT_AFFECTED, None),
        ("5.1", ranges.AFFECTED, "5.2"),
        ("5.2", ranges.NOT_AFFECTED, None),
    ],
)
def test_two_fixed_branches(installed: str, status: str, fixed: str | None) -> None:
    verdict = ranges.evaluate(versions.PEP440, installed, TWO_BRANCHES, [])

    assert (verdict.status, verdict.fixed) == (status, fixed)


def test_affected_evidence_names_the_interval() -> None:
    verdict = ranges.evaluate(versions.PEP440, "5.1", TWO_BRANCHES, [])

    assert verdict.evidence["range"] == ">=5.0, <5.2"
    assert verdict.evidence["type"] == "ECOSYSTEM"


def test_last_affected_includes_the_named_version() -> None:
    entry = _ecosystem(("introduced", "0"), ("last_affected", "2.0"))

    assert ranges.evaluate(versions.PEP440, "2.0", entry, []).status == ranges.AFFECTED
    assert ranges.evaluate(versions.PEP440, "2.0.1", entry, []).status == ranges.NOT_AFFECTED
    assert ranges.evaluate(versions.PEP440, "2.0", entry, []).evidence["range"] == "<=2.0"


def test_limit_bounds_an_open_range() -> None:
    entry = _ecosystem(("introduced", "1.0"), ("limit", "3.0"))

    assert ranges.evaluate(versions.PEP440, "2.5", entry, []).status == ranges.AFFECTED
    assert ranges.evaluate(versions.PEP440, "3.0", entry, []).status == ranges.NOT_AFFECTED


def test_introduced_zero_without_fix_is_every_version() -> None:
    entry = _ecosystem(("introduced", "0"))

    verdict = ranges.evaluate(versions.PEP440, "99.0", entry, [])

    assert (verdict.status, verdict.fixed, verdict.evidence["range"]) == (
        ranges.AFFECTED,
        None,
        "all versions",
    )


def test_debian_range_with_epoch_and_tilde() -> None:
    entry = _ecosystem(("introduced", "0"), ("fixed", "1:102.9.0esr-1~deb11u1"))

    assert (
        ranges.evaluate(versions.DEBIAN, "1:102.8.0esr-1~deb11u1", entry, []).status == "affected"
    )
    assert ranges.evaluate(versions.DEBIAN, "1:102.9.0esr-1~deb11u1", entry, []).status == (
        "not_affected"
    )
    # Without the epoch the version orders before any version with epoch 1.
    assert ranges.evaluate(versions.DEBIAN, "103.0-1", entry, []).status == "affected"


def test_semver_range_type_orders_by_semver_whatever_the_ecosystem() -> None:
    entry = [{"type": "SEMVER", "events": [{"introduced": "1.0.0-beta.2"}, {"fixed": "1.0.0"}]}]

    assert ranges.evaluate(versions.PEP440, "1.0.0-beta.10", entry, []).status == "affected"
    assert ranges.evaluate(versions.PEP440, "1.0.0-beta.1", entry, []).status == "not_affected"


def test_listed_version_matches_even_outside_any_range() -> None:
    entry = _ecosystem(("introduced", "2.0"), ("fixed", "2.1"))

    verdict = ranges.evaluate(versions.PEP440, "1.5", entry, ["1.5"])

    assert verdict.status == ranges.AFFECTED
    assert verdict.evidence == {"versions": "listed", "version": "1.5"}


def test_listed_versions_compare_by_value() -> None:
    assert ranges.evaluate(versions.PEP440, "1.0.0", [], ["1.0"]).status == ranges.AFFECTED


def test_unreadable_installed_version_is_unknown() -> None:
    verdict = ranges.evaluate(versions.PEP440, "1.0-custom-build!", TWO_BRANCHES, [])

    assert verdict.status == ranges.UNKNOWN
    assert "is not a pep440 version" in (verdict.reason or "")


def test_git_ranges_alone_decide_nothing() -> None:
    git = [{"type": "GIT", "repo": "x", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}]

    assert not ranges.decidable(git, [])
    assert ranges.evaluate(versions.PEP440, "1.0", git, []).status == ranges.NOT_AFFECTED
