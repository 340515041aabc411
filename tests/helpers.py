"""Helpers for tests that talk to an in-process app over a real database."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hostwatch.auth import service
from hostwatch.auth.roles import Role
from hostwatch.config import Settings
from hostwatch.db.engine import make_session_factory, transaction

PASSWORD = "a long test password"


@dataclass
class Api:
    client: TestClient
    settings: Settings
    engine: Engine

    def sessions(self):
        return make_session_factory(self.engine)

    def add_user(self, name: str, role: Role, password: str = PASSWORD) -> None:
        with transaction(self.sessions()) as session:
            service.create_user(session, name, role, password)

    def token_for(self, name: str, role: Role) -> dict[str, str]:
        """Create a user with an API token; returns the Authorization header."""
        self.add_user(name, role)
        with transaction(self.sessions()) as session:
            raw, _ = service.create_api_token(session, service.get_user(session, name), "test")
        return {"Authorization": f"Bearer {raw}"}

    def login(self, name: str, password: str = PASSWORD) -> str:
        """Sign the client in with a cookie session; returns the CSRF token."""
        response = self.client.post(
            "/api/auth/login", json={"username": name, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.json()["csrf_token"]


def enroll(
    api: Api, hostname: str, machine_id: str | None = None, **facts: object
) -> tuple[str, dict[str, str]]:
    """Enroll a device through the real protocol; returns its id and agent auth header."""
    from hostwatch.devices import enrollment

    with transaction(api.sessions()) as session:
        raw, _ = enrollment.create_enroll_token(session, "test")
    host = {"hostname": hostname, "os_family": "linux", "machine_id": machine_id or hostname}
    host.update(facts)
    response = api.client.post(
        "/api/agent/enroll",
        json={"enroll_token": raw, "agent_version": "test", "host": host},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["device_id"], {"Authorization": f"Bearer {body['credential']}"}
