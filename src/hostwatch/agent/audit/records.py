"""Audit records as the kernel sends them, parsed, and assembled into events by serial number.

The kernel writes each record as `audit(SECONDS.MILLIS:SERIAL): name=value ...`. A value is
either a quoted string, a bare number or word, or, for any string an attacker controls that
holds a space, a quote, a control or a non-ASCII byte, the hex of its bytes
(kernel/audit.c, audit_log_n_untrustedstring). Records of one syscall share the serial and
are followed by an EOE record.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

# Record types (linux/audit.h).
SYSCALL = 1300
PATH = 1302
SOCKADDR = 1306
CWD = 1307
EXECVE = 1309
EOE = 1320
PROCTITLE = 1327

_HEADER = re.compile(rb"audit\((\d+)\.(\d+):(\d+)\):\s?")
# name=value where value is "quoted", or runs to the next space.
_FIELD = re.compile(rb'([A-Za-z0-9_\[\]-]+)=("[^"]*"|\S*)')
_HEX = re.compile(rb"(?:[0-9A-Fa-f]{2})+")
_ARG = re.compile(r"a(\d+)(?:\[(\d+)\]|(_len))?")
_NO_VALUE = {b"(null)", b"(none)", b"?"}


class RecordError(ValueError):
    """A record that does not read as an audit record; the message names its type and serial."""


@dataclass(frozen=True)
class Record:
    kind: int
    seconds: int
    millis: int
    serial: int
    body: bytes  # everything after the header

    @cached_property
    def fields(self) -> dict[str, bytes]:
        """Raw values by name; the first of a repeated name wins."""
        found: dict[str, bytes] = {}
        for match in _FIELD.finditer(self.body):
            found.setdefault(match.group(1).decode("ascii"), match.group(2))
        return found

    def raw(self, name: str) -> bytes | None:
        return self.fields.get(name)

    def number(self, name: str, base: int = 10) -> int | None:
        value = self.fields.get(name)
        if value is None or value in _NO_VALUE:
            return None
        try:
            return int(value, base)
        except ValueError:
            raise RecordError(
                f"audit record type {self.kind} serial {self.serial}: field {name} is not a "
                f"number: {value[:40]!r}"
            ) from None

    def data(self, name: str) -> bytes | None:
        """A string value as bytes, undoing quoting or hex encoding."""
        value = self.fields.get(name)
        return None if value is None else decode_value(value)

    def text(self, name: str) -> str | None:
        """A string value as text; bytes that are not UTF-8 become lone surrogates."""
        value = self.data(name)
        return None if value is None else value.decode("utf-8", "surrogateescape")


def decode_value(value: bytes) -> bytes | None:
    if value.startswith(b'"'):
        return value[1:-1] if value.endswith(b'"') and len(value) > 1 else value[1:]
    if value in _NO_VALUE:
        return None
    if _HEX.fullmatch(value):
        return bytes.fromhex(value.decode("ascii"))
    return value


def parse_record(kind: int, body: bytes) -> Record:
    match = _HEADER.match(body)
    if match is None:
        raise RecordError(
            f"audit record type {kind} has no audit(time:serial) header: {body[:60]!r}"
        )
    seconds, millis, serial = (int(group) for group in match.groups())
    return Record(kind, seconds, millis, serial, body[match.end() :])


@dataclass
class AuditEvent:
    """The records of one syscall (or one stand-alone record), in arrival order."""

    serial: int
    seconds: int
    millis: int
    records: list[Record] = field(default_factory=list)
    complete: bool = False  # an EOE arrived
    arrived: float = 0.0  # monotonic time of the first record
    # What the reader noted when the SYSCALL record arrived, while the process still ran.
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.seconds + self.millis / 1000, UTC)

    def first(self, kind: int) -> Record | None:
        return next((record for record in self.records if record.kind == kind), None)

    def all(self, kind: int) -> list[Record]:
        return [record for record in self.records if record.kind == kind]

    @property
    def syscall(self) -> Record | None:
        return self.first(SYSCALL)

    def key(self) -> str | None:
        record = self.syscall
        return None if record is None else record.text("key")

    def rule_keys(self) -> list[str]:
        """The rule keys; several keys arrive joined by \\x01 in one hex value."""
        key = self.key()
        return key.split("\x01") if key else []

    def argv(self) -> tuple[list[str] | None, bool]:
        """The exec arguments from EXECVE records, and whether any were missing or cut short.

        Long arguments arrive as aN_len=LENGTH with pieces aN[0], aN[1], ... that may be
        spread over several EXECVE records, each piece quoted or hex on its own.
        """
        records = self.all(EXECVE)
        if not records:
            return None, False
        whole: dict[int, bytes] = {}
        pieces: dict[int, dict[int, bytes]] = {}
        lengths: dict[int, int] = {}
        hexed: set[int] = set()
        argc: int | None = None
        for record in records:
            for name, raw in record.fields.items():
                if name == "argc":
                    argc = record.number("argc")
                    continue
                match = _ARG.fullmatch(name)
                if match is None:
                    continue
                index = int(match.group(1))
                if match.group(3):
                    lengths[index] = int(raw) if raw.isdigit() else 0
                    continue
                value = decode_value(raw) or b""
                if match.group(2) is None:
                    whole[index] = value
                else:
                    pieces.setdefault(index, {})[int(match.group(2))] = value
                    if not raw.startswith(b'"'):
                        hexed.add(index)
        count = argc if argc is not None else max([*whole, *pieces, -1]) + 1
        argv: list[str] = []
        missing = False
        for index in range(count):
            if index in whole:
                value = whole[index]
            elif index in pieces:
                parts = pieces[index]
                value = b"".join(parts[i] for i in sorted(parts))
                # aN_len counts the characters logged: two per byte when hex encoded.
                expected = lengths.get(index, 0) // (2 if index in hexed else 1)
                if sorted(parts) != list(range(len(parts))) or len(value) < expected:
                    missing = True
            else:
                missing = True
                continue
            argv.append(value.decode("utf-8", "surrogateescape"))
        return argv, missing

    def proctitle(self) -> list[str] | None:
        """The first 128 bytes of the command line, from the PROCTITLE record."""
        record = self.first(PROCTITLE)
        value = record.data("proctitle") if record else None
        if not value:
            return None
        parts = value.rstrip(b"\0").split(b"\0")
        return [part.decode("utf-8", "surrogateescape") for part in parts]

    def cwd(self) -> str | None:
        record = self.first(CWD)
        return record.text("cwd") if record else None

    def paths(self) -> list[Record]:
        return self.all(PATH)

    def sockaddr(self) -> SocketAddress | None:
        record = self.first(SOCKADDR)
        value = record.data("saddr") if record else None
        return decode_sockaddr(value) if value else None


@dataclass(frozen=True)
class SocketAddress:
    family: str  # "inet", "inet6", "unix", or "family N"
    address: str | None = None
    port: int | None = None
    path: str | None = None  # AF_UNIX: a file path, or "@name" for the abstract namespace


def decode_sockaddr(raw: bytes) -> SocketAddress:
    """A struct sockaddr as the kernel copied it from the caller (linux/in.h, in6.h, un.h)."""
    if len(raw) < 2:
        return SocketAddress("family ?")
    (family,) = struct.unpack_from("=H", raw)
    if family == socket.AF_INET and len(raw) >= 8:
        port = struct.unpack_from("!H", raw, 2)[0]
        return SocketAddress("inet", socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
    if family == socket.AF_INET6 and len(raw) >= 24:
        port = struct.unpack_from("!H", raw, 2)[0]
        address = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        return SocketAddress("inet6", address, port)
    if family == socket.AF_UNIX:
        path = raw[2:]
        if path.startswith(b"\0"):
            name = path[1:].rstrip(b"\0")
            return SocketAddress("unix", path="@" + name.decode("utf-8", "surrogateescape"))
        name = path.split(b"\0", 1)[0]
        return SocketAddress("unix", path=name.decode("utf-8", "surrogateescape") or None)
    return SocketAddress(f"family {family}")


class Assembler:
    """Groups records by serial and hands out each event when its EOE arrives.

    Events that never get an EOE (a lost record, or a record type the kernel sends alone)
    are handed out incomplete once `max_age` seconds old or when more than `max_pending`
    are waiting, so memory stays bounded whatever the kernel sends.
    """

    def __init__(self, max_pending: int = 512, max_age: float = 2.0) -> None:
        self.max_pending = max_pending
        self.max_age = max_age
        self._pending: OrderedDict[int, AuditEvent] = OrderedDict()
        self.incomplete = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, record: Record, now: float | None = None) -> list[AuditEvent]:
        now = time.monotonic() if now is None else now
        event = self._pending.get(record.serial)
        if event is None:
            event = AuditEvent(record.serial, record.seconds, record.millis, arrived=now)
            self._pending[record.serial] = event
        done: list[AuditEvent] = []
        if record.kind == EOE:
            event.complete = True
            done.append(self._pending.pop(record.serial))
        else:
            event.records.append(record)
        while len(self._pending) > self.max_pending:
            done.append(self._give_up(next(iter(self._pending))))
        return done + self.expire(now)

    def pending(self, serial: int) -> AuditEvent | None:
        return self._pending.get(serial)

    def expire(self, now: float | None = None) -> list[AuditEvent]:
        """Events older than `max_age` that are still waiting for their EOE."""
        now = time.monotonic() if now is None else now
        done: list[AuditEvent] = []
        while self._pending:
            serial, event = next(iter(self._pending.items()))
            if now - event.arrived < self.max_age:
                break
            done.append(self._give_up(serial))
        return done

    def flush(self) -> list[AuditEvent]:
        return [self._give_up(serial) for serial in list(self._pending)]

    def _give_up(self, serial: int) -> AuditEvent:
        event = self._pending.pop(serial)
        # Records the kernel sends alone (rule changes, logins) never get an EOE; only a
        # syscall event without one has lost something.
        if event.first(SYSCALL) is not None:
            self.incomplete += 1
        return event
