"""Enrollment, heartbeats, inventory snapshots and event batches through the real API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from hostwatch.auth.roles import Role
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.devices import enrollment
from hostwatch.devices.models import Device
from hostwatch.events.models import Event
from tests.helpers import Api, enroll


def _token(api: Api, **kwargs: object) -> str:
    with transaction(api.sessions()) as session:
        raw, _ = enrollment.create_enroll_token(session, "test", **kwargs)  # type: ignore[arg-type]
    return raw


def _enroll_with(api: Api, token: str, hostname: str = "box") -> int:
    return api.client.post(
        "/api/agent/enroll",
        json={"enroll_token": token, "agent_version": "1", "host": {"hostname": hostname}},
    ).status_code


def test_enroll_token_single_use_expired_and_unknown(api: Api) -> None:
    once = _token(api, max_uses=1)
    expired = _token(api, valid_for=timedelta(seconds=-1))

    assert _enroll_with(api, once, "a") == 200
    assert _enroll_with(api, once, "b") == 401
    assert _enroll_with(api, expired, "c") == 401
    assert _enroll_with(api, "hwe_not-a-real-token", "d") == 401


def test_device_credential_is_stored_hashed(api: Api) -> None:
    _, agent = enroll(api, "box")
    credential = agent["Authorization"].removeprefix("Bearer ")

    with api.engine.connect() as conn:
        stored = conn.execute(text("SELECT credential_hash FROM agent_credentials")).scalar()

    assert stored != credential and len(stored) == 64


def test_revoked_credential_gets_401(api: Api) -> None:
    device, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)
    beat = {"agent_version": "1", "sent_at": "2026-01-01T00:00:00Z"}

    before = api.client.post("/api/agent/heartbeat", headers=agent, json=beat)
    api.client.post(f"/api/devices/{device}/agent/revoke", headers=admin)
    after = api.client.post("/api/agent/heartbeat", headers=agent, json=beat)

    assert before.status_code == 200
    assert after.status_code == 401
    assert after.json()["code"] == "HW-3001"


def test_an_enrolled_machine_id_cannot_be_claimed_again(api: Api) -> None:
    first, old = enroll(api, "box", machine_id="m-1")
    second, new = enroll(api, "box-impostor", machine_id="m-1")
    beat = {"agent_version": "1", "sent_at": "2026-01-01T00:00:00Z"}

    assert first != second
    assert api.client.post("/api/agent/heartbeat", headers=old, json=beat).status_code == 200
    assert api.client.post("/api/agent/heartbeat", headers=new, json=beat).status_code == 200
    admin = api.token_for("boss", Role.admin)
    assert (
        api.client.get(f"/api/devices/{first}", headers=admin).json()["details"]["hostname"]
        == "box"
    )


def test_a_revoked_agent_stays_revoked_when_its_machine_enrolls_again(api: Api) -> None:
    first, old = enroll(api, "box", machine_id="m-1")
    admin = api.token_for("boss", Role.admin)
    api.client.post(f"/api/devices/{first}/agent/revoke", headers=admin)

    second, _ = enroll(api, "box", machine_id="m-1")
    beat = {"agent_version": "1", "sent_at": "2026-01-01T00:00:00Z"}

    assert second != first
    assert api.client.post("/api/agent/heartbeat", headers=old, json=beat).status_code == 401
    revoked = api.client.get(f"/api/devices/{first}", headers=admin).json()
    assert revoked["details"]["health_state"] == "misconfigured"


def test_same_hostname_on_two_machines_stays_two_devices(api: Api) -> None:
    first, _ = enroll(api, "web01", machine_id="m-1")
    second, _ = enroll(api, "web01", machine_id="m-2")

    assert first != second


def test_agent_merges_with_a_device_known_from_logs(api: Api) -> None:
    with transaction(api.sessions()) as session:
        device = Device(hostname="WS01", fqdn="ws01.corp.example", sources=["endpoint_logs"])
        session.add(device)
        session.flush()
        known = device.id

    merged, _ = enroll(api, "ws01", machine_id="m-9", fqdn="WS01.corp.example")

    admin = api.token_for("boss", Role.admin)
    detail = api.client.get(f"/api/devices/{merged}", headers=admin).json()
    assert merged == known
    assert detail["sources"] == ["endpoint_logs", "agent"]


def test_heartbeat_asks_for_inventory_until_one_arrives(api: Api) -> None:
    _, agent = enroll(api, "box")
    beat = {"agent_version": "1", "sent_at": "2026-01-01T00:00:00Z"}
    inventory = {
        "collected_at": utcnow().isoformat(),
        "host": {"hostname": "box"},
        "software": [],
    }

    first = api.client.post("/api/agent/heartbeat", headers=agent, json=beat).json()
    api.client.put("/api/agent/inventory", headers=agent, json=inventory)
    second = api.client.post("/api/agent/heartbeat", headers=agent, json=beat).json()

    assert first["inventory_due"] is True
    assert second["inventory_due"] is False
    assert second["heartbeat_interval"] == api.settings.heartbeat_interval


def test_inventory_replaces_the_snapshot_and_keeps_first_seen(api: Api) -> None:
    device, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)

    def upload(*items: tuple[str, str]) -> dict[str, int]:
        body = {
            "collected_at": utcnow().isoformat(),
            "host": {"hostname": "box"},
            "software": [{"source": "dpkg", "name": n, "version": v} for n, v in items],
        }
        return api.client.put("/api/agent/inventory", headers=agent, json=body).json()

    upload(("bash", "5.1"), ("curl", "7.88"))
    first = api.client.get(f"/api/devices/{device}/software", headers=admin).json()["items"]
    result = upload(("bash", "5.1"), ("curl", "8.0"), ("vim", "9"))
    second = api.client.get(f"/api/devices/{device}/software", headers=admin).json()["items"]

    assert result == {"software_added": 2, "software_removed": 1, "software_unchanged": 1}
    assert [(s["name"], s["version"]) for s in second] == [
        ("bash", "5.1"),
        ("curl", "8.0"),
        ("vim", "9"),
    ]
    assert second[0]["first_seen"] == first[0]["first_seen"]


def test_event_batches_are_idempotent_by_key(api: Api) -> None:
    _, agent = enroll(api, "box")
    events = [
        {"key": f"k{i}", "time": "2026-01-01T00:00:00Z", "kind": "process", "process_id": i}
        for i in range(3)
    ]

    first = api.client.post("/api/agent/events", headers=agent, json={"events": events}).json()
    again = api.client.post(
        "/api/agent/events", headers=agent, json={"events": events + events[:1]}
    ).json()

    assert first == {"stored": 3, "duplicates": 0}
    assert again == {"stored": 0, "duplicates": 4}
    with api.sessions()() as session:
        assert session.scalar(select(func.count(Event.id))) == 3
