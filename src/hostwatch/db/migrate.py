"""Runs the Alembic migrations that ship inside the package."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")

logger = logging.getLogger(__name__)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to `revision`; one log line when the schema changed, none when it was current.

    Alembic's own line per step is kept for debugging (HOSTWATCH_LOG_LEVEL=DEBUG)."""
    alembic_log = logging.getLogger("alembic")
    if not alembic_log.isEnabledFor(logging.DEBUG):
        alembic_log.setLevel(logging.WARNING)
    before = current(engine)
    command.upgrade(alembic_config(engine), revision)
    after = current(engine)
    if after != before:
        logger.info("database schema upgraded from %s to %s", before or "empty", after)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
