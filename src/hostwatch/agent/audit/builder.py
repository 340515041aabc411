"""Agent events from assembled audit events: process starts and ends, and connections.

Process guids are the ones the /proc poller gives (boot id, pid and start ticks), so a
parent reported by the poller and a child seen by audit link up. Start ticks are read from
/proc/PID/stat when the event is handled; a process that has exited by then keeps the guid
its exec event got (the builder remembers recent pids), and a process first met after it
exited gets a guid made from the boot id, the pid and the audit serial of its exec.

Connections come from audit connect/accept records rather than the socket tables: polling
/proc/net misses every connection shorter than the poll interval, and cannot say which
process opened a socket without scanning every process's file descriptors; the syscall
record names the process exactly and sees every call.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import stat
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from hostwatch import protocol
from hostwatch.agent import logons, watched
from hostwatch.agent.audit import files, procfs
from hostwatch.agent.audit.hashes import ImageHashes
from hostwatch.agent.audit.records import AuditEvent, Record
from hostwatch.agent.bounds import LONG, PATH, SHORT, fit
from hostwatch.agent.processes import ProcessCollector, _read_stat, command_line

logger = logging.getLogger(__name__)

UNSET_ID = 4294967295  # (uid_t)-1: auid of a process outside any login session
_FALLBACK_NAMESPACE = uuid.UUID("0b8f3c86-54f1-4b0e-9d1f-6a4c2e7d9a31")
# /proc start times come from whole-second boot time plus clock ticks, so they run up to
# one tick late relative to the audit clock; more than this means the pid was reused.
_START_SLACK = 0.05
_PARENT_LINE = 1024  # command line kept per remembered process, for its children's events
USERS_TTL = 300.0


@dataclass(frozen=True)
class _Known:
    guid: str
    image: str | None
    command_line: str | None


class _Users:
    """uid to user name, cached for a few minutes; a uid without a name stays a number."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._names: dict[int, str] = {}
        self._since = time.monotonic()

    def name(self, uid: int | None) -> str | None:
        if uid is None or uid == UNSET_ID:
            return None
        if time.monotonic() - self._since > USERS_TTL or len(self._names) >= self.max_entries:
            self._names.clear()
            self._since = time.monotonic()
        found = self._names.get(uid)
        if found is None:
            try:
                found = pwd.getpwuid(uid).pw_name
            except KeyError:
                found = str(uid)
            self._names[uid] = found
        return found


def socket_of(event: AuditEvent, syscall: str) -> procfs.SocketInfo | None:
    """The socket a connect (its first argument) or accept (its result) worked on."""
    record = event.syscall
    if record is None:
        return None
    pid = record.number("pid")
    fd = record.number("a0", 16) if syscall == "connect" else record.number("exit")
    if pid is None or fd is None or fd < 0:
        return None
    inode = procfs.socket_inode(pid, fd)
    return procfs.find_socket(pid, inode) if inode else None


class EventBuilder:
    def __init__(
        self,
        poller: ProcessCollector,
        machine_id: str,
        boot_id: str,
        syscalls: dict[tuple[int, int], str],
        hashes: ImageHashes | None = None,
        max_tracked: int = 8192,
    ) -> None:
        self._ids = poller
        self._machine_id = machine_id
        self._boot_id = boot_id
        self._syscalls = syscalls
        self._hashes = hashes or ImageHashes()
        self._users = _Users()
        self._known: OrderedDict[int, _Known] = OrderedDict()
        self._max_tracked = max_tracked

    # Classification

    def syscall_name(self, event: AuditEvent) -> str | None:
        record = event.syscall
        if record is None:
            return None
        arch = record.number("arch", 16)
        number = record.number("syscall")
        if arch is None or number is None:
            return None
        return self._syscalls.get((arch, number))

    # Identity

    def _key(self, event: AuditEvent, kind: str) -> str:
        raw = f"audit:{kind}:{self._machine_id}:{self._boot_id}:{event.serial}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _identify(
        self, pid: int, at: float, event: AuditEvent | None = None
    ) -> tuple[str | None, str]:
        """The guid of the process `pid` was at time `at`, and where it came from.

        The /proc/PID/stat the reader took when the record arrived is preferred: a short
        process is usually gone by the time its event is built.
        """
        early = event.notes.get("stats", {}) if event is not None else {}
        stat = early.get(pid) or _read_stat(pid)
        if stat is not None:
            started = self._ids.start_time(stat[2]).timestamp()
            if started <= at + _START_SLACK:
                return self._ids.process_guid(pid, stat[2]), "proc"
        known = self._known.get(pid)
        if known is not None:
            return known.guid, "tracked"
        return None, "unknown"

    def _remember(self, pid: int, known: _Known) -> None:
        self._known[pid] = known
        self._known.move_to_end(pid)
        while len(self._known) > self._max_tracked:
            self._known.popitem(last=False)

    def _actor_fields(self, record: Record, fields: dict[str, Any]) -> str | None:
        """User ids as names into `fields`; returns the real user's name."""
        uid, euid, auid = record.number("uid"), record.number("euid"), record.number("auid")
        fields["uid"] = uid
        fields["euid"] = euid
        if auid is not None and auid != UNSET_ID:
            fields["auid"] = auid
            fields["login_user"] = fit(self._users.name(auid), SHORT)[0]
        fields["effective_user"] = fit(self._users.name(euid), SHORT)[0]
        session = record.number("ses")
        if session is not None and session != UNSET_ID:
            fields["session"] = session
        tty = record.text("tty")
        if tty:
            fields["tty"] = fit(tty, SHORT)[0]
        return fit(self._users.name(uid), SHORT)[0]

    # Events

    def process_created(self, event: AuditEvent, syscall: str) -> protocol.AgentEvent:
        record = event.syscall
        assert record is not None
        pid, ppid = record.number("pid") or 0, record.number("ppid")
        at = event.seconds + event.millis / 1000
        fields: dict[str, Any] = {"collector": "audit", "audit_serial": event.serial}
        if not event.complete:
            fields["audit_incomplete"] = True
        user = self._actor_fields(record, fields)

        guid, source = self._identify(pid, at, event)
        if guid is None:
            guid = str(uuid.uuid5(_FALLBACK_NAMESPACE, f"{self._boot_id}:{pid}:{event.serial}"))
            source = "audit-serial"
        fields["guid_source"] = source

        argv, missing = event.argv()
        if argv is None:
            argv = event.proctitle()
            missing = True
            fields["command_line_source"] = "proctitle"
        if missing:
            fields["command_line_incomplete"] = True
        image = record.text("exe")
        text: dict[str, str | None] = {}
        for name, value, limit in (
            ("command_line", command_line(argv), LONG),
            ("image", image, PATH),
            ("cwd", event.cwd(), PATH),
        ):
            text[name], truncated = fit(value, limit)
            if truncated:
                fields[f"{name}_truncated"] = True
        if text["cwd"] is not None:
            fields["cwd"] = text["cwd"]
        comm = record.text("comm")
        if comm:
            fields["comm"] = fit(comm, SHORT)[0]

        sha256 = self._image_hash(pid, source, image, event, fields)
        parent_guid, parent_image, parent_line = self._parent(ppid, at, event)
        self._remember(
            pid, _Known(guid, text["image"], (text["command_line"] or "")[:_PARENT_LINE] or None)
        )
        return protocol.AgentEvent(
            key=self._key(event, "exec"),
            time=event.time,
            kind="process",
            action_type="ProcessCreated",
            event_code=syscall,
            user=user,
            process_id=pid,
            process_image=text["image"],
            process_command_line=text["command_line"],
            process_sha256=sha256,
            process_guid=guid,
            parent_process_id=ppid,
            parent_process_image=parent_image,
            parent_process_command_line=parent_line,
            parent_process_guid=parent_guid,
            fields=fields,
        )

    def _parent(
        self, ppid: int | None, at: float, event: AuditEvent
    ) -> tuple[str | None, str | None, str | None]:
        if not ppid:
            return None, None, None
        guid, source = self._identify(ppid, at, event)
        if guid is None:
            return None, None, None
        known = self._known.get(ppid)
        if known is not None and known.guid == guid:
            return guid, known.image, known.command_line
        if source != "proc":
            return guid, None, None
        # Limitation: a parent that ran before the agent started and has exec'd again since
        # the child was started is described by its newer image.
        image = fit(procfs.read_exe(ppid), PATH)[0]
        line = fit(command_line(procfs.read_cmdline(ppid)), LONG)[0]
        return guid, image, line

    def _image_hash(
        self, pid: int, source: str, image: str | None, event: AuditEvent, fields: dict[str, Any]
    ) -> str | None:
        candidates = []
        if source == "proc":
            candidates.append(f"/proc/{pid}/exe")  # the very image, even if since deleted
        if image:
            candidates.append(image)
        inodes = {inode for record in event.paths() if (inode := record.number("inode"))}
        sha256, reason = self._hashes.sha256(*candidates, inodes=inodes)
        if sha256 is None:
            fields["sha256_missing"] = reason
        return sha256

    def process_exited(self, event: AuditEvent) -> protocol.AgentEvent:
        record = event.syscall
        assert record is not None
        pid = record.number("pid") or 0
        at = event.seconds + event.millis / 1000
        fields: dict[str, Any] = {"collector": "audit", "audit_serial": event.serial}
        code = record.number("a0", 16)
        if code is not None:
            fields["exit_code"] = code & 0xFF
        user = self._actor_fields(record, fields)
        known = self._known.pop(pid, None)
        guid, source = self._identify(pid, at, event)
        if known is not None and source != "proc":
            guid = known.guid
        return protocol.AgentEvent(
            key=self._key(event, "exit"),
            time=event.time,
            kind="process",
            action_type="ProcessTerminated",
            event_code="exit_group",
            user=user,
            process_id=pid,
            process_image=fit(record.text("exe"), PATH)[0],
            process_guid=guid,
            parent_process_id=record.number("ppid"),
            fields=fields,
        )

    def connection(self, event: AuditEvent, syscall: str) -> protocol.AgentEvent | None:
        """A connect (outbound) or accept (inbound); None for families other than IP and
        local sockets."""
        record = event.syscall
        assert record is not None
        pid = record.number("pid") or 0
        at = event.seconds + event.millis / 1000
        outbound = syscall == "connect"
        peer = event.sockaddr()
        # connect names the socket in its first argument; accept returns the new one.
        info = event.notes.get("socket")
        if info is None and (peer is None or peer.family != "unix"):
            info = socket_of(event, syscall)
        if peer is None and info is None:
            return None  # accept without an address buffer, on a socket already closed
        if peer is not None and peer.family not in ("inet", "inet6", "unix"):
            return None

        fields: dict[str, Any] = {
            "collector": "audit",
            "audit_serial": event.serial,
            "direction": "outbound" if outbound else "inbound",
            "initiated": outbound,
        }
        if record.number("exit") == -115:
            fields["in_progress"] = True  # a non-blocking connect; the outcome comes later
        user = self._actor_fields(record, fields)
        guid, _ = self._identify(pid, at, event)
        remote = remote_port = local = local_port = None
        target = None
        if peer is not None and peer.family == "unix":
            fields["protocol"] = "unix"
            target, truncated = fit(peer.path, PATH)
            if truncated:
                fields["target_file_truncated"] = True
        else:
            if peer is not None:
                fields["family"] = peer.family
                remote, remote_port = peer.address, peer.port
            if info is not None:
                fields["protocol"] = info.protocol
                local, local_port = info.local_address, info.local_port
                if remote is None:
                    remote, remote_port = info.remote_address, info.remote_port
            else:
                # Limitation: when the socket is closed before the event is handled, the
                # protocol and local address are not known.
                fields["local_unknown"] = True
        # Limitation: UDP datagrams sent with sendto/sendmsg on an unconnected socket make
        # no connect call and are not seen.
        return protocol.AgentEvent(
            key=self._key(event, "net"),
            time=event.time,
            kind="network",
            action_type="NetworkConnection",
            event_code=syscall,
            user=user,
            process_id=pid,
            process_image=fit(record.text("exe"), PATH)[0],
            process_guid=guid,
            parent_process_id=record.number("ppid"),
            remote_address=remote,
            remote_port=remote_port,
            local_address=local,
            local_port=local_port,
            target_file=target,
            fields=fields,
        )

    def file_changed(
        self, event: AuditEvent, syscall: str, change: files.Change
    ) -> protocol.AgentEvent:
        """A watched file created, modified, deleted or renamed, with the process that did it."""
        record = event.syscall
        assert record is not None
        pid = record.number("pid") or 0
        at = event.seconds + event.millis / 1000
        fields: dict[str, Any] = {
            "collector": "audit",
            "audit_serial": event.serial,
            "watch": change.category,
        }
        if not event.complete:
            fields["audit_incomplete"] = True
        user = self._actor_fields(record, fields)
        guid, _ = self._identify(pid, at, event)
        target, truncated = fit(change.path, PATH)
        if truncated:
            fields["target_file_truncated"] = True
        if change.old_path is not None:
            fields["old_name"] = fit(change.old_path, PATH)[0]
        if change.mode is not None:
            # The mode as the syscall found it: before a chmod, after a create.
            fields["audit_mode"] = f"{change.mode:o}"
        if change.is_dir:
            fields["is_directory"] = True
        if change.action in ("FileCreated", "FileModified", "FileRenamed") and not change.is_dir:
            self._describe_file(change.path, fields)
        argv = event.notes.get("cmdline") or event.proctitle()
        image = record.text("exe")
        known = self._known.get(pid)
        return protocol.AgentEvent(
            key=self._key(event, "file"),
            time=event.time,
            kind="file",
            action_type=change.action,
            event_code=syscall,
            user=user,
            process_id=pid,
            process_image=fit(image, PATH)[0],
            process_command_line=fit(command_line(argv), LONG)[0]
            or (known.command_line if known else None),
            process_guid=guid,
            parent_process_id=record.number("ppid"),
            target_file=target,
            fields=fields,
        )

    def _describe_file(self, path: str, fields: dict[str, Any]) -> None:
        """Mode, kind and hash of the file as it is now (it may have changed again since)."""
        executable, kind = watched.executable_kind(path)
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            fields["gone"] = True
            return
        fields["mode"] = f"{info.st_mode:o}"
        fields["size"] = info.st_size
        fields["executable"] = executable
        if kind:
            fields["content"] = kind
        if stat.S_ISREG(info.st_mode):
            sha256, reason = self._hashes.sha256(path)
            if sha256:
                fields["sha256"] = sha256
            else:
                fields["sha256_missing"] = reason

    def logon(self, event: AuditEvent) -> protocol.AgentEvent | None:
        """A PAM record (USER_AUTH, USER_START, ...) as a logon event; None for the steps
        that are not one (a successful authentication is followed by its session start)."""
        record = event.records[0]
        found = logons.from_pam_record(record)
        if found is None:
            return None
        logon = found.event(
            key=self._key(event, "logon"),
            time=event.time,
            collector="audit",
            extra={"audit_serial": event.serial},
        )
        if found.pid:
            at = event.seconds + event.millis / 1000
            logon.process_guid = self._identify(found.pid, at, event)[0]
        return logon
