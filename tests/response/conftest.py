"""A server with users of every role and one enrolled agent, for the actions API tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from hostwatch.auth.models import AuditEntry
from hostwatch.auth.roles import Role
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from tests.helpers import Api, enroll

REASON = "ransomware beacon seen on this host"


@dataclass
class Setup:
    api: Api
    device: str
    agent: dict[str, str]
    viewer: dict[str, str]
    analyst: dict[str, str]
    responder: dict[str, str]
    admin: dict[str, str]

    def request(
        self, action_type: str = "isolate", headers: dict[str, str] | None = None, **body: Any
    ) -> Any:
        payload = {"type": action_type, "comment": REASON, **body}
        return self.api.client.post(
            f"/api/devices/{self.device}/actions",
            json=payload,
            headers=headers or self.responder,
        )

    def heartbeat(self, agent: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        body = {"agent_version": "1", "sent_at": utcnow().isoformat(), **extra}
        response = self.api.client.post(
            "/api/agent/heartbeat", json=body, headers=agent or self.agent
        )
        assert response.status_code == 200, response.text
        return response.json()

    def report(self, action_id: str, agent: dict[str, str] | None = None, **body: Any) -> Any:
        return self.api.client.post(
            f"/api/agent/actions/{action_id}/report",
            json={"at": utcnow().isoformat(), **body},
            headers=agent or self.agent,
        )

    def action(self, action_id: str) -> dict[str, Any]:
        response = self.api.client.get(f"/api/actions/{action_id}", headers=self.viewer)
        assert response.status_code == 200, response.text
        return response.json()

    def audit(self, action: str) -> list[AuditEntry]:
        with transaction(self.api.sessions(), write=False) as session:
            return list(
                session.scalars(
                    select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
                )
            )


@pytest.fixture
def setup(api: Api) -> Setup:
    device, agent = enroll(api, "web01", machine_id="m-web01")
    return Setup(
        api=api,
        device=device,
        agent=agent,
        viewer=api.token_for("vera", Role.viewer),
        analyst=api.token_for("ann", Role.analyst),
        responder=api.token_for("rita", Role.responder),
        admin=api.token_for("adam", Role.admin),
    )
