"""The process tree of an event: ancestors, children, target and user, within one device."""

from __future__ import annotations

from typing import Any

from hostwatch.events.tree import MAX_CHILDREN, MAX_DEPTH
from tests.events.data import add_events, ev
from tests.helpers import Api, enroll

CREATED = "ProcessCreated"


def _spawn(minutes: float, guid: str | None, image: str, parent: str | None, **more: Any) -> dict:
    return ev(
        minutes,
        "process",
        key=more.pop("key", None) or f"spawn-{guid or image}-{minutes}",
        action_type=CREATED,
        process_guid=guid,
        process_image=image,
        parent_process_guid=parent,
        **more,
    )


def _tree(api: Api, viewer: dict[str, str], event_id: int) -> dict[str, Any]:
    response = api.client.get(f"/api/events/{event_id}/process-tree", headers=viewer)
    assert response.status_code == 200, response.text
    return response.json()


def _edges(tree: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["from"], e["to"], e["relation"]) for e in tree["edges"]}


def _chain(api: Api, device: str) -> dict[str, int]:
    """explorer (known only from its child) → cmd → powershell → (whoami, net) + a file."""
    return add_events(
        api,
        device,
        _spawn(
            0,
            "g-cmd",
            r"C:\Windows\System32\cmd.exe",
            "g-explorer",
            key="cmd",
            parent_process_image=r"C:\Windows\explorer.exe",
        ),
        _spawn(1, "g-ps", r"C:\Windows\powershell.exe", "g-cmd", key="ps", user=r"CORP\alice"),
        _spawn(2, "g-whoami", r"C:\Windows\System32\whoami.exe", "g-ps", key="whoami"),
        _spawn(3, "g-net", r"C:\Windows\System32\net.exe", "g-ps", key="net"),
        ev(
            4,
            "file",
            key="drop",
            action_type="FileCreated",
            user=r"CORP\alice",
            process_guid="g-ps",
            process_id=700,
            process_image=r"C:\Windows\powershell.exe",
            target_file=r"C:\Temp\payload.dll",
        ),
        ev(5, "network", key="unrelated", process_guid="g-other", remote_address="192.0.2.1"),
    )


def test_tree_of_a_file_event_has_ancestors_children_target_and_user(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = _chain(api, device)

    tree = _tree(api, viewer, ids["drop"])

    nodes = {node["id"]: node for node in tree["nodes"]}
    assert tree["focus"] == "process:g-ps"
    assert tree["device_id"] == device
    assert set(nodes) == {
        "process:g-explorer",
        "process:g-cmd",
        "process:g-ps",
        "process:g-whoami",
        "process:g-net",
        r"file:C:\Temp\payload.dll",
        r"user:CORP\alice",
    }
    assert _edges(tree) == {
        ("process:g-explorer", "process:g-cmd", "created"),
        ("process:g-cmd", "process:g-ps", "created"),
        ("process:g-ps", "process:g-whoami", "created"),
        ("process:g-ps", "process:g-net", "created"),
        (r"user:CORP\alice", "process:g-ps", "ran"),
        ("process:g-ps", r"file:C:\Temp\payload.dll", "FileCreated"),
    }
    assert nodes["process:g-ps"]["label"] == "powershell.exe"
    assert nodes["process:g-ps"]["details"]["event_id"] == ids["ps"]
    assert nodes["process:g-explorer"]["label"] == "explorer.exe"
    assert nodes["process:g-explorer"]["details"]["event_id"] is None
    assert nodes[r"file:C:\Temp\payload.dll"]["type"] == "file"
    assert tree["truncated"] is False


def test_tree_of_a_process_creation_is_centred_on_that_process(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = _chain(api, device)

    tree = _tree(api, viewer, ids["cmd"])

    assert tree["focus"] == "process:g-cmd"
    assert _edges(tree) == {
        ("process:g-explorer", "process:g-cmd", "created"),
        ("process:g-cmd", "process:g-ps", "created"),
    }


def test_tree_without_guids_finds_the_parent_by_pid_and_start_time(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    # Process id 100 is used three times; the child's parent is the one running at its start.
    ids = add_events(
        api,
        device,
        _spawn(0, None, "/usr/bin/old", None, key="old", process_id=100),
        _spawn(
            10, None, "/usr/bin/parent", None, key="parent", process_id=100, parent_process_id=1
        ),
        _spawn(
            20, None, "/usr/bin/child", None, key="child", process_id=200, parent_process_id=100
        ),
        _spawn(30, None, "/usr/bin/later", None, key="later", process_id=100),
        ev(
            25, "network", key="conn", process_id=200, remote_address="198.51.100.4", remote_port=80
        ),
    )

    tree = _tree(api, viewer, ids["conn"])

    by_label = {node["label"]: node for node in tree["nodes"]}
    assert set(by_label) == {"child", "parent", "pid 1", "198.51.100.4:80"}
    assert by_label["child"]["details"]["event_id"] == ids["child"]
    assert by_label["parent"]["details"]["event_id"] == ids["parent"]
    assert (by_label["parent"]["id"], by_label["child"]["id"], "created") in _edges(tree)
    assert tree["focus"] == by_label["child"]["id"]


def test_tree_depth_and_children_are_bounded(api: Api, viewer: dict[str, str], device: str) -> None:
    deep = [_spawn(i, f"g{i}", f"p{i}", f"g{i - 1}" if i else None) for i in range(MAX_DEPTH + 4)]
    kids = [_spawn(100 + i, f"kid{i}", "kid", f"g{MAX_DEPTH + 3}") for i in range(MAX_CHILDREN + 1)]
    ids = add_events(api, device, *deep, *kids)

    tree = _tree(api, viewer, ids[deep[-1]["dedupe_key"]])

    labels = [node["label"] for node in tree["nodes"]]
    assert len([label for label in labels if label.startswith("p")]) == MAX_DEPTH + 1
    assert labels.count("kid") == MAX_CHILDREN
    assert tree["truncated"] is True


def test_tree_stays_inside_the_events_device(api: Api, viewer: dict[str, str], device: str) -> None:
    other, _ = enroll(api, "ws02")
    ids = _chain(api, device)
    add_events(
        api,
        other,
        _spawn(0, "g-explorer", r"C:\evil\impostor.exe", "g-evil-root", key="impostor"),
        _spawn(9, "g-intruder", r"C:\evil\intruder.exe", "g-ps", key="intruder"),
    )

    tree = _tree(api, viewer, ids["drop"])

    labels = {node["label"] for node in tree["nodes"]}
    assert "impostor.exe" not in labels
    assert "intruder.exe" not in labels
    assert "explorer.exe" in labels


def test_tree_of_an_event_without_a_process_shows_its_user_and_target(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(api, device, ev(1, "dns", key="q", user="bob", dns_name="example.org"))

    tree = _tree(api, viewer, ids["q"])

    assert tree["focus"] is None
    assert _edges(tree) == {("user:bob", "dns:example.org", "dns")}


def test_tree_of_an_unknown_event_is_404_and_anonymous_is_401(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(api, device, ev(1, key="only"))

    missing = api.client.get(f"/api/events/{ids['only'] + 1000}/process-tree", headers=viewer)
    anonymous = api.client.get(f"/api/events/{ids['only']}/process-tree")
    invalid = api.client.get(f"/api/events/{2**63}/process-tree", headers=viewer)

    assert missing.status_code == 404
    assert anonymous.status_code == 401
    assert invalid.status_code == 422
