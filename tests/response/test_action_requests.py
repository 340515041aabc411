"""Who may request which action, what a request must carry, and the action center's lists."""

from __future__ import annotations

from hostwatch.db.engine import transaction
from hostwatch.devices.models import Device
from tests.response.conftest import REASON, Setup


def _fields(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    return [e["field"] for e in body.get("errors", [])]


def test_an_analyst_cannot_isolate_nor_cancel_and_a_viewer_only_reads(setup: Setup) -> None:
    by_analyst = setup.request(headers=setup.analyst)
    by_viewer = setup.request(headers=setup.viewer)
    action = setup.request().json()
    cancel_by_analyst = setup.api.client.post(
        f"/api/actions/{action['id']}/cancel", headers=setup.analyst
    )
    read_by_viewer = setup.api.client.get(
        f"/api/devices/{setup.device}/actions", headers=setup.viewer
    )

    assert by_analyst.status_code == 403
    assert "responder" in by_analyst.json()["detail"]
    assert by_viewer.status_code == 403
    assert cancel_by_analyst.status_code == 403
    assert setup.action(action["id"])["state"] == "requested"
    assert read_by_viewer.status_code == 200
    assert [i["id"] for i in read_by_viewer.json()["items"]] == [action["id"]]
    assert setup.request("release_isolation", headers=setup.admin).status_code == 201


def test_anonymous_callers_get_401(setup: Setup) -> None:
    assert setup.api.client.get("/api/actions").status_code == 401
    assert setup.request(headers={"Authorization": "Bearer hwt_nope"}).status_code == 401


def test_bad_parameters_get_422_naming_the_field(setup: Setup) -> None:
    bad_mode = setup.request(parameters={"mode": "partial"})
    extra = setup.request(parameters={"mode": "full", "allow_everything": True})
    bad_hash = setup.request("restrict_app_execution", parameters={"allow_sha256": ["abc"]})
    release_with = setup.request("release_isolation", parameters={"mode": "full"})
    unknown_type = setup.request("format_disk")
    no_comment = setup.request(comment="   ")
    no_expiry = setup.request(expires_in_hours=0)

    assert bad_mode.status_code == 422 and _fields(bad_mode) == ["parameters.mode"]
    assert _fields(extra) == ["parameters.allow_everything"]
    assert _fields(bad_hash) == ["parameters.allow_sha256.0"]
    assert _fields(release_with) == ["parameters.mode"]
    assert unknown_type.status_code == 422 and _fields(unknown_type) == ["type"]
    assert no_comment.status_code == 422 and _fields(no_comment) == ["comment"]
    assert _fields(no_expiry) == ["expires_in_hours"]
    listed = setup.api.client.get("/api/actions", headers=setup.viewer).json()
    assert listed["total"] == 0


def test_a_directory_only_device_is_refused(setup: Setup) -> None:
    with transaction(setup.api.sessions()) as session:
        dc = Device(hostname="dc01", sources=["directory"])
        session.add(dc)
        session.flush()
        dc_id = dc.id

    response = setup.api.client.post(
        f"/api/devices/{dc_id}/actions",
        json={"type": "isolate", "comment": REASON},
        headers=setup.responder,
    )

    assert response.status_code == 409
    assert "no Hostwatch agent" in response.json()["detail"]
    assert "directory" in response.json()["detail"]


def test_an_unknown_device_is_404(setup: Setup) -> None:
    response = setup.api.client.post(
        "/api/devices/00000000-0000-4000-8000-000000000000/actions",
        json={"type": "isolate", "comment": REASON},
        headers=setup.responder,
    )

    assert response.status_code == 404


def test_a_second_isolate_in_flight_is_refused(setup: Setup) -> None:
    first = setup.request().json()
    setup.heartbeat()
    setup.report(first["id"], state="running")

    second = setup.request()
    release = setup.request("release_isolation")
    setup.report(first["id"], state="succeeded", evidence={"table": "hostwatch"})
    third = setup.request()

    assert second.status_code == 409
    assert first["id"] in second.json()["detail"]
    assert release.status_code == 201
    assert third.status_code == 201


def test_the_action_center_filters_sorts_and_pages(setup: Setup) -> None:
    from tests.helpers import enroll

    other, _ = enroll(setup.api, "db02", machine_id="m-db02")
    isolate = setup.request().json()
    restrict = setup.request("restrict_app_execution", headers=setup.admin).json()
    elsewhere = setup.api.client.post(
        f"/api/devices/{other}/actions",
        json={"type": "isolate", "comment": REASON},
        headers=setup.responder,
    ).json()
    setup.heartbeat()  # delivers both of web01's actions

    def ids(**params: object) -> list[str]:
        response = setup.api.client.get("/api/actions", params=params, headers=setup.viewer)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert ids() == [elsewhere["id"], restrict["id"], isolate["id"]]
    assert ids(sort="requested_at") == [isolate["id"], restrict["id"], elsewhere["id"]]
    assert ids(device_id=other) == [elsewhere["id"]]
    assert ids(type="restrict_app_execution") == [restrict["id"]]
    assert ids(state=["requested", "delivered"]) == ids()
    assert ids(state="requested") == [elsewhere["id"]]
    assert ids(requested_by="adam") == [restrict["id"]]
    assert ids(**{"from": elsewhere["requested_at"]}) == [elsewhere["id"]]
    assert ids(to=elsewhere["requested_at"]) == [restrict["id"], isolate["id"]]

    page = setup.api.client.get(
        "/api/actions", params={"limit": 2, "fields": "state,device_name"}, headers=setup.viewer
    ).json()
    rest = setup.api.client.get(
        "/api/actions", params={"limit": 2, "cursor": page["next_cursor"]}, headers=setup.viewer
    ).json()
    assert page["total"] == 3
    assert page["items"][0] == {"id": elsewhere["id"], "state": "requested", "device_name": "db02"}
    assert [i["id"] for i in rest["items"]] == [isolate["id"]]
    assert rest["next_cursor"] is None


def test_the_action_center_refuses_bad_filters(setup: Setup) -> None:
    def status(**params: object) -> int:
        return setup.api.client.get("/api/actions", params=params, headers=setup.viewer).status_code

    assert status(state="stuck") == 422
    assert status(fields="secret") == 422
    assert status(sort="comment") == 422
    assert status(cursor="not-a-cursor") == 422
    assert status(**{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}) == 422
    assert (
        setup.api.client.get("/api/actions/no-such-action", headers=setup.viewer).status_code == 404
    )


def test_hostile_containment_parameters_get_422_naming_the_field(setup: Setup) -> None:
    """Values the agent would refuse only on the device (or, for paths, resolve against its
    working directory: '' would allow that whole directory) are refused at the request."""
    isolate_cases = [
        ({"allow_cgroups": ["system.slice/../../etc"]}, "parameters.allow_cgroups"),
        ({"allow_cgroups": ['mail"; flush ruleset; "']}, "parameters.allow_cgroups"),
        ({"allow_cgroups": ["mail\nadd rule inet x y accept"]}, "parameters.allow_cgroups"),
        ({"allow_cgroups": [""]}, "parameters.allow_cgroups"),
        ({"allow_users": ["root; flush ruleset"]}, "parameters.allow_users"),
        ({"allow_users": ["mail user"]}, "parameters.allow_users"),
        ({"allow_users": [""]}, "parameters.allow_users"),
        ({"allow_users": ["4294967295"]}, "parameters.allow_users"),
    ]
    for parameters, field in isolate_cases:
        response = setup.request(parameters={"mode": "selective", **parameters})
        assert response.status_code == 422, (parameters, response.text)
        assert _fields(response) == [field], parameters
    restrict_cases = [
        ({"allow_paths": [""]}, "parameters.allow_paths"),
        ({"allow_paths": ["usr/local/bin/tool"]}, "parameters.allow_paths"),
        ({"scope": ["tmp"]}, "parameters.scope"),
    ]
    for parameters, field in restrict_cases:
        response = setup.request("restrict_app_execution", parameters=parameters)
        assert response.status_code == 422, (parameters, response.text)
        assert _fields(response) == [field], parameters
    fine = setup.request(
        parameters={
            "mode": "selective",
            "allow_users": ["mail", "1000"],
            "allow_cgroups": ["/system.slice/postfix.service"],
        }
    )
    assert fine.status_code == 201, fine.text
    assert fine.json()["parameters"]["allow_cgroups"] == ["/system.slice/postfix.service"]
    listed = setup.api.client.get("/api/actions", headers=setup.viewer).json()
    assert listed["total"] == 1
