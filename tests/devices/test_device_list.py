"""The device list: search, filters, sorting, keyset and offset paging, health; the sidebar;
software."""

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


def test_sidebar_shows_unknowns_as_null_and_no_alerts_as_zero(api: Api) -> None:
    device, _ = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)

    detail = api.client.get(f"/api/devices/{device}", headers=admin).json()

    assert detail["security"] == {
        "open_incidents": 0,
        "active_alerts": 0,
        "active_alerts_by_severity": {
            "informational": 0,
            "low": 0,
            "medium": 0,
            "high": 0,
            "critical": 0,
        },
        "risk_level": "none",
        "risk_reasons": [],
        "exposure_level": None,
        "exposure_score": None,
        "exposure": None,
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


def _add(api: Api, hostname: str, sources: list[str], **columns: object) -> str:
    """A device known from the given sources, written as an importer would."""
    from hostwatch.devices import registry

    with transaction(api.sessions()) as session:
        device = Device(hostname=hostname, last_seen=utcnow(), **columns)
        for source in sources:
            registry.add_source(device, source)
        session.add(device)
        registry.sync_system_tags(session, device)
        session.flush()
        return device.id


def test_known_from_tells_endpoint_directory_and_both(api: Api) -> None:
    enroll(api, "agent01")
    _add(api, "logs01", ["endpoint_logs"])
    _add(api, "dc01", ["directory"])
    both = _add(api, "app01", ["endpoint_logs", "directory"])
    admin = api.token_for("boss", Role.admin)

    def names(known_from: str) -> list[str]:
        page = api.client.get(f"/api/devices?known_from={known_from}", headers=admin).json()
        return [d["name"] for d in page["items"]]

    assert names("endpoint") == ["agent01", "logs01"]
    assert names("directory") == ["dc01"]
    assert names("both") == ["app01"]
    detail = api.client.get(f"/api/devices/{both}", headers=admin).json()
    assert detail["known_from"] == "both"


def test_filters_by_domain_os_and_last_seen(api: Api) -> None:
    _add(api, "web01", ["agent"], domain="shop.example", os_name="Ubuntu 24.04")
    _add(api, "dc01", ["directory"], domain="corp.example", os_name="Windows Server 2022")
    old = _add(api, "old01", ["endpoint_logs"], domain="corp.example")
    with transaction(api.sessions()) as session:
        device = session.get(Device, old)
        assert device is not None
        device.last_seen = utcnow() - timedelta(days=40)
    admin = api.token_for("boss", Role.admin)
    cutoff = (utcnow() - timedelta(days=30)).isoformat()

    def names(**params: str) -> list[str]:
        response = api.client.get("/api/devices", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [d["name"] for d in response.json()["items"]]

    assert names(domain="CORP") == ["dc01", "old01"]
    assert names(os="windows") == ["dc01"]
    assert names(last_seen_before=cutoff) == ["old01"]
    assert names(last_seen_after=cutoff, domain="corp") == ["dc01"]


def test_risk_and_exposure_filters_take_level_names(api: Api) -> None:
    enroll(api, "box")
    admin = api.token_for("boss", Role.admin)

    rated = api.client.get("/api/devices?risk=high&exposure=low", headers=admin)
    unknown = api.client.get("/api/devices?risk=severe", headers=admin)

    assert rated.status_code == 200
    assert rated.json()["items"] == []
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "risk"


def test_offset_pages_and_sorts_by_domain(api: Api) -> None:
    for i, domain in enumerate(["b.example", None, "a.example", "c.example"]):
        _add(api, f"host{i}", ["agent"], domain=domain)
    admin = api.token_for("boss", Role.admin)

    def names(query: str) -> list[str]:
        page = api.client.get(f"/api/devices?{query}", headers=admin).json()
        return [d["name"] for d in page["items"]]

    assert names("sort=domain&limit=2") == ["host1", "host2"]
    assert names("sort=domain&limit=2&offset=2") == ["host0", "host3"]
    assert names("sort=-domain&limit=3&offset=3") == ["host1"]
    both = api.client.get("/api/devices?offset=2&cursor=abc", headers=admin)
    assert both.status_code == 422


def test_software_sorts_pages_and_reads_one_item(api: Api) -> None:
    device, agent = enroll(api, "box")
    admin = api.token_for("boss", Role.admin)
    upload = {
        "collected_at": "2026-01-01T00:00:00Z",
        "host": {"hostname": "box", "os_family": "linux", "machine_id": "box"},
        "software": [
            {"source": "dpkg", "name": "zlib1g", "vendor": "Debian", "install_path": "/usr/lib"},
            {"source": "pip", "name": "attrs", "vendor": "Hynek"},
            {"source": "dpkg", "name": "bash", "vendor": None},
        ],
        "logged_on_users": [],
    }
    stored = api.client.put("/api/agent/inventory", headers=agent, json=upload)
    assert stored.status_code == 200, stored.text

    def names(query: str) -> list[str]:
        url = f"/api/devices/{device}/software?{query}"
        return [s["name"] for s in api.client.get(url, headers=admin).json()["items"]]

    assert names("sort=-vendor") == ["attrs", "zlib1g", "bash"]
    assert names("limit=1&offset=1") == ["bash"]
    assert names("q=hynek") == ["attrs"]
    first = api.client.get(f"/api/devices/{device}/software?q=zlib", headers=admin).json()
    item_id = first["items"][0]["id"]
    item = api.client.get(f"/api/devices/{device}/software/{item_id}", headers=admin)
    other, _ = enroll(api, "other")
    elsewhere = api.client.get(f"/api/devices/{other}/software/{item_id}", headers=admin)
    assert item.status_code == 200
    assert item.json()["install_path"] == "/usr/lib"
    assert elsewhere.status_code == 404


def test_device_source_names_in_responses_match_the_registry() -> None:
    from typing import get_args

    from hostwatch.devices import registry, schemas

    assert set(get_args(schemas.DeviceSource)) == set(registry.SOURCES)
