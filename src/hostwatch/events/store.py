"""The event store interface and its SQL implementation (SQLite and PostgreSQL).

Inserts are idempotent: a (device, dedupe key) pair already stored is skipped, so
re-importing a file or re-sending an agent batch adds nothing.

Events arrive by the hundred thousand, so the SQL store writes them below the ORM, with
each engine's fastest bulk path: on SQLite, one prepared INSERT ... ON CONFLICT DO NOTHING
run over each device's rows; on PostgreSQL, COPY into a scratch table and one statement
that moves the new rows across and counts them per device. Both run in the caller's
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.events.models import Event

# Every column but the generated id, in table order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in Event.__table__.columns if c.name != "id")
_KNOWN = frozenset(COLUMNS)
_COLUMN_LIST = ", ".join(f'"{name}"' for name in COLUMNS)
_TIME = COLUMNS.index("time")
_RECEIVED_AT = COLUMNS.index("received_at")
_FIELDS = COLUMNS.index("fields")
# One encoder for every row: json.dumps with options builds a new one per call.
_json_text = json.JSONEncoder(ensure_ascii=False).encode

# Only a stored (device, dedupe key) is skipped: INSERT OR IGNORE would also drop, unseen,
# a row that breaks any other constraint (a missing kind), where PostgreSQL refuses it.
_SQLITE_INSERT = (
    f"INSERT INTO events ({_COLUMN_LIST}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in COLUMNS)}) "
    "ON CONFLICT (device_id, dedupe_key) DO NOTHING"
)

_SCRATCH = "events_incoming"
_ROWS_PER_COPY = 20_000
_PG_SCRATCH = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_SCRATCH} ON COMMIT DELETE ROWS AS "  # noqa: S608
    f"SELECT {_COLUMN_LIST} FROM events WITH NO DATA"
)
_PG_COPY = f"COPY {_SCRATCH} ({_COLUMN_LIST}) FROM STDIN"
# Stores the new rows of the scratch table and counts them per device.
_PG_MOVE = (
    f"WITH added AS (INSERT INTO events ({_COLUMN_LIST}) "  # noqa: S608
    f"SELECT {_COLUMN_LIST} FROM {_SCRATCH} "
    "ON CONFLICT (device_id, dedupe_key) DO NOTHING RETURNING device_id) "
    "SELECT device_id, count(*) FROM added GROUP BY device_id"
)


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int
    # The devices that got at least one new event.
    devices: frozenset[str] = frozenset()


class EventStore(Protocol):
    def add_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> StoreResult: ...


class SqlEventStore:
    """Events in the relational database, deduplicated by (device_id, dedupe_key)."""

    def add_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> StoreResult:
        if not rows:
            return StoreResult(stored=0, duplicates=0)
        # Rows grouped by device, one per dedupe key: duplicates inside one call count as
        # duplicates too.
        by_device: dict[str, dict[str, dict[str, Any]]] = {}
        for row in rows:
            if not _KNOWN.issuperset(row):
                unknown = {key for each in rows for key in each} - _KNOWN
                raise ValueError(f"unknown event columns: {sorted(unknown)}")
            by_device.setdefault(row["device_id"], {}).setdefault(row["dedupe_key"], row)

        # Rows below reference devices that may still be pending in the session.
        session.flush()
        dialect = session.get_bind().dialect.name
        with _as_sqlalchemy_errors(session):
            if dialect == "sqlite":
                stored = _add_sqlite(session, by_device)
            elif dialect == "postgresql":
                stored = _add_postgresql(session, by_device)
            else:  # pragma: no cover - only the two engines above are supported
                raise RuntimeError(f"unsupported database engine {dialect}")
        total = sum(stored.values())
        return StoreResult(
            stored=total,
            duplicates=len(rows) - total,
            devices=frozenset(device_id for device_id, count in stored.items() if count),
        )


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


def _values(row: dict[str, Any], received: datetime) -> list[Any]:
    """The row's values in column order: times in UTC, `received` for a missing one, and
    fields as JSON text."""
    values = list(map(row.get, COLUMNS))
    moment = values[_TIME]
    values[_TIME] = _utc(moment, "time") if moment else received
    moment = values[_RECEIVED_AT]
    values[_RECEIVED_AT] = _utc(moment, "received_at") if moment else received
    values[_FIELDS] = _json_text(values[_FIELDS] or {})
    return values


def _sqlite_time(value: datetime) -> str:
    # As SQLAlchemy itself stores times on SQLite, so its reads and comparisons agree:
    # naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_values(rows: Iterable[dict[str, Any]], received: datetime) -> Iterator[list[Any]]:
    received_text = _sqlite_time(received)
    for row in rows:
        values = _values(row, received)
        values[_TIME] = _sqlite_time(values[_TIME])
        # Most rows take the call's own receive time: its text is made once.
        moment = values[_RECEIVED_AT]
        values[_RECEIVED_AT] = received_text if moment is received else _sqlite_time(moment)
        yield values


def _add_sqlite(
    session: Session, by_device: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, int]:
    raw: Any = session.connection().connection.dbapi_connection  # sqlite3.Connection
    received = utcnow()
    stored: dict[str, int] = {}
    cursor = raw.cursor()
    try:
        # One run per device: the change count of each tells which devices got new events.
        for device_id, rows in by_device.items():
            before = raw.total_changes
            cursor.executemany(_SQLITE_INSERT, _sqlite_values(rows.values(), received))
            stored[device_id] = raw.total_changes - before
    finally:
        cursor.close()
    return stored


def _add_postgresql(
    session: Session, by_device: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, int]:
    raw: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    received = utcnow()
    values = (_values(row, received) for rows in by_device.values() for row in rows.values())
    stored: dict[str, int] = {}
    with raw.cursor() as cursor:
        # A scratch table without constraints, private to this connection; COPY fills it
        # far faster than any INSERT, then one statement moves the new rows across.
        cursor.execute(_PG_SCRATCH)
        while part := list(islice(values, _ROWS_PER_COPY)):
            with cursor.copy(_PG_COPY) as copy:
                for row_values in part:
                    copy.write_row(row_values)
            cursor.execute(_PG_MOVE)
            for device_id, count in cursor.fetchall():
                stored[device_id] = stored.get(device_id, 0) + int(count)
            cursor.execute(f"TRUNCATE {_SCRATCH}")
    return stored
