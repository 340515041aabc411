"""Bad requests get a 4xx problem that names what is wrong, and nothing is half-written."""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy import text

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


def test_chunked_oversized_body_is_refused_with_413(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)
    chunk = b"x" * 65536
    count = api.settings.max_body_bytes // len(chunk) + 2

    response = api.client.post(
        "/api/devices/x/tags",
        headers={**admin, "content-type": "application/json"},
        content=(chunk for _ in range(count)),
    )

    assert response.status_code == 413
    assert "limit of" in response.json()["detail"]


def test_agent_route_refuses_a_non_device_credential_before_reading_the_body(api: Api) -> None:
    user = api.token_for("boss", Role.admin)
    big = b"x" * (api.settings.max_body_bytes * 2)

    anonymous = api.client.post("/api/agent/events", content=big)
    user_token = api.client.post("/api/agent/events", headers=user, content=big)

    assert (anonymous.status_code, user_token.status_code) == (401, 401)
    assert anonymous.json()["code"] == "HW-3001"
    assert anonymous.headers["x-content-type-options"] == "nosniff"


def test_enrollment_body_is_held_to_the_small_limit(api: Api) -> None:
    big = "x" * (api.settings.max_body_bytes + 1)

    response = api.client.post("/api/agent/enroll", json={"enroll_token": big})

    assert response.status_code == 413


def test_nul_in_body_or_query_is_refused(api: Api) -> None:
    _, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)
    event = {"key": "k", "time": "2026-01-01T00:00:00Z", "kind": "process"}

    in_fields = api.client.post(
        "/api/agent/events",
        headers=agent,
        json={"events": [{**event, "fields": {"note": "a\u0000b"}}]},
    )
    in_query = api.client.get("/api/devices?q=a%00b", headers=admin)

    assert (in_fields.status_code, in_query.status_code) == (422, 422)
    assert "NUL" in in_fields.json()["detail"]
    assert api.client.get("/api/devices?q=a", headers=admin).status_code == 200


def test_literal_backslash_u0000_text_is_not_mistaken_for_nul(api: Api) -> None:
    _, agent = enroll(api, "box")
    event = {"key": "k", "time": "2026-01-01T00:00:00Z", "kind": "process"}

    response = api.client.post(
        "/api/agent/events",
        headers=agent,
        json={"events": [{**event, "process_command_line": "echo \\u0000"}]},
    )

    assert response.status_code == 200
    assert response.json()["stored"] == 1


def test_unexpected_error_is_a_500_problem_with_request_id_and_security_headers(
    api: Api,
) -> None:
    viewer = api.token_for("v", Role.viewer)

    def boom() -> None:
        raise RuntimeError("secret internals")

    routes = api.client.app.router.routes  # type: ignore[attr-defined]
    routes.insert(0, APIRoute("/api/test-boom", boom, methods=["GET"]))
    response = api.client.get("/api/test-boom", headers=viewer)

    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "HW-0000" and "secret" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_anonymous_refusals_do_not_fill_the_audit_log(api: Api) -> None:
    for _ in range(5):
        api.client.post("/api/users", json={"name": "x", "role": "admin", "password": "p" * 16})

    with api.engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*) FROM audit_log")).scalar()

    assert entries == 0


def _gzip_post(api: Api, headers: dict[str, str], body: bytes, **extra: str) -> Any:
    return api.client.post(
        "/api/agent/events",
        headers={**headers, "content-type": "application/json", **extra},
        content=body,
    )


def test_a_gzip_event_batch_is_stored_as_the_plain_one(api: Api) -> None:
    device, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)
    batch = {
        "events": [
            {
                "key": f"k{i}",
                "time": "2026-01-01T00:00:00Z",
                "kind": "process",
                "process_command_line": f"sh -c 'echo {i}'",
            }
            for i in range(50)
        ]
    }
    packed = gzip.compress(json.dumps(batch).encode())

    first = _gzip_post(api, agent, packed, **{"content-encoding": "gzip"})
    again = _gzip_post(api, agent, json.dumps(batch).encode())

    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 50, "duplicates": 0}
    assert again.json() == {"stored": 0, "duplicates": 50}
    timeline = api.client.get(
        f"/api/devices/{device}/timeline",
        headers=admin,
        params={"from": "2025-12-31T00:00:00Z", "to": "2026-01-02T00:00:00Z", "limit": 100},
    ).json()
    assert sorted(e["process"]["command_line"] for e in timeline["items"]) == sorted(
        f"sh -c 'echo {i}'" for i in range(50)
    )


def test_a_gzip_bomb_corrupt_gzip_and_unknown_encodings_are_refused(api: Api) -> None:
    _, agent = enroll(api, "box")
    limit = api.settings.max_agent_body_bytes
    # A few kilobytes on the wire that inflate past the agent limit.
    bomb = gzip.compress(b'{"events": [' + b" " * (limit + 1) + b"]}")
    cut = gzip.compress(b'{"events": []}')[:-6]

    inflated = _gzip_post(api, agent, bomb, **{"content-encoding": "gzip"})
    corrupt = _gzip_post(api, agent, cut, **{"content-encoding": "gzip"})
    brotli = _gzip_post(api, agent, b"\x00\x01", **{"content-encoding": "br"})

    assert len(bomb) < limit // 100
    assert (inflated.status_code, inflated.json()["code"]) == (413, "HW-2004")
    assert "inflates past the limit" in inflated.json()["detail"]
    assert (corrupt.status_code, corrupt.json()["code"]) == (422, "HW-2003")
    assert "gzip request body is corrupt" in corrupt.json()["detail"]
    assert (brotli.status_code, brotli.json()["code"]) == (415, "HW-2007")
    assert "'br'" in brotli.json()["detail"]
