"""Sign-in, sessions, CSRF, API tokens, rate limiting and the audit trail."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from hostwatch.api.app import create_app
from hostwatch.auth.models import AuditEntry
from hostwatch.auth.roles import Role
from tests.helpers import PASSWORD, Api


def _audit(api: Api, action: str) -> list[AuditEntry]:
    with api.sessions()() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def test_login_sets_httponly_samesite_session_cookie(api: Api) -> None:
    api.add_user("ana", Role.analyst)

    response = api.client.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})

    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("hw_session="))
    csrf_cookie = next(c for c in cookies if c.startswith("hw_csrf="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    assert "HttpOnly" not in csrf_cookie
    assert response.json()["user"] == {
        "name": "ana",
        "role": "analyst",
        "disabled": False,
        "created_at": response.json()["user"]["created_at"],
    }
    assert api.client.get("/api/auth/me").json()["name"] == "ana"


def test_password_is_stored_as_argon2id_hash(api: Api) -> None:
    api.add_user("ana", Role.viewer)

    with api.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE name = 'ana'")).scalar()

    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_wrong_password_is_refused_and_audited(api: Api) -> None:
    api.add_user("ana", Role.viewer)

    response = api.client.post("/api/auth/login", json={"username": "ana", "password": "wrong!"})

    assert response.status_code == 401
    assert response.json()["code"] == "HW-1005"
    failures = _audit(api, "auth.login")
    assert [(e.actor, e.outcome) for e in failures] == [("ana", "failure")]
    assert "wrong!" not in str(failures[0].detail)


def test_failed_logins_are_rate_limited_even_with_the_right_password(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    limit = api.settings.login_failures_per_user
    for _ in range(limit):
        api.client.post("/api/auth/login", json={"username": "ana", "password": "guess"})

    response = api.client.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) == api.settings.login_failure_window_seconds
    assert "too many failed sign-ins" in response.json()["detail"]


def test_refused_sign_ins_are_audited_as_refused_not_as_failures(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    limit = api.settings.login_failures_per_user
    for _ in range(limit + 3):
        api.client.post("/api/auth/login", json={"username": "ana", "password": "guess"})

    outcomes = [e.outcome for e in _audit(api, "auth.login")]

    assert outcomes == ["failure"] * limit + ["refused"] * 3


def _client_from(api: Api, address: str, **limits: int) -> TestClient:
    settings = dataclasses.replace(api.settings, **limits)
    return TestClient(
        create_app(settings, api.engine), base_url="http://127.0.0.1", client=(address, 4000)
    )


def test_account_wide_limit_refuses_only_addresses_that_failed(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    limits = {"login_failures_per_account": 3, "login_failures_per_user": 100}
    attacker = _client_from(api, "203.0.113.7", **limits)
    owner = _client_from(api, "198.51.100.2", **limits)
    for _ in range(3):
        attacker.post("/api/auth/login", json={"username": "ana", "password": "guess"})

    blocked = attacker.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})
    allowed = owner.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})

    assert blocked.status_code == 429
    assert "for this account" in blocked.json()["detail"]
    assert allowed.status_code == 200


def test_per_address_limit_spans_accounts(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    sprayer = _client_from(api, "203.0.113.9", login_failures_per_address=4)
    for name in ("a1", "a2", "a3", "a4"):
        sprayer.post("/api/auth/login", json={"username": name, "password": "guess"})

    response = sprayer.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})

    assert response.status_code == 429
    assert "from this address" in response.json()["detail"]


def test_parallel_guesses_get_no_more_tries_than_the_limit(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    limit = api.settings.login_failures_per_user

    def guess(_: int) -> int:
        return api.client.post(
            "/api/auth/login", json={"username": "ana", "password": "guess"}
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(guess, range(limit * 3)))

    assert codes.count(401) == limit
    assert codes.count(429) == limit * 2


def test_cookie_session_needs_csrf_token_to_change_state(api: Api) -> None:
    api.add_user("boss", Role.admin)
    csrf = api.login("boss")
    body = {"name": "newbie", "role": "viewer", "password": "p" * 16}

    without = api.client.post("/api/users", json=body)
    wrong = api.client.post("/api/users", json=body, headers={"X-CSRF-Token": "nope"})
    right = api.client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})

    assert (without.status_code, wrong.status_code, right.status_code) == (403, 403, 201)
    assert without.json()["code"] == "HW-1003"


def test_logout_ends_the_session(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    csrf = api.login("ana")

    assert api.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    api.client.cookies.clear()

    assert api.client.get("/api/auth/me").status_code == 401


def test_api_token_works_until_revoked(api: Api) -> None:
    headers = api.token_for("bot", Role.viewer)
    tokens = api.client.get("/api/tokens", headers=headers).json()

    assert api.client.get("/api/devices", headers=headers).status_code == 200
    assert api.client.delete(f"/api/tokens/{tokens[0]['id']}", headers=headers).status_code == 204
    assert api.client.get("/api/devices", headers=headers).status_code == 401


def test_api_token_is_stored_hashed_and_shown_once(api: Api) -> None:
    headers = api.token_for("bot", Role.viewer)
    raw = headers["Authorization"].removeprefix("Bearer ")

    listed = api.client.get("/api/tokens", headers=headers).json()
    with api.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()

    assert raw not in str(listed)
    assert listed[0]["prefix"] == raw[:8]
    assert raw not in stored and len(stored[0]) == 64


def test_disabled_user_loses_access(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)
    viewer = api.token_for("temp", Role.viewer)

    api.client.patch("/api/users/temp", headers=admin, json={"disabled": True})

    assert api.client.get("/api/devices", headers=viewer).status_code == 401


def test_new_password_ends_open_sessions(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    csrf = api.login("ana")

    changed = api.client.post(
        "/api/users/ana/password",
        json={"password": "n" * 16, "current_password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )

    assert changed.status_code == 204
    assert api.client.get("/api/auth/me").status_code == 401


def test_changing_your_own_password_needs_the_current_one(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    csrf = api.login("ana")
    headers = {"X-CSRF-Token": csrf}

    missing = api.client.post(
        "/api/users/ana/password", json={"password": "n" * 16}, headers=headers
    )
    wrong = api.client.post(
        "/api/users/ana/password",
        json={"password": "n" * 16, "current_password": "not it"},
        headers=headers,
    )

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert api.client.get("/api/auth/me").status_code == 200


def test_non_admin_cannot_probe_other_user_names_through_password_change(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    viewer = api.token_for("bob", Role.analyst)

    existing = api.client.post(
        "/api/users/ana/password", headers=viewer, json={"password": "n" * 16}
    )
    missing = api.client.post(
        "/api/users/ghost/password", headers=viewer, json={"password": "n" * 16}
    )

    assert (existing.status_code, missing.status_code) == (403, 403)
    assert existing.json()["detail"] == missing.json()["detail"]


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)
    api.add_user("second", Role.admin)

    api.client.patch("/api/users/second", headers=admin, json={"disabled": True})
    demote = api.client.patch("/api/users/boss", headers=admin, json={"role": "analyst"})
    api.client.patch("/api/users/second", headers=admin, json={"disabled": False})
    demote_with_another = api.client.patch(
        "/api/users/second", headers=admin, json={"role": "analyst"}
    )

    assert demote.status_code == 409
    assert "last enabled admin" in demote.json()["detail"]
    assert demote_with_another.status_code == 200


def test_short_password_is_refused_with_the_field_named(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)

    response = api.client.post(
        "/api/users", headers=admin, json={"name": "x", "role": "viewer", "password": "short"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "password"


def test_state_changes_are_audited(api: Api) -> None:
    admin = api.token_for("boss", Role.admin)

    api.client.post(
        "/api/users", headers=admin, json={"name": "x", "role": "viewer", "password": "p" * 16}
    )
    api.client.patch("/api/users/x", headers=admin, json={"role": "analyst"})
    api.client.patch("/api/users/nobody", headers=admin, json={"role": "analyst"})

    created = _audit(api, "user.create")
    updated = _audit(api, "user.update")
    generic = _audit(api, "api.request")
    assert [(e.actor, e.target, e.detail) for e in created] == [("boss", "x", {"role": "viewer"})]
    assert [(e.target, e.detail) for e in updated] == [("x", {"role": ["viewer", "analyst"]})]
    assert [(e.target, e.outcome, e.detail) for e in generic] == [
        ("PATCH /api/users/nobody", "failure", {"status": 404})
    ]


def test_lockout_from_one_address_does_not_lock_the_account_elsewhere(api: Api) -> None:
    api.add_user("ana", Role.viewer)
    attacker = TestClient(api.client.app, client=("203.0.113.9", 4444))
    for _ in range(api.settings.login_failures_per_user):
        attacker.post("/api/auth/login", json={"username": "ana", "password": "guess"})

    from_attacker = attacker.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})
    from_ana = api.client.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})

    assert from_attacker.status_code == 429
    assert from_ana.status_code == 200


def test_token_last_use_is_recorded_on_reads(api: Api) -> None:
    headers = api.token_for("bot", Role.viewer)

    api.client.get("/api/devices", headers=headers)
    listed = api.client.get("/api/tokens", headers=headers).json()

    assert listed[0]["last_used_at"] is not None
