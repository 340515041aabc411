"""Alembic environment: migrates the engine handed over in the config's attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from hostwatch.db.models import Base

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no engine or sqlalchemy.url given to the migrations")
    engine = create_engine(url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
