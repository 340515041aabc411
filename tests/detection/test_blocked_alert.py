"""Repeated blocked executions on one device raise one alert, posted through the agent API."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hostwatch.auth.roles import Role
from hostwatch.detection.blocked import (
    BLOCKED_RULE_ID,
    BLOCKED_THRESHOLD,
    BLOCKED_TITLE,
    BLOCKED_WINDOW,
)
from tests.helpers import Api, enroll

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _blocked(number: int, at: datetime, image: str = "/tmp/x/dropper") -> dict[str, Any]:
    return {
        "key": hashlib.sha256(f"blocked-{number}".encode()).hexdigest(),
        "time": at.isoformat(),
        "kind": "process",
        "action_type": "ExecutionBlocked",
        "event_code": "fanotify",
        "user": "mallory",
        "process_id": 4000 + number,
        "process_image": image,
        "process_sha256": "ab" * 32,
        "target_file": image,
        "fields": {"collector": "fanotify", "reason": "not installed by a package nor allowed"},
    }


def _post(api: Api, agent: dict[str, str], events: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.client.post("/api/agent/events", headers=agent, json={"events": events})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _blocked_alerts(api: Api, device: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    page = api.client.get(f"/api/devices/{device}/alerts", headers=headers).json()
    return [item for item in page["items"] if item["rule_id"] == BLOCKED_RULE_ID]


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.token_for("vera", Role.viewer)


def test_blocked_alert_fires_at_threshold_and_grows(api: Api, viewer: dict[str, str]) -> None:
    device, agent = enroll(api, "kiosk")
    times = [START + timedelta(minutes=i) for i in range(BLOCKED_THRESHOLD + 1)]

    for number in range(BLOCKED_THRESHOLD - 1):
        _post(api, agent, [_blocked(number, times[number])])
    below = _blocked_alerts(api, device, viewer)
    _post(api, agent, [_blocked(4, times[4])])
    fired = _blocked_alerts(api, device, viewer)
    _post(api, agent, [_blocked(5, times[5], "/tmp/x/other")])
    grown = _blocked_alerts(api, device, viewer)

    assert BLOCKED_THRESHOLD == 5
    assert below == []
    assert [(a["title"], a["event_count"]) for a in fired] == [(BLOCKED_TITLE, 5)]
    assert [(a["id"], a["event_count"]) for a in grown] == [(fired[0]["id"], 6)]
    detail = api.client.get(f"/api/alerts/{fired[0]['id']}", headers=viewer).json()
    assert detail["first_activity"].startswith("2026-03-01T09:00:00")
    assert detail["last_activity"].startswith("2026-03-01T09:05:00")
    assert detail["user"] == "mallory"
    processes = {e["value"] for e in detail["entities"] if e["kind"] == "process"}
    assert processes == {"/tmp/x/dropper", "/tmp/x/other"}


def test_blocked_alert_needs_the_burst_within_the_window(api: Api, viewer: dict[str, str]) -> None:
    device, agent = enroll(api, "kiosk")
    spread = BLOCKED_WINDOW / (BLOCKED_THRESHOLD - 1) + timedelta(seconds=1)
    events = [_blocked(n, START + spread * n) for n in range(BLOCKED_THRESHOLD)]

    _post(api, agent, events)

    assert _blocked_alerts(api, device, viewer) == []


def test_blocked_alert_one_per_burst_in_one_batch_and_resend_adds_nothing(
    api: Api, viewer: dict[str, str]
) -> None:
    device, agent = enroll(api, "kiosk")
    burst = [_blocked(n, START + timedelta(seconds=n)) for n in range(12)]
    later = [_blocked(100 + n, START + timedelta(hours=3, seconds=n)) for n in range(5)]

    _post(api, agent, burst + later)
    again = _post(api, agent, burst)
    found = _blocked_alerts(api, device, viewer)

    assert again == {"stored": 0, "duplicates": 12}
    assert sorted(a["event_count"] for a in found) == [5, 12]


def test_blocked_alert_counts_per_device(api: Api, viewer: dict[str, str]) -> None:
    first, first_agent = enroll(api, "kiosk-1")
    second, second_agent = enroll(api, "kiosk-2")

    _post(api, first_agent, [_blocked(n, START + timedelta(seconds=n)) for n in range(3)])
    _post(api, second_agent, [_blocked(10 + n, START + timedelta(seconds=n)) for n in range(3)])

    assert _blocked_alerts(api, first, viewer) == []
    assert _blocked_alerts(api, second, viewer) == []
