"""EVTX import: each record becomes an event of the device its Computer names, stored in batches.

A batch is one transaction: its devices, events and device facts are committed together or
not at all, and batches committed before a failure stay. Events are plain dicts handed to
the event store (bulk writes, duplicates skipped by the database), never ORM
objects, and each device is looked up once per import.

Limitation: a full import takes about 6x (SQLite) and 8x (PostgreSQL) the time the parser
alone needs (bench/evtx_import.py, 75,160 records), not the 2.5x the issue asks for. Beyond
the parse itself (1x), measured on a quiet machine: normalizing 0.95x, reading checks 0.35x,
bookkeeping 0.2x, the store's row values (fields as JSON text, times) 0.7x to 0.8x, creating
the 44 devices of the shared logs 0.7x (SQLite) or 1.2x (PostgreSQL), the database writing
each row into the events table and its six indexes 1.05x (SQLite) or 2.7x (PostgreSQL:
COPY, then INSERT ... ON CONFLICT with its foreign key check, mostly server time), and per
batch the device lock, device facts and commit 0.9x (SQLite, of which the commit's WAL
writes 0.6x) or 0.5x (PostgreSQL). The database's share alone exceeds the 1.5x the target
leaves beyond parsing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import transaction
from hostwatch.devices import registry
from hostwatch.devices.models import Device
from hostwatch.events.store import EventStore, SqlEventStore
from hostwatch.ingest.device_facts import DeviceFacts
from hostwatch.ingest.evtx import EvtxReader, EvtxSource, Problem, find_sources
from hostwatch.ingest.normalize import normalize
from hostwatch.ingest.summary import FileSummary, ImportSummary
from hostwatch.ingest.windows_values import Normalized, RecordError

log = logging.getLogger(__name__)

BATCH_SIZE = 5_000
# SQLite page cache of the import's connection, in KiB.
IMPORT_CACHE_KIB = 64 * 1024
_PROGRESS_EVERY = 1_000


@dataclass(frozen=True)
class Progress:
    files_total: int
    files_done: int
    records: int


@dataclass(slots=True)
class _Pending:
    event: Normalized
    file: FileSummary
    chunk: int | None
    record_id: int


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
    ) -> None:
        self.sessions = sessions
        self.store = store or SqlEventStore()
        self.batch_size = batch_size
        self.on_progress = on_progress
        # Computer name (lower case) -> device id, for every device this import has used.
        self._devices: dict[str, str] = {}
        self._batch: list[_Pending] = []
        self._summary = ImportSummary()
        self._created: set[str] = set()
        self._updated: set[str] = set()
        self._records = 0

    def run(self, paths: Sequence[Path]) -> ImportSummary:
        started = time.monotonic()
        sources, input_problems = find_sources(paths)
        summary = self._summary = ImportSummary(input_problems=list(input_problems))
        self._created, self._updated = set(), set()
        self._records = 0
        for done, source in enumerate(sources):
            self._progress(len(sources), done)
            summary.files.append(self._read_file(source, len(sources), done))
        self._store(self._batch)
        self._batch = []
        self._progress(len(sources), len(sources))

        summary.devices_created = len(self._created)
        summary.devices_updated = len(self._updated - self._created)
        summary.seconds = time.monotonic() - started
        log.info(
            "imported %d EVTX files: %d records, %d events stored, %d problems",
            len(summary.files),
            summary.records,
            summary.stored,
            summary.problem_count,
        )
        return summary

    def _read_file(self, source: EvtxSource, files_total: int, done: int) -> FileSummary:
        result = FileSummary(source.name)
        reader = EvtxReader(source)
        for raw in reader:
            self._records += 1
            if self._records % _PROGRESS_EVERY == 0:
                self._progress(files_total, done)
            try:
                event = normalize(raw.event, raw.written)
            except RecordError as exc:
                result.bad_records += 1
                result.problems.append(Problem(source.name, str(exc), raw.chunk, raw.record_id))
                continue
            if raw.nul_removed:
                event.row["fields"]["nul_removed"] = True
            self._batch.append(_Pending(event, result, raw.chunk, raw.record_id))
            if len(self._batch) >= self.batch_size:
                self._store(self._batch)
                self._batch = []

        result.records = reader.records_read
        result.bad_records += reader.records_unreadable
        # In file order: the file's own problems first, then by chunk and record.
        result.problems = sorted(
            reader.problems + result.problems,
            key=lambda p: (
                -1 if p.chunk is None else p.chunk,
                -1 if p.record is None else p.record,
            ),
        )
        return result

    def _store(self, batch: list[_Pending]) -> None:
        """Store a batch in one transaction; if the database refuses it, store what it takes."""
        if not batch:
            return
        created: set[str] = set()
        try:
            with transaction(self.sessions) as session:
                stored, updated = self._write(session, batch, created)
        except sa_exc.SQLAlchemyError as exc:
            # Devices found or created in the rolled-back transaction are as they were.
            self._devices.clear()
            self._fail(batch, exc)
            return
        self._summary.stored += stored
        self._summary.duplicates += len(batch) - stored
        self._created |= created
        self._updated |= updated

    def _fail(self, batch: list[_Pending], exc: Exception) -> None:
        if _refused(exc):
            # The database refused something in the batch: split it to find the records it
            # refuses, and store the rest.
            if len(batch) > 1:
                middle = len(batch) // 2
                self._store(batch[:middle])
                self._store(batch[middle:])
                return
            pending = batch[0]
            pending.file.not_stored += 1
            pending.file.problems.append(
                Problem(
                    pending.file.name,
                    f"the database refused the event: {_first_line(exc)}",
                    pending.chunk,
                    pending.record_id,
                )
            )
            return
        by_file: dict[int, list[_Pending]] = {}
        for pending in batch:
            by_file.setdefault(id(pending.file), []).append(pending)
        for part in by_file.values():
            file, first, last = part[0].file, part[0], part[-1]
            file.not_stored += len(part)
            file.problems.append(
                Problem(
                    file.name,
                    f"records {first.record_id} to {last.record_id} were not stored: "
                    f"{_first_line(exc)}",
                    first.chunk,
                )
            )

    def _write(
        self, session: Session, batch: list[_Pending], created: set[str]
    ) -> tuple[int, set[str]]:
        """Events and device facts of a batch; returns events stored and devices changed."""
        _use_import_cache(session)
        facts: dict[str, DeviceFacts] = {}
        rows = []
        for pending in batch:
            device_id = self._device_id(session, pending.event.computer, created)
            pending.event.row["device_id"] = device_id
            rows.append(pending.event.row)
            if device_id not in facts:
                facts[device_id] = DeviceFacts()
            facts[device_id].add(pending.event)

        # Locked before their events reference them, in one order, so that two imports at
        # once neither lose each other's logged-on users nor deadlock.
        locked = session.scalars(
            select(Device)
            .where(Device.id.in_(list(facts)))
            .order_by(Device.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        devices = {device.id: device for device in locked}
        result = self.store.add_many(session, rows)
        updated = set()
        for device_id, device_facts in facts.items():
            device = devices.get(device_id)
            if device is not None and (device_facts.apply(device) or device_id in result.devices):
                updated.add(device_id)
        return result.stored, updated

    def _device_id(self, session: Session, computer: str, created: set[str]) -> str:
        key = computer.lower()
        device_id = self._devices.get(key)
        if device_id is None:
            device, is_new = registry.find_or_add_from_logs(session, computer)
            device_id = device.id
            self._devices[key] = device_id
            if is_new:
                created.add(device_id)
                # %r: the name comes from the log and may hold control characters.
                log.info("device %s created from the logs of %r", device_id, computer)
        return device_id

    def _progress(self, files_total: int, files_done: int) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(files_total, files_done, self._records))


def _use_import_cache(session: Session) -> None:
    # SQLite's default page cache (2 MiB) holds little of the event indexes, so a batch
    # re-reads their pages and writes some twice: a larger one saved about 7% of an import.
    # It is set on the connection this import writes through, which keeps it (in `hostwatch
    # import` no other work uses it); pages are only allocated as they are read.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}"))


def _refused(exc: Exception) -> bool:
    """Whether the database refused the data, rather than failing or being unreachable."""
    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
        return True
    # A value that could not even be sent (a bind parameter the driver refuses).
    return isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
