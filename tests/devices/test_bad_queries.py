"""Untrusted query values, cursors and tags get a 422 that names them, never a 500."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from hostwatch.auth.roles import Role
from tests.helpers import Api, enroll


def _cursor(value: object, row_id: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, row_id]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("name", _cursor(5, "id")),
        ("name", _cursor("box", [1])),
        ("name", _cursor({"a": 1}, "id")),
        ("-last_seen", _cursor("not a time", "id")),
        ("first_seen", _cursor(3, "id")),
    ],
)
def test_cursor_of_the_wrong_shape_is_refused(api: Api, sort: str, cursor: str) -> None:
    viewer = api.token_for("v", Role.viewer)
    enroll(api, "box")

    response = api.client.get(f"/api/devices?sort={sort}&cursor={cursor}", headers=viewer)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


def test_software_cursor_with_a_huge_or_text_row_id_is_refused(api: Api) -> None:
    viewer = api.token_for("v", Role.viewer)
    device, _ = enroll(api, "box")

    for cursor in (_cursor("bash", 2**70), _cursor("bash", "12"), _cursor("bash", True)):
        response = api.client.get(f"/api/devices/{device}/software?cursor={cursor}", headers=viewer)
        assert response.status_code == 422, cursor


def test_too_many_tag_filters_are_refused(api: Api) -> None:
    viewer = api.token_for("v", Role.viewer)
    query = "&".join(f"tag=t{i}" for i in range(21))

    response = api.client.get(f"/api/devices?{query}", headers=viewer)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "tag"


def test_out_of_range_numbers_are_refused(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)

    audit = api.client.get(f"/api/audit?before_id={2**63}", headers=admin)
    token = api.client.post("/api/enroll-tokens", headers=admin, json={"max_uses": 10**12})

    assert (audit.status_code, token.status_code) == (422, 422)
    assert token.json()["errors"][0]["field"] == "max_uses"


@pytest.mark.parametrize("tag", ["a/b", "caf\u00e9", "\u0430dmin", "x" * 65, "line\nbreak"])
def test_tags_are_plain_ascii_without_slashes(api: Api, tag: str) -> None:
    analyst = api.token_for("ana", Role.analyst)
    device, _ = enroll(api, "box")

    response = api.client.post(f"/api/devices/{device}/tags", headers=analyst, json={"tags": [tag]})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "tags"


def test_user_name_with_a_trailing_newline_is_refused(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)

    response = api.client.post(
        "/api/users", headers=admin, json={"name": "ana\n", "role": "viewer", "password": "p" * 16}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_the_same_tag_added_at_once_is_stored_once(api: Api) -> None:
    analyst = api.token_for("ana", Role.analyst)
    device, _ = enroll(api, "box")

    def add(_: int) -> int:
        return api.client.post(
            f"/api/devices/{device}/tags", headers=analyst, json={"tags": ["vip", "finance"]}
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(add, range(12)))

    tags = api.client.get(f"/api/devices/{device}", headers=analyst).json()["tags"]
    assert codes == [200] * 12
    assert sorted(t["name"] for t in tags if t["kind"] == "user") == ["finance", "vip"]


@pytest.mark.parametrize(
    "query",
    [
        "last_seen_after=2024-01-01T00:00:00",
        "last_seen_before=2024-01-01",
        "last_seen_after=0001-01-01T00:00:00%2B14:00",
        "last_seen_before=9999-12-31T23:59:59-14:00",
        f"cursor={_cursor(None, None)}",
        f"cursor={_cursor('a', None)}",
        f"sort=-last_seen&cursor={_cursor('2024-01-01T00:00:00', 'id')}",
        f"sort=first_seen&cursor={_cursor('0001-01-01T00:00:00+14:00', 'id')}",
        "cursor=" + _cursor("a\u0000b", "id"),
    ],
)
def test_naive_or_impossible_times_and_empty_cursors_are_refused(api: Api, query: str) -> None:
    viewer = api.token_for("v", Role.viewer)
    enroll(api, "box")

    response = api.client.get(f"/api/devices?{query}", headers=viewer)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] in {
        "cursor",
        "last_seen_after",
        "last_seen_before",
    }


def test_searching_json_punctuation_does_not_match_every_address(api: Api) -> None:
    viewer = api.token_for("v", Role.viewer)
    enroll(api, "box", ip_addresses=["10.1.2.3"])

    def names(q: str) -> list[str]:
        response = api.client.get("/api/devices", params={"q": q}, headers=viewer)
        return [d["name"] for d in response.json()["items"]]

    assert names('"') == [] and names("[") == [] and names(",") == []
    assert names("10.1.2") == ["box"]
