"""The event store interface and its SQL implementation (SQLite and PostgreSQL).

Inserts are idempotent: a (device, dedupe key) pair already stored is skipped, so
re-importing a file or re-sending an agent batch adds nothing.

Events arrive by the hundred thousand, so the SQL store writes them below the ORM, with
each engine's fastest bulk path: one prepared INSERT OR IGNORE run over every row on
SQLite, COPY into a scratch table and one INSERT ... SELECT ON CONFLICT DO NOTHING on
PostgreSQL. Both run in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.events.models import Event

# Every column but the generated id, in table order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in Event.__table__.columns if c.name != "id")
_KNOWN = frozenset(COLUMNS)
_COLUMN_LIST = ", ".join(f'"{name}"' for name in COLUMNS)
_TIME_COLUMNS = frozenset(("time", "received_at"))
_SCRATCH = "events_incoming"
_ROWS_PER_COPY = 20_000


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


class EventStore(Protocol):
    def add_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> StoreResult: ...


class SqlEventStore:
    """Events in the relational database, deduplicated by (device_id, dedupe_key)."""

    def add_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> StoreResult:
        if not rows:
            return StoreResult(stored=0, duplicates=0)
        unknown = {key for row in rows for key in row} - _KNOWN
        if unknown:
            raise ValueError(f"unknown event columns: {sorted(unknown)}")
        # Duplicates inside one batch count as duplicates too.
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            unique.setdefault((row["device_id"], row["dedupe_key"]), row)

        # Rows below reference devices that may still be pending in the session.
        session.flush()
        dialect = session.get_bind().dialect.name
        with _as_sqlalchemy_errors(session):
            if dialect == "sqlite":
                stored = _add_sqlite(session, unique.values())
            elif dialect == "postgresql":
                stored = _add_postgresql(session, unique.values())
            else:  # pragma: no cover - only the two engines above are supported
                raise RuntimeError(f"unsupported database engine {dialect}")
        return StoreResult(stored=stored, duplicates=len(rows) - stored)


@contextmanager
def _as_sqlalchemy_errors(session: Session) -> Iterator[None]:
    """Driver errors raised as SQLAlchemy's own (DataError, IntegrityError, ...), as callers
    of a Session expect, since these writes go to the driver directly."""
    driver_error = session.get_bind().dialect.loaded_dbapi.Error
    try:
        yield
    except driver_error as exc:
        raise sa_exc.DBAPIError.instance(
            "INSERT INTO events", None, exc, driver_error, hide_parameters=True
        ) from exc


def _utc(value: datetime, column: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"event {column} must be an aware datetime, got a naive one")
    return value.astimezone(UTC)


def _sqlite_values(rows: Iterable[dict[str, Any]], received: datetime) -> Iterable[tuple[Any, ...]]:
    """Rows as SQLAlchemy itself stores them on SQLite, so its reads and comparisons agree:
    times as naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', fields as JSON text."""
    for row in rows:
        values = []
        for column in COLUMNS:
            value = row.get(column)
            if column in _TIME_COLUMNS:
                moment = _utc(value or received, column)
                value = moment.replace(tzinfo=None).isoformat(" ", "microseconds")
            elif column == "fields":
                value = json.dumps(value or {}, ensure_ascii=False)
            values.append(value)
        yield tuple(values)


def _add_sqlite(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    raw: Any = session.connection().connection.dbapi_connection  # sqlite3.Connection
    placeholders = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT OR IGNORE INTO events ({_COLUMN_LIST}) VALUES ({placeholders})"  # noqa: S608
    before = raw.total_changes
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, _sqlite_values(rows, utcnow()))
    finally:
        cursor.close()
    return int(raw.total_changes - before)


def _add_postgresql(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    raw: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    received = utcnow()
    stored = 0
    with raw.cursor() as cursor:
        # A scratch table without constraints, private to this connection; COPY fills it
        # far faster than any INSERT, then one statement moves the new rows across.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_SCRATCH} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {_COLUMN_LIST} FROM events WITH NO DATA"
        )
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(_pg_values(row, received))
            if len(batch) >= _ROWS_PER_COPY:
                stored += _copy_and_move(cursor, batch)
                batch = []
        if batch:
            stored += _copy_and_move(cursor, batch)
    return stored


def _pg_values(row: dict[str, Any], received: datetime) -> tuple[Any, ...]:
    values = []
    for column in COLUMNS:
        value = row.get(column)
        if column in _TIME_COLUMNS:
            value = _utc(value or received, column)
        elif column == "fields":
            value = json.dumps(value or {}, ensure_ascii=False)
        values.append(value)
    return tuple(values)


def _copy_and_move(cursor: Any, batch: list[tuple[Any, ...]]) -> int:
    with cursor.copy(f"COPY {_SCRATCH} ({_COLUMN_LIST}) FROM STDIN") as copy:
        for values in batch:
            copy.write_row(values)
    cursor.execute(
        f"INSERT INTO events ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_SCRATCH} "  # noqa: S608
        "ON CONFLICT (device_id, dedupe_key) DO NOTHING"
    )
    stored = int(cursor.rowcount)
    cursor.execute(f"TRUNCATE {_SCRATCH}")
    return stored
