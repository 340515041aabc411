"""The `hostwatch` command line against a real database, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.serverproc import ServerProcess
from fastapi.testclient import TestClient

from hostwatch.api.app import create_app
from hostwatch.config import Settings


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> ServerProcess:
    return ServerProcess(tmp_path / "var", database_url=db_url)


def test_users_lifecycle(cli: ServerProcess) -> None:
    cli.cli("users", "create", "ana", "--role", "viewer", "--password-stdin", stdin="x" * 14 + "\n")
    cli.cli("users", "set-role", "ana", "responder")
    cli.cli("users", "disable", "ana")

    users = json.loads(cli.cli("users", "list", "--json"))

    assert [(u["name"], u["role"], u["disabled"]) for u in users] == [("ana", "responder", True)]


def test_bad_role_and_short_password_fail_with_a_reason(cli: ServerProcess) -> None:
    with pytest.raises(RuntimeError, match="role 'boss' is not one of"):
        cli.cli(
            "users", "create", "ana", "--role", "boss", "--password-stdin", stdin="x" * 14 + "\n"
        )
    with pytest.raises(RuntimeError, match="at least 12 characters"):
        cli.cli("users", "create", "ana", "--role", "viewer", "--password-stdin", stdin="short\n")


def test_token_from_cli_authenticates_until_revoked(
    cli: ServerProcess, db_url: str, tmp_path: Path
) -> None:
    cli.cli("users", "create", "bot", "--role", "viewer", "--password-stdin", stdin="x" * 14 + "\n")
    created = json.loads(cli.cli("tokens", "create", "--user", "bot", "--name", "ci", "--json"))
    app = create_app(Settings(data_dir=tmp_path / "var", database_url=db_url))
    headers = {"Authorization": f"Bearer {created['token']}"}

    with TestClient(app) as client:
        before = client.get("/api/auth/me", headers=headers)
        cli.cli("tokens", "revoke", created["id"])
        after = client.get("/api/auth/me", headers=headers)

    listed = json.loads(cli.cli("tokens", "list", "--json"))
    assert before.json()["name"] == "bot"
    assert after.status_code == 401
    assert [(t["name"], t["revoked"]) for t in listed] == [("ci", True)]
    assert created["token"] not in json.dumps(listed)


def test_reset_password_lets_the_new_one_in(
    cli: ServerProcess, db_url: str, tmp_path: Path
) -> None:
    cli.cli(
        "users", "create", "ana", "--role", "viewer", "--password-stdin", stdin="old password 1\n"
    )
    cli.cli("users", "reset-password", "ana", "--password-stdin", stdin="new password 22\n")
    app = create_app(Settings(data_dir=tmp_path / "var", database_url=db_url))

    with TestClient(app) as client:
        old = client.post("/api/auth/login", json={"username": "ana", "password": "old password 1"})
        new = client.post(
            "/api/auth/login", json={"username": "ana", "password": "new password 22"}
        )

    assert (old.status_code, new.status_code) == (401, 200)


def test_a_database_that_cannot_be_opened_is_one_clear_line_without_the_password(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "HOSTWATCH_DATA_DIR": str(tmp_path),
        "HOSTWATCH_DATABASE_URL": (
            "postgresql+psycopg://someone:hunter2secret@127.0.0.1:5432/hw_no_such_db"
        ),
    }

    result = subprocess.run(
        [sys.executable, "-m", "hostwatch", "users", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "cannot open the database" in output
    assert "Traceback" not in output and "hunter2secret" not in output
