"""EVTX files read, normalized and made into event rows, in worker processes or in this one.

Parsing and normalizing a record cost about as much as writing it, and files are independent:
worker processes read them while the importer writes what they sent. A worker sends a file
as parts of at most PART_ROWS rows, each row already in the event store's column order
(`hostwatch.events.store.prepare`), and then the file's counts and problems. A worker
sends through a pipe only as fast as the writer reads, which bounds memory.

Workers ignore Ctrl-C: the importer, which owns the transaction, stops them when it is
interrupted.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, cast

from hostwatch.events.store import DEDUPE_KEY, prepare
from hostwatch.ingest.device_facts import usable_addresses
from hostwatch.ingest.evtx import EvtxReader, EvtxSource, Problem
from hostwatch.ingest.normalize import normalize
from hostwatch.ingest.windows_values import Logon, RecordError

log = logging.getLogger(__name__)

PART_ROWS = 1_000
# Files handed to each worker ahead of the one it reads: at least FILES_AHEAD, and as many
# as make BYTES_AHEAD: the importer hands out more only between its writes, and a worker
# of many small files would otherwise wait for it.
FILES_AHEAD = 2
BYTES_AHEAD = 16 * 1024**2
# Bundles of about PART_ROWS rows taken in from workers ahead of the writer.
INBOX_BUNDLES = 8
_POLL_SECONDS = 0.2
_STOP_SECONDS = 5.0


@dataclass
class Part:
    """Rows of one file in record order, with each row's computer name and place."""

    file: int
    # Records read since the previous part, good or bad: for the progress bar.
    records: int = 0
    rows: list[list[Any]] = field(default_factory=list)
    computers: list[str] = field(default_factory=list)
    # (chunk, record number) of each row.
    places: list[tuple[int | None, int]] = field(default_factory=list)
    # What a few rows tell about their device, by dedupe key: the computer name, a logon,
    # the device's own addresses (already checked with usable_addresses).
    notes: dict[str, tuple[str, Logon | None, list[str]]] = field(default_factory=dict)

    def cut(self, size: int) -> tuple[Part, Part]:
        """The first `size` rows and the rest, as two parts."""
        head = Part(self.file, 0, self.rows[:size], self.computers[:size], self.places[:size])
        tail = Part(self.file, 0, self.rows[size:], self.computers[size:], self.places[size:])
        if self.notes:
            in_head = {row[DEDUPE_KEY] for row in head.rows}
            for key, note in self.notes.items():
                (head if key in in_head else tail).notes[key] = note
        return head, tail


@dataclass
class FileEnd:
    """A file read to its end, or as far as it could be."""

    file: int
    records: int
    bad_records: int
    problems: list[Problem]
    # A fault of the importer itself that stopped the reading, with its traceback.
    failure: str | None = None


@dataclass
class _WorkerEnd:
    worker: int
    cpu_seconds: float


Message = Part | FileEnd


def read_file(source: EvtxSource, file: int, dialect: str, part_rows: int) -> Iterator[Message]:
    """A file's rows as parts, then its FileEnd; `file` is its number in the import."""
    reader = EvtxReader(source)
    problems: list[Problem] = []
    bad_records = 0
    failure = None
    part = Part(file)
    try:
        for raw in reader:
            part.records += 1
            try:
                event = normalize(raw.event, raw.written)
            except RecordError as exc:
                bad_records += 1
                problems.append(Problem(source.name, str(exc), raw.chunk, raw.record_id))
                continue
            if raw.nul_removed:
                event.row["fields"]["nul_removed"] = True
            row = prepare(event.row, dialect)
            part.rows.append(row)
            # Interned, so that a part pickles each computer name once.
            part.computers.append(sys.intern(event.computer))
            part.places.append((raw.chunk, raw.record_id))
            if event.logon is not None or event.own_addresses:
                addresses = usable_addresses(event.own_addresses)
                part.notes[row[DEDUPE_KEY]] = (event.computer, event.logon, addresses)
            if len(part.rows) >= part_rows:
                yield part
                part = Part(file)
    except Exception:
        # A fault of the importer, not of the file: the file's other records are kept and
        # the fault is reported with it.
        failure = traceback.format_exc()
        problems.append(Problem(source.name, "the importer failed while reading this file"))
    if part.records:
        yield part
    problems = sorted(reader.problems + problems, key=problem_order)
    yield FileEnd(
        file,
        records=reader.records_read,
        bad_records=bad_records + reader.records_unreadable,
        problems=problems,
        failure=failure,
    )


def problem_order(problem: Problem) -> tuple[int, int]:
    """In file order: the file's own problems first, then by chunk and record."""
    return (
        -1 if problem.chunk is None else problem.chunk,
        -1 if problem.record is None else problem.record,
    )


def read_here(sources: Sequence[EvtxSource], dialect: str, part_rows: int) -> Iterator[Message]:
    """Every source read in this process, one after another."""
    for file, source in enumerate(sources):
        yield from read_file(source, file, dialect, part_rows)


def _work(channel: Connection, worker: int, dialect: str, part_rows: int) -> None:
    """A worker process: reads the files it is sent until it is sent None.

    It is a fork of the importer, so it leaves alone what the importer's other threads may
    have held at the fork (the progress bar writes to the terminal; log handlers may write
    there too) and the database connections it inherited: it logs nothing, and what it
    would print goes nowhere. Its problems reach the summary as messages.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.disable(logging.CRITICAL)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - open until the exit
    # Rows and parsed records are plain dicts and lists without cycles; collecting them
    # as often as the default thresholds ask costs a tenth of the worker's time.
    gc.set_threshold(50_000, 20, 20)
    started = time.process_time()
    # Messages go out in bundles of about a part's rows: a small file's part and end are
    # not worth a send each. A bundle also goes out before the worker waits for work.
    bundle: list[Message] = []
    rows = 0
    while True:
        if bundle and not channel.poll():
            channel.send(bundle)
            bundle, rows = [], 0
        task = channel.recv()
        if task is None:
            break
        file, source = task
        for message in read_file(source, file, dialect, part_rows):
            bundle.append(message)
            if isinstance(message, Part):
                rows += len(message.rows)
            if rows >= part_rows:
                channel.send(bundle)
                bundle, rows = [], 0
    channel.send(bundle)
    channel.send(_WorkerEnd(worker, time.process_time() - started))


class Workers:
    """Worker processes reading the sources; iterating gives their messages as they come.

    Each worker has a pipe of its own, and nothing is shared between workers: a worker that
    dies (its pipe ends) takes no lock or message of another with it. Files are handed out
    a few at a time, so that a worker with big files does not hold up the rest. A thread
    here takes in what workers send while the importer writes, up to INBOX_BUNDLES bundles,
    so that workers read on meanwhile and memory stays bounded. Use it as a context
    manager: leaving it (also by Ctrl-C or an error) stops the workers. Files a worker did
    not finish because it died get no FileEnd; the caller reports them.
    """

    def __init__(
        self, sources: Sequence[EvtxSource], count: int, dialect: str, part_rows: int
    ) -> None:
        self.sources = sources
        self.count = count
        self.dialect = dialect
        self.part_rows = part_rows
        # CPU time the workers used, as they reported it when they ended.
        self.cpu_seconds = 0.0
        # Exit codes of workers that ended without finishing their work.
        self.died: list[int | None] = []
        self._processes: list[BaseProcess] = []
        self._channels: list[Connection] = []
        self._next = 0
        # Files sent to each worker and not yet ended, and their bytes.
        self._assigned: list[int] = []
        self._assigned_bytes: list[int] = []
        # Workers whose pipe broke when a file was handed to them.
        self._gone: set[int] = set()
        self._sizes: dict[int, int] = {}
        self._inbox: queue.Queue[tuple[int, bytes | None]] = queue.Queue(INBOX_BUNDLES)
        self._stop = threading.Event()
        self._receiver = threading.Thread(
            target=self._receive, name="hostwatch-evtx-inbox", daemon=True
        )

    def __enter__(self) -> Workers:
        # Forked: a spawned process (and a forkserver's child) runs the main module again,
        # which for `hostwatch` costs more than a small import. See _work for what a forked
        # child must leave alone.
        context = multiprocessing.get_context("fork")
        for worker in range(self.count):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_work,
                args=(theirs, worker, self.dialect, self.part_rows),
                name=f"hostwatch-evtx-reader-{worker}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self._processes.append(process)
            self._channels.append(ours)
            self._assigned.append(0)
            self._assigned_bytes.append(0)
        for worker in range(self.count):
            self._hand_out(worker)
        self._receiver.start()
        return self

    def _hand_out(self, worker: int) -> None:
        """Sends the worker files up to its share ahead, or tells it to end when none is left.

        A worker that has died (its pipe is broken) gets nothing more: the files not handed
        to it stay for the others, and its own end is reported when its inbox pipe closes.
        """
        if worker in self._gone:
            return
        while self._next < len(self.sources) and (
            self._assigned[worker] < FILES_AHEAD or self._assigned_bytes[worker] < BYTES_AHEAD
        ):
            source = self.sources[self._next]
            if not self._send(worker, (self._next, source)):
                return
            self._sizes[self._next] = source.size
            self._next += 1
            self._assigned[worker] += 1
            self._assigned_bytes[worker] += source.size
        ended = self._next == len(self.sources) and self._assigned[worker] == 0
        if ended and self._send(worker, None):
            self._assigned[worker] = -1  # told to end

    def _send(self, worker: int, message: object) -> bool:
        try:
            self._channels[worker].send(message)
        except (BrokenPipeError, ConnectionResetError):
            log.warning("EVTX reader %d is gone; its share goes to the others", worker)
            self._gone.add(worker)
            return False
        return True

    def _receive(self) -> None:
        """The inbox thread: what each worker sends, as it comes; None when its pipe ends."""
        open_channels = {channel: worker for worker, channel in enumerate(self._channels)}
        while open_channels and not self._stop.is_set():
            for ready in wait(list(open_channels), timeout=_POLL_SECONDS):
                channel = cast(Connection, ready)
                worker = open_channels[channel]
                data: bytes | None
                try:
                    data = channel.recv_bytes()
                except (EOFError, OSError):
                    data = None
                    del open_channels[channel]
                while not self._stop.is_set():
                    try:
                        self._inbox.put((worker, data), timeout=_POLL_SECONDS)
                        break
                    except queue.Full:
                        continue

    def __iter__(self) -> Iterator[Message]:
        ended: set[int] = set()
        while len(ended) < self.count:
            worker, data = self._inbox.get()
            if data is None:
                # The pipe ended: after the worker's last message, or because it died.
                if worker in ended:
                    continue
                ended.add(worker)
                self._processes[worker].join(_STOP_SECONDS)
                code = self._processes[worker].exitcode
                log.error("EVTX reader %d stopped with exit code %s", worker, code)
                self.died.append(code)
                continue
            received = pickle.loads(data)  # noqa: S301 - from our own worker process
            if isinstance(received, _WorkerEnd):
                ended.add(received.worker)
                self.cpu_seconds += received.cpu_seconds
                continue
            for message in received:
                if isinstance(message, FileEnd):
                    self._assigned[worker] -= 1
                    self._assigned_bytes[worker] -= self._sizes.pop(message.file)
                    self._hand_out(worker)
                yield message

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(_STOP_SECONDS)
        if self._receiver.is_alive():
            self._receiver.join(_STOP_SECONDS)
        for channel in self._channels:
            channel.close()
