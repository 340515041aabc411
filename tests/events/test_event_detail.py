"""One event whole, for the timeline's flyout: every column, its device and original fields."""

from __future__ import annotations

from hostwatch.auth.roles import Role
from tests.events.data import add_events, ev
from tests.helpers import Api

ORIGINAL = {
    "channel": "Microsoft-Windows-Sysmon/Operational",
    "event_record_id": 4411,
    "EventData": {
        "CommandLine": "=cmd|' /C calc'!A0",
        "Image": r"C:\Windows\System32\cmd.exe",
        "ParentImage": r"C:\Windows\explorer.exe",
    },
}


def test_event_detail_has_every_column_and_the_original_fields(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(
        api,
        device,
        ev(
            5,
            "process",
            key="spawn",
            action_type="ProcessCreated",
            source="sysmon",
            event_code="1",
            user=r"CORP\alice",
            process_id=4242,
            process_guid="{g-cmd}",
            process_image=r"C:\Windows\System32\cmd.exe",
            process_command_line="=cmd|' /C calc'!A0",
            process_sha256="ab" * 32,
            parent_process_id=100,
            parent_process_guid="{g-explorer}",
            parent_process_image=r"C:\Windows\explorer.exe",
            target_file=r"C:\Temp\out.txt",
            fields=ORIGINAL,
        ),
    )

    response = api.client.get(f"/api/events/{ids['spawn']}", headers=viewer)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == ids["spawn"]
    assert body["device_id"] == device
    assert body["time"] == "2026-03-01T00:05:00Z"
    assert (body["kind"], body["action_type"], body["source"], body["event_code"]) == (
        "process",
        "ProcessCreated",
        "sysmon",
        "1",
    )
    assert body["user"] == r"CORP\alice"
    assert body["process"] == {
        "image": r"C:\Windows\System32\cmd.exe",
        "command_line": "=cmd|' /C calc'!A0",
        "pid": 4242,
        "guid": "{g-cmd}",
        "sha256": "ab" * 32,
    }
    assert body["parent"]["image"] == r"C:\Windows\explorer.exe"
    assert body["parent"]["pid"] == 100
    assert body["target"]["type"] == "file"
    assert body["target"]["file"] == r"C:\Temp\out.txt"
    assert body["fields"] == ORIGINAL
    assert body["received_at"].endswith("Z")


def test_event_detail_of_an_event_without_process_or_target(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(api, device, ev(0, "logon", key="logon", user=r"CORP\bob"))

    body = api.client.get(f"/api/events/{ids['logon']}", headers=viewer).json()

    assert (body["kind"], body["user"]) == ("logon", r"CORP\bob")
    assert (body["process"], body["parent"], body["target"]) == (None, None, None)
    assert body["fields"] == {}


def test_event_detail_refuses_unknown_events_and_anonymous_callers(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(api, device, ev(0, key="only"))

    missing = api.client.get(f"/api/events/{ids['only'] + 1000}", headers=viewer)
    anonymous = api.client.get(f"/api/events/{ids['only']}")
    invalid = api.client.get(f"/api/events/{2**63}", headers=viewer)

    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "HW-2001"
    assert anonymous.status_code == 401
    assert invalid.status_code == 422


def test_event_detail_is_open_to_every_role(api: Api, device: str) -> None:
    ids = add_events(api, device, ev(0, key="seen"))
    analyst = api.token_for("ana", Role.analyst)

    response = api.client.get(f"/api/events/{ids['seen']}", headers=analyst)

    assert response.status_code == 200
    assert response.json()["id"] == ids["seen"]
