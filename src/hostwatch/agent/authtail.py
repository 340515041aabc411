"""Follows auth.log (or the journal) for logon events when the audit subsystem is not usable.

The position read up to is kept in the agent's data dir, so a restart goes on where it
stopped, and a rotation (auth.log renamed to auth.log.1, or truncated in place) loses
nothing: the rest of the rotated file is read before the new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hostwatch import protocol
from hostwatch.agent.authlog import MAX_LINE, parse_auth_line, parse_journal_line
from hostwatch.agent.logons import Logon

logger = logging.getLogger(__name__)

AUTH_LOGS = ("/var/log/auth.log", "/var/log/secure")
POSITION_FILE = "authlog-position.json"
READ_LIMIT = 4 << 20  # bytes read per round, so a huge backlog is taken in steps
JOURNAL_IDENTIFIERS = ("sshd", "sshd-session", "sudo", "su", "login")

Sink = Callable[[list[protocol.AgentEvent]], None]


class Position:
    """Where reading stopped: a file's inode and offset, or a journal cursor."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / POSITION_FILE
        self.values: dict[str, Any] = {}
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self.values = loaded
        except (OSError, ValueError):
            pass

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.values, handle)
        os.replace(tmp, self.path)


class AuthLogTail:
    """Reads new lines of one auth log; read() returns the logons found since last time."""

    def __init__(self, path: str, position: Position, machine_id: str) -> None:
        self.path = path
        self.position = position
        self.machine_id = machine_id

    def _key(self, inode: int, offset: int) -> str:
        raw = f"authlog:{self.machine_id}:{self.path}:{inode}:{offset}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def read(self) -> list[protocol.AgentEvent]:
        try:
            info = os.stat(self.path)
        except OSError:
            return []
        saved_inode = self.position.values.get("inode")
        offset = int(self.position.values.get("offset") or 0)
        events: list[protocol.AgentEvent] = []
        if saved_inode is None:
            # First start: begin at the end; the past is not replayed as new logons.
            # Limitation: logons before the agent's first start are not reported.
            self.position.values.update(path=self.path, inode=info.st_ino, offset=info.st_size)
            return []
        if saved_inode != info.st_ino:
            rotated = self._rotated(saved_inode)
            if rotated is not None:
                events += self._read_from(rotated, saved_inode, offset)
            saved_inode, offset = info.st_ino, 0
        elif info.st_size < offset:
            # Truncated in place (copytruncate).
            # Limitation: lines written between the copy and the truncation are lost, and a
            # new file that has outgrown the old offset by the next read is read from there.
            offset = 0
        events += self._read_from(self.path, info.st_ino, offset)
        return events

    def _rotated(self, inode: int) -> str | None:
        for candidate in (f"{self.path}.1", f"{self.path}-{datetime.now():%Y%m%d}"):
            try:
                if os.stat(candidate).st_ino == inode:
                    return candidate
            except OSError:
                continue
        return None

    def _read_from(self, path: str, inode: int, offset: int) -> list[protocol.AgentEvent]:
        events: list[protocol.AgentEvent] = []
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(READ_LIMIT)
        except OSError as exc:
            logger.warning("cannot read %s: %s", path, exc)
            return []
        end = data.rfind(b"\n") + 1  # an unfinished last line waits for its end
        if end == 0 and len(data) >= MAX_LINE:
            end = len(data)  # no newline in a long stretch: skip it rather than stall
        position = offset
        for raw in data[:end].splitlines(keepends=True):
            line = raw.decode("utf-8", "surrogateescape")
            try:
                logon = parse_auth_line(line)
            except ValueError as exc:
                logger.debug("auth log line at %s:%s skipped: %s", path, position, exc)
                logon = None
            if logon is not None:
                events.append(_event(logon, self._key(inode, position), "auth.log"))
            position += len(raw)
        self.position.values.update(path=self.path, inode=inode, offset=offset + end)
        return events


def _event(logon: Logon, key: str, collector: str) -> protocol.AgentEvent:
    return logon.event(key=key, time=datetime.now(UTC), collector=collector)


class AuthLogCollector:
    """A thread that turns auth.log (or journal) lines into logon events."""

    def __init__(self, data_dir: Path, machine_id: str | None, interval: float = 2.0) -> None:
        self.interval = interval
        self.machine_id = machine_id or ""
        self.position = Position(data_dir)
        self.source: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._journal: subprocess.Popen[str] | None = None

    @staticmethod
    def available() -> str | None:
        for path in AUTH_LOGS:
            if os.path.isfile(path):
                return path
        return "journal" if shutil.which("journalctl") else None

    def start(self, sink: Sink) -> bool:
        self.source = self.available()
        if self.source is None:
            return False
        target = self._follow_file if self.source != "journal" else self._follow_journal
        self._thread = threading.Thread(
            target=target, args=(sink,), name="hostwatch-authlog", daemon=True
        )
        self._thread.start()
        logger.info("logon events come from %s", self.source)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._journal is not None and self._journal.poll() is None:
            self._journal.terminate()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._journal is not None:
            try:
                self._journal.wait(timeout)
            except subprocess.TimeoutExpired:
                self._journal.kill()
                self._journal.wait()

    def _follow_file(self, sink: Sink) -> None:
        assert self.source is not None
        tail = AuthLogTail(self.source, self.position, self.machine_id)
        while True:
            events = tail.read()
            try:
                if events:
                    sink(events)
                self.position.save()
            except Exception:
                logger.exception("cannot hand over %s logon events", len(events))
            if self._stop.wait(self.interval):
                return

    def _follow_journal(self, sink: Sink) -> None:
        cursor = self.position.values.get("cursor")
        argv = ["journalctl", "-o", "json", "--follow", "--no-pager"]
        argv += [f"--after-cursor={cursor}"] if isinstance(cursor, str) else ["--lines=0"]
        for identifier in JOURNAL_IDENTIFIERS:
            argv.append(f"SYSLOG_IDENTIFIER={identifier}")
        try:
            self._journal = subprocess.Popen(
                argv, stdout=subprocess.PIPE, text=True, errors="surrogateescape"
            )
        except OSError as exc:
            logger.warning("cannot follow the journal: %s", exc)
            return
        assert self._journal.stdout is not None
        for line in self._journal.stdout:
            logon, cursor = parse_journal_line(line)
            if cursor:
                self.position.values["cursor"] = cursor
            if logon is not None:
                key = hashlib.sha256(f"journal:{self.machine_id}:{cursor}".encode()).hexdigest()
                try:
                    sink([_event(logon, key, "journal")])
                    self.position.save()
                except Exception:
                    logger.exception("cannot hand over a logon event")
            if self._stop.is_set():
                return
