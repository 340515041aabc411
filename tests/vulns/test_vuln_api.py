"""The discovered vulnerabilities API over real feeds and an agent's real inventory upload.

The device is enrolled and uploads its pip packages through the agent protocol; the upload
itself refreshes the findings (no manual step). Feeds are the shared OSV PyPI advisories of
werkzeug and salt, and the shared CISA KEV catalog.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from hostwatch.auth.models import AuditEntry
from hostwatch.auth.roles import Role
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.vulns import findings
from hostwatch.vulns.models import Finding
from tests.helpers import Api, enroll
from tests.shared import shared_data

# PYSEC-2023-221 (CVE-2023-46136): werkzeug 3.0.0 is in [3.0.0, 3.0.1); its vector is
# CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H, base 7.5 (network, no privileges, high
# availability impact: 0.85*0.77*0.85*0.85*8.22 = 3.9 exploitability + 3.6 impact).
WERKZEUG_CVE = "CVE-2023-46136"
# salt 3000.1 is before 3000.2, which fixed the first two, and before 3000.3 of the third
# (PYSEC-2020-104's ranges); CISA lists all three as exploited, added 2021-11-03.
SALT_KEV = {"CVE-2020-11651", "CVE-2020-11652", "CVE-2020-16846"}


def _upload(api: Api, agent: dict[str, str], packages: list[tuple[str, str]]) -> None:
    body = {
        "collected_at": utcnow().isoformat(),
        "host": {"hostname": "py-01"},
        "software": [{"source": "pip", "name": n, "version": v} for n, v in packages],
    }
    response = api.client.put("/api/agent/inventory", headers=agent, json=body)
    assert response.status_code == 200, response.text


@pytest.fixture
def feeds(hostwatch: Any) -> None:
    result = hostwatch(
        "feeds",
        "import",
        str(shared_data("osv_pypi", "vulns", "werkzeug")),
        str(shared_data("osv_pypi", "vulns", "salt")),
        str(shared_data("cisa_kev", "known_exploited_vulnerabilities.json")),
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def device(api: Api, feeds: None) -> str:
    device_id, agent = enroll(api, "py-01")
    _upload(api, agent, [("Werkzeug", "3.0.0"), ("salt", "3000.1"), ("werkzeug", "")])
    return device_id


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.token_for("vera", Role.viewer)


@pytest.fixture
def analyst(api: Api) -> dict[str, str]:
    return api.token_for("ana", Role.analyst)


def _list(api: Api, device: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = api.client.get(
        f"/api/devices/{device}/vulnerabilities", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def _werkzeug_finding(api: Api, device: str, headers: dict[str, str]) -> dict[str, Any]:
    page = _list(api, device, headers, cve=WERKZEUG_CVE, match="affected")
    [found] = page["items"]
    return found


def test_agent_upload_creates_findings_and_a_fixed_version_removes_them(
    api: Api, feeds: None, viewer: dict[str, str]
) -> None:
    device_id, agent = enroll(api, "py-01")

    _upload(api, agent, [("Werkzeug", "3.0.0")])
    before = _list(api, device_id, viewer)
    _upload(api, agent, [("Werkzeug", "3.0.1")])
    after = _list(api, device_id, viewer)

    assert [(i["cve"], i["software"]["version"]) for i in before["items"]] == [
        (WERKZEUG_CVE, "3.0.0")
    ]
    assert after == {"items": [], "next_cursor": None, "total": 0}


def test_list_shows_computed_cvss_software_and_fix(
    api: Api, device: str, viewer: dict[str, str]
) -> None:
    found = _werkzeug_finding(api, device, viewer)

    assert found["cvss_score"] == 7.5
    assert found["cvss_version"] == "3.1"
    assert found["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    assert found["severity"] == "high"
    assert found["aliases"] == ["GHSA-hrfv-mqp8-q5rw", "PYSEC-2023-221"]
    assert found["software"]["name"] == "Werkzeug" and found["software"]["version"] == "3.0.0"
    assert found["fixed_version"] == "3.0.1"
    assert (found["match"], found["status"]) == ("affected", "open")
    assert found["published"].startswith("2023-10-25T18:17:00")
    assert found["threats"]["exploited_in_wild"] is False


def test_unknown_versions_are_listed_as_unknown_and_filtered_apart(
    api: Api, device: str, viewer: dict[str, str]
) -> None:
    unknown = _list(api, device, viewer, match="unknown", limit=100)
    affected = _list(api, device, viewer, match="affected", limit=500)

    # Every werkzeug advisory names the versionless install, and none calls it affected.
    assert unknown["total"] == 7
    assert {i["software"]["version"] for i in unknown["items"]} == {None}
    assert {i["match"] for i in unknown["items"]} == {"unknown"}
    assert all(i["software"]["version"] is not None for i in affected["items"])


def test_kev_filter_and_threats(api: Api, device: str, viewer: dict[str, str]) -> None:
    page = _list(api, device, viewer, kev="true")

    assert {i["cve"] for i in page["items"]} == SALT_KEV
    for item in page["items"]:
        assert item["threats"] == {
            "exploited_in_wild": True,
            "known_ransomware_use": False,
            "kev_added": "2021-11-03",
            "due_date": "2022-05-03",
        }


def test_list_sorts_pages_and_trims_fields(api: Api, device: str, viewer: dict[str, str]) -> None:
    whole = _list(api, device, viewer, sort="cve", limit=500, fields="cve")
    first = _list(api, device, viewer, sort="cve", limit=5, fields="cve")
    second = _list(
        api, device, viewer, sort="cve", limit=5, fields="cve", cursor=first["next_cursor"]
    )
    by_score = _list(api, device, viewer, sort="-cvss_score", limit=500)
    bad_sort = api.client.get(
        f"/api/devices/{device}/vulnerabilities", params={"sort": "secret"}, headers=viewer
    )
    bad_cursor = api.client.get(
        f"/api/devices/{device}/vulnerabilities", params={"cursor": "abc"}, headers=viewer
    )

    cves = [i["cve"] for i in whole["items"]]
    assert cves == sorted(cves) and whole["total"] == len(cves) > 10
    assert [i["cve"] for i in first["items"] + second["items"]] == cves[:10]
    assert {tuple(sorted(i)) for i in first["items"]} == {("cve", "id")}
    scores = [i["cvss_score"] for i in by_score["items"]]
    scored = [s for s in scores if s is not None]
    # Highest first, the unscored (no advisory gives a vector) after every score.
    assert scored == sorted(scored, reverse=True) and len(scored) >= 2
    assert scores == scored + [None] * (len(scores) - len(scored))
    assert bad_sort.status_code == 422 and bad_cursor.status_code in (400, 422)


def test_detail_explains_the_match(api: Api, device: str, viewer: dict[str, str]) -> None:
    item = _werkzeug_finding(api, device, viewer)

    detail = api.client.get(
        f"/api/devices/{device}/vulnerabilities/{item['id']}", headers=viewer
    ).json()
    other_device, _ = enroll(api, "other")
    wrong_device = api.client.get(
        f"/api/devices/{other_device}/vulnerabilities/{item['id']}", headers=viewer
    )

    assert detail["description"].startswith("Werkzeug is a comprehensive WSGI")
    assert {r["url"] for r in detail["references"]} >= {
        "https://github.com/pallets/werkzeug/security/advisories/GHSA-hrfv-mqp8-q5rw"
    }
    [evidence] = detail["evidence"]
    assert evidence["feed"] == "osv" and evidence["advisory"] == "PYSEC-2023-221"
    assert evidence["installed_version"] == "3.0.0"
    assert evidence["fixed"] == "3.0.1"
    # The advisory lists 3.0.0 among its versions, which decides before the ranges do.
    assert evidence["text"] == (
        "OSV advisory PYSEC-2023-221 lists version 3.0.0 of Werkzeug (PyPI) as affected. "
        "Fixed in 3.0.1."
    )
    assert wrong_device.status_code == 404


def test_viewer_cannot_mark_and_a_reason_is_required(
    api: Api, device: str, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    item = _werkzeug_finding(api, device, viewer)
    url = f"/api/findings/{item['id']}"

    as_viewer = api.client.patch(
        url, json={"status": "accepted_risk", "reason": "x"}, headers=viewer
    )
    no_reason = api.client.patch(url, json={"status": "false_positive"}, headers=analyst)
    blank = api.client.patch(
        url, json={"status": "false_positive", "reason": "  "}, headers=analyst
    )
    past = api.client.patch(
        url,
        json={"status": "accepted_risk", "reason": "x", "expires_at": "2001-01-01T00:00:00Z"},
        headers=analyst,
    )

    assert as_viewer.status_code == 403
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    assert blank.status_code == 422
    assert past.status_code == 422 and "expires_at" in past.text
    assert _werkzeug_finding(api, device, viewer)["status"] == "open"


def test_marking_is_audited_survives_refresh_and_lapses_at_expiry(
    api: Api, device: str, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    item = _werkzeug_finding(api, device, viewer)
    expires = (utcnow() + timedelta(days=30)).isoformat()

    marked = api.client.patch(
        f"/api/findings/{item['id']}",
        json={
            "status": "accepted_risk",
            "reason": "behind the proxy's size limit",
            "expires_at": expires,
        },
        headers=analyst,
    )
    with transaction(api.sessions()) as session:
        findings.refresh_device(session, device)
    after_refresh = _werkzeug_finding(api, device, viewer)
    accepted = _list(api, device, viewer, status="accepted_risk")
    with transaction(api.sessions()) as session:
        session.execute(
            update(Finding)
            .where(Finding.id == item["id"])
            .values(marking_expires=utcnow() - timedelta(minutes=1))
        )
    lapsed = _werkzeug_finding(api, device, viewer)
    with api.sessions()() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "finding.mark")).all()

    assert marked.status_code == 200, marked.text
    body = marked.json()
    assert body["status"] == "accepted_risk"
    assert body["marking"]["reason"] == "behind the proxy's size limit"
    assert body["marking"]["marked_by"] == "ana" and body["marking"]["expired"] is False
    assert after_refresh["status"] == "accepted_risk"
    assert [i["id"] for i in accepted["items"]] == [item["id"]]
    assert lapsed["status"] == "open"
    [entry] = audit
    assert (entry.actor, entry.target) == ("ana", str(item["id"]))
    assert entry.detail["status"] == ["open", "accepted_risk"]
    assert entry.detail["device_id"] == device


def test_reopening_clears_the_marking(
    api: Api, device: str, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    item = _werkzeug_finding(api, device, viewer)
    url = f"/api/findings/{item['id']}"
    api.client.patch(
        url, json={"status": "false_positive", "reason": "vendored copy"}, headers=analyst
    )

    reopened = api.client.patch(url, json={"status": "open"}, headers=analyst).json()

    assert reopened["status"] == "open"
    assert reopened["marking"] is None


def test_unknown_device_and_finding_are_404(
    api: Api, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    missing = api.client.get("/api/devices/nope/vulnerabilities", headers=viewer)
    no_finding = api.client.patch("/api/findings/999999", json={"status": "open"}, headers=analyst)
    anonymous = api.client.get("/api/devices/nope/vulnerabilities")

    assert missing.status_code == 404
    assert no_finding.status_code == 404
    assert anonymous.status_code == 401


def test_software_list_counts_weaknesses_threats_and_product_codes(
    api: Api, device: str, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    url = f"/api/devices/{device}/software"
    affected = _list(api, device, viewer, software="salt", match="affected", limit=500)
    item = _werkzeug_finding(api, device, viewer)
    api.client.patch(
        f"/api/findings/{item['id']}",
        json={"status": "false_positive", "reason": "not reachable"},
        headers=analyst,
    )

    listed = {
        (s["name"], s["version"]): s for s in api.client.get(url, headers=viewer).json()["items"]
    }
    by_code = api.client.get(url, params={"product_code": "pkg:pypi/werkzeug"}, headers=viewer)
    exact = api.client.get(
        url, params={"product_code": "pkg:pypi/salt@3000.1"}, headers=viewer
    ).json()
    prefix_only = api.client.get(url, params={"product_code": "pkg:pypi/salt@3000"}, headers=viewer)

    salt = listed[("salt", "3000.1")]
    assert salt["product_code"] == "pkg:pypi/salt@3000.1"
    assert salt["weaknesses"] == affected["total"] > 3
    assert salt["exploited"] is True
    # Its only affected finding is marked a false positive; the versionless install has only
    # unknown findings: neither counts a weakness.
    assert listed[("Werkzeug", "3.0.0")]["weaknesses"] == 0
    assert listed[("werkzeug", None)]["weaknesses"] == 0
    assert listed[("werkzeug", None)]["product_code"] == "pkg:pypi/werkzeug"
    assert sorted((s["name"], s["version"]) for s in by_code.json()["items"]) == [
        ("Werkzeug", "3.0.0"),
        ("werkzeug", None),
    ]
    assert [s["name"] for s in exact["items"]] == ["salt"]
    assert prefix_only.json()["total"] == 0


def test_software_detail_lists_its_cves(api: Api, device: str, viewer: dict[str, str]) -> None:
    items = api.client.get(f"/api/devices/{device}/software", headers=viewer).json()["items"]
    [salt_id] = [s["id"] for s in items if s["name"] == "salt"]

    detail = api.client.get(f"/api/devices/{device}/software/{salt_id}", headers=viewer).json()

    cves = {v["cve"]: v for v in detail["vulnerabilities"]}
    assert set(cves) >= SALT_KEV
    assert all(cves[c]["exploited"] for c in SALT_KEV)
    assert cves["CVE-2020-11651"]["fixed_version"] == "3000.2"
    assert detail["install_path"] is None and detail["last_seen"]
    scores = [v["cvss_score"] for v in detail["vulnerabilities"] if v["cvss_score"] is not None]
    assert scores == sorted(scores, reverse=True)


def _page_through(api: Api, device: str, headers: dict[str, str], sort: str) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": 7, "fields": "cve"}
        if cursor:
            params["cursor"] = cursor
        page = _list(api, device, headers, **params)
        seen.extend(i["id"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_every_sort_pages_by_cursor_without_gaps(
    api: Api, device: str, viewer: dict[str, str]
) -> None:
    sorts = ("-cvss_score", "published", "-updated", "-severity", "status", "software")
    wholes = {s: _list(api, device, viewer, sort=s, limit=500, fields="cve") for s in sorts}

    paged = {s: _page_through(api, device, viewer, s) for s in sorts}

    for sort in sorts:
        assert paged[sort] == [i["id"] for i in wholes[sort]["items"]], sort
        assert len(paged[sort]) == wholes[sort]["total"] > 7
