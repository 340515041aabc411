"""The migrations build exactly the schema the models declare, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from hostwatch.db import migrate
from hostwatch.db.models import Base


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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
