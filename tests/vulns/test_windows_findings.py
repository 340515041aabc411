"""A Windows device's missing KBs in its discovered vulnerabilities, from the real MSRC documents.

What each device must list is read here straight from the shared CVRF XML with ElementTree
(every Vendor Fix remediation of the device's product that names a fixed build), not from
Hostwatch's own parser, so the two can disagree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from typing import Any

import pytest
from sqlalchemy import select

from hostwatch.auth.roles import Role
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.devices.models import Device, Hotfix, Software
from hostwatch.vulns.findings import refresh_device
from hostwatch.vulns.importer import FeedImporter
from hostwatch.vulns.models import Finding
from hostwatch.vulns.rematch import rematch
from tests.helpers import Api, enroll
from tests.shared import shared_data

_VULN = "{http://www.icasi.org/CVRF/schema/vuln/1.1}"
_PROD = "{http://www.icasi.org/CVRF/schema/prod/1.1}"
WIN10 = "Windows 10 Version 22H2 for x64-based Systems"
# The cumulative updates of Windows 10 22H2 from December 2023 to March 2024.
DECEMBER, JANUARY, FEBRUARY, MARCH = "5033372", "5034122", "5034763", "5035845"
BEFORE_DECEMBER = "10.0.19045.3693"  # November 2023's cumulative update
FEBRUARY_BUILD = "10.0.19045.4046"


@cache
def fixes_of(product: str) -> dict[str, dict[str, str]]:
    """CVE -> {KB: fixed build} for one product, from the documents' own XML."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(shared_data("msrc_cvrf").glob("*.xml")):
        root = ET.parse(path).getroot()  # noqa: S314 (Microsoft's documents, read in tests)
        ids = {
            e.get("ProductID")
            for e in root.iter(f"{_PROD}FullProductName")
            if (e.text or "").strip() == product
        }
        for vulnerability in root.iter(f"{_VULN}Vulnerability"):
            cve = (vulnerability.findtext(f"{_VULN}CVE") or "").strip()
            for remediation in vulnerability.iter(f"{_VULN}Remediation"):
                build = (remediation.findtext(f"{_VULN}FixedBuild") or "").strip()
                products = {p.text for p in remediation.iter(f"{_VULN}ProductID")}
                if remediation.get("Type") == "Vendor Fix" and build and products & ids:
                    kb = (remediation.findtext(f"{_VULN}Description") or "").strip()
                    found.setdefault(cve, {})[kb] = build
    return found


@cache
def scored_cves(product: str) -> set[str]:
    """The CVEs whose documents give a CVSS vector for the product."""
    found = set()
    for path in sorted(shared_data("msrc_cvrf").glob("*.xml")):
        root = ET.parse(path).getroot()  # noqa: S314
        ids = {
            e.get("ProductID")
            for e in root.iter(f"{_PROD}FullProductName")
            if (e.text or "").strip() == product
        }
        for vulnerability in root.iter(f"{_VULN}Vulnerability"):
            for score in vulnerability.iter(f"{_VULN}ScoreSet"):
                products = {p.text for p in score.iter(f"{_VULN}ProductID")}
                if (score.findtext(f"{_VULN}Vector") or "").strip() and products & ids:
                    found.add((vulnerability.findtext(f"{_VULN}CVE") or "").strip())
    return found


def cves_fixed_by(*kbs: str) -> set[str]:
    return {cve for cve, fixes in fixes_of(WIN10).items() if set(fixes) & set(kbs)}


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.token_for("vera", Role.viewer)


@pytest.fixture
def documents(api: Api) -> None:
    summary = FeedImporter(api.sessions()).run([shared_data("msrc_cvrf")])
    assert summary.records == 313


def _windows(api: Api, build: str | None, *, hostname: str = "win10", **facts: Any) -> str:
    with transaction(api.sessions()) as session:
        device = Device(
            hostname=hostname,
            os_family="windows",
            os_name="Microsoft Windows 10 Enterprise",
            os_version="10.0.19045",
            os_build=build,
            os_arch="64-bit",
            **facts,
        )
        session.add(device)
        session.flush()
        refresh_device(session, device.id)
        return device.id


def _list(api: Api, device: str, headers: dict[str, str]) -> dict[str, Any]:
    response = api.client.get(
        f"/api/devices/{device}/vulnerabilities", params={"limit": 200}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def _detail(api: Api, device: str, finding: int, headers: dict[str, str]) -> dict[str, Any]:
    response = api.client.get(f"/api/devices/{device}/vulnerabilities/{finding}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_device_before_december_lists_the_cves_of_december_to_march(
    api: Api, documents: None, viewer: dict[str, str]
) -> None:
    device = _windows(api, BEFORE_DECEMBER)

    page = _list(api, device, viewer)

    expected = cves_fixed_by(DECEMBER, JANUARY, FEBRUARY, MARCH)
    assert len(expected) == 123
    assert {item["cve"] for item in page["items"]} == expected
    assert page["total"] == 123
    assert {(i["software"]["name"], i["software"]["version"]) for i in page["items"]} == {
        ("Windows", BEFORE_DECEMBER)
    }
    assert {i["match"] for i in page["items"]} == {"affected"}
    # Scored from Microsoft's own vectors where it gives one (no NVD record is imported
    # here); the CVEs it leaves to others (AMD's, Chromium's) stay unscored.
    unscored = {i["cve"] for i in page["items"] if i["cvss_score"] is None}
    assert unscored == expected - scored_cves(WIN10)
    # CVE-2024-21338 (Windows kernel, exploited) is fixed by February's update.
    kernel = next(i for i in page["items"] if i["cve"] == "CVE-2024-21338")
    assert (kernel["fixed_version"], kernel["cvss_score"]) == ("10.0.19045.4046", 7.8)
    [evidence] = _detail(api, device, kernel["id"], viewer)["evidence"]
    assert evidence["range"] == (
        f"build {BEFORE_DECEMBER} < fixed build 10.0.19045.4046 (KB{FEBRUARY})"
    )
    assert evidence["text"] == (
        f"Microsoft's security update KB{FEBRUARY} (2024-Feb) for {WIN10} is not installed: "
        f"build {BEFORE_DECEMBER} < fixed build 10.0.19045.4046 (KB{FEBRUARY})."
    )
    # The recommendation updates Windows to March's build, the one that fixes all of them.
    recommendations = api.client.get(
        f"/api/devices/{device}/recommendations", headers=viewer
    ).json()["items"]
    windows = [r for r in recommendations if r["component"] == "Windows"]
    assert [(r["title"], r["weakness_count"]) for r in windows] == [
        ("Update Windows to 10.0.19045.4170", 123)
    ]
    # The exposure counts them as any finding, its drivers named "Windows".
    security = api.client.get(f"/api/devices/{device}", headers=viewer).json()["security"]
    assert security["exposure"]["counted"] == 123
    assert security["exposure_level"] == "high"
    assert {d["software"] for d in security["exposure"]["drivers"]} == {"Windows"}


def test_a_device_on_the_february_build_lists_only_march(
    api: Api, documents: None, viewer: dict[str, str]
) -> None:
    device = _windows(api, FEBRUARY_BUILD)

    page = _list(api, device, viewer)

    march = cves_fixed_by(MARCH)
    assert len(march) == 36
    assert {item["cve"] for item in page["items"]} == march
    first = page["items"][0]
    assert first["fixed_version"] == "10.0.19045.4170"
    [evidence] = _detail(api, device, first["id"], viewer)["evidence"]
    assert evidence["range"] == f"build {FEBRUARY_BUILD} < fixed build 10.0.19045.4170 (KB{MARCH})"


def test_an_unknown_build_lists_none(api: Api, documents: None, viewer: dict[str, str]) -> None:
    # The version without its revision: which updates are in is not known.
    device = _windows(api, None)

    assert _list(api, device, viewer)["total"] == 0


def test_findings_follow_the_build_the_hotfixes_and_the_documents(
    api: Api, viewer: dict[str, str]
) -> None:
    sessions = api.sessions()
    # The device is known before Microsoft's documents are imported: no findings yet.
    device = _windows(api, BEFORE_DECEMBER)
    assert _list(api, device, viewer)["total"] == 0

    # The import re-matches the Windows devices of the products it names.
    imported = FeedImporter(sessions).run([shared_data("msrc_cvrf")])
    rematched = rematch(sessions, imported.written)
    assert rematched.devices == 1
    assert _list(api, device, viewer)["total"] == 123
    with sessions() as session:
        before = session.execute(select(Finding.id).where(Finding.device_id == device)).scalars()
        ids_before = set(before)

    # osquery reports the February build: the rows of March's CVEs stay, the rest go.
    with transaction(sessions) as session:
        found = session.get(Device, device)
        assert found is not None
        found.os_build = FEBRUARY_BUILD
        session.flush()
        refresh_device(session, device)
    after = _list(api, device, viewer)
    assert {i["cve"] for i in after["items"]} == cves_fixed_by(MARCH)
    assert {i["id"] for i in after["items"]} <= ids_before
    assert {i["software"]["version"] for i in after["items"]} == {FEBRUARY_BUILD}

    # March's update installed (the build string not yet moved on): nothing is missing.
    with transaction(sessions) as session:
        session.add(Hotfix(device_id=device, hotfix_id=f"KB{MARCH}", source="osquery"))
        session.flush()
        refresh_device(session, device)
    assert _list(api, device, viewer)["total"] == 0
    with sessions() as session:
        rows = session.execute(
            select(Software.name, Software.version, Software.source).where(
                Software.device_id == device
            )
        ).all()
    # With nothing missing the OS row goes too: the inventory is the device's own again.
    assert rows == []


def test_an_agent_inventory_keeps_the_windows_row_and_its_markings(
    api: Api, documents: None, viewer: dict[str, str]
) -> None:
    analyst = api.token_for("ana", Role.analyst)
    host = {
        "os_family": "windows",
        "os_name": "Microsoft Windows 10 Pro",
        "os_version": f"{FEBRUARY_BUILD}",
        "os_arch": "AMD64",
    }
    device, agent = enroll(api, "win-agent", **host)

    def upload(programs: list[tuple[str, str]]) -> None:
        body = {
            "collected_at": utcnow().isoformat(),
            "host": {"hostname": "win-agent", "machine_id": "win-agent", **host},
            "software": [{"source": "windows", "name": n, "version": v} for n, v in programs],
        }
        response = api.client.put("/api/agent/inventory", headers=agent, json=body)
        assert response.status_code == 200, response.text

    upload([("7-Zip 23.01 (x64)", "23.01")])
    first = _list(api, device, viewer)
    assert {i["cve"] for i in first["items"]} == cves_fixed_by(MARCH)
    finding = first["items"][0]
    marked = api.client.patch(
        f"/api/findings/{finding['id']}",
        headers=analyst,
        json={"status": "accepted_risk", "reason": "March update scheduled for the weekend"},
    )
    assert marked.status_code == 200, marked.text

    # A later inventory without that program: the OS row is not inventory, and stays.
    upload([("Notepad++ (64-bit x64)", "8.6.4")])

    second = {i["id"]: i for i in _list(api, device, viewer)["items"]}
    assert set(second) == {i["id"] for i in first["items"]}
    assert second[finding["id"]]["status"] == "accepted_risk"
