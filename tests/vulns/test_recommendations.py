"""Recommendations from real feed imports and findings: the fix version, statuses, exposure."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.devices.models import Device, Software
from hostwatch.vulns import findings, recommendations
from hostwatch.vulns.recommendation_model import Recommendation
from tests.vulns.conftest import add_device, osv_record, write_json

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8


def kev_catalog(*cves: tuple[str, str]) -> dict[str, Any]:
    return {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2099.01.01",
        "dateReleased": "2099-01-01T00:00:00.000Z",
        "count": len(cves),
        "vulnerabilities": [
            {
                "cveID": cve,
                "vendorProject": "Demo",
                "product": "kev-pkg",
                "vulnerabilityName": "Demo remote code execution",
                "dateAdded": "2099-01-01",
                "shortDescription": "A test entry.",
                "requiredAction": "Apply updates.",
                "dueDate": "2099-01-22",
                "knownRansomwareCampaignUse": ransomware,
                "notes": "",
            }
            for cve, ransomware in cves
        ],
    }


def import_feeds(hostwatch: Any, folder: Path, docs: dict[str, Any]) -> None:
    for name, doc in docs.items():
        write_json(folder / name, doc)
    result = hostwatch("feeds", "import", str(folder))
    assert result.exit_code == 0, result.output


def refresh(sessions: sessionmaker[Session], device_id: str) -> None:
    with transaction(sessions) as session:
        findings.refresh_device(session, device_id)


def recs(sessions: sessionmaker[Session], device_id: str) -> dict[str, Recommendation]:
    with sessions() as session:
        rows = session.scalars(select(Recommendation).where(Recommendation.device_id == device_id))
        found = {row.component: row for row in rows}
        session.expunge_all()
        return found


def device(sessions: sessionmaker[Session], device_id: str) -> Device:
    with sessions() as session:
        found = session.get(Device, device_id)
        assert found is not None
        session.expunge(found)
        return found


def set_version(sessions: sessionmaker[Session], software_id: int, version: str) -> None:
    with transaction(sessions) as session:
        session.execute(update(Software).where(Software.id == software_id).values(version=version))


def two_fixes(hostwatch: Any, tmp_path: Path) -> None:
    import_feeds(
        hostwatch,
        tmp_path / "feeds",
        {
            "a.json": osv_record(
                "OSV-A",
                "demo-pkg",
                [{"introduced": "0"}, {"fixed": "2.0.1"}],
                aliases=["CVE-2099-1"],
            ),
            "b.json": osv_record(
                "OSV-B",
                "demo-pkg",
                [{"introduced": "0"}, {"fixed": "2.1.0"}],
                aliases=["CVE-2099-2"],
            ),
        },
    )


def test_recommendation_updates_to_the_fix_of_every_cve(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    two_fixes(hostwatch, tmp_path)
    device_id, ids = add_device(
        sessions,
        [{"source": "pip", "name": "demo-pkg", "version": "1.5", "install_path": "/srv/venv"}],
    )

    refresh(sessions, device_id)
    found = recs(sessions, device_id)["demo-pkg"]
    rated = device(sessions, device_id)

    assert found.title == "Update demo-pkg to 2.1.0"
    assert (found.fixed_version, found.status, found.source) == ("2.1.0", "active", "vulnerability")
    assert found.subject == "PyPI/demo-pkg"
    assert found.weakness_count == 2
    assert [w["key"] for w in found.weaknesses] == ["CVE-2099-1", "CVE-2099-2"]
    assert [w["fixed_version"] for w in found.weaknesses] == ["2.0.1", "2.1.0"]
    assert found.components == [
        {
            "software_id": ids["demo-pkg"],
            "name": "demo-pkg",
            "version": "1.5",
            "arch": None,
            "install_path": "/srv/venv",
        }
    ]
    # Two findings without CVSS (scored 5.0), not in KEV: 1 - (1 - 0.15)^2 = 0.2775.
    assert (rated.exposure_score, rated.exposure_level) == (28, "low")
    assert found.exposure_reduction == 28


def test_fix_skips_a_version_another_range_reopens(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    branches = [
        {"introduced": "0"},
        {"fixed": "2.0.1"},
        {"introduced": "2.1.0"},
        {"fixed": "2.1.3"},
    ]
    import_feeds(
        hostwatch,
        tmp_path / "feeds",
        {
            "c.json": osv_record("OSV-C", "branchy", branches, aliases=["CVE-2099-3"]),
            "d.json": osv_record(
                "OSV-D",
                "branchy",
                [{"introduced": "0"}, {"fixed": "2.1.0"}],
                aliases=["CVE-2099-4"],
            ),
            "e.json": osv_record(
                "OSV-E", "nofix-pkg", [{"introduced": "0"}], aliases=["CVE-2099-5"]
            ),
        },
    )
    device_id, _ = add_device(
        sessions,
        [
            {"source": "pip", "name": "branchy", "version": "2.0.0"},
            {"source": "pip", "name": "nofix_pkg", "version": "0.3"},
        ],
    )

    refresh(sessions, device_id)
    found = recs(sessions, device_id)

    # 2.1.0 fixes CVE-2099-4 but is where CVE-2099-3's second range starts.
    assert found["branchy"].title == "Update branchy to 2.1.3"
    assert found["nofix_pkg"].title == "Update nofix_pkg: no fix available"
    assert found["nofix_pkg"].fixed_version is None


def test_lowest_fix_orders_pep440_pre_and_post_releases() -> None:
    entries = {
        1: [([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0rc1"}]}], [])],
        2: [([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.post1"}]}], [])],
        3: [([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}], [])],
    }

    assert recommendations.lowest_fix("pep440", ["0.9"], entries) == "1.0.post1"
    assert recommendations.lowest_fix("pep440", ["0.9"], {1: entries[1], 3: entries[3]}) == "1.0"


def test_lowest_fix_orders_debian_epochs_and_tildes() -> None:
    debian = [{"introduced": "0"}, {"fixed": "1:1.2-1~deb11u1"}]
    other = [{"introduced": "0"}, {"fixed": "1.9-1"}]
    entries = {
        1: [([{"type": "ECOSYSTEM", "events": debian}], [])],
        2: [([{"type": "ECOSYSTEM", "events": other}], [])],
    }

    # The epoch puts 1:1.2 above 1.9 whatever the digits say.
    assert recommendations.lowest_fix("debian", ["1.5-2"], entries) == "1:1.2-1~deb11u1"


def test_resolved_when_the_fixed_version_is_seen_and_reopened_when_it_goes_back(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    two_fixes(hostwatch, tmp_path)
    device_id, ids = add_device(sessions, [{"source": "pip", "name": "demo-pkg", "version": "1.5"}])
    refresh(sessions, device_id)
    first = recs(sessions, device_id)["demo-pkg"]

    set_version(sessions, ids["demo-pkg"], "2.1.0")
    refresh(sessions, device_id)
    resolved = recs(sessions, device_id)["demo-pkg"]
    rated = device(sessions, device_id)

    set_version(sessions, ids["demo-pkg"], "2.0.5")
    refresh(sessions, device_id)
    reopened = recs(sessions, device_id)["demo-pkg"]

    assert first.status == "active"
    assert resolved.id == first.id
    assert (resolved.status, resolved.exposure_reduction) == ("resolved", 0)
    assert resolved.resolved_at is not None
    assert (rated.exposure_score, rated.exposure_level) == (0, "low")
    assert reopened.id == first.id
    assert (reopened.status, reopened.resolved_at) == ("active", None)
    # 2.0.5 still has CVE-2099-2 only.
    assert (reopened.weakness_count, reopened.fixed_version) == (1, "2.1.0")


def test_exception_survives_refresh_and_leaves_the_exposure(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    two_fixes(hostwatch, tmp_path)
    import_feeds(
        hostwatch,
        tmp_path / "more",
        {
            "f.json": osv_record(
                "OSV-F",
                "kev-pkg",
                [{"introduced": "0"}, {"fixed": "3.0"}],
                aliases=["CVE-2099-6"],
                severity=[{"type": "CVSS_V3", "score": CRITICAL}],
            ),
            "kev.json": kev_catalog(("CVE-2099-6", "Known")),
        },
    )
    device_id, _ = add_device(
        sessions,
        [
            {"source": "pip", "name": "demo-pkg", "version": "1.5"},
            {"source": "pip", "name": "kev-pkg", "version": "2.9"},
        ],
    )
    refresh(sessions, device_id)
    before = recs(sessions, device_id)
    score_before = device(sessions, device_id).exposure_score

    with transaction(sessions) as session:
        row = session.get(Recommendation, before["kev-pkg"].id)
        assert row is not None
        row.status, row.exception_justification = "exception", "isolated lab host"
    refresh(sessions, device_id)
    after = recs(sessions, device_id)
    score_after = device(sessions, device_id).exposure_score

    kev = before["kev-pkg"]
    assert (kev.exploited_count, kev.ransomware_count, kev.highest_cvss) == (1, 1, 9.8)
    # 1 - (1 - 0.9604) * 0.85^2 = 0.9714; without kev-pkg 0.2775; without demo-pkg 0.9604.
    assert score_before == 97
    assert (kev.exposure_reduction, before["demo-pkg"].exposure_reduction) == (69, 1)
    assert after["kev-pkg"].status == "exception"
    assert after["kev-pkg"].exception_justification == "isolated lab host"
    assert score_after == 28
    # What the exception keeps out of the score, should it be lifted.
    assert after["kev-pkg"].exposure_reduction == 69


def test_expired_exception_is_active_again_on_refresh(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    two_fixes(hostwatch, tmp_path)
    device_id, _ = add_device(sessions, [{"source": "pip", "name": "demo-pkg", "version": "1.5"}])
    refresh(sessions, device_id)
    with transaction(sessions) as session:
        row = session.scalars(select(Recommendation)).one()
        row.status, row.exception_justification = "exception", "patch window next week"
        row.exception_expires = utcnow() - timedelta(minutes=1)

    refresh(sessions, device_id)

    assert recs(sessions, device_id)["demo-pkg"].status == "active"
    assert device(sessions, device_id).exposure_score == 28


def test_debian_binaries_of_one_source_package_are_one_recommendation(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    events = [{"introduced": "0"}, {"fixed": "2:1.20.11-1+deb11u6"}]
    import_feeds(
        hostwatch,
        tmp_path / "feeds",
        {"x.json": osv_record("DEB-X", "xorg-server", events, ecosystem="Debian:11")},
    )
    device_id, _ = add_device(
        sessions,
        [
            {
                "source": "dpkg",
                "name": name,
                "version": "2:1.20.11-1+deb11u5",
                "source_package": "xorg-server",
            }
            for name in ("xserver-xorg-core", "xserver-common")
        ],
    )

    refresh(sessions, device_id)
    found = recs(sessions, device_id)

    assert list(found) == ["xorg-server"]
    assert found["xorg-server"].title == "Update xorg-server to 2:1.20.11-1+deb11u6"
    assert sorted(c["name"] for c in found["xorg-server"].components) == [
        "xserver-common",
        "xserver-xorg-core",
    ]
    assert found["xorg-server"].weakness_count == 1


def test_how_to_apply_sends_distribution_packages_to_the_package_manager() -> None:
    from hostwatch.vulns.recommendation_model import Recommendation
    from hostwatch.vulns.recommendation_queries import how_to_apply

    def row(path: str) -> Recommendation:
        return Recommendation(
            component="cryptography",
            fixed_version="41.0.6",
            software_source="pip",
            components=[{"name": "cryptography", "version": "38.0.4", "install_path": path}],
        )

    [system, _] = how_to_apply(row("/usr/lib/python3/dist-packages"))
    assert system.startswith("In /usr/lib/python3/dist-packages, cryptography belongs to")
    assert "pip install" not in system
    [venv, _] = how_to_apply(row("/srv/app/.venv/lib/python3.11/site-packages"))
    assert venv == (
        "In /srv/app/.venv/lib/python3.11/site-packages: "
        "python -m pip install 'cryptography>=41.0.6'"
    )
