"""EVTX import: each record becomes an event of the device its Computer names, stored in batches.

Files are read, normalized and made into event rows by hostwatch.ingest.pipeline, in
worker processes when a CPU is free, else in this process; this module writes them. A
batch is one transaction: its devices, events and device facts are committed together or
not at all, and batches committed before a failure (or Ctrl-C) stay. A batch stays open
while rows come, written every WRITE_ROWS rows and committed at batch_size rows, so that
writing overlaps reading without a commit per file. Devices are looked up once per import,
all the new names of a write at once.

Limitation: a full import takes about 5x (SQLite) and 6x to 7x (PostgreSQL) the time the
parser alone needs (bench/evtx_import.py, 75,160 records), not the 2.5x the issue asks for.
The database's own work, which one writer does alone, is about 2x on SQLite (inserting into
the events table and its six indexes, then the commit's WAL writes), and on PostgreSQL the
server's JSONB parsing and index updates add about 2x more; reading and normalizing cost
about 2.3x of CPU time. Two CPUs cannot finish that in less than about 2.7x (SQLite) or
3.5x (PostgreSQL); see bench/RESULTS.md.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.config import Settings
from hostwatch.db.engine import begin_write
from hostwatch.detection.cache import CACHE
from hostwatch.detection.service import Windows, detect_new
from hostwatch.devices import registry
from hostwatch.devices.models import Device
from hostwatch.events.histogram import BUSY_TIMEOUT_MS, fold_sqlite
from hostwatch.events.store import COLUMNS, TIME, EventStore, SqlEventStore, parse_prepared_time
from hostwatch.ingest.device_facts import DeviceFacts
from hostwatch.ingest.evtx import EvtxSource, Problem, find_sources
from hostwatch.ingest.pipeline import (
    PART_ROWS,
    FileEnd,
    Message,
    Part,
    Workers,
    problem_order,
    read_here,
)
from hostwatch.ingest.summary import FileSummary, ImportSummary

log = logging.getLogger(__name__)

BATCH_SIZE = 20_000
# SQLite page cache of the import's connection, in KiB.
IMPORT_CACHE_KIB = 64 * 1024
# Below this many bytes of input, starting worker processes costs more than they save.
WORKERS_FROM_BYTES = 4 * 1024**2
MAX_WORKERS = 2
# Rows written to the database at once, in the open batch's transaction.
WRITE_ROWS = 2_000
# Tries of a batch that met another import's transaction in a deadlock.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Progress:
    files_total: int
    files_done: int
    records: int


class EvtxImporter:
    """Imports EVTX files, folders and zip archives into the event store; see `run`.

    Batches span files: logs often come as many small files, and a transaction per file
    would cost more than the records in it.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: EventStore | None = None,
        batch_size: int = BATCH_SIZE,
        on_progress: Callable[[Progress], None] | None = None,
        workers: int | None = None,
        windows: Windows | None = None,
    ) -> None:
        """`workers`: processes that read the files, 0 to read them in this one; by default
        as many as CPUs are free beside this one (up to MAX_WORKERS), none for a small
        import."""
        self.sessions = sessions
        self.store = store or SqlEventStore()
        self.batch_size = batch_size
        self.on_progress = on_progress
        self.workers = workers
        # How close matches must be to join one alert, and alerts one incident.
        self.windows = windows or Windows.from_settings(Settings.from_env())
        # CPU time of the last run's worker processes (this process's own is not in it).
        self.worker_cpu_seconds = 0.0
        # Computer name (lower case) -> device id, for every device this import has used.
        self._devices: dict[str, str] = {}
        # The batch being written: its transaction stays open until it holds batch_size rows.
        self._open: _Batch | None = None
        self._summary = ImportSummary()
        self._created: set[str] = set()
        self._updated: set[str] = set()
        self._alerts_raised: set[str] = set()
        self._alerts_updated: set[str] = set()
        self._records = 0
        self._files_done = 0

    def run(self, paths: Sequence[Path]) -> ImportSummary:
        started = time.monotonic()
        sources, input_problems = find_sources(paths)
        summary = self._summary = ImportSummary(input_problems=list(input_problems))
        summary.files = [FileSummary(source.name) for source in sources]
        self._created, self._updated = set(), set()
        self._alerts_raised, self._alerts_updated = set(), set()
        self._records = self._files_done = 0
        ended = [False] * len(sources)
        self._progress()
        # The rules' detector is built before the first write transaction opens (see
        # detection.service.detect_stored): building it inside one would hold SQLite's
        # write lock for seconds, and the server's writers would wait.
        with self.sessions() as session:
            CACHE.detector(session)
        try:
            with self._read(sources) as messages:
                for message in messages:
                    if isinstance(message, Part):
                        self._records += message.records
                        # So far: a file whose reader dies keeps the count of what came.
                        summary.files[message.file].records += message.records
                        self._add(message)
                    else:
                        self._end_file(message)
                        ended[message.file] = True
                    self._progress()
            self._commit()
            self._fold_rollup()
        finally:
            # Interrupted or failed: the open batch is rolled back, committed ones stay.
            if self._open is not None:
                self._open.session.close()
                self._open = None
        for file, done in zip(summary.files, ended, strict=True):
            if not done:
                file.problems.append(
                    Problem(file.name, "reading stopped: the process reading this file died")
                )

        summary.devices_created = len(self._created)
        summary.devices_updated = len(self._updated - self._created)
        summary.alerts_raised = len(self._alerts_raised)
        summary.alerts_updated = len(self._alerts_updated - self._alerts_raised)
        summary.seconds = time.monotonic() - started
        log.info(
            "imported %d EVTX files: %d records, %d events stored, %d problems",
            len(summary.files),
            summary.records,
            summary.stored,
            summary.problem_count,
        )
        return summary

    @contextmanager
    def _read(self, sources: Sequence[EvtxSource]) -> Iterator[Iterator[Message]]:
        with self.sessions() as session:
            dialect = session.get_bind().dialect.name
        count = self._worker_count(sources)
        self.worker_cpu_seconds = 0.0
        if count == 0:
            yield read_here(sources, dialect, PART_ROWS)
            return
        with Workers(sources, count, dialect, PART_ROWS) as workers:
            try:
                yield iter(workers)
            finally:
                self.worker_cpu_seconds = workers.cpu_seconds

    def _worker_count(self, sources: Sequence[EvtxSource]) -> int:
        if self.workers is not None:
            return min(self.workers, len(sources))
        if sum(source.size for source in sources) < WORKERS_FROM_BYTES:
            return 0
        # Limitation: workers are forked, so where fork is missing (Windows) files are read
        # in this process.
        if "fork" not in multiprocessing.get_all_start_methods():
            return 0
        # A worker pays only where a CPU would otherwise idle: on a busy machine it shares
        # this process's CPUs, and handing rows over costs about a third more CPU time
        # (bench/RESULTS.md). The last minute's load average, which counts this import's
        # own earlier work too, tells whether one was free; this process needs one.
        cpus = os.cpu_count() or 1
        free = cpus - os.getloadavg()[0]
        return max(0, min(MAX_WORKERS, len(sources), cpus - 1, int(free + 0.5)))

    def _add(self, part: Part) -> None:
        """Adds the part to the open batch, written once WRITE_ROWS rows wait and committed
        once it holds batch_size rows."""
        while part.rows:
            batch = self._open or self._begin()
            self._open = batch
            room = self.batch_size - batch.rows
            piece, part = part.cut(room) if len(part.rows) > room else (part, Part(part.file))
            batch.parts.append(piece)
            batch.rows += len(piece.rows)
            if batch.rows - batch.written >= WRITE_ROWS or batch.rows >= self.batch_size:
                self._write_waiting()
            if self._open is not None and batch.rows >= self.batch_size:
                self._commit()

    def _write_waiting(self) -> None:
        batch = self._open
        if batch is None or batch.written == batch.rows:
            return
        waiting = _tail(batch.parts, batch.rows - batch.written)
        try:
            self._write(batch, waiting)
        except sa_exc.SQLAlchemyError as exc:
            self._open = None
            self._abandon(batch, exc)
            return
        batch.written = batch.rows

    def _begin(self) -> _Batch:
        session = self.sessions()
        session.begin()
        begin_write(session)
        _use_import_cache(session)
        return _Batch(session)

    def _commit(self) -> None:
        self._write_waiting()
        batch, self._open = self._open, None
        if batch is None:
            return
        try:
            updated = self._apply_facts(batch)
            batch.session.commit()
        except sa_exc.SQLAlchemyError as exc:
            self._abandon(batch, exc)
            return
        finally:
            batch.session.close()
        self._summary.stored += batch.stored
        self._summary.duplicates += batch.duplicates
        self._alerts_raised |= batch.alerts_raised
        self._alerts_updated |= batch.alerts_updated - self._alerts_raised
        self._created |= batch.created
        self._updated |= updated

    def _fold_rollup(self) -> None:
        """On SQLite, count the new events into the histogram's rollup now, so that the
        first chart opened after an import does not pay for the whole import."""
        with self.sessions() as session:
            bind = session.get_bind()
        engine = bind.engine if isinstance(bind, Connection) else bind
        if engine.dialect.name == "sqlite" and self._summary.stored:
            # Waits for the write lock as long as a batch does; a busy database leaves the
            # fold to the next histogram, whose answer is exact either way.
            fold_sqlite(engine, wait_ms=BUSY_TIMEOUT_MS)

    def _abandon(self, batch: _Batch, exc: sa_exc.SQLAlchemyError) -> None:
        """Rolls the batch back; stores what the database takes of it."""
        batch.session.close()
        # Devices found or created in the rolled-back transaction are as they were.
        self._devices.clear()
        self._fail(batch.parts, exc, batch.attempt)

    def _store(self, parts: list[Part], attempt: int = 1) -> None:
        """Stores parts in one transaction of their own."""
        batch = self._begin()
        batch.attempt = attempt
        batch.parts = parts
        batch.rows = sum(len(part.rows) for part in parts)
        self._open = batch
        self._commit()

    def _end_file(self, end: FileEnd) -> None:
        file = self._summary.files[end.file]
        file.records = end.records
        file.bad_records += end.bad_records
        # With the problems the database found in the file's records so far.
        file.problems = sorted(end.problems + file.problems, key=problem_order)
        self._files_done += 1
        if end.failure is not None:
            log.error("the importer failed while reading %r:\n%s", file.name, end.failure)

    def _fail(self, batch: list[Part], exc: Exception, attempt: int) -> None:
        rows = sum(len(part.rows) for part in batch)
        if not any(part.rows for part in batch):
            return
        if _conflicted(exc) and attempt < MAX_ATTEMPTS:
            # Two imports at once waited for each other (PostgreSQL): one of them is
            # stopped, and tries again.
            log.info("batch of %d events tried again after %s", rows, _first_line(exc))
            self._store(batch, attempt + 1)
            return
        if _refused(exc):
            # The database refused something in the batch: split it to find the records it
            # refuses, and store the rest.
            if rows > 1:
                first, second = _halves(batch, rows // 2)
                self._store(first)
                self._store(second)
                return
            (part,) = [part for part in batch if part.rows]
            file = self._summary.files[part.file]
            file.not_stored += 1
            chunk, record = part.places[0]
            message = f"the database refused the event: {_first_line(exc)}"
            file.problems.append(Problem(file.name, message, chunk, record))
            return
        places: dict[int, list[tuple[int | None, int]]] = {}
        for part in batch:
            places.setdefault(part.file, []).extend(part.places)
        for number, part_places in places.items():
            file = self._summary.files[number]
            (chunk, first_record), (_, last_record) = part_places[0], part_places[-1]
            file.not_stored += len(part_places)
            file.problems.append(
                Problem(
                    file.name,
                    f"records {first_record} to {last_record} were not stored: {_first_line(exc)}",
                    chunk,
                )
            )

    def _write(self, batch: _Batch, parts: list[Part]) -> None:
        """Parts' events, in the batch's transaction."""
        session = batch.session
        computers = {computer for part in parts for computer in set(part.computers)}
        self._find_devices(session, computers, batch.created)
        ids = {computer: self._devices[computer.lower()] for computer in computers}
        by_device: dict[str, list[list[Any]]] = {device_id: [] for device_id in ids.values()}
        for part in parts:
            for row, computer in zip(part.rows, part.computers, strict=True):
                by_device[ids[computer]].append(row)
        result = self.store.add_prepared(session, by_device)
        batch.stored += result.stored
        batch.duplicates += result.duplicates
        batch.new_events |= result.devices
        self._detect(batch, by_device)

        for device_id, rows in by_device.items():
            # Prepared times sort as text.
            times = [row[TIME] for row in rows]
            facts = batch.facts.setdefault(device_id, DeviceFacts())
            facts.add_times(parse_prepared_time(min(times)), parse_prepared_time(max(times)))
        for part in parts:
            for computer, logon, addresses in part.notes.values():
                batch.facts[ids[computer]].add_note(logon, addresses)

    def _detect(self, batch: _Batch, by_device: dict[str, list[list[Any]]]) -> None:
        """The enabled Sigma rules over the rows just written, in the batch's transaction:
        a batch rolled back takes its alerts with it."""
        # Limitation: a fault inside a compiled rule fails the batch like a database fault
        # would; none is known over the shared rules and samples (tests/detection).
        if not CACHE.detector(batch.session).detector.rules:
            return
        rows = {
            device_id: [_event_row(values) for values in prepared]
            for device_id, prepared in by_device.items()
        }
        result = detect_new(batch.session, rows, windows=self.windows)
        batch.alerts_raised.update(result.alerts_created)
        batch.alerts_updated.update(result.alerts_updated)

    def _apply_facts(self, batch: _Batch) -> set[str]:
        """Applies the batch's device facts; returns the devices changed."""
        # Locked in one statement, in one order, so that two imports at once neither lose
        # each other's logged-on users nor deadlock; NO KEY UPDATE does not wait for the
        # share locks of other imports' events that reference the devices.
        locked = batch.session.scalars(
            select(Device)
            .where(Device.id.in_(list(batch.facts)))
            .order_by(Device.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        updated = set()
        for device in locked:
            if batch.facts[device.id].apply(device) or device.id in batch.new_events:
                updated.add(device.id)
        return updated

    def _find_devices(self, session: Session, computers: set[str], created: set[str]) -> None:
        """Finds or creates the devices of computer names this import has not met yet."""
        new: dict[str, str] = {}
        for computer in sorted(computers):
            new.setdefault(computer.lower(), computer)
        new = {key: name for key, name in new.items() if key not in self._devices}
        if not new:
            return
        found = registry.find_or_add_many_from_logs(session, new.values())
        for key, computer in new.items():
            device, is_new = found[computer]
            self._devices[key] = device.id
            if is_new:
                created.add(device.id)
                # %r: the name comes from the log and may hold control characters.
                log.info("device %s created from the logs of %r", device.id, computer)

    def _device_id(self, session: Session, computer: str, created: set[str]) -> str:
        self._find_devices(session, {computer}, created)
        return self._devices[computer.lower()]

    def _progress(self) -> None:
        if self.on_progress is not None:
            files_total = len(self._summary.files)
            self.on_progress(Progress(files_total, self._files_done, self._records))


@dataclass
class _Batch:
    """Parts written in one transaction, and what they did so far."""

    session: Session
    parts: list[Part] = field(default_factory=list)
    rows: int = 0
    # Rows already written: the first ones of `parts`.
    written: int = 0
    stored: int = 0
    duplicates: int = 0
    facts: dict[str, DeviceFacts] = field(default_factory=dict)
    # Devices that got new events, and devices created.
    new_events: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)
    alerts_raised: set[str] = field(default_factory=set)
    alerts_updated: set[str] = field(default_factory=set)
    attempt: int = 1


def _event_row(values: list[Any]) -> dict[str, Any]:
    """A prepared row as the detector reads it: by column, with its fields decoded."""
    row = dict(zip(COLUMNS, values, strict=True))
    text = row["fields"]
    try:
        row["fields"] = orjson.loads(text)
    except orjson.JSONDecodeError:
        # What orjson would not write (a lone surrogate) the standard library wrote.
        row["fields"] = json.loads(text)
    return row


def _tail(parts: list[Part], rows: int) -> list[Part]:
    """The parts (or the end of the first of them) that hold the last `rows` rows."""
    taken: list[Part] = []
    for part in reversed(parts):
        if rows <= 0:
            break
        if len(part.rows) > rows:
            part = part.cut(len(part.rows) - rows)[1]
        taken.append(part)
        rows -= len(part.rows)
    return taken[::-1]


def _halves(batch: list[Part], size: int) -> tuple[list[Part], list[Part]]:
    """A batch cut in two after its first `size` rows."""
    first: list[Part] = []
    for at, part in enumerate(batch):
        if size <= len(part.rows):
            head, tail = part.cut(size)
            return [*first, head], [tail, *batch[at + 1 :]]
        first.append(part)
        size -= len(part.rows)
    return first, []


def _use_import_cache(session: Session) -> None:
    # SQLite's default page cache (2 MiB) holds little of the event indexes, so a batch
    # re-reads their pages and writes some twice: a larger one saved about 7% of an import.
    # It is set on the connection this import writes through, which keeps it (in `hostwatch
    # import` no other work uses it); pages are only allocated as they are read.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}"))


def _conflicted(exc: Exception) -> bool:
    """Whether the database stopped the transaction for waiting on another one in a circle."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return sqlstate in ("40P01", "40001")  # deadlock detected, serialization failure


def _refused(exc: Exception) -> bool:
    """Whether the database refused the data, rather than failing or being unreachable."""
    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
        return True
    # A value that could not even be sent (a bind parameter the driver refuses).
    return isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
