"""Bad requests get a 4xx problem that names what is wrong, and nothing is half-written."""

from __future__ import annotations

from hostwatch.auth.roles import Role
from tests.helpers import Api, enroll


def _inventory(*names: str) -> dict[str, object]:
    return {
        "collected_at": "2026-01-01T00:00:00Z",
        "host": {"hostname": "box", "machine_id": "box"},
        "software": [{"source": "dpkg", "name": n, "version": "1.0"} for n in names],
    }


def test_malformed_json_names_the_body(api: Api) -> None:
    _, agent = enroll(api, "box")

    response = api.client.post(
        "/api/agent/events",
        headers={**agent, "content-type": "application/json"},
        content=b'{"events": [',
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body"


def test_oversized_request_is_refused_with_413(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)
    big = "x" * (api.settings.max_body_bytes + 1)

    response = api.client.post("/api/devices/x/tags", headers=admin, json={"tags": [big]})

    assert response.status_code == 413
    assert str(api.settings.max_body_bytes) in response.json()["detail"]


def test_invalid_item_in_inventory_keeps_the_previous_snapshot(api: Api) -> None:
    device, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)
    api.client.put("/api/agent/inventory", headers=agent, json=_inventory("bash", "curl"))
    broken = _inventory("bash", "zsh")
    broken["software"][1]["source"] = "floppy"  # type: ignore[index]

    response = api.client.put("/api/agent/inventory", headers=agent, json=broken)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "software.1.source"
    names = [
        s["name"]
        for s in api.client.get(f"/api/devices/{device}/software", headers=admin).json()["items"]
    ]
    assert names == ["bash", "curl"]


def test_unknown_field_is_refused_by_name(api: Api) -> None:
    _, agent = enroll(api, "box")

    response = api.client.post(
        "/api/agent/heartbeat",
        headers=agent,
        json={"agent_version": "1", "sent_at": "2026-01-01T00:00:00Z", "shell": "rm -rf /"},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "shell"


def test_naive_event_time_is_refused(api: Api) -> None:
    _, agent = enroll(api, "box")

    response = api.client.post(
        "/api/agent/events",
        headers=agent,
        json={"events": [{"key": "k", "time": "2026-01-01T00:00:00", "kind": "process"}]},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "events.0.time"


def test_unknown_device_is_404_problem(api: Api) -> None:
    viewer = api.token_for("v", Role.viewer)

    response = api.client.get("/api/devices/does-not-exist", headers=viewer)

    assert response.status_code == 404
    assert response.json()["detail"] == "no device with id 'does-not-exist'"


def test_bad_cursor_is_refused(api: Api) -> None:
    viewer = api.token_for("v", Role.viewer)

    response = api.client.get("/api/devices?cursor=!!!", headers=viewer)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"
