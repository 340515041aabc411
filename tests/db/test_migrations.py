"""The migrations build exactly the schema the models declare, on both engines."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, Table, insert, inspect, text
from sqlalchemy.schema import SchemaItem

from hostwatch.db import migrate
from hostwatch.db.base import utcnow
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.db.models import Base
from hostwatch.events.store import SqlEventStore


def _declared_for(dialect: str) -> object:
    """Alembic's filter for what the models declare on this engine: an index declared for
    one engine only (ddl_if) is no difference on the other."""

    def include(
        item: SchemaItem, name: str | None, type_: str, reflected: bool, other: object
    ) -> bool:
        condition = getattr(item, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)

    return include


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": _declared_for(engine.dialect.name)},
        )
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_schema_is_at_the_newest_revision(engine: Engine) -> None:
    head = migrate.alembic_config(engine)

    newest = ScriptDirectory.from_config(head).get_current_head()

    assert migrate.current(engine) == newest
    assert "events" in inspect(engine).get_table_names()


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    before = sorted(inspect(engine).get_table_names())

    migrate.upgrade(engine)

    assert sorted(inspect(engine).get_table_names()) == before


def _store(engine: Engine, device_id: str, events: list[dict[str, object]]) -> None:
    with transaction(make_session_factory(engine)) as session:
        SqlEventStore().add_many(
            session, [{**event, "device_id": device_id, "source": "test"} for event in events]
        )


def test_0003_counts_the_events_already_stored_and_its_downgrade_removes_it(
    engine: Engine,
) -> None:
    config = migrate.alembic_config(engine)
    command.downgrade(config, "0002")
    device_id = "00000000-0000-4000-8000-0000000000aa"
    with engine.begin() as connection:
        # The devices table as it was at 0002: today's model has columns added since.
        devices = Table("devices", MetaData(), autoload_with=connection)
        connection.execute(
            insert(devices).values(
                id=device_id,
                hostname="ws-old",
                ip_addresses=[],
                mac_addresses=[],
                resources={},
                logged_on_users=[],
                sources=["agent"],
                created_at=utcnow(),
            )
        )
    start = datetime(2026, 3, 1, 22, 59, 59, tzinfo=UTC)
    events = [
        {"dedupe_key": f"k{i}", "time": start + timedelta(seconds=i * 0.5), "kind": kind}
        for i, kind in enumerate(["file", "dns", "file", "process", "file"])
    ]
    _store(engine, device_id, events)

    command.upgrade(config, "0003")
    with engine.connect() as connection:
        counted = {
            (hour, kind): n
            for hour, kind, n in connection.execute(
                text("SELECT hour, kind, events FROM event_hour_counts")
            )
        }
        mark = connection.scalar(text("SELECT last_id FROM event_count_mark"))
        newest = connection.scalar(text("SELECT max(id) FROM events"))
    command.downgrade(config, "0002")
    tables = inspect(engine).get_table_names()
    _store(engine, device_id, [{"dedupe_key": "after", "time": start, "kind": "file"}])

    hour = int(start.timestamp()) // 3600
    assert counted == {
        (hour, "file"): 1,
        (hour, "dns"): 1,
        (hour + 1, "file"): 2,
        (hour + 1, "process"): 1,
    }
    assert mark == (newest if engine.dialect.name == "sqlite" else None)
    assert "event_hour_counts" not in tables and "event_count_mark" not in tables
    assert "ix_events_search" not in {i["name"] for i in inspect(engine).get_indexes("events")}


def test_upgrade_says_once_what_changed_and_nothing_when_current(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    head = ScriptDirectory.from_config(migrate.alembic_config(fresh)).get_current_head()
    with caplog.at_level(logging.INFO):
        migrate.upgrade(fresh)
        first = [r.getMessage() for r in caplog.records]
        caplog.clear()
        migrate.upgrade(fresh)
        second = [r.getMessage() for r in caplog.records]
    fresh.dispose()
    assert first == [f"database schema upgraded from empty to {head}"]
    assert second == []
