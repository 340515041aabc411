"""The action state machine through the real API: request, delivery, reports, cancel, expiry."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import update

from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.response.models import Action
from hostwatch.response.service import RESULT_DEADLINE
from tests.response.conftest import REASON, Setup


def test_action_request_is_stored_and_audited(setup: Setup) -> None:
    before = utcnow()

    response = setup.request(parameters={"mode": "selective", "allow_users": ["mail"]})

    assert response.status_code == 201, response.text
    action = response.json()
    assert action["device_id"] == setup.device
    assert action["device_name"] == "web01"
    assert action["type"] == "isolate"
    assert action["state"] == "requested"
    assert action["comment"] == REASON
    assert action["requested_by"] == "rita"
    assert action["parameters"] == {
        "mode": "selective",
        "allow_users": ["mail"],
        "allow_cgroups": [],
    }
    assert action["delivered_at"] is None and action["completed_at"] is None
    lifetime = datetime.fromisoformat(action["expires_at"]) - before
    assert timedelta(days=7) - timedelta(minutes=1) < lifetime <= timedelta(days=7, minutes=1)
    [entry] = setup.audit("action.request")
    assert entry.actor == "rita" and entry.target == action["id"]
    assert entry.detail["device_id"] == setup.device and entry.detail["comment"] == REASON


def test_action_is_delivered_on_heartbeat_exactly_once(setup: Setup) -> None:
    action = setup.request(parameters={"mode": "full"}).json()

    first = setup.heartbeat()
    second = setup.heartbeat()

    assert [a["id"] for a in first["actions"]] == [action["id"]]
    assert first["actions"][0]["type"] == "isolate"
    assert first["actions"][0]["parameters"]["mode"] == "full"
    assert first["actions"][0]["expires_at"] is not None
    assert second["actions"] == []
    shown = setup.action(action["id"])
    assert shown["state"] == "delivered"
    assert shown["delivered_at"] is not None


def test_action_for_an_offline_device_expires_and_is_never_delivered(setup: Setup) -> None:
    # About a second and a half.
    action = setup.request(expires_in_hours=0.0004).json()
    assert setup.action(action["id"])["state"] == "requested"

    time.sleep(2)
    shown = setup.action(action["id"])
    beat = setup.heartbeat()

    assert shown["state"] == "expired"
    assert shown["completed_at"] == shown["expires_at"]
    assert beat["actions"] == []
    [entry] = setup.audit("action.expire")
    assert entry.target == action["id"] and entry.actor_kind == "system"
    assert entry.detail["device_id"] == setup.device
    listed = setup.api.client.get(
        "/api/actions", params={"state": "expired"}, headers=setup.viewer
    ).json()
    assert [i["id"] for i in listed["items"]] == [action["id"]]
    assert setup.action(action["id"])["message"] == "expired before the device asked for its work"


def test_a_delivered_action_expires_without_a_report_and_then_refuses_one(setup: Setup) -> None:
    action = setup.request().json()
    setup.heartbeat()
    with transaction(setup.api.sessions()) as session:
        session.execute(
            update(Action)
            .where(Action.id == action["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    late = setup.report(action["id"], state="running")

    assert late.status_code == 409
    assert "expired" in late.json()["detail"]
    assert setup.action(action["id"])["state"] == "expired"
    assert len(setup.audit("action.expire")) == 1


def test_action_cancel_before_delivery_and_409_after(setup: Setup) -> None:
    waiting = setup.request().json()

    cancelled = setup.api.client.post(
        f"/api/actions/{waiting['id']}/cancel",
        json={"comment": "wrong host"},
        headers=setup.responder,
    )
    beat = setup.heartbeat()
    delivered = setup.request("restrict_app_execution").json()
    setup.heartbeat()
    too_late = setup.api.client.post(f"/api/actions/{delivered['id']}/cancel", headers=setup.admin)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["cancelled_by"] == "rita"
    assert cancelled.json()["message"] == "wrong host"
    assert beat["actions"] == []
    assert too_late.status_code == 409
    assert "delivered" in too_late.json()["detail"]
    assert setup.action(delivered["id"])["state"] == "delivered"
    [entry] = setup.audit("action.cancel")
    assert entry.target == waiting["id"] and entry.actor == "rita"
    assert entry.detail["comment"] == "wrong host"


def test_a_failure_is_reported_with_its_reason(setup: Setup) -> None:
    action = setup.request().json()
    setup.heartbeat()

    running = setup.report(action["id"], state="running", message="applying the ruleset")
    failed = setup.report(
        action["id"], state="failed", message="nft is not installed on this device"
    )

    assert running.json() == {"state": "running"}
    assert failed.status_code == 200, failed.text
    assert failed.json() == {"state": "failed"}
    shown = setup.action(action["id"])
    assert shown["state"] == "failed"
    assert shown["message"] == "nft is not installed on this device"
    assert shown["started_at"] is not None and shown["completed_at"] is not None
    entries = setup.audit("action.report")
    assert [e.detail["state"] for e in entries] == ["running", "failed"]
    assert entries[1].actor == "web01" and entries[1].actor_kind == "device"
    assert entries[1].detail["message"] == "nft is not installed on this device"


def test_a_failure_without_a_reason_is_refused(setup: Setup) -> None:
    action = setup.request().json()
    setup.heartbeat()

    response = setup.report(action["id"], state="failed")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "message"
    assert setup.action(action["id"])["state"] == "delivered"


def test_a_success_needs_evidence_and_ends_the_action(setup: Setup) -> None:
    action = setup.request().json()
    setup.heartbeat()
    evidence = {"table": "inet hostwatch_isolation", "rules": 7}

    bare = setup.report(action["id"], state="succeeded")
    proven = setup.report(action["id"], state="succeeded", evidence=evidence)
    again = setup.report(action["id"], state="running")

    assert bare.status_code == 422
    assert bare.json()["errors"][0]["field"] == "evidence"
    assert proven.json() == {"state": "succeeded"}
    assert again.status_code == 409
    assert "succeeded" in again.json()["detail"]
    shown = setup.action(action["id"])
    assert shown["state"] == "succeeded" and shown["evidence"] == evidence


def test_a_report_on_another_devices_action_is_refused(setup: Setup) -> None:
    from tests.helpers import enroll

    action = setup.request().json()
    setup.heartbeat()
    _, other = enroll(setup.api, "db02", machine_id="m-db02")

    response = setup.report(action["id"], agent=other, state="failed", message="hijack")

    assert response.status_code == 404
    assert setup.action(action["id"])["state"] == "delivered"
    assert setup.audit("action.report") == []


def test_a_report_on_a_cancelled_action_is_refused(setup: Setup) -> None:
    action = setup.request().json()
    setup.api.client.post(f"/api/actions/{action['id']}/cancel", headers=setup.responder)

    response = setup.report(action["id"], state="running")

    assert response.status_code == 409
    assert "cancelled" in response.json()["detail"]


def test_a_report_before_delivery_is_refused(setup: Setup) -> None:
    action = setup.request().json()

    response = setup.report(action["id"], state="running")

    assert response.status_code == 409
    assert "not delivered" in response.json()["detail"]
    assert setup.action(action["id"])["state"] == "requested"


def test_delivery_gives_the_device_a_result_deadline(setup: Setup) -> None:
    action = setup.request(expires_in_hours=48).json()
    requested_expiry = datetime.fromisoformat(action["expires_at"])
    [delivered] = setup.heartbeat()["actions"]

    deadline = datetime.fromisoformat(delivered["expires_at"])
    shown = datetime.fromisoformat(setup.action(action["id"])["expires_at"])
    assert deadline == shown
    assert deadline < requested_expiry
    assert timedelta(minutes=14) < deadline - utcnow() <= RESULT_DEADLINE


def test_a_running_action_without_a_result_expires_and_frees_its_type(setup: Setup) -> None:
    """An agent that stops mid-action must not leave the action "running" for ever."""
    action = setup.request().json()
    setup.heartbeat()
    assert setup.report(action["id"], state="running").status_code == 200
    with transaction(setup.api.sessions()) as session:
        session.execute(
            update(Action)
            .where(Action.id == action["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    shown = setup.action(action["id"])
    assert shown["state"] == "expired"
    assert shown["message"].startswith("expired: the device started it but reported no result")
    pending = setup.api.client.get(f"/api/devices/{setup.device}", headers=setup.viewer).json()
    assert pending["containment"]["pending"] == []
    assert setup.report(action["id"], state="succeeded", evidence={"x": 1}).status_code == 409
    assert setup.request().status_code == 201  # no longer "in flight"
    assert [e.target for e in setup.audit("action.expire")] == [action["id"]]
