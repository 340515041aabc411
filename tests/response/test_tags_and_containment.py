"""Bulk tags, system tags, and the containment a heartbeat reports, in the sidebar and list."""

from __future__ import annotations

from hostwatch.db.base import utcnow
from tests.helpers import enroll
from tests.response.conftest import Setup


def _device(setup: Setup, device_id: str) -> dict:
    response = setup.api.client.get(f"/api/devices/{device_id}", headers=setup.viewer)
    assert response.status_code == 200, response.text
    return response.json()


def _tags(setup: Setup, device_id: str) -> dict[str, str]:
    return {t["name"]: t["kind"] for t in _device(setup, device_id)["tags"]}


def _listed(setup: Setup, **params: object) -> list[str]:
    response = setup.api.client.get("/api/devices", params=params, headers=setup.viewer)
    assert response.status_code == 200, response.text
    return [d["name"] for d in response.json()["items"]]


def test_bulk_tags_add_and_remove_on_many_devices(setup: Setup) -> None:
    other, _ = enroll(setup.api, "db02", machine_id="m-db02")
    missing = "00000000-0000-4000-8000-000000000000"

    added = setup.api.client.post(
        "/api/devices/tags",
        json={"device_ids": [setup.device, other, missing], "add": ["vip", "finance"]},
        headers=setup.analyst,
    )
    removed = setup.api.client.post(
        "/api/devices/tags",
        json={"device_ids": [other], "remove": ["finance", "never-there"]},
        headers=setup.analyst,
    )

    assert added.status_code == 200, added.text
    results = added.json()["results"]
    assert [r["device_id"] for r in results] == [setup.device, other, missing]
    assert results[0]["added"] == ["vip", "finance"] and results[0]["error"] is None
    assert results[2] == {
        "device_id": missing,
        "added": [],
        "removed": [],
        "error": "no device with this id",
    }
    assert removed.json()["results"][0]["removed"] == ["finance"]
    assert _listed(setup, tag="vip") == ["db02", "web01"]
    assert _listed(setup, tag=["vip", "finance"]) == ["web01"]
    entries = setup.audit("device.tag.add")
    assert sorted(e.target for e in entries) == sorted([setup.device, other])
    [entry] = setup.audit("device.tag.remove")
    assert entry.target == other and entry.detail == {"tags": ["finance"]}


def test_bulk_tags_refuse_system_tags_and_change_nothing(setup: Setup) -> None:
    remove_os = setup.api.client.post(
        "/api/devices/tags",
        json={"device_ids": [setup.device], "add": ["vip"], "remove": ["os:linux"]},
        headers=setup.analyst,
    )
    add_restriction = setup.api.client.post(
        "/api/devices/tags",
        json={"device_ids": [setup.device], "add": ["restriction:app-execution"]},
        headers=setup.analyst,
    )
    single = setup.api.client.post(
        f"/api/devices/{setup.device}/tags",
        json={"tags": ["isolation:isolated"]},
        headers=setup.analyst,
    )

    assert remove_os.status_code == 422
    assert remove_os.json()["errors"][0]["field"] == "remove"
    assert add_restriction.status_code == 422
    assert add_restriction.json()["errors"][0]["field"] == "add"
    assert single.status_code == 422
    assert _tags(setup, setup.device) == {"os:linux": "system", "source:agent": "system"}


def test_a_viewer_cannot_tag(setup: Setup) -> None:
    bulk = setup.api.client.post(
        "/api/devices/tags",
        json={"device_ids": [setup.device], "add": ["vip"]},
        headers=setup.viewer,
    )
    single = setup.api.client.post(
        f"/api/devices/{setup.device}/tags", json={"tags": ["vip"]}, headers=setup.viewer
    )

    assert bulk.status_code == 403
    assert single.status_code == 403
    assert "vip" not in _tags(setup, setup.device)


def test_containment_from_heartbeat_shows_in_sidebar_list_and_tags(setup: Setup) -> None:
    checked = utcnow().isoformat()
    before = _device(setup, setup.device)

    setup.heartbeat(
        containment={
            "isolated": True,
            "isolation_mode": "full",
            "app_restricted": False,
            "checked_at": checked,
            "problems": [],
        }
    )
    isolated = _device(setup, setup.device)
    rows = setup.api.client.get("/api/devices", headers=setup.viewer).json()["items"]
    delete = setup.api.client.delete(
        f"/api/devices/{setup.device}/tags/isolation:isolated", headers=setup.admin
    )

    assert before["containment"]["isolated"] is False
    assert before["containment"]["checked_at"] is None
    assert isolated["containment"]["isolated"] is True
    assert isolated["containment"]["isolation_mode"] == "full"
    assert isolated["containment"]["app_restricted"] is False
    assert isolated["containment"]["checked_at"] is not None
    assert {"name": "isolation:isolated", "kind": "system"} in isolated["tags"]
    assert [(r["name"], r["isolated"], r["app_restricted"]) for r in rows] == [
        ("web01", True, False)
    ]
    assert _listed(setup, tag="isolation:isolated") == ["web01"]
    assert delete.status_code == 403
    assert "isolation:isolated" in _tags(setup, setup.device)


def test_containment_tags_follow_release_and_survive_an_inventory(setup: Setup) -> None:
    setup.heartbeat(
        containment={"isolated": True, "isolation_mode": "selective", "app_restricted": True}
    )
    inventory = {
        "collected_at": utcnow().isoformat(),
        "host": {"hostname": "web01", "os_family": "linux", "machine_id": "m-web01"},
    }
    uploaded = setup.api.client.put("/api/agent/inventory", json=inventory, headers=setup.agent)
    after_inventory = _tags(setup, setup.device)

    setup.heartbeat(
        containment={
            "isolated": False,
            "app_restricted": True,
            "problems": ["the fanotify mark on /opt is missing"],
        }
    )
    released = _device(setup, setup.device)

    assert uploaded.status_code == 200, uploaded.text
    assert after_inventory["isolation:isolated"] == "system"
    assert after_inventory["restriction:app-execution"] == "system"
    assert "isolation:isolated" not in {t["name"] for t in released["tags"]}
    assert {"name": "restriction:app-execution", "kind": "system"} in released["tags"]
    assert released["containment"]["isolated"] is False
    assert released["containment"]["app_restricted"] is True
    assert released["containment"]["problems"] == ["the fanotify mark on /opt is missing"]


def test_a_heartbeat_without_containment_leaves_it_as_it_was(setup: Setup) -> None:
    setup.heartbeat(containment={"isolated": True, "isolation_mode": "full"})

    setup.heartbeat()

    assert _device(setup, setup.device)["containment"]["isolated"] is True


def test_the_sidebar_lists_the_actions_not_finished(setup: Setup) -> None:
    isolate = setup.request().json()
    setup.heartbeat()
    restrict = setup.request("restrict_app_execution").json()
    cancelled = setup.request("release_isolation").json()
    setup.api.client.post(f"/api/actions/{cancelled['id']}/cancel", headers=setup.responder)

    pending = _device(setup, setup.device)["containment"]["pending"]

    assert pending == [
        {"id": isolate["id"], "type": "isolate", "state": "delivered"},
        {"id": restrict["id"], "type": "restrict_app_execution", "state": "requested"},
    ]
