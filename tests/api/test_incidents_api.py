"""The incidents API: list filters, detail with link reasons, status change with roles and audit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hostwatch.auth.models import AuditEntry
from hostwatch.auth.roles import Role
from hostwatch.db.engine import transaction
from hostwatch.detection.service import detect
from tests.detection.alerting import add_device, import_test_rules, process_event, store
from tests.helpers import Api


@pytest.fixture
def incidents(api: Api) -> dict[str, str]:
    """Two incidents. Alice's: whoami and net on app-01, then whoami on db-02 by the same
    user (high, three alerts). Bob's: net on web-03 three days later (low, one alert)."""
    with transaction(api.sessions()) as session:
        import_test_rules(session)
        app = add_device(session, "app-01")
        db = add_device(session, "db-02")
        web = add_device(session, "web-03")
        detect(
            session,
            app,
            store(
                session,
                app,
                process_event(0, "whoami.exe", guid="{a}"),
                process_event(10, "net.exe", guid="{b}"),
            ),
        )
        detect(session, db, store(session, db, process_event(30, "whoami.exe", guid="{c}")))
        bob = process_event(3 * 24 * 60, "net.exe", guid="{d}", user="CORP\\bob")
        detect(session, web, store(session, web, bob))
    return {"app": app, "db": db, "web": web}


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.token_for("vera", Role.viewer)


@pytest.fixture
def analyst(api: Api) -> dict[str, str]:
    return api.token_for("ana", Role.analyst)


def _incident_with(api: Api, headers: dict[str, str], device: str) -> dict[str, Any]:
    page = api.client.get("/api/incidents", headers=headers).json()
    [found] = [item for item in page["items"] if device in item["devices"]]
    return found


def test_incident_list_shows_devices_users_and_counts_and_filters_by_severity(
    api: Api, incidents: dict[str, str], viewer: dict[str, str]
) -> None:
    every = api.client.get("/api/incidents", headers=viewer).json()
    low = api.client.get("/api/incidents", params={"severity": "low"}, headers=viewer).json()
    high_or_critical = api.client.get(
        "/api/incidents", params={"severity": ["high", "critical"]}, headers=viewer
    ).json()
    resolved = api.client.get("/api/incidents", params={"status": "resolved"}, headers=viewer)
    bad = api.client.get("/api/incidents", params={"severity": "urgent"}, headers=viewer)

    assert every["total"] == 2
    summary = [
        (i["severity"], i["devices"], i["users"], i["alert_count"], i["active_alerts"])
        for i in every["items"]
    ]
    # Newest activity first: Bob's incident is three days after Alice's.
    assert summary == [
        ("low", ["web-03"], ["CORP\\bob"], 1, 1),
        ("high", ["app-01", "db-02"], ["CORP\\alice"], 3, 3),
    ]
    assert [i["devices"] for i in low["items"]] == [["web-03"]]
    assert [i["devices"] for i in high_or_critical["items"]] == [["app-01", "db-02"]]
    assert resolved.json()["total"] == 0
    assert bad.status_code == 422


def test_incident_detail_gives_each_alert_its_link_reason(
    api: Api, incidents: dict[str, str], viewer: dict[str, str]
) -> None:
    incident = _incident_with(api, viewer, "db-02")

    response = api.client.get(f"/api/incidents/{incident['id']}", headers=viewer)
    missing = api.client.get("/api/incidents/no-such-incident", headers=viewer)
    anonymous = api.client.get(f"/api/incidents/{incident['id']}")

    assert response.status_code == 200
    detail = response.json()
    assert (detail["title"], detail["status"], detail["severity"]) == (
        "Whoami Run on app-01",
        "active",
        "high",
    )
    alerts = [(a["title"], a["device_name"], a["reason"]) for a in detail["alerts"]]
    assert alerts[0] == ("Whoami Run", "app-01", "first alert of the incident")
    assert alerts[1][:2] == ("Net Run", "app-01")
    assert alerts[1][2].startswith("same device app-01 within 10 min of alert 'Whoami Run'")
    assert alerts[2][:2] == ("Whoami Run", "db-02")
    assert alerts[2][2].startswith("same user CORP\\alice within 30 min of alert 'Whoami Run'")
    assert missing.status_code == 404
    assert anonymous.status_code == 401


def test_resolving_an_incident_resolves_its_alerts_and_is_audited(
    api: Api, incidents: dict[str, str], viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    incident = _incident_with(api, viewer, "app-01")
    url = f"/api/incidents/{incident['id']}"

    refused = api.client.patch(url, json={"status": "resolved"}, headers=viewer)
    done = api.client.patch(url, json={"status": "resolved"}, headers=analyst)
    reopen = api.client.patch(url, json={"status": "active"}, headers=analyst)

    assert refused.status_code == 403
    assert done.status_code == 200
    assert done.json()["status"] == "resolved"
    assert done.json()["active_alerts"] == 0
    assert {a["status"] for a in done.json()["alerts"]} == {"resolved"}
    assert reopen.status_code == 409
    app = api.client.get(f"/api/devices/{incidents['app']}", headers=viewer).json()
    assert (app["security"]["risk_level"], app["security"]["active_alerts"]) == ("none", 0)
    web = api.client.get(f"/api/devices/{incidents['web']}", headers=viewer).json()
    assert web["security"]["active_alerts"] == 1
    with transaction(api.sessions(), write=False) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "incident.update")
        ).one()
        assert (entry.actor, entry.target) == ("ana", incident["id"])
        assert entry.detail["changes"] == {"status": ["active", "resolved"]}
        assert len(entry.detail["resolved_alerts"]) == 3


def test_incident_in_progress_keeps_alert_statuses_and_an_alert_reopens_it(
    api: Api, incidents: dict[str, str], viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    incident = _incident_with(api, viewer, "web-03")
    url = f"/api/incidents/{incident['id']}"

    started = api.client.patch(url, json={"status": "in_progress"}, headers=analyst).json()
    resolved = api.client.patch(url, json={"status": "resolved"}, headers=analyst).json()
    [alert] = resolved["alerts"]
    api.client.patch(f"/api/alerts/{alert['id']}", json={"status": "new"}, headers=analyst)
    reopened = api.client.get(url, headers=viewer).json()

    assert (started["status"], [a["status"] for a in started["alerts"]]) == (
        "in_progress",
        ["new"],
    )
    assert resolved["status"] == "resolved"
    assert (reopened["status"], reopened["active_alerts"]) == ("active", 1)


def test_patch_incident_refuses_bad_bodies_and_unknown_incidents(
    api: Api, incidents: dict[str, str], viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    incident = _incident_with(api, viewer, "web-03")
    url = f"/api/incidents/{incident['id']}"

    assert api.client.patch(url, json={"status": "closed"}, headers=analyst).status_code == 422
    assert api.client.patch(url, json={}, headers=analyst).status_code == 422
    extra = {"status": "resolved", "severity": "low"}
    assert api.client.patch(url, json=extra, headers=analyst).status_code == 422
    missing = api.client.patch(
        "/api/incidents/no-such-incident", json={"status": "resolved"}, headers=analyst
    )
    assert missing.status_code == 404
    # Nothing was changed by the refused requests.
    assert api.client.get(url, headers=viewer).json()["status"] == "active"
