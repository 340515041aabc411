"""GET/PUT /api/me/preferences: each user's column choices, validated, capped and audited."""

from __future__ import annotations

from sqlalchemy import select

from hostwatch.auth.models import AuditEntry, User
from hostwatch.auth.roles import Role
from hostwatch.db.engine import transaction
from tests.helpers import Api

CHOICE = {"tables": {"devices": {"columns": {"domain": False, "first_seen": True}}}}


def test_preferences_start_empty_and_keep_what_was_put(api: Api) -> None:
    viewer = api.token_for("vera", Role.viewer)

    empty = api.client.get("/api/me/preferences", headers=viewer)
    put = api.client.put("/api/me/preferences", headers=viewer, json=CHOICE)
    read = api.client.get("/api/me/preferences", headers=viewer)

    assert empty.json() == {"tables": {}}
    assert put.status_code == 200
    assert read.json() == CHOICE


def test_preferences_belong_to_each_user(api: Api) -> None:
    vera = api.token_for("vera", Role.viewer)
    ana = api.token_for("ana", Role.analyst)

    api.client.put("/api/me/preferences", headers=vera, json=CHOICE)

    assert api.client.get("/api/me/preferences", headers=ana).json() == {"tables": {}}


def test_preferences_refuse_unknown_shapes_and_names(api: Api) -> None:
    viewer = api.token_for("vera", Role.viewer)
    bad = [
        {"tables": {"devices": {"columns": {"domain": "hidden"}}}},
        {"tables": {"Devices!": {"columns": {}}}},
        {"tables": {}, "theme": "dark"},
        {"tables": {f"t{i}": {"columns": {}} for i in range(65)}},
        [1, 2],
    ]

    answers = [api.client.put("/api/me/preferences", headers=viewer, json=b) for b in bad]

    assert [a.status_code for a in answers] == [422] * len(bad)


def test_preferences_over_the_size_cap_are_refused(api: Api) -> None:
    viewer = api.token_for("vera", Role.viewer)
    columns = {f"column-{'x' * 50}-{i:02d}": False for i in range(64)}
    big = {"tables": {f"table-{i}": {"columns": columns} for i in range(10)}}

    answer = api.client.put("/api/me/preferences", headers=viewer, json=big)

    assert answer.status_code == 413
    assert "limit is 16384" in answer.json()["detail"]


def test_preferences_from_a_browser_need_the_csrf_token_and_are_audited(api: Api) -> None:
    api.add_user("vera", Role.viewer)
    csrf = api.login("vera")

    refused = api.client.put("/api/me/preferences", json=CHOICE)
    accepted = api.client.put("/api/me/preferences", json=CHOICE, headers={"X-CSRF-Token": csrf})

    assert refused.status_code == 403
    assert accepted.status_code == 200
    with transaction(api.sessions()) as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "vera")).all()
        user = session.scalars(select(User).where(User.name == "vera")).one()
        assert user.preferences == CHOICE
    assert "user.preferences" in actions


def test_preferences_stored_in_an_old_shape_read_as_empty(api: Api) -> None:
    viewer = api.token_for("vera", Role.viewer)
    with transaction(api.sessions()) as session:
        user = session.scalars(select(User).where(User.name == "vera")).one()
        user.preferences = {"columns": ["a", "b"]}

    answer = api.client.get("/api/me/preferences", headers=viewer)

    assert answer.status_code == 200
    assert answer.json() == {"tables": {}}


def test_preferences_need_a_sign_in(api: Api) -> None:
    assert api.client.get("/api/me/preferences").status_code == 401
