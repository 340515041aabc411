"""Health state from the agent's heartbeat: telemetry gaps make a device degraded."""

from __future__ import annotations

from typing import Any

from hostwatch.auth.roles import Role
from tests.helpers import Api, enroll


def _report(api: Api, agent: dict[str, str], hostname: str, status: dict[str, Any]) -> None:
    inventory = {
        "collected_at": "2026-01-01T00:00:00Z",
        "host": {"hostname": hostname, "os_family": "linux", "machine_id": hostname},
    }
    beat = {"agent_version": "1", "sent_at": "2026-01-01T00:00:00Z", "status": status}
    assert api.client.put("/api/agent/inventory", headers=agent, json=inventory).is_success
    assert api.client.post("/api/agent/heartbeat", headers=agent, json=beat).is_success


def test_dropping_agent_makes_the_device_degraded_with_the_counts(api: Api) -> None:
    dropping, agent = enroll(api, "dropping")
    healthy, other = enroll(api, "healthy")
    admin = api.token_for("boss", Role.admin)
    _report(
        api,
        agent,
        "dropping",
        {
            "process_source": "audit",
            "collector_dropped_events": 12,
            "kernel_lost_events": 3,
            "summarized_events": 900,
        },
    )
    _report(api, other, "healthy", {"process_source": "audit", "summarized_events": 5})

    detail = api.client.get(f"/api/devices/{dropping}", headers=admin).json()
    degraded = api.client.get("/api/devices?health=degraded", headers=admin).json()["items"]
    active = api.client.get("/api/devices?health=active", headers=admin).json()["items"]

    assert detail["details"]["health_state"] == "degraded"
    assert detail["details"]["health_reasons"] == [
        "the agent's collector dropped 12 events (queue full or socket overrun)",
        "the kernel lost 3 audit records (backlog full)",
    ]
    assert detail["agent"]["status"]["summarized_events"] == 900
    assert detail["agent"]["status"]["process_source"] == "audit"
    assert [d["id"] for d in degraded] == [dropping]
    assert [d["id"] for d in active] == [healthy]


def test_errors_outrank_gaps_and_both_are_given(api: Api) -> None:
    device, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)
    _report(api, agent, "box", {"errors": ["audit socket read failed"], "kernel_lost_events": 7})

    details = api.client.get(f"/api/devices/{device}", headers=admin).json()["details"]

    assert details["health_state"] == "misconfigured"
    assert details["health_reasons"] == [
        "agent error: audit socket read failed",
        "the kernel lost 7 audit records (backlog full)",
    ]


def test_unknown_health_filter_names_degraded_among_the_choices(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)

    response = api.client.get("/api/devices?health=sick", headers=admin)

    assert response.status_code in (400, 422)
    assert "degraded" in response.text
