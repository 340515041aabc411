"""The event store interface and its SQL implementation (SQLite and PostgreSQL).

Inserts are idempotent: a (device, dedupe key) pair already stored is skipped, so
re-importing a file or re-sending an agent batch adds nothing.

Events arrive by the hundred thousand, so the SQL store writes them below the ORM, with
each engine's fastest bulk path: on SQLite, one prepared INSERT ... ON CONFLICT DO NOTHING
run over each device's rows; on PostgreSQL, COPY into a scratch table and one statement
that moves the new rows across and counts them per device. Both run in the caller's
transaction.

A row is first prepared (`prepare`): its values in column order, fields as JSON text and
times as the engine's UTC text. Importers prepare rows where they parse, in worker
processes, and hand them over with `add_prepared`; `add_many` does both steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Protocol

import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.events.models import Event

# Every column but the generated id, in table order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in Event.__table__.columns if c.name != "id")
_KNOWN = frozenset(COLUMNS)
_COLUMN_LIST = ", ".join(f'"{name}"' for name in COLUMNS)
DEVICE = COLUMNS.index("device_id")
DEDUPE_KEY = COLUMNS.index("dedupe_key")
TIME = COLUMNS.index("time")
RECEIVED_AT = COLUMNS.index("received_at")
FIELDS = COLUMNS.index("fields")
# The standard library's encoder, for what orjson refuses (integers past 64 bits, keys that
# are not text); one for every row, as json.dumps with options builds a new one per call.
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
_PG_COPY_DIRECT = f"COPY events ({_COLUMN_LIST}) FROM STDIN"
# The (device, dedupe key) pairs of a list that are stored already.
_PG_STORED = (
    "SELECT e.device_id, e.dedupe_key FROM events AS e "
    "JOIN unnest(%s::text[], %s::text[]) AS k (device_id, dedupe_key) "
    "ON e.device_id = k.device_id AND e.dedupe_key = k.dedupe_key"
)
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

    def add_prepared(
        self, session: Session, by_device: Mapping[str, Sequence[list[Any]]]
    ) -> StoreResult: ...


class SqlEventStore:
    """Events in the relational database, deduplicated by (device_id, dedupe_key)."""

    def add_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> StoreResult:
        if not rows:
            return StoreResult(stored=0, duplicates=0)
        dialect = session.get_bind().dialect.name
        by_device: dict[str, list[list[Any]]] = {}
        for row in rows:
            if not _KNOWN.issuperset(row):
                unknown = {key for each in rows for key in each} - _KNOWN
                raise ValueError(f"unknown event columns: {sorted(unknown)}")
            by_device.setdefault(row["device_id"], []).append(prepare(row, dialect))
        return self.add_prepared(session, by_device)

    def add_prepared(
        self, session: Session, by_device: Mapping[str, Sequence[list[Any]]]
    ) -> StoreResult:
        """Stores rows made by `prepare`, by device; sets their device and receive time."""
        dialect = session.get_bind().dialect.name
        received = prepared_time(utcnow(), dialect)
        # One row per dedupe key and device: duplicates inside one call count as
        # duplicates too.
        unique: dict[str, list[list[Any]]] = {}
        total = 0
        for device_id, rows in by_device.items():
            kept: dict[str, list[Any]] = {}
            for values in rows:
                total += 1
                values[DEVICE] = device_id
                if values[RECEIVED_AT] is None:
                    values[RECEIVED_AT] = received
                if values[TIME] is None:
                    values[TIME] = received
                kept.setdefault(values[DEDUPE_KEY], values)
            if kept:
                unique[device_id] = list(kept.values())
        if not unique:
            return StoreResult(stored=0, duplicates=total)

        # Rows below reference devices that may still be pending in the session.
        session.flush()
        with _as_sqlalchemy_errors(session):
            if dialect == "sqlite":
                stored = _add_sqlite(session, unique)
            elif dialect == "postgresql":
                stored = _add_postgresql(session, unique)
            else:  # pragma: no cover - only the two engines above are supported
                raise RuntimeError(f"unsupported database engine {dialect}")
        count = sum(stored.values())
        return StoreResult(
            stored=count,
            duplicates=total - count,
            devices=frozenset(device_id for device_id, added in stored.items() if added),
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


def prepared_time(value: datetime, dialect: str) -> str:
    """An aware time as the engine's UTC text.

    On SQLite as SQLAlchemy itself stores times there, so that its reads and comparisons
    agree: naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'. On PostgreSQL the same with its
    offset, which COPY reads into a timestamptz whatever the session's time zone. Both
    sort as text in time order.
    """
    text = _utc(value, "time").replace(tzinfo=None).isoformat(" ", "microseconds")
    return text if dialect == "sqlite" else text + "+00:00"


def parse_prepared_time(text: str) -> datetime:
    """The aware time of a `prepared_time` text."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def fields_text(fields: Any) -> str:
    """An event's fields as JSON text."""
    try:
        return orjson.dumps(fields).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return _json_text(fields)


def prepare(row: dict[str, Any], dialect: str) -> list[Any]:
    """The row's values in column order for `add_prepared`: times as the engine's text,
    fields as JSON text. A missing time is the receive time, set when the row is stored."""
    values = list(map(row.get, COLUMNS))
    for at, column in ((TIME, "time"), (RECEIVED_AT, "received_at")):
        moment = values[at]
        values[at] = prepared_time(_utc(moment, column), dialect) if moment else None
    values[FIELDS] = fields_text(values[FIELDS] or {})
    return values


def _add_sqlite(session: Session, by_device: dict[str, list[list[Any]]]) -> dict[str, int]:
    raw: Any = session.connection().connection.dbapi_connection  # sqlite3.Connection
    stored: dict[str, int] = {}
    cursor = raw.cursor()
    try:
        # One run per device: the change count of each tells which devices got new events.
        for device_id, rows in by_device.items():
            before = raw.total_changes
            cursor.executemany(_SQLITE_INSERT, rows)
            stored[device_id] = raw.total_changes - before
    finally:
        cursor.close()
    return stored


def _add_postgresql(session: Session, by_device: dict[str, list[list[Any]]]) -> dict[str, int]:
    from psycopg import errors

    raw: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    with raw.cursor() as cursor:
        # Most imported events are new: those not stored yet are copied straight into the
        # table, far faster than any INSERT. Should another import store one of them in
        # the meantime, the copy fails on the unique key and is undone, and the slower
        # path below skips what is stored.
        devices = [device_id for device_id, rows in by_device.items() for _ in rows]
        keys = [row[DEDUPE_KEY] for rows in by_device.values() for row in rows]
        cursor.execute(_PG_STORED, (devices, keys))
        stored_already = set(cursor.fetchall())
        new = {
            device_id: [row for row in rows if (device_id, row[DEDUPE_KEY]) not in stored_already]
            for device_id, rows in by_device.items()
        }
        try:
            # In a savepoint, so that a failed copy leaves the transaction usable.
            with raw.transaction(), cursor.copy(_PG_COPY_DIRECT) as copy:
                for rows in new.values():
                    for row_values in rows:
                        copy.write_row(row_values)
        except errors.UniqueViolation:
            return _move_postgresql(cursor, new)
        return {device_id: len(rows) for device_id, rows in new.items()}


def _move_postgresql(cursor: Any, by_device: dict[str, list[list[Any]]]) -> dict[str, int]:
    values = (row for rows in by_device.values() for row in rows)
    stored: dict[str, int] = {}
    # A scratch table without constraints, private to this connection; COPY fills it, then
    # one statement moves the new rows across.
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
