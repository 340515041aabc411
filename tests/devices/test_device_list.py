"""The device list: search, filters, sorting, keyset paging, health; and the sidebar."""

from __future__ import annotations

from datetime import timedelta

from hostwatch.auth.roles import Role
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.devices.models import Device
from tests.helpers import Api, enroll


def test_search_by_name_ip_and_tag(api: Api) -> None:
    web, _ = enroll(api, "web01", ip_addresses=["10.1.2.3"])
    db, _ = enroll(api, "db01", ip_addresses=["10.9.9.9"])
    admin = api.token_for("boss", Role.admin)
    api.client.post(f"/api/devices/{db}/tags", headers=admin, json={"tags": ["crown jewel"]})

    def ids(query: str) -> list[str]:
        return [
            d["id"] for d in api.client.get(f"/api/devices?{query}", headers=admin).json()["items"]
        ]

    assert ids("q=WEB") == [web]
    assert ids("q=10.9.9") == [db]
    assert ids("q=jewel") == [db]
    assert ids("tag=crown%20jewel") == [db]
    assert ids("q=%25") == []


def test_paging_walks_every_device_once_in_order(api: Api) -> None:
    names = [f"host-{i:02d}" for i in range(7)]
    for name in reversed(names):
        enroll(api, name)
    admin = api.token_for("boss", Role.admin)

    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/devices?limit=3&sort=-name" + (f"&cursor={cursor}" if cursor else "")
        page = api.client.get(url, headers=admin).json()
        seen += [d["name"] for d in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break

    assert seen == sorted(names, reverse=True)
    assert pages == 3
    assert page["total"] == 7


def test_health_state_inactive_after_silence(api: Api) -> None:
    quiet, _ = enroll(api, "quiet")
    enroll(api, "busy")
    with transaction(api.sessions()) as session:
        device = session.get(Device, quiet)
        assert device is not None
        device.last_seen = utcnow() - timedelta(seconds=api.settings.inactive_after_seconds + 60)
    admin = api.token_for("boss", Role.admin)

    inactive = api.client.get("/api/devices?health=inactive", headers=admin).json()["items"]
    detail = api.client.get(f"/api/devices/{quiet}", headers=admin).json()

    assert [d["name"] for d in inactive] == ["quiet"]
    assert detail["details"]["health_state"] == "inactive"
    assert detail["details"]["health_reasons"] == ["no report for more than 7 days"]


def test_agent_errors_make_a_device_misconfigured(api: Api) -> None:
    device, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)
    beat = {
        "agent_version": "1",
        "sent_at": "2026-01-01T00:00:00Z",
        "status": {"errors": ["dpkg-query timed out"], "dropped_events": 4},
    }

    api.client.post("/api/agent/heartbeat", headers=agent, json=beat)
    detail = api.client.get(f"/api/devices/{device}", headers=admin).json()

    assert detail["details"]["health_state"] == "misconfigured"
    assert "agent error: dpkg-query timed out" in detail["details"]["health_reasons"]
    assert detail["agent"]["status"]["dropped_events"] == 4


def test_sidebar_shows_unknowns_as_null_not_zero(api: Api) -> None:
    device, _ = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)

    detail = api.client.get(f"/api/devices/{device}", headers=admin).json()

    assert detail["security"] == {
        "open_incidents": None,
        "active_alerts": None,
        "risk_level": None,
        "exposure_level": None,
    }
    assert detail["directory"] is None
    assert detail["logged_on_users"] is None
    assert detail["details"]["domain"] is None
    assert detail["inventory"] == {"collected_at": None, "software_count": 0}
    assert [t["name"] for t in detail["tags"]] == ["os:linux", "source:agent"]


def test_system_tags_cannot_be_removed_or_forged(api: Api) -> None:
    device, _ = enroll(api, "box")
    analyst = api.token_for("ana", Role.analyst)

    removed = api.client.delete(f"/api/devices/{device}/tags/source:agent", headers=analyst)
    forged = api.client.post(
        f"/api/devices/{device}/tags", headers=analyst, json={"tags": ["os:windows"]}
    )

    assert removed.status_code == 403
    assert forged.status_code == 422
