"""Every endpoint refuses anonymous callers; roles are enforced on the server."""

from __future__ import annotations

import re

import pytest

from hostwatch.auth.roles import Role
from tests.helpers import Api, enroll

# The only routes a caller may reach without signing in.
PUBLIC = {("POST", "/api/auth/login"), ("POST", "/api/agent/enroll")}


def _api_routes(api: Api) -> list[tuple[str, str, str]]:
    """Every documented route, plus the schema itself and an unknown API path."""
    schema = api.client.app.openapi()  # type: ignore[attr-defined]
    routes = [("GET", "/api/openapi.json", "/api/openapi.json"), ("GET", "/api/x", "/api/nope")]
    for template, operations in schema["paths"].items():
        for method in operations:
            path = re.sub(r"\{[^}]+\}", "x", template)
            routes.append((method.upper(), template, path))
    return routes


def test_every_endpoint_refuses_anonymous(api: Api) -> None:
    routes = _api_routes(api)
    assert len(routes) > 20

    refused = []
    for method, template, path in routes:
        if (method, template) in PUBLIC:
            continue
        response = api.client.request(method, path, json={})
        refused.append((method, template, response.status_code))

    assert [r for r in refused if r[2] != 401] == []
    assert all(
        api.client.request(m, p, json={})
        .headers["content-type"]
        .startswith("application/problem+json")
        for m, _, p in routes[:5]
    )


def test_agent_routes_refuse_user_tokens(api: Api) -> None:
    headers = api.token_for("root", Role.admin)

    response = api.client.post(
        "/api/agent/heartbeat",
        headers=headers,
        json={"agent_version": "1", "sent_at": "2026-01-01T00:00:00Z"},
    )

    assert response.status_code == 401
    assert response.json()["code"] == "HW-3001"


def test_agent_credential_cannot_read_devices(api: Api) -> None:
    _, agent_a = enroll(api, "host-a")
    device_b, _ = enroll(api, "host-b")

    assert api.client.get(f"/api/devices/{device_b}", headers=agent_a).status_code == 401
    assert api.client.get("/api/devices", headers=agent_a).status_code == 401


def test_agent_credential_writes_only_its_own_device(api: Api) -> None:
    device_a, agent_a = enroll(api, "host-a")
    device_b, _ = enroll(api, "host-b")
    admin = api.token_for("root", Role.admin)
    inventory = {
        "collected_at": "2026-01-01T00:00:00Z",
        "host": {"hostname": "host-b", "machine_id": "host-b"},
        "software": [{"source": "dpkg", "name": "evil", "version": "1"}],
    }

    response = api.client.put("/api/agent/inventory", headers=agent_a, json=inventory)

    assert response.status_code == 200
    software_a = api.client.get(f"/api/devices/{device_a}/software", headers=admin).json()
    software_b = api.client.get(f"/api/devices/{device_b}/software", headers=admin).json()
    assert [s["name"] for s in software_a["items"]] == ["evil"]
    assert software_b["total"] == 0


# (method, path template, body, the least role that may do it)
MATRIX = [
    ("GET", "/api/devices", None, Role.viewer),
    ("GET", "/api/devices/{device}", None, Role.viewer),
    ("GET", "/api/devices/{device}/software", None, Role.viewer),
    ("GET", "/api/auth/me", None, Role.viewer),
    ("GET", "/api/tokens", None, Role.viewer),
    ("POST", "/api/devices/{device}/tags", {"tags": ["crown-jewel"]}, Role.analyst),
    ("DELETE", "/api/devices/{device}/tags/keep-me", None, Role.analyst),
    ("GET", "/api/users", None, Role.admin),
    (
        "POST",
        "/api/users",
        {"name": "new-user", "role": "viewer", "password": "x" * 16},
        Role.admin,
    ),
    ("PATCH", "/api/users/target", {"role": "analyst"}, Role.admin),
    ("POST", "/api/users/target/password", {"password": "y" * 16}, Role.admin),
    ("GET", "/api/enroll-tokens", None, Role.admin),
    ("POST", "/api/enroll-tokens", {}, Role.admin),
    ("GET", "/api/audit", None, Role.admin),
    ("POST", "/api/devices/{device}/agent/revoke", None, Role.admin),
]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(api: Api, role: Role) -> None:
    device, _ = enroll(api, "matrix-host")
    api.add_user("target", Role.viewer)
    headers = api.token_for(f"as-{role.value}", role)
    owner = api.token_for("owner", Role.admin)
    outcomes = {}

    for method, template, body, needed in MATRIX:
        # Give DELETE something to delete so that success is a real 204.
        api.client.post(f"/api/devices/{device}/tags", headers=owner, json={"tags": ["keep-me"]})
        path = template.format(device=device)
        response = api.client.request(method, path, headers=headers, json=body)
        outcomes[(method, template)] = (response.status_code, role.allows(needed))

    wrong = {
        key: status
        for key, (status, allowed) in outcomes.items()
        if (status < 400) != allowed or (not allowed and status != 403)
    }
    assert wrong == {}
