"""The audit collector: reads the kernel's records and hands agent events to the spool.

One thread reads the netlink socket, assembles events and sorts them; a second builds the
agent events (which reads /proc and hashes images) and hands them over in batches. Between
the two sits a bounded queue. Starts beyond a per-second budget are not built at all but
counted per image and reported as one summary event per window, so a fork storm costs a
counter increment each instead of memory.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hostwatch import protocol
from hostwatch.agent.audit import files
from hostwatch.agent.audit.builder import EventBuilder, socket_of
from hostwatch.agent.audit.hashes import ImageHashes
from hostwatch.agent.audit.netlink import AuditError
from hostwatch.agent.audit.procfs import read_cmdline
from hostwatch.agent.audit.records import (
    SYSCALL,
    Assembler,
    AuditEvent,
    RecordError,
    parse_record,
)
from hostwatch.agent.audit.rules import DEFAULT_KEY, syscall_names
from hostwatch.agent.audit.session import AuditSession
from hostwatch.agent.bounds import PATH, clean
from hostwatch.agent.logons import PAM_TYPES
from hostwatch.agent.processes import ProcessCollector, _read_stat, read_boot_id

logger = logging.getLogger(__name__)

Sink = Callable[[list[protocol.AgentEvent]], None]
ErrorSink = Callable[[str | None], None]

_PROCESS = ("execve", "execveat")
_NETWORK = ("connect", "accept", "accept4")
MAX_SUMMARY_IMAGES = 100


@dataclass
class Limits:
    queue_events: int = 4096  # assembled events waiting to be built
    pending_events: int = 512  # events waiting for their EOE
    process_rate: float = 200.0  # process starts built per second, sustained
    process_burst: float = 2000.0
    exit_rate: float = 200.0
    exit_burst: float = 2000.0
    network_rate: float = 200.0
    network_burst: float = 2000.0
    file_rate: float = 200.0
    file_burst: float = 2000.0
    summary_interval: float = 10.0
    batch_events: int = 500
    batch_seconds: float = 0.5
    status_interval: float = 10.0


class _Bucket:
    """A token bucket: `rate` per second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens = burst
        self._at = time.monotonic()

    def take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class _Summary:
    """What the rate limits held back in the current window, per image."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC)
        self.process_starts: Counter[str] = Counter()
        self.process_exits = 0
        self.connections: Counter[str] = Counter()
        self.file_changes = 0

    def __bool__(self) -> bool:
        return bool(
            self.process_starts or self.process_exits or self.connections or self.file_changes
        )

    @property
    def total(self) -> int:
        return (
            sum(self.process_starts.values())
            + self.process_exits
            + sum(self.connections.values())
            + self.file_changes
        )


def _top(counts: Counter[str]) -> tuple[dict[str, int], int]:
    top = dict(counts.most_common(MAX_SUMMARY_IMAGES))
    return top, sum(counts.values()) - sum(top.values())


class AuditCollector:
    """Process and network events from the kernel audit subsystem.

    start() raises AuditUnavailable or AuditBusy when the kernel cannot be used, having
    changed nothing; the caller then falls back to polling /proc.
    """

    def __init__(
        self,
        machine_id: str | None,
        key: str = DEFAULT_KEY,
        boot_id: str | None = None,
        limits: Limits | None = None,
        report_running: bool = True,
        watch_files: bool = True,
    ) -> None:
        self.limits = limits or Limits()
        self.key = key
        self._machine_id = machine_id or ""
        self._boot_id = boot_id or read_boot_id()
        self._poller = ProcessCollector(machine_id, boot_id=self._boot_id)
        self._report_running = report_running
        self.session = AuditSession(key)
        self.hashes = ImageHashes()
        self._builder = EventBuilder(
            self._poller, self._machine_id, self._boot_id, syscall_names(), self.hashes
        )
        self._queue: queue.Queue[tuple[str, AuditEvent] | None] = queue.Queue(
            self.limits.queue_events
        )
        self._assembler = Assembler(self.limits.pending_events)
        self._buckets = {
            "process": _Bucket(self.limits.process_rate, self.limits.process_burst),
            "exit": _Bucket(self.limits.exit_rate, self.limits.exit_burst),
            "network": _Bucket(self.limits.network_rate, self.limits.network_burst),
            "file": _Bucket(self.limits.file_rate, self.limits.file_burst),
        }
        self.watches = files.WatchPlan(key) if watch_files else None
        self._lock = threading.Lock()
        self._summary = _Summary()
        self._stop_reading = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sink: Sink | None = None
        self._on_error: ErrorSink | None = None
        # Counters, reported in the heartbeat.
        self.dropped = 0  # built or queued events lost to a full queue or a socket overrun
        self.summarized = 0  # events folded into summaries
        self.build_errors = 0
        self.kernel_lost = 0  # records the kernel dropped since start (its own counter)
        self.delivered = 0

    # Start and stop

    def start(self, sink: Sink, on_error: ErrorSink | None = None) -> None:
        self.session.open()
        self._sink, self._on_error = sink, on_error
        self._install_watches()
        self._stop_reading.clear()
        self._threads = [
            threading.Thread(target=self._read, name="hostwatch-audit-read", daemon=True),
            threading.Thread(target=self._work, name="hostwatch-audit-build", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if self._report_running:
            # Processes already running have no exec record: report them from /proc once,
            # with the same guids, so that their children link up to them.
            sink(self._poller.poll())

    def stop(self, timeout: float = 5.0) -> None:
        """Remove the rules, hand over what was read, then give the kernel back its state."""
        if not self._threads:
            self.session.close()
            return
        try:
            self.session.remove_rules()
        except AuditError as exc:
            logger.error("cannot remove the audit rules: %s", exc)
        self._stop_reading.set()
        reader, worker = self._threads
        reader.join(timeout)
        self._queue.put(None)  # after everything the reader queued
        worker.join(timeout)
        self._threads = []
        self.session.close()

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {
                "dropped": self.dropped,
                "summarized": self.summarized,
                "incomplete": self._assembler.incomplete,
                "kernel_lost": self.kernel_lost,
                "build_errors": self.build_errors,
                "delivered": self.delivered,
            }

    # Reading (thread 1)

    def _read(self) -> None:
        sock = self.session.events
        quiet_after_stop = False
        while not quiet_after_stop:
            got = False
            try:
                for kind, _seq, body in sock.messages(0.2):
                    got = True
                    if kind < 1100:
                        continue  # a control message (AUDIT_REPLACE probes, late acks)
                    self._take(kind, body)
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    # The socket overflowed: the kernel retries from its backlog, but records
                    # may be gone; the kernel's lost counter says how many.
                    with self._lock:
                        self.dropped += 1
                    continue
                if self._stop_reading.is_set():
                    break
                logger.exception("audit socket read failed")
                self._report(f"audit: reading the audit socket failed: {exc}")
                time.sleep(1.0)
            except AuditError as exc:
                logger.warning("audit message skipped: %s", exc)
            for event in self._assembler.expire():
                self._sort(event)
            # After stop, read until the socket goes quiet so nothing already sent is lost.
            quiet_after_stop = self._stop_reading.is_set() and not got
        for event in self._assembler.flush():
            self._sort(event)

    def _take(self, kind: int, body: bytes) -> None:
        try:
            record = parse_record(kind, body)
        except RecordError as exc:
            logger.debug("%s", exc)
            return
        if kind in PAM_TYPES:
            # PAM's records stand alone: no syscall, no EOE, no rule key.
            alone = AuditEvent(record.serial, record.seconds, record.millis, [record], True)
            alone.notes["syscall"] = "pam"
            self._sort(alone)
            return
        done = self._assembler.add(record)
        if kind == SYSCALL:
            event = self._assembler.pending(record.serial)
            if event is not None:
                self._triage(event)
        for event in done:
            self._sort(event)

    def _triage(self, event: AuditEvent) -> None:
        """Decide on an event when its SYSCALL record arrives: not ours, over the rate, or
        wanted; for a wanted one, read what /proc says while the process still runs."""
        notes = event.notes
        if self.key not in event.rule_keys():
            notes["skip"] = True  # another rule's record (an administrator's)
            return
        try:
            syscall = self._builder.syscall_name(event)
            record = event.syscall
            pid = record.number("pid") if record else None
            ppid = record.number("ppid") if record else None
            if syscall is None and record is not None and record.number("syscall") is not None:
                # A watch matches any syscall of its permission class (truncate, setxattr,
                # utimensat, ...); those without a name in the table keep their number.
                syscall = f"syscall {record.number('syscall')}"
        except RecordError as exc:
            logger.debug("%s", exc)
            notes["skip"] = True
            return
        if syscall is None or pid is None:
            notes["skip"] = True
            return
        notes["syscall"] = syscall
        network = syscall in _NETWORK
        if network:
            category = "network"
        elif syscall in _PROCESS:
            category = "process"
        else:
            category = "exit" if syscall == "exit_group" else "file"
        if category == "file":
            # Decided in _sort, once the PATH records are in: most unlinks and renames in
            # /tmp are of plain files and must not use up the budget of real changes.
            notes["file"] = True
        elif not self._buckets[category].take(time.monotonic()):
            notes["fold"] = True
            return
        stats = {pid: _read_stat(pid)}
        if syscall in _PROCESS and ppid:
            stats[ppid] = _read_stat(ppid)
        notes["stats"] = {key: value for key, value in stats.items() if value is not None}
        if network:
            notes["socket"] = socket_of(event, syscall)
        if category == "file":
            notes["cmdline"] = read_cmdline(pid)
            notes["dirfds"] = _dirfds(pid, syscall, record)

    def _sort(self, event: AuditEvent) -> None:
        """Queue a complete event of ours for building, or fold it into the summary."""
        notes = event.notes
        if notes.get("skip") or "syscall" not in notes:
            return  # not ours, or a stand-alone record without a SYSCALL
        if notes.get("file"):
            places = self.watches.places if self.watches else []
            try:
                notes["change"] = files.change_of(event, notes["syscall"], places)
            except RecordError as exc:
                logger.debug("%s", exc)
                return
            if notes["change"] is None:
                return  # a file outside the watched places, or not an executable
            if not self._buckets["file"].take(time.monotonic()):
                notes["fold"] = True
        if notes.get("fold"):
            self._fold(event, notes["syscall"])
            return
        try:
            self._queue.put_nowait((notes["syscall"], event))
        except queue.Full:
            with self._lock:
                self.dropped += 1

    def _fold(self, event: AuditEvent, syscall: str) -> None:
        record = event.syscall
        image = (record.text("exe") if record else None) or "unknown"
        image = clean(image, PATH) or "unknown"
        with self._lock:
            self.summarized += 1
            summary = self._summary
            if syscall in _PROCESS:
                if image in summary.process_starts or len(summary.process_starts) < 4096:
                    summary.process_starts[image] += 1
                else:
                    summary.process_starts["(other images)"] += 1
            elif syscall == "exit_group":
                summary.process_exits += 1
            elif syscall not in _NETWORK:
                summary.file_changes += 1
            elif image in summary.connections or len(summary.connections) < 4096:
                summary.connections[image] += 1
            else:
                summary.connections["(other images)"] += 1

    # Building (thread 2)

    def _work(self) -> None:
        batch: list[protocol.AgentEvent] = []
        flushed = time.monotonic()
        summarized = time.monotonic()
        polled = 0.0
        while True:
            try:
                item = self._queue.get(timeout=self.limits.batch_seconds)
            except queue.Empty:
                item = ()  # type: ignore[assignment]
            if item is None:
                break
            if item:
                built = self._build(*item)
                if built is not None:
                    batch.append(built)
            now = time.monotonic()
            if now - summarized >= self.limits.summary_interval:
                summarized = now
                summary = self._summary_event()
                if summary is not None:
                    batch.append(summary)
            if batch and (
                len(batch) >= self.limits.batch_events or now - flushed >= self.limits.batch_seconds
            ):
                self._deliver(batch)
                batch, flushed = [], now
            if now - polled >= self.limits.status_interval:
                polled = now
                self._poll_kernel()
                if self.watches is not None and self.watches.missing:
                    self._install_watches()
        summary = self._summary_event()
        if summary is not None:
            batch.append(summary)
        if batch:
            self._deliver(batch)
        self._poll_kernel()

    def _build(self, syscall: str, event: AuditEvent) -> protocol.AgentEvent | None:
        try:
            if syscall in _PROCESS:
                return self._builder.process_created(event, syscall)
            if syscall == "exit_group":
                return self._builder.process_exited(event)
            if syscall in _NETWORK:
                return self._builder.connection(event, syscall)
            if syscall == "pam":
                return self._builder.logon(event)
            change = event.notes.get("change")
            return None if change is None else self._builder.file_changed(event, syscall, change)
        except Exception as exc:  # one odd event must not stop the collector
            with self._lock:
                self.build_errors += 1
            message = clean(f"audit event {event.serial}: {type(exc).__name__}: {exc}", 1024)
            logger.warning("audit collector skipped %s", message)
            return None

    def _deliver(self, batch: list[protocol.AgentEvent]) -> None:
        assert self._sink is not None
        try:
            self._sink(batch)
        except Exception as exc:
            logger.exception("audit collector could not hand over %s events", len(batch))
            with self._lock:
                self.dropped += len(batch)
            self._report(f"audit: could not spool {len(batch)} events: {exc}")
            return
        with self._lock:
            self.delivered += len(batch)

    def _summary_event(self) -> protocol.AgentEvent | None:
        with self._lock:
            summary, self._summary = self._summary, _Summary()
        if not summary:
            return None
        ended = datetime.now(UTC)
        starts, other_starts = _top(summary.process_starts)
        connections, other_connections = _top(summary.connections)
        fields: dict[str, Any] = {
            "collector": "audit",
            "window_start": summary.started.isoformat(),
            "window_end": ended.isoformat(),
            "events_summarized": summary.total,
            "process_starts": starts,
            "process_starts_other_images": other_starts,
            "process_exits": summary.process_exits,
            "connections": connections,
            "connections_other_images": other_connections,
            "file_changes": summary.file_changes,
            "process_rate_limit": self.limits.process_rate,
            "network_rate_limit": self.limits.network_rate,
        }
        raw = f"audit:summary:{self._machine_id}:{self._boot_id}:{summary.started.isoformat()}"
        logger.info(
            "audit rate limit: %s events summarized since %s", summary.total, summary.started
        )
        return protocol.AgentEvent(
            key=hashlib.sha256(raw.encode()).hexdigest(),
            time=ended,
            kind="process",
            action_type="ProcessStormSummary",
            fields=fields,
        )

    def _install_watches(self) -> None:
        """Add the file watches whose places exist now; a failure costs file events only."""
        if self.watches is None:
            return
        try:
            added = self.watches.install(self.session)
        except AuditError as exc:
            logger.warning("file watches not installed: %s", exc)
            self._report(f"audit: file watches could not be added: {exc}")
            return
        if added:
            logger.info(
                "audit file watches: %s added, %s places not present yet",
                added,
                len(self.watches.missing),
            )

    def _poll_kernel(self) -> None:
        try:
            status = self.session.status()
        except AuditError as exc:
            logger.debug("audit status unavailable: %s", exc)
            return
        with self._lock:
            # The counter is the kernel's since boot, and wraps at 2**32.
            self.kernel_lost = (status.lost - self.session.lost_at_start) % 2**32
            build_errors = self.build_errors
        # Drops and kernel losses travel as heartbeat counters, which the server turns into
        # the device's degraded state; only events that could not be read are an error.
        self._report(
            f"audit: {build_errors} audit events could not be read" if build_errors else None
        )

    def _report(self, message: str | None) -> None:
        if self._on_error is not None:
            self._on_error(message)


def _dirfds(pid: int, syscall: str, record: Any) -> dict[int, str]:
    """For *at syscalls, the directories their fd arguments stand for, read while the
    process still runs (names in their PATH records are relative to these)."""
    found: dict[int, str] = {}
    if record is None or not syscall.endswith(("at", "at2")):
        return found
    for arg in files.DIRFD_ARGS.get(syscall, (0,)):
        fd = record.number(f"a{arg}", 16)
        if fd is None or fd == files.AT_FDCWD or fd > 1 << 20:
            continue
        try:
            found[arg] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
    return found
