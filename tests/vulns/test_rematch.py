"""Re-matching after `feeds import`: only the devices the changed advisories concern."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import transaction
from hostwatch.vulns import findings, rematch
from hostwatch.vulns.models import Finding, Vulnerability
from hostwatch.vulns.store import WriteResult
from tests.shared import shared_data
from tests.vulns.conftest import add_device, osv_record, write_json

EVENTS = [{"introduced": "0"}, {"fixed": "2.0"}]


def _matched(sessions: sessionmaker[Session], software: list[dict[str, Any]], **os: str) -> str:
    device_id, _ = add_device(sessions, software, **os)
    with transaction(sessions) as session:
        findings.refresh_device(session, device_id)
    return device_id


def _findings(sessions: sessionmaker[Session], device_id: str) -> dict[str, datetime]:
    with sessions() as session:
        return dict(
            session.execute(
                select(Vulnerability.key, Finding.last_seen)
                .join(Finding, Finding.vulnerability_id == Vulnerability.id)
                .where(Finding.device_id == device_id)
            ).all()
        )


def test_new_advisory_reaches_its_package_and_no_other_device(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    write_json(
        tmp_path / "old.json", osv_record("OSV-OLD", "other-pkg", EVENTS, aliases=["CVE-2099-1"])
    )
    hostwatch("feeds", "import", str(tmp_path / "old.json"))
    # PEP 503: 'Demo_Pkg' is the advisory's 'demo-pkg'.
    concerned = _matched(sessions, [{"source": "pip", "name": "Demo_Pkg", "version": "1.5"}])
    bystander = _matched(sessions, [{"source": "pip", "name": "other-pkg", "version": "1.0"}])
    bystander_before = _findings(sessions, bystander)
    write_json(
        tmp_path / "new.json", osv_record("OSV-NEW", "demo.pkg", EVENTS, aliases=["CVE-2099-2"])
    )

    summary = json.loads(hostwatch("feeds", "import", str(tmp_path / "new.json"), "--json").stdout)

    assert summary["rematch"]["devices"] == 1
    assert summary["rematch"]["findings_added"] == 1
    assert list(_findings(sessions, concerned)) == ["CVE-2099-2"]
    assert list(bystander_before) == ["CVE-2099-1"]
    assert _findings(sessions, bystander) == bystander_before


def test_withdrawn_advisory_takes_its_findings_from_the_devices_that_had_them(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    write_json(tmp_path / "w.json", osv_record("OSV-W", "demo-pkg", EVENTS, aliases=["CVE-2099-7"]))
    write_json(tmp_path / "k.json", osv_record("OSV-K", "kept-pkg", EVENTS, aliases=["CVE-2099-8"]))
    hostwatch("feeds", "import", str(tmp_path))
    concerned = _matched(sessions, [{"source": "pip", "name": "demo-pkg", "version": "1.0"}])
    bystander = _matched(sessions, [{"source": "pip", "name": "kept-pkg", "version": "1.0"}])
    bystander_before = _findings(sessions, bystander)
    write_json(
        tmp_path / "w.json",
        osv_record(
            "OSV-W",
            "demo-pkg",
            EVENTS,
            aliases=["CVE-2099-7"],
            modified="2024-06-01T00:00:00Z",
            withdrawn="2024-06-01T00:00:00Z",
        ),
    )

    summary = json.loads(hostwatch("feeds", "import", str(tmp_path), "--json").stdout)

    assert (summary["rematch"]["devices"], summary["rematch"]["findings_removed"]) == (1, 1)
    assert _findings(sessions, concerned) == {}
    assert _findings(sessions, bystander) == bystander_before


def test_debian_advisory_reaches_devices_of_its_release_by_source_package(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    xorg = {
        "source": "dpkg",
        "name": "xserver-xorg-core",
        "version": "2:1.20.11-1+deb11u5",
        "source_package": "xorg-server",
    }
    bullseye = _matched(sessions, [xorg])
    bookworm = _matched(sessions, [xorg], os_name="Debian GNU/Linux 12 (bookworm)", os_version="12")
    listed = shared_data("debian_security_tracker", "DSA", "list").read_text(encoding="utf-8")
    # DSA-5380-1 alone, as a list of one advisory.
    start = listed.index("] DSA-5380-1 ")
    start = listed.rfind("\n", 0, start) + 1
    end = listed.index("\n[", start) + 1
    (tmp_path / "list").write_text(listed[start:end], encoding="utf-8")

    summary = json.loads(hostwatch("feeds", "import", str(tmp_path / "list"), "--json").stdout)

    assert summary["rematch"]["devices"] == 1
    assert "CVE-2023-1393" in _findings(sessions, bullseye)
    assert _findings(sessions, bookworm) == {}


def test_nvd_advisory_reaches_devices_with_the_program_it_names(
    sessions: sessionmaker[Session], hostwatch: Any
) -> None:
    firefox = _matched(
        sessions,
        [
            {
                "source": "windows",
                "name": "Mozilla Firefox (x64 en-US)",
                "version": "121.0",
                "vendor": "Mozilla",
            }
        ],
        os_family="windows",
        os_name="Microsoft Windows 10 Pro",
        os_version="10.0.19045.3803",
    )
    seven_zip = _matched(
        sessions,
        [
            {
                "source": "windows",
                "name": "7-Zip 23.01 (x64)",
                "version": "23.01",
                "vendor": "Igor Pavlov",
            }
        ],
        os_family="windows",
        os_name="Microsoft Windows 10 Pro",
        os_version="10.0.19045.3803",
    )

    summary = json.loads(
        hostwatch(
            "feeds",
            "import",
            str(shared_data("nvd_cve", "nvdcve-2.0-desktop-CVE-2024.json.gz")),
            "--json",
        ).stdout
    )

    assert "CVE-2024-0755" in _findings(sessions, firefox)
    assert _findings(sessions, seven_zip) == {}
    with sessions() as session:
        concerned = rematch.concerned_devices(session, _all_advisories(session))
    assert firefox in concerned and seven_zip not in concerned
    assert summary["rematch"]["devices"] == 1


def _all_advisories(session: Session) -> WriteResult:
    from hostwatch.vulns.models import Advisory

    return WriteResult(changed_advisories=set(session.scalars(select(Advisory.id))))


def test_pypi_name_variants_cover_every_separator() -> None:
    assert rematch._name_variants("PyPI", "a-b") == {"a-b", "a_b", "a.b"}
    assert len(rematch._name_variants("PyPI", "a-b-c")) == 9
    assert rematch._name_variants("npm", "@Scope/Pkg") == {"@scope/pkg"}
