"""The timeline list: range, kind, action and text filters, ordering, keyset paging, fields."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import quote

import pytest

from hostwatch.auth.roles import Role
from tests.events.data import BASE, add_events, at, ev, iso
from tests.helpers import Api, enroll


def _cursor(value: object, row_id: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, row_id]).encode()).decode().rstrip("=")


def _ids(api: Api, url: str, headers: dict[str, str]) -> list[int]:
    response = api.client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_timeline_filters_by_range_kind_action_and_text(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(
        api,
        device,
        ev(-1, "process", key="before"),
        ev(0, "process", key="start", process_command_line="powershell -enc AAAA"),
        ev(10, "network", key="net", remote_address="10.0.0.9", remote_port=443),
        ev(20, "dns", key="dns", dns_name="Evil.Example.COM"),
        ev(30, "file", key="file", target_file=r"C:\Temp\PowerShell_log.txt"),
        ev(40, "registry", key="reg", target_registry_key=r"HKLM\Run", action_type="Set"),
        ev(50, "logon", key="logon", user=r"CORP\Alice", action_type="LogonSuccess"),
        ev(60, "process", key="end", process_image=r"C:\tools\powershell.exe"),
    )
    span = f"from={iso(at(0))}&to={iso(at(60))}"
    url = f"/api/devices/{device}/timeline?order=oldest&{span}"

    in_range = _ids(api, url, viewer)
    kinds = _ids(api, f"{url}&kinds=dns&kinds=registry", viewer)
    text = _ids(api, f"{url}&q=POWERSHELL", viewer)
    text_and_kind = _ids(api, f"{url}&q=powershell&kinds=file", viewer)
    dns = _ids(api, f"{url}&q=evil.example", viewer)
    user = _ids(api, f"{url}&q=alice", viewer)
    actions = _ids(api, f"{url}&action_types=Set&action_types=LogonSuccess", viewer)

    keys = ["start", "net", "dns", "file", "reg", "logon"]
    assert in_range == [ids[k] for k in keys]
    assert kinds == [ids["dns"], ids["reg"]]
    assert text == [ids["start"], ids["file"]]
    assert text_and_kind == [ids["file"]]
    assert dns == [ids["dns"]]
    assert user == [ids["logon"]]
    assert actions == [ids["reg"], ids["logon"]]


def test_timeline_text_search_treats_like_wildcards_as_text(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(
        api,
        device,
        ev(1, "process", key="percent", process_command_line="echo 100% done"),
        ev(2, "process", key="under", process_command_line="run my_tool"),
        ev(3, "process", key="slash", process_command_line=r"C:\a\b"),
        ev(4, "process", key="plain", process_command_line="run mytool 100 done"),
    )
    url = f"/api/devices/{device}/timeline?order=oldest&from={iso(at(0))}&to={iso(at(5))}&q="

    assert _ids(api, url + "%25", viewer) == [ids["percent"]]
    assert _ids(api, url + "y_t", viewer) == [ids["under"]]
    assert _ids(api, url + "%5Ca%5C", viewer) == [ids["slash"]]


def _search(api: Api, device: str, headers: dict[str, str], term: str) -> dict[str, object]:
    """What the list, the histogram and the export each find for `term` in minutes 0-9."""
    span = f"from={iso(at(0))}&to={iso(at(10))}&q={quote(term, safe='')}"
    base = f"/api/devices/{device}/timeline"
    listed = _ids(api, f"{base}?order=oldest&{span}", headers)
    counted = api.client.get(f"{base}/histogram?{span}", headers=headers).json()["totals"]
    exported = api.client.get(f"{base}/export?{span}&fields=id", headers=headers)
    assert exported.status_code == 200, exported.text
    return {
        "list": listed,
        "histogram": sum(counted.values()),
        "export": [int(line) for line in exported.text.split()[1:]],
    }


def _found(ids: list[int]) -> dict[str, object]:
    return {"list": ids, "histogram": len(ids), "export": ids}


def test_timeline_text_search_finds_the_same_events_in_list_histogram_and_export(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(
        api,
        device,
        ev(1, "file", key="accents", target_file="C:\\Users\\ZOË\\café.txt"),
        ev(2, "process", key="quotes", process_command_line='say "it\'s" 50%_off \\ ok'),
        ev(3, "logon", key="last_column", user="CORP\\zed"),
        ev(4, "dns", key="digit", dns_name="x7.example"),
        ev(
            5, "process", key="split", process_command_line="foo", parent_process_command_line="bar"
        ),
        ev(6, "process", key="unit_sep", process_command_line="a\x1fb"),
        ev(7, "network", key="nothing", remote_address="10.0.0.7"),
    )

    # Letters fold as LIKE folds them on each engine; here, ASCII letters around the rest.
    assert _search(api, device, viewer, "zoË\\CAFé") == _found([ids["accents"]])
    assert _search(api, device, viewer, '"IT\'S" 50%_OFF \\') == _found([ids["quotes"]])
    assert _search(api, device, viewer, "ZED") == _found([ids["last_column"]])
    assert _search(api, device, viewer, "7") == _found([ids["digit"]])
    assert _search(api, device, viewer, "x7") == _found([ids["digit"]])
    assert _search(api, device, viewer, "%") == _found([ids["quotes"]])
    # Columns are searched one by one: no match spans two of them.
    assert _search(api, device, viewer, "foobar") == _found([])
    assert _search(api, device, viewer, "foo\x1fbar") == _found([])
    assert _search(api, device, viewer, "a\x1fb") == _found([ids["unit_sep"]])
    assert _search(api, device, viewer, "mimikatz") == _found([])


def test_timeline_text_search_with_a_short_term_pages_through_every_match(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(
        api,
        device,
        *[ev(i / 10, "dns", key=f"hit{i}", dns_name=f"q{i}.Zq.example") for i in range(7)],
        *[ev(i / 10 + 0.05, "dns", key=f"miss{i}", dns_name=f"q{i}.example") for i in range(7)],
    )
    url = f"/api/devices/{device}/timeline?order=oldest&from={iso(at(0))}&to={iso(at(10))}"

    seen: list[int] = []
    cursor = ""
    for _ in range(5):
        response = api.client.get(f"{url}&q=zQ&limit=3{cursor}", headers=viewer).json()
        seen += [item["id"] for item in response["items"]]
        if not response["next_cursor"]:
            break
        cursor = f"&cursor={response['next_cursor']}"

    assert seen == [ids[f"hit{i}"] for i in range(7)]


def test_timeline_default_range_is_the_week_up_to_the_newest_event(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    ids = add_events(
        api,
        device,
        ev(-7 * 24 * 60 - 1, key="old"),
        ev(-7 * 24 * 60 + 1, key="week"),
        ev(0, key="newest"),
    )

    body = api.client.get(f"/api/devices/{device}/timeline", headers=viewer).json()

    assert [item["id"] for item in body["items"]] == [ids["newest"], ids["week"]]
    assert body["to"] == iso(BASE + timedelta(microseconds=1))
    assert body["from"] == iso(BASE + timedelta(microseconds=1) - timedelta(days=7))


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_timeline_keyset_paging_walks_every_event_once(
    api: Api, viewer: dict[str, str], device: str, order: str
) -> None:
    # Several events share an instant, so paging must break ties by id.
    events = [ev(minute // 3, key=f"k{minute}") for minute in range(17)]
    ids = add_events(api, device, *events)
    times = {ids[e["dedupe_key"]]: e["time"] for e in events}
    expected = sorted(times, key=lambda i: (times[i], i), reverse=order == "newest")
    span = f"from={iso(at(-1))}&to={iso(at(10))}"
    base = f"/api/devices/{device}/timeline?order={order}&limit=4&{span}"

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        url = base + (f"&cursor={cursor}" if cursor else "")
        body = api.client.get(url, headers=viewer).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
    assert pages == 5


def test_timeline_fields_returns_just_those_fields(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    add_events(
        api,
        device,
        ev(
            1,
            "process",
            user="root",
            process_image="/usr/bin/curl",
            process_command_line="curl -s x",
            process_id=42,
            process_guid="g-1",
            parent_process_id=1,
            parent_process_image="/sbin/init",
        ),
    )
    url = f"/api/devices/{device}/timeline?from={iso(at(0))}&to={iso(at(2))}"

    chosen = api.client.get(url + "&fields=kind,process&fields=user", headers=viewer).json()
    full = api.client.get(url, headers=viewer).json()["items"][0]

    assert chosen["items"] == [
        {
            "kind": "process",
            "process": {
                "image": "/usr/bin/curl",
                "command_line": "curl -s x",
                "pid": 42,
                "guid": "g-1",
                "sha256": None,
            },
            "user": "root",
        }
    ]
    assert set(full) == {
        "id",
        "time",
        "kind",
        "action_type",
        "user",
        "process",
        "parent",
        "target",
        "source",
        "event_code",
    }
    assert full["parent"] == {"image": "/sbin/init", "command_line": None, "pid": 1, "guid": None}
    assert full["target"] is None
    assert full["time"] == iso(at(1))


def test_timeline_item_target_says_what_it_is(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    add_events(
        api,
        device,
        ev(1, "network", remote_address="192.0.2.7", remote_port=22, local_port=50000),
        ev(2, "registry", target_registry_key=r"HKCU\Run", target_registry_value="x.exe"),
    )
    span = f"from={iso(at(0))}&to={iso(at(3))}"
    url = f"/api/devices/{device}/timeline?order=oldest&fields=target&{span}"

    network, registry = api.client.get(url, headers=viewer).json()["items"]

    assert network["target"]["type"] == "network"
    assert network["target"]["remote_port"] == 22
    assert registry["target"]["type"] == "registry"
    assert registry["target"]["registry_value"] == "x.exe"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("fields=id,bogus", "fields"),
        ("from=2026-03-01T00:00:00", "from"),
        ("to=2026-03-01T00:00:00", "to"),
        ("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        ("from=1066-10-14T09:00:00Z", "from"),
        ("order=sideways", "order"),
        ("limit=501", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=" + _cursor("2026-03-01T00:00:00", 1), "cursor"),
        ("cursor=" + _cursor("2026-03-01T00:00:00Z", "1"), "cursor"),
        ("cursor=" + _cursor(5, 1), "cursor"),
        ("&".join(f"kinds=k{i}" for i in range(21)), "kinds"),
        ("kinds=" + "x" * 65, "kinds"),
    ],
)
def test_timeline_bad_parameters_get_422_naming_the_field(
    api: Api, viewer: dict[str, str], device: str, query: str, field: str
) -> None:
    response = api.client.get(f"/api/devices/{device}/timeline?{query}", headers=viewer)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_timeline_unknown_field_is_named_in_the_problem(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    response = api.client.get(f"/api/devices/{device}/timeline?fields=bogus", headers=viewer)

    assert "'bogus'" in response.json()["detail"]


@pytest.mark.parametrize("suffix", ["", "/histogram", "/export"])
def test_timeline_endpoints_need_sign_in_and_a_known_device(
    api: Api, viewer: dict[str, str], device: str, suffix: str
) -> None:
    anonymous = api.client.get(f"/api/devices/{device}/timeline{suffix}")
    unknown = api.client.get(f"/api/devices/no-such-device/timeline{suffix}", headers=viewer)

    assert anonymous.status_code == 401
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "HW-2001"


def test_timeline_shows_only_the_devices_own_events(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    other, _ = enroll(api, "ws02")
    mine = add_events(api, device, ev(1, key="mine", process_command_line="shared words"))
    theirs = add_events(api, other, ev(1, key="theirs", process_command_line="shared words"))
    span = f"from={iso(at(0))}&to={iso(at(2))}"
    cursor = _cursor(iso(at(1)), theirs["theirs"] + 1)

    listed = _ids(api, f"/api/devices/{device}/timeline?{span}&q=shared", viewer)
    paged = _ids(api, f"/api/devices/{device}/timeline?{span}&cursor={cursor}", viewer)
    counted = api.client.get(f"/api/devices/{device}/timeline/histogram?{span}", headers=viewer)
    exported = api.client.get(f"/api/devices/{device}/timeline/export?{span}", headers=viewer)

    assert listed == [mine["mine"]]
    assert theirs["theirs"] not in paged
    assert counted.json()["totals"] == {"file": 1}
    assert exported.text.count("\r\n") == 2


def test_timeline_viewer_role_is_enough(api: Api, device: str) -> None:
    analyst = api.token_for("ana", Role.analyst)

    response = api.client.get(f"/api/devices/{device}/timeline", headers=analyst)

    assert response.status_code == 200
    assert response.json()["items"] == []


def test_timeline_lists_events_the_agent_uploaded(api: Api, viewer: dict[str, str]) -> None:
    device, agent = enroll(api, "ws03")
    upload = {
        "events": [
            {
                "key": "p-1",
                "time": iso(at(1)),
                "kind": "process",
                "action_type": "ProcessCreated",
                "process_id": 321,
                "process_image": "/usr/bin/ssh",
                "process_command_line": "ssh backup@example.org",
                "process_guid": "agent-guid-1",
            }
        ]
    }
    stored = api.client.post("/api/agent/events", headers=agent, json=upload)

    body = api.client.get(
        f"/api/devices/{device}/timeline?from={iso(at(0))}&to={iso(at(2))}&q=backup@",
        headers=viewer,
    ).json()

    assert stored.json() == {"stored": 1, "duplicates": 0}
    assert [item["process"]["guid"] for item in body["items"]] == ["agent-guid-1"]
    assert body["items"][0]["source"] == "agent"
