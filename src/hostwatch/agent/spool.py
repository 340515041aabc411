"""The agent's SQLite spool: events and the newest inventory wait here until the server has them.

Capped with PRAGMA max_page_count; on SQLITE_FULL (the cap or a full disk) old telemetry goes.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, TypeVar

from hostwatch import protocol

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_DROP_CHUNK = 1000
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_QUARANTINED = 10_000
JOURNAL_SIZE_LIMIT = 8 * 1024 * 1024
JOURNAL_RESERVE_PAGES = 64
_MIN_PAGES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inventory (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collected_at TEXT NOT NULL,
    item_count INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_reserve (pad BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    quarantined_at TEXT NOT NULL
);
"""

T = TypeVar("T")


class SpoolFull(Exception):
    """The spool has no room left even after dropping all the telemetry it could drop."""

    def __init__(self, message: str, *, cannot_free: bool) -> None:
        super().__init__(message)
        # True: old telemetry is there but could not be deleted (the disk itself is full).
        # False: nothing droppable is left; what was being written is too big for the cap.
        self.cannot_free = cannot_free


class SpooledEvent(NamedTuple):
    id: int
    key: str
    body: str  # the event as protocol JSON


class PendingInventory(NamedTuple):
    id: int
    item_count: int
    body: str  # the InventoryUpload as protocol JSON


@dataclass(frozen=True)
class SpoolStats:
    events: int
    bytes: int
    dropped_events: int
    quarantined_events: int


def _is_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) == sqlite3.SQLITE_FULL
    return "database or disk is full" in str(exc)


class Spool:
    """One SQLite file, safe to share between the collector threads and the sender."""

    def __init__(
        self,
        path: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        drop_chunk: int = DEFAULT_DROP_CHUNK,
    ) -> None:
        self.path = path
        self.drop_chunk = max(1, drop_chunk)
        self._lock = threading.RLock()
        self._dropped = 0
        self._last_drop_warning = -3600.0

        # Created private before SQLite opens it; SQLite gives -wal and -shm the same mode.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect on a new file
        # A rollback journal kept between transactions (PERSIST), not WAL: on a full disk the
        # journal's blocks are already allocated, so dropping old events still commits and frees
        # pages inside the file. In WAL mode the data would sit in the WAL and the checkpoint
        # that moves it into the file would need the very space that is missing.
        self._conn.execute("PRAGMA journal_mode=PERSIST")
        self._conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)

        self.page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        wanted = max(_MIN_PAGES, max_bytes // self.page_size)
        # max_page_count is per connection: it must be set on every open.
        got = int(self._conn.execute(f"PRAGMA max_page_count={wanted}").fetchone()[0])
        if got > wanted:
            logger.warning(
                "spool %s is already %s pages, above its cap of %s; it shrinks as events leave",
                path,
                got,
                wanted,
            )
        self.max_pages = wanted
        self._reserve_journal()

    def _reserve_journal(self) -> None:
        """Grow the persistent journal now, while there is room, for the deletes of a full disk.

        A transaction that rewrites a padding row and rolls back leaves the journal file at
        that size (journal_mode=PERSIST), so a later delete never has to extend it.
        """
        size = max(2, min(JOURNAL_RESERVE_PAGES, self.max_pages // 16)) * self.page_size
        with self._lock:
            try:
                row = self._conn.execute("SELECT length(pad) FROM journal_reserve").fetchone()
                if row is None or row[0] != size:

                    def pad(conn: sqlite3.Connection) -> None:
                        conn.execute("DELETE FROM journal_reserve")
                        conn.execute("INSERT INTO journal_reserve VALUES (zeroblob(?))", (size,))

                    self._transaction(pad)
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.execute("UPDATE journal_reserve SET pad = randomblob(?)", (size,))
                finally:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                if not _is_full(exc):
                    raise
                logger.warning("spool %s: no room to reserve journal space: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # Writing, with the SQLITE_FULL path

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back on SQLITE_FULL; only roll back what is open.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one transaction; while the file is full, drop old telemetry and retry."""
        with self._lock:
            while True:
                try:
                    return self._transaction(work)
                except sqlite3.OperationalError as exc:
                    if not _is_full(exc):
                        raise
                    full = exc
                if self._drop_oldest() == 0:
                    raise SpoolFull(
                        f"spool {self.path} is full: {full}", cannot_free=False
                    ) from full

    def _drop_oldest(self) -> int:
        """Delete the oldest quarantined events, or else the oldest events; return how many."""

        def drop(chunk: int, conn: sqlite3.Connection) -> int:
            for table in ("quarantine", "events"):
                deleted = conn.execute(
                    f"DELETE FROM {table} WHERE id IN "  # noqa: S608 - fixed table names
                    f"(SELECT id FROM {table} ORDER BY id LIMIT ?)",
                    (chunk,),
                ).rowcount
                if deleted:
                    return deleted
            return 0

        # Limitation: the oldest events may be the batch being sent right now; if the server then
        # acknowledges it, those events were delivered yet are still counted as dropped.
        chunk = self.drop_chunk
        while True:
            try:
                dropped = self._transaction(functools.partial(drop, chunk))
                break
            except sqlite3.OperationalError as exc:
                if not _is_full(exc):
                    raise
                if chunk == 1:
                    raise SpoolFull(
                        f"spool {self.path} is full and cannot free space: {exc}",
                        cannot_free=True,
                    ) from exc
                # On a full disk the delete itself needs journal space: try a smaller one.
                chunk = max(1, chunk // 4)
        if dropped:
            self._dropped += dropped
            self._warn(
                "spool %s is full: dropped the %s oldest telemetry events (%s since start)",
                self.path,
                dropped,
                self._dropped,
            )
        return dropped

    def _warn(self, message: str, *args: object) -> None:
        """One warning a minute at most, debug otherwise: a full spool drops on every write."""
        now = time.monotonic()
        quiet = now - self._last_drop_warning < 60.0
        if not quiet:
            self._last_drop_warning = now
        logger.log(logging.DEBUG if quiet else logging.WARNING, message, *args)

    # Events

    def add_events(self, events: Iterable[protocol.AgentEvent]) -> int:
        """Queue events after those already queued; an event whose key is queued is skipped."""
        rows = [(event.key, event.model_dump_json(exclude_none=True)) for event in events]
        return self._add_rows(rows) if rows else 0

    def _add_rows(self, rows: Sequence[tuple[str, str]]) -> int:
        def insert(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO events (key, body) VALUES (?, ?)", rows)
            return conn.total_changes - before

        try:
            return self._write(insert)
        except SpoolFull as exc:
            if exc.cannot_free or len(rows) == 1:
                with self._lock:
                    self._dropped += len(rows)
                self._warn("%s: dropped %s new events", exc, len(rows))
                return 0
            # Nothing old is left to drop and the new rows do not fit together: keep what fits.
            middle = len(rows) // 2
            return self._add_rows(rows[:middle]) + self._add_rows(rows[middle:])

    def next_batch(
        self,
        limit: int = protocol.MAX_EVENTS_PER_BATCH,
        max_bytes: int = MAX_BATCH_BYTES,
    ) -> list[SpooledEvent]:
        """The oldest queued events: at most `limit`, and about `max_bytes` of JSON (at least 1)."""
        limit = min(limit, protocol.MAX_EVENTS_PER_BATCH)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, key, body FROM events ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        batch: list[SpooledEvent] = []
        size = 0
        for row in rows:
            size += len(row[2])
            if batch and size > max_bytes:
                break
            batch.append(SpooledEvent(*row))
        return batch

    def ack_events(self, ids: Sequence[int]) -> int:
        """Forget events the server acknowledged."""
        if not ids:
            return 0

        def delete(conn: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(ids))
            return conn.execute(
                f"DELETE FROM events WHERE id IN ({marks})",  # noqa: S608 - placeholders only
                list(ids),
            ).rowcount

        deleted = self._write(delete)
        self._reclaim()
        return deleted

    def quarantine_events(self, ids: Sequence[int], reason: str) -> int:
        """Move events the server refused out of the queue, keeping them for inspection."""
        # Limitation: nothing sends quarantined events again; they wait (at most
        # MAX_QUARANTINED, oldest dropped first) for a later agent version or an operator.
        if not ids:
            return 0
        now = datetime.now(UTC).isoformat()

        def move(conn: sqlite3.Connection) -> tuple[int, int]:
            marks = ",".join("?" * len(ids))
            conn.execute(
                "INSERT INTO quarantine (key, body, reason, quarantined_at) "  # noqa: S608
                f"SELECT key, body, ?, ? FROM events WHERE id IN ({marks}) ORDER BY id",
                [reason[:4096], now, *ids],
            )
            moved = conn.execute(
                f"DELETE FROM events WHERE id IN ({marks})",  # noqa: S608 - placeholders only
                list(ids),
            ).rowcount
            trimmed = conn.execute(
                "DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM quarantine) - ?",
                (MAX_QUARANTINED,),
            ).rowcount
            return moved, trimmed

        moved, trimmed = self._write(move)
        if trimmed:
            with self._lock:
                self._dropped += trimmed
        return moved

    def quarantined(self) -> list[tuple[str, str]]:
        """(key, reason) of quarantined events, oldest first."""
        with self._lock:
            return self._conn.execute("SELECT key, reason FROM quarantine ORDER BY id").fetchall()

    # Inventory

    def put_inventory(self, upload: protocol.InventoryUpload) -> int:
        """Keep `upload` as the one pending snapshot, replacing an older unsent one."""
        body = upload.model_dump_json(exclude_none=True)
        collected = upload.collected_at.isoformat()

        def replace(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM inventory")
            cursor = conn.execute(
                "INSERT INTO inventory (collected_at, item_count, body) VALUES (?, ?, ?)",
                (collected, len(upload.software), body),
            )
            return int(cursor.lastrowid or 0)

        return self._write(replace)

    def pending_inventory(self) -> PendingInventory | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, item_count, body FROM inventory ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return PendingInventory(*row) if row else None

    def ack_inventory(self, inventory_id: int) -> None:
        """Forget a sent snapshot; a newer one queued meanwhile stays."""
        self._write(
            lambda conn: conn.execute("DELETE FROM inventory WHERE id = ?", (inventory_id,))
        )
        self._reclaim()

    # Counts

    @property
    def dropped_events(self) -> int:
        return self._dropped

    def stats(self) -> SpoolStats:
        with self._lock:
            events = self._conn.execute("SELECT count(*) FROM events").fetchone()[0]
            quarantined = self._conn.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        return SpoolStats(
            events=int(events),
            bytes=int(pages - free) * self.page_size,
            dropped_events=self._dropped,
            quarantined_events=int(quarantined),
        )

    def _reclaim(self) -> None:
        """Give free pages back to the file system once a backlog has drained."""
        with self._lock:
            free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free < 256:
                return
            try:
                self._conn.execute("PRAGMA incremental_vacuum").fetchall()
            except sqlite3.OperationalError as exc:
                logger.debug("spool %s: incremental vacuum failed: %s", self.path, exc)
