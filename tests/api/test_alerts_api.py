"""The alerts, incidents and rules API: lists, detail, triage with roles, risk after triage."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hostwatch.auth.models import AuditEntry
from hostwatch.auth.roles import Role
from hostwatch.db.engine import transaction
from hostwatch.detection.service import detect
from tests.detection.alerting import (
    NET_RULE,
    WHOAMI_RULE,
    import_test_rules,
    process_event,
    store,
)
from tests.helpers import Api, enroll


@pytest.fixture
def device(api: Api) -> str:
    """A device with two alerts: whoami (high, two events of one process) and net (low)."""
    device_id, _ = enroll(api, "app-01")
    with transaction(api.sessions()) as session:
        import_test_rules(session)
        rows = store(
            session,
            device_id,
            process_event(0, "whoami.exe", guid="{a}"),
            process_event(5, "whoami.exe", guid="{a}", target="C:\\x.txt"),
            process_event(10, "net.exe", guid="{b}"),
        )
        detect(session, device_id, rows)
    return device_id


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.token_for("vera", Role.viewer)


@pytest.fixture
def analyst(api: Api) -> dict[str, str]:
    return api.token_for("ana", Role.analyst)


def _alert_of(api: Api, device: str, headers: dict[str, str], rule: str) -> dict[str, Any]:
    page = api.client.get(f"/api/devices/{device}/alerts", headers=headers).json()
    [found] = [item for item in page["items"] if item["rule_id"] == rule]
    return found


def test_device_alerts_list_sorts_filters_and_trims_fields(
    api: Api, device: str, viewer: dict[str, str]
) -> None:
    url = f"/api/devices/{device}/alerts"

    newest_first = api.client.get(url, headers=viewer).json()
    by_severity = api.client.get(url, params={"sort": "-severity"}, headers=viewer).json()
    high_only = api.client.get(url, params={"severity": "high"}, headers=viewer).json()
    trimmed = api.client.get(url, params={"fields": "title,severity"}, headers=viewer).json()
    bad = api.client.get(url, params={"fields": "title,secret"}, headers=viewer)

    assert [i["title"] for i in newest_first["items"]] == ["Net Run", "Whoami Run"]
    assert newest_first["total"] == 2
    assert [i["severity"] for i in by_severity["items"]] == ["high", "low"]
    assert [(i["title"], i["event_count"]) for i in high_only["items"]] == [("Whoami Run", 2)]
    assert high_only["items"][0]["device_name"] == "app-01"
    assert high_only["items"][0]["techniques"] == ["T1033"]
    assert {tuple(sorted(i)) for i in trimmed["items"]} == {("id", "severity", "title")}
    assert bad.status_code == 422


def test_device_alerts_page_by_cursor(api: Api, device: str, viewer: dict[str, str]) -> None:
    url = f"/api/devices/{device}/alerts"

    first = api.client.get(url, params={"limit": 1}, headers=viewer).json()
    second = api.client.get(
        url, params={"limit": 1, "cursor": first["next_cursor"]}, headers=viewer
    ).json()

    assert [i["title"] for i in first["items"] + second["items"]] == ["Net Run", "Whoami Run"]
    assert second["next_cursor"] is None


def test_alert_detail_has_matched_events_rule_and_incident(
    api: Api, device: str, viewer: dict[str, str]
) -> None:
    alert = _alert_of(api, device, viewer, WHOAMI_RULE)

    detail = api.client.get(f"/api/alerts/{alert['id']}", headers=viewer).json()

    assert [e["process"]["guid"] for e in detail["events"]] == ["{a}", "{a}"]
    assert detail["events_total"] == 2
    assert detail["rule"]["references"] == ["https://example.org/<b>ref</b>"]
    assert detail["rule"]["description"] == "Runs whoami.exe."
    assert detail["incident"]["reason"] == "first alert of the incident"
    assert {"kind": "file", "value": "C:\\x.txt"} in detail["entities"]


def test_alerts_across_devices_filter_by_rule_and_device(
    api: Api, device: str, viewer: dict[str, str]
) -> None:
    by_rule = api.client.get("/api/alerts", params={"rule": NET_RULE}, headers=viewer).json()
    elsewhere = api.client.get("/api/alerts", params={"device": "nope"}, headers=viewer)

    assert [i["title"] for i in by_rule["items"]] == ["Net Run"]
    assert elsewhere.status_code == 404


def test_patch_alert_needs_the_analyst_role_and_is_audited(
    api: Api, device: str, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    alert = _alert_of(api, device, viewer, WHOAMI_RULE)
    url = f"/api/alerts/{alert['id']}"
    change = {"status": "in_progress", "assignee": "ana", "classification": "true_positive"}

    refused = api.client.patch(url, json=change, headers=viewer)
    done = api.client.patch(url, json=change, headers=analyst)

    assert refused.status_code == 403
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["assignee"]) == ("in_progress", "ana")
    assignee = api.client.get(
        f"/api/devices/{device}/alerts", params={"assignee": "ana"}, headers=viewer
    ).json()
    assert [i["id"] for i in assignee["items"]] == [alert["id"]]
    with transaction(api.sessions(), write=False) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.update")).one()
        assert (entry.actor, entry.target) == ("ana", alert["id"])
        assert entry.detail["changes"]["status"] == ["new", "in_progress"]


def test_patch_alert_refuses_unknown_values(
    api: Api, device: str, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    alert = _alert_of(api, device, viewer, WHOAMI_RULE)
    url = f"/api/alerts/{alert['id']}"

    assert api.client.patch(url, json={"status": "done"}, headers=analyst).status_code == 422
    assert api.client.patch(url, json={"severity": "low"}, headers=analyst).status_code == 422
    assert api.client.patch(url, json={"status": None}, headers=analyst).status_code == 422


def test_resolving_alerts_lowers_the_risk_and_resolves_the_incident(
    api: Api, device: str, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    whoami = _alert_of(api, device, viewer, WHOAMI_RULE)
    net = _alert_of(api, device, viewer, NET_RULE)
    before = api.client.get(f"/api/devices/{device}", headers=viewer).json()["security"]

    api.client.patch(f"/api/alerts/{whoami['id']}", json={"status": "resolved"}, headers=analyst)
    middle = api.client.get(f"/api/devices/{device}", headers=viewer).json()["security"]
    low = api.client.get("/api/devices", params={"risk": "low"}, headers=viewer).json()
    api.client.patch(f"/api/alerts/{net['id']}", json={"status": "resolved"}, headers=analyst)
    after = api.client.get(f"/api/devices/{device}", headers=viewer).json()["security"]
    listed = api.client.get("/api/devices", params={"risk": "none"}, headers=viewer).json()

    assert (before["risk_level"], before["active_alerts"], before["open_incidents"]) == (
        "high",
        2,
        1,
    )
    assert before["risk_reasons"] == [
        {"alert_id": whoami["id"], "title": "Whoami Run", "severity": "high"}
    ]
    assert before["active_alerts_by_severity"]["low"] == 1
    assert (middle["risk_level"], middle["active_alerts"]) == ("low", 1)
    assert [r["alert_id"] for r in middle["risk_reasons"]] == [net["id"]]
    assert [d["id"] for d in low["items"]] == [device]
    assert [d["risk_level"] for d in low["items"]] == ["low"]
    assert (after["risk_level"], after["active_alerts"], after["open_incidents"]) == ("none", 0, 0)
    assert [d["id"] for d in listed["items"]] == [device]
    incidents = api.client.get("/api/incidents", headers=viewer).json()
    assert [(i["status"], i["alert_count"], i["active_alerts"]) for i in incidents["items"]] == [
        ("resolved", 2, 0)
    ]


def test_incident_detail_lists_alerts_with_reasons(
    api: Api, device: str, viewer: dict[str, str]
) -> None:
    [incident] = api.client.get("/api/incidents", headers=viewer).json()["items"]

    detail = api.client.get(f"/api/incidents/{incident['id']}", headers=viewer).json()

    assert incident["devices"] == ["app-01"]
    reasons = [(a["title"], a["reason"]) for a in detail["alerts"]]
    assert reasons[0] == ("Whoami Run", "first alert of the incident")
    assert reasons[1][0] == "Net Run"
    assert reasons[1][1].startswith("same device app-01 within 5 min of alert 'Whoami Run'")


def test_rule_switch_and_exclusions_need_admin(
    api: Api, device: str, analyst: dict[str, str]
) -> None:
    admin = api.token_for("boss", Role.admin)
    exclusion = {"device_id": device, "reason": "noisy", "expires_at": "2199-01-01T00:00:00Z"}

    refused = api.client.patch(f"/api/rules/{NET_RULE}", json={"enabled": False}, headers=analyst)
    switched = api.client.patch(f"/api/rules/{NET_RULE}", json={"enabled": False}, headers=admin)
    not_added = api.client.post(
        f"/api/rules/{NET_RULE}/exclusions", json=exclusion, headers=analyst
    )
    added = api.client.post(f"/api/rules/{NET_RULE}/exclusions", json=exclusion, headers=admin)
    naive = api.client.post(
        f"/api/rules/{NET_RULE}/exclusions",
        json={**exclusion, "expires_at": "2199-01-01T00:00:00"},
        headers=admin,
    )
    listed = api.client.get(f"/api/rules/{NET_RULE}/exclusions", headers=analyst).json()
    removed = api.client.delete(f"/api/exclusions/{added.json()['id']}", headers=admin)

    assert refused.status_code == 403
    assert (switched.status_code, switched.json()["enabled"]) == (200, False)
    assert not_added.status_code == 403
    assert added.status_code == 201
    assert added.json()["active"] is True
    assert naive.status_code == 422
    assert [e["reason"] for e in listed] == ["noisy"]
    assert removed.status_code == 204
    rules = api.client.get("/api/rules", params={"enabled": False}, headers=analyst).json()
    assert [r["id"] for r in rules["items"]] == [NET_RULE]
    with transaction(api.sessions(), write=False) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("rule.%"))
        ).all()
        assert sorted(actions) == ["rule.disable", "rule.exclusion.add", "rule.exclusion.remove"]
