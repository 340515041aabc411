"""The SQL event store on each engine: idempotent bulk writes, counts per device, errors."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.devices.models import Device
from hostwatch.events import store
from hostwatch.events.models import Event
from hostwatch.events.store import SqlEventStore, StoreResult

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _devices(sessions: sessionmaker[Session], *names: str) -> list[str]:
    with transaction(sessions) as session:
        devices = [Device(hostname=name) for name in names]
        session.add_all(devices)
        session.flush()
        return [device.id for device in devices]


def _row(device_id: str, key: str, **columns: Any) -> dict[str, Any]:
    row = {"device_id": device_id, "dedupe_key": key, "time": AT, "source": "test", "kind": "file"}
    return {**row, **columns}


def _add(sessions: sessionmaker[Session], rows: list[dict[str, Any]]) -> StoreResult:
    with transaction(sessions) as session:
        return SqlEventStore().add_many(session, rows)


def _stored(sessions: sessionmaker[Session]) -> list[Event]:
    with transaction(sessions, write=False) as session:
        return list(session.scalars(select(Event).order_by(Event.dedupe_key)))


def test_store_skips_events_already_stored(sessions: sessionmaker[Session]) -> None:
    (device,) = _devices(sessions, "ws01")
    rows = [_row(device, "a"), _row(device, "b")]

    first = _add(sessions, rows)
    again = _add(sessions, [*rows, _row(device, "c")])

    assert first == StoreResult(stored=2, duplicates=0, devices=frozenset({device}))
    assert again == StoreResult(stored=1, duplicates=2, devices=frozenset({device}))
    assert [e.dedupe_key for e in _stored(sessions)] == ["a", "b", "c"]


def test_store_counts_repeats_within_one_call_as_duplicates(
    sessions: sessionmaker[Session],
) -> None:
    (device,) = _devices(sessions, "ws01")

    result = _add(sessions, [_row(device, "a"), _row(device, "a", kind="process")])

    assert (result.stored, result.duplicates) == (1, 1)
    assert [e.kind for e in _stored(sessions)] == ["file"]


def test_store_names_only_the_devices_that_got_new_events(
    sessions: sessionmaker[Session],
) -> None:
    known, fresh = _devices(sessions, "ws01", "ws02")
    _add(sessions, [_row(known, "a")])

    result = _add(sessions, [_row(known, "a"), _row(fresh, "a"), _row(fresh, "b")])

    assert result == StoreResult(stored=2, duplicates=1, devices=frozenset({fresh}))


def test_store_counts_each_device_across_copy_parts(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL copies rows in parts of _ROWS_PER_COPY; a device's rows may span two.
    monkeypatch.setattr(store, "_ROWS_PER_COPY", 3)
    first, second = _devices(sessions, "ws01", "ws02")
    rows = [_row(first, f"f{i}") for i in range(4)] + [_row(second, f"s{i}") for i in range(3)]

    result = _add(sessions, rows)
    again = _add(sessions, [*rows, _row(second, "s3")])

    assert result == StoreResult(stored=7, duplicates=0, devices=frozenset({first, second}))
    assert again == StoreResult(stored=1, duplicates=7, devices=frozenset({second}))


def test_store_keeps_fields_columns_and_times(sessions: sessionmaker[Session]) -> None:
    (device,) = _devices(sessions, "ws01")
    fields = {
        "EventData": {"CommandLine": 'cmd /c "dir C:\\Temp"', "Name": "Zoë ✓", "Count": 3},
        "nested": [None, True, 1.5, {"tab": "a\tb\nc"}],
    }
    paris = timezone(timedelta(hours=1))
    before = datetime.now(UTC)

    _add(
        sessions,
        [
            _row(device, "a", time=AT.astimezone(paris), fields=fields, process_id=2**32),
            _row(device, "b", received_at=AT, remote_port=65535, user="EXAMPLE\\user01"),
        ],
    )

    a, b = _stored(sessions)
    assert a.fields == fields
    assert a.time == AT and a.time.utcoffset() == timedelta(0)
    assert before <= a.received_at <= datetime.now(UTC)
    assert a.process_id == 2**32
    assert (b.fields, b.received_at, b.remote_port, b.user) == ({}, AT, 65535, "EXAMPLE\\user01")


def test_store_refuses_unknown_columns_and_naive_times(sessions: sessionmaker[Session]) -> None:
    (device,) = _devices(sessions, "ws01")

    with pytest.raises(ValueError, match="unknown event columns: \\['colour'\\]"):
        _add(sessions, [_row(device, "a"), _row(device, "b", colour="red")])
    with pytest.raises(ValueError, match="naive"):
        _add(sessions, [_row(device, "c", time=AT.replace(tzinfo=None))])

    assert _stored(sessions) == []


def test_store_raises_database_refusals_as_sqlalchemy_errors(
    sessions: sessionmaker[Session],
) -> None:
    # The importer splits a batch the database refuses only on SQLAlchemy's own errors.
    (device,) = _devices(sessions, "ws01")

    with pytest.raises(sa_exc.IntegrityError):
        _add(sessions, [_row(device, "a"), _row("no-such-device", "b")])
    with pytest.raises(sa_exc.IntegrityError):
        _add(sessions, [_row(device, "a"), _row(device, "b", kind=None)])

    assert _stored(sessions) == []


def test_store_keeps_fields_that_orjson_refuses(sessions: sessionmaker[Session]) -> None:
    # orjson writes integers of at most 64 bits; the standard library takes the rest.
    (device,) = _devices(sessions, "ws01")
    fields = {"Huge": 2**70, "Name": "Zoë"}

    _add(sessions, [_row(device, "a", fields=fields)])

    (stored,) = _stored(sessions)
    assert stored.fields == fields


def test_store_skips_a_row_another_writer_stored_while_it_was_copying(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite lets one writer in at a time")
    (device,) = _devices(sessions, "ws01")
    other_engine = make_engine(db_url)
    other = make_session_factory(other_engine)
    results: list[StoreResult] = []

    # The other writer holds "b" uncommitted; this store does not see it when it checks,
    # waits on it while copying, and finds it stored once the other commits.
    with transaction(other) as holding:
        SqlEventStore().add_many(holding, [_row(device, "b")])
        writer = threading.Thread(
            target=lambda: results.append(_add(sessions, [_row(device, "a"), _row(device, "b")]))
        )
        writer.start()
        for _ in range(300):
            if _lock_waits(other):
                break
            time.sleep(0.05)
    writer.join(30)
    other_engine.dispose()

    assert results == [StoreResult(stored=1, duplicates=1, devices=frozenset({device}))]
    assert [e.dedupe_key for e in _stored(sessions)] == ["a", "b"]


def _lock_waits(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions, write=False) as session:
        return session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")) or 0
