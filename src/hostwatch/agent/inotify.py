"""File events from inotify, for when the audit subsystem cannot be used.

inotify says what changed but never which process changed it, so these events carry no
process, and say so in their fields. The kernel interface is reached through ctypes
(inotify(7)); nothing beyond the C library is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import logging
import os
import select
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hostwatch import protocol
from hostwatch.agent import watched
from hostwatch.agent.bounds import PATH, fit

logger = logging.getLogger(__name__)

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
WATCH_MASK = (
    IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ONLYDIR
)
_EVENT = struct.Struct("iIII")
NO_ATTRIBUTION = "none: inotify does not say which process made a change"
RETRY_SECONDS = 10.0
MAX_EXECUTABLES = 4096  # names in /tmp and /dev/shm last seen executable, for their deletion

Sink = Callable[[list[protocol.AgentEvent]], None]


class InotifyUnavailable(OSError):
    pass


class _Libc:
    def __init__(self) -> None:
        name = ctypes.util.find_library("c") or "libc.so.6"
        libc = ctypes.CDLL(name, use_errno=True)
        self.init1 = libc.inotify_init1
        self.init1.argtypes = [ctypes.c_int]
        self.add_watch = libc.inotify_add_watch
        self.add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.rm_watch = libc.inotify_rm_watch
        self.rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]


def decode_events(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(watch descriptor, mask, cookie, name) of each struct inotify_event in `data`."""
    found = []
    offset = 0
    while offset + _EVENT.size <= len(data):
        wd, mask, cookie, length = _EVENT.unpack_from(data, offset)
        start = offset + _EVENT.size
        name = data[start : start + length].split(b"\0", 1)[0]
        found.append((wd, mask, cookie, name))
        offset = start + length
    return found


class InotifyCollector:
    """Watches the same places as the audit rules, without process attribution."""

    def __init__(
        self,
        machine_id: str | None,
        places: list[watched.Place] | None = None,
        exec_dirs: tuple[str, ...] = watched.EXEC_DIRS,
    ) -> None:
        self.machine_id = machine_id or ""
        self.places = places if places is not None else watched.places()
        self.exec_dirs = exec_dirs
        self._libc = _Libc()
        self._fd = -1
        self._dirs: dict[int, str] = {}  # watch descriptor to directory
        self._watched: set[str] = set()
        self._executables: dict[str, None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial = 0
        self.overflows = 0

    def start(self, sink: Sink) -> None:
        fd = self._libc.init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise InotifyUnavailable(code, f"inotify_init1: {os.strerror(code)}")
        self._fd = fd
        self._add_watches()
        self._thread = threading.Thread(
            target=self._run, args=(sink,), name="hostwatch-inotify", daemon=True
        )
        self._thread.start()
        logger.info(
            "file events come from inotify (no process attribution): %s directories watched",
            len(self._dirs),
        )

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # Watches

    def _directories(self) -> list[str]:
        """Directories to watch: each watched directory and its direct subdirectories (unit
        dirs hold *.wants folders), the parent of each watched file, and the exec dirs."""
        wanted: dict[str, None] = {}
        for place in self.places:
            if place.is_dir:
                wanted[place.path] = None
                try:
                    with os.scandir(place.path) as entries:
                        for entry in entries:
                            if entry.is_dir(follow_symlinks=False):
                                wanted[entry.path] = None
                except OSError:
                    pass
            else:
                wanted[os.path.dirname(place.path)] = None
        for directory in self.exec_dirs:
            wanted[directory] = None
        return list(wanted)

    def _add_watches(self) -> int:
        added = 0
        for directory in self._directories():
            if directory in self._watched or not os.path.isdir(directory):
                continue
            wd = self._libc.add_watch(self._fd, os.fsencode(directory), WATCH_MASK)
            if wd < 0:
                code = ctypes.get_errno()
                if code not in (errno.ENOENT, errno.ENOTDIR):
                    logger.warning("cannot watch %s: %s", directory, os.strerror(code))
                continue
            self._dirs[wd] = directory
            self._watched.add(directory)
            added += 1
        return added

    # Reading

    def _run(self, sink: Sink) -> None:
        retried = time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.5)
            events: list[protocol.AgentEvent] = []
            if ready:
                try:
                    data = os.read(self._fd, 1 << 16)
                except BlockingIOError:
                    data = b""
                events = self._events(decode_events(data))
            if time.monotonic() - retried > RETRY_SECONDS:
                retried = time.monotonic()
                self._add_watches()
            if events:
                try:
                    sink(events)
                except Exception:
                    logger.exception("cannot hand over %s file events", len(events))

    def _events(self, raw: list[tuple[int, int, int, bytes]]) -> list[protocol.AgentEvent]:
        moved_from: dict[int, str] = {}
        out: list[protocol.AgentEvent] = []
        for wd, mask, cookie, name in raw:
            if mask & IN_Q_OVERFLOW:
                self.overflows += 1
                continue
            if mask & IN_IGNORED:
                directory = self._dirs.pop(wd, None)
                if directory:
                    self._watched.discard(directory)  # removed: watched again if it returns
                continue
            directory = self._dirs.get(wd)
            if directory is None or not name:
                continue
            path = os.path.join(directory, os.fsdecode(name))
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                self._add_watches()  # a new unit or .ssh folder is watched from now on
            if mask & IN_MOVED_FROM:
                moved_from[cookie] = path
                continue
            old = moved_from.pop(cookie, None) if mask & IN_MOVED_TO else None
            if old is not None:
                action = "FileRenamed"
            elif mask & (IN_CREATE | IN_MOVED_TO):
                action = "FileCreated"
            elif mask & IN_DELETE:
                action = "FileDeleted"
            else:
                action = "FileModified"
            event = self._event(action, path, old, mask)
            if event is not None:
                out.append(event)
        for old in moved_from.values():  # moved out of every watched directory
            event = self._event("FileDeleted", old, None, IN_MOVED_FROM)
            if event is not None:
                out.append(event)
        return out

    def _event(
        self, action: str, path: str, old: str | None, mask: int
    ) -> protocol.AgentEvent | None:
        category = watched.category_of(path, self.places, self.exec_dirs)
        if old is not None and category is None:
            category = watched.category_of(old, self.places, self.exec_dirs)
        if category is None:
            return None
        fields: dict[str, Any] = {
            "collector": "inotify",
            "watch": category,
            "attribution": NO_ATTRIBUTION,
            "inotify_mask": f"{mask:#x}",
        }
        if category == watched.EXEC_CATEGORY:
            # Only files that are (or, when deleted, were last seen) executable.
            if action == "FileDeleted":
                if path not in self._executables:
                    return None
                del self._executables[path]
            else:
                executable, kind = watched.executable_kind(path)
                if not executable:
                    return None
                self._remember(path)
                if old is not None:
                    self._executables.pop(old, None)
                if kind:
                    fields["content"] = kind
        if old is not None:
            fields["old_name"] = fit(old, PATH)[0]
        if mask & IN_ISDIR:
            fields["is_directory"] = True
        if mask & IN_ATTRIB:
            fields["change"] = "attributes"
        self._serial += 1
        raw = f"inotify:{self.machine_id}:{time.time_ns()}:{self._serial}:{path}"
        target, truncated = fit(path, PATH)
        if truncated:
            fields["target_file_truncated"] = True
        return protocol.AgentEvent(
            key=hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest(),
            time=datetime.now(UTC),
            kind="file",
            action_type=action,
            event_code="inotify",
            target_file=target,
            fields=fields,
        )

    def _remember(self, path: str) -> None:
        self._executables[path] = None
        while len(self._executables) > MAX_EXECUTABLES:
            self._executables.pop(next(iter(self._executables)))
