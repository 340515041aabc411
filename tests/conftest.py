"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, and an app on top of it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from hostwatch.api.app import create_app
from hostwatch.cli import app as cli_app
from hostwatch.config import Settings
from hostwatch.db import migrate
from hostwatch.db.engine import make_engine
from tests.helpers import Api

PG_ADMIN = os.environ.get("HOSTWATCH_TEST_PG", "host=127.0.0.1 port=5432 dbname=test user=postgres")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
ENGINES = ["sqlite", "postgresql"]


def _pg(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrate one template per engine once; each test copies it (fast, and still isolated)."""
    sqlite_path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{sqlite_path}")
    migrate.upgrade(engine)
    engine.dispose()

    pg_template = f"hw_tmpl_{uuid.uuid4().hex[:12]}"
    _pg(f'CREATE DATABASE "{pg_template}"')
    engine = make_engine(PG_URL.format(name=pg_template))
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield {"sqlite": str(sqlite_path), "postgresql": pg_template}
    finally:
        _pg(f'DROP DATABASE IF EXISTS "{pg_template}" WITH (FORCE)')


@pytest.fixture(params=ENGINES)
def db_url(
    request: pytest.FixtureRequest, _templates: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "hostwatch.db"
        shutil.copyfile(_templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    name = f"hw_test_{uuid.uuid4().hex[:12]}"
    _pg(f'CREATE DATABASE "{name}" TEMPLATE "{_templates["postgresql"]}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=db_url)


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[Api]:
    app = create_app(settings, engine)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Api(client=client, settings=settings, engine=engine)


@pytest.fixture
def hostwatch(db_url: str, tmp_path: Path) -> Any:
    """Runs `hostwatch ARGS...` in this process against the test database; returns the
    click result. A crash inside the command, rather than its chosen exit status, fails."""
    runner = CliRunner()
    env = {
        "HOSTWATCH_DATABASE_URL": db_url,
        "HOSTWATCH_DATA_DIR": str(tmp_path / "var"),
        "HOSTWATCH_LOG_LEVEL": "WARNING",
    }

    def run(*args: str) -> Any:
        result = runner.invoke(cli_app, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"hostwatch {' '.join(args)} crashed:\n{result.output}")
        return result

    return run
