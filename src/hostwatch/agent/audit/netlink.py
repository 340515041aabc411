"""The kernel audit netlink socket: status, the audit daemon slot, rules, and raw records.

Message layouts follow the kernel's uapi headers, include/uapi/linux/netlink.h and
include/uapi/linux/audit.h; nothing here needs auditd or libaudit.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

NETLINK_AUDIT = 9

# Netlink message types and flags (linux/netlink.h).
NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4

# Audit control messages (linux/audit.h).
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_ADD_RULE = 1011
AUDIT_DEL_RULE = 1012
AUDIT_LIST_RULES = 1013
AUDIT_FIRST_RECORD = 1100  # types from here on are audit records, not control replies

AUDIT_STATUS_ENABLED = 0x0001
AUDIT_STATUS_PID = 0x0004
AUDIT_STATUS_BACKLOG_LIMIT = 0x0010

# Rule lists, actions, fields and operators.
AUDIT_FILTER_EXIT = 0x04
AUDIT_FILTER_PREPEND = 0x10  # `auditctl -A`: put the rule at the head of its list
AUDIT_ALWAYS = 2
AUDIT_PID = 0
AUDIT_ARCH = 11
AUDIT_EXIT = 103
AUDIT_SUCCESS = 104
AUDIT_FILTERKEY = 210
AUDIT_EQUAL = 0x40000000
AUDIT_NOT_EQUAL = 0x30000000
AUDIT_MAX_FIELDS = 64
AUDIT_BITMASK_SIZE = 64
AUDIT_MAX_KEY_LEN = 256
AUDIT_WATCH = 105
AUDIT_PERM = 106
AUDIT_DIR = 107
AUDIT_ARG0 = 200
AUDIT_BIT_MASK = 0x08000000  # `-F a1&0111`: any of the bits set
AUDIT_PERM_WRITE = 2
AUDIT_PERM_ATTR = 8
# Fields whose value is a string in the rule's buffer (kernel/auditfilter.c,
# audit_data_to_entry): the SELinux subject and object labels, watch, dir, key and exe.
_STRING_FIELDS = {*range(13, 18), *range(19, 24), AUDIT_WATCH, AUDIT_DIR, 112, AUDIT_FILTERKEY}

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
AUDIT_ARCH_ARM = 0x40000028

_NLMSGHDR = struct.Struct("=IHHII")
_NLMSGERR = struct.Struct("=i")
# struct audit_status: mask, enabled, failure, pid, rate_limit, backlog_limit, lost, backlog,
# feature_bitmap, backlog_wait_time, backlog_wait_time_actual. Older kernels send fewer.
_STATUS_FIELDS = (
    "mask",
    "enabled",
    "failure",
    "pid",
    "rate_limit",
    "backlog_limit",
    "lost",
    "backlog",
    "feature_bitmap",
    "backlog_wait_time",
    "backlog_wait_time_actual",
)
_RULE_HEAD = struct.Struct(f"=III{AUDIT_BITMASK_SIZE}I")
_RULE_ARRAYS = struct.Struct(f"={AUDIT_MAX_FIELDS * 3}II")
_RECV_SIZE = 1 << 16


class AuditError(Exception):
    """The audit subsystem refused or could not be reached; `errno` says why when known."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.errno = code


class AuditUnavailable(AuditError):
    """There is no usable audit netlink socket: not root, a container, or no kernel support."""


class AuditBusy(AuditError):
    """Another process (usually auditd) is registered as the audit daemon."""


@dataclass(frozen=True)
class AuditStatus:
    enabled: int
    failure: int
    pid: int
    rate_limit: int
    backlog_limit: int
    lost: int
    backlog: int
    backlog_wait_time: int | None = None

    @classmethod
    def decode(cls, payload: bytes) -> AuditStatus:
        count = min(len(payload) // 4, len(_STATUS_FIELDS))
        if count < 8:
            raise AuditError(f"AUDIT_GET reply of {len(payload)} bytes is too short")
        values = dict(zip(_STATUS_FIELDS, struct.unpack_from(f"={count}I", payload), strict=False))
        return cls(
            enabled=values["enabled"],
            failure=values["failure"],
            pid=values["pid"],
            rate_limit=values["rate_limit"],
            backlog_limit=values["backlog_limit"],
            lost=values["lost"],
            backlog=values["backlog"],
            backlog_wait_time=values.get("backlog_wait_time"),
        )


@dataclass(frozen=True)
class RuleField:
    """One `-F` condition of a rule: field number, operator, and a number or a string."""

    field: int
    op: int
    value: int | str

    @classmethod
    def key(cls, key: str) -> RuleField:
        return cls(AUDIT_FILTERKEY, AUDIT_EQUAL, key)


@dataclass(frozen=True)
class AuditRule:
    """A struct audit_rule_data: which list, which syscalls, and the field conditions."""

    syscalls: frozenset[int]
    fields: tuple[RuleField, ...]
    flags: int = AUDIT_FILTER_EXIT
    action: int = AUDIT_ALWAYS
    # Bits the kernel reports that are not plain syscall numbers (syscall classes); kept so
    # that a listed rule encodes back to exactly what the kernel holds.
    extra_mask: tuple[int, ...] = field(default=(), compare=False)

    @property
    def keys(self) -> list[str]:
        """Filter keys; auditctl joins several keys into one field with \\x01."""
        found: list[str] = []
        for item in self.fields:
            if item.field == AUDIT_FILTERKEY and isinstance(item.value, str):
                found.extend(item.value.split("\x01"))
        return found

    def encode(self) -> bytes:
        if len(self.fields) > AUDIT_MAX_FIELDS:
            raise ValueError(f"an audit rule holds at most {AUDIT_MAX_FIELDS} fields")
        mask = [0] * AUDIT_BITMASK_SIZE
        for number in self.syscalls:
            if not 0 <= number < AUDIT_BITMASK_SIZE * 32:
                raise ValueError(f"syscall number {number} does not fit the rule mask")
            mask[number // 32] |= 1 << (number % 32)
        for index, bits in enumerate(self.extra_mask):
            mask[index] |= bits
        kinds = [0] * AUDIT_MAX_FIELDS
        values = [0] * AUDIT_MAX_FIELDS
        ops = [0] * AUDIT_MAX_FIELDS
        buf = b""
        for index, item in enumerate(self.fields):
            kinds[index] = item.field
            ops[index] = item.op
            if isinstance(item.value, str):
                raw = item.value.encode()
                if item.field == AUDIT_FILTERKEY and len(raw) > AUDIT_MAX_KEY_LEN:
                    raise ValueError(f"an audit key holds at most {AUDIT_MAX_KEY_LEN} bytes")
                values[index] = len(raw)
                buf += raw
            else:
                values[index] = item.value & 0xFFFFFFFF
        head = _RULE_HEAD.pack(self.flags, self.action, len(self.fields), *mask)
        return head + _RULE_ARRAYS.pack(*kinds, *values, *ops, len(buf)) + buf

    @classmethod
    def decode(cls, payload: bytes) -> AuditRule:
        fixed = _RULE_HEAD.size + _RULE_ARRAYS.size
        if len(payload) < fixed:
            raise AuditError(f"audit rule of {len(payload)} bytes is shorter than {fixed}")
        flags, action, count, *mask = _RULE_HEAD.unpack_from(payload)
        arrays = _RULE_ARRAYS.unpack_from(payload, _RULE_HEAD.size)
        kinds = arrays[:AUDIT_MAX_FIELDS]
        values = arrays[AUDIT_MAX_FIELDS : 2 * AUDIT_MAX_FIELDS]
        ops = arrays[2 * AUDIT_MAX_FIELDS : 3 * AUDIT_MAX_FIELDS]
        buf = payload[fixed : fixed + arrays[-1]]
        if count > AUDIT_MAX_FIELDS:
            raise AuditError(f"audit rule claims {count} fields, more than {AUDIT_MAX_FIELDS}")
        fields: list[RuleField] = []
        offset = 0
        for index in range(count):
            value: int | str = values[index]
            if kinds[index] in _STRING_FIELDS:
                end = offset + values[index]
                value = buf[offset:end].decode(errors="surrogateescape")
                offset = end
            fields.append(RuleField(kinds[index], ops[index], value))
        syscalls = frozenset(
            word * 32 + bit
            for word, bits in enumerate(mask)
            for bit in range(32)
            # The top AUDIT_SYSCALL_CLASSES bits name syscall classes, not syscalls.
            if bits >> bit & 1 and word * 32 + bit < AUDIT_BITMASK_SIZE * 32 - 16
        )
        # Only the last word holds class bits (its upper half).
        extra = (0,) * (AUDIT_BITMASK_SIZE - 1) + (mask[-1] & 0xFFFF0000,)
        return cls(
            syscalls=syscalls,
            fields=tuple(fields),
            flags=flags,
            action=action,
            extra_mask=extra if any(extra) else (),
        )


class AuditSocket:
    """One NETLINK_AUDIT socket. Control calls wait for the kernel's acknowledgement."""

    def __init__(self, receive_buffer: int | None = None) -> None:
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        except (OSError, AttributeError) as exc:
            code = getattr(exc, "errno", None)
            raise AuditUnavailable(f"cannot open the audit netlink socket: {exc}", code) from exc
        try:
            self._sock.bind((0, 0))
            if receive_buffer:
                # SO_RCVBUFFORCE passes the rmem_max cap; root only, so fall back quietly.
                try:
                    self._sock.setsockopt(socket.SOL_SOCKET, 33, receive_buffer)  # SO_RCVBUFFORCE
                except OSError:
                    self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        except OSError as exc:
            self._sock.close()
            message = f"cannot bind the audit netlink socket: {exc}"
            raise AuditUnavailable(message, exc.errno) from exc
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def __enter__(self) -> AuditSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Framing

    def _send(self, kind: int, payload: bytes, flags: int) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), kind, flags, self._seq, 0)
        padding = b"\0" * (-len(payload) % 4)
        try:
            self._sock.sendto(header + payload + padding, (0, 0))
        except OSError as exc:
            error = AuditUnavailable if exc.errno in (errno.EPERM, errno.EACCES) else AuditError
            raise error(f"the kernel refused audit message {kind}: {exc}", exc.errno) from exc
        return self._seq

    def messages(self, timeout: float | None) -> Iterator[tuple[int, int, bytes]]:
        """(type, sequence, payload) of each netlink message in one datagram from the kernel;
        nothing when `timeout` passes first."""
        if timeout is not None:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return
        data, sender = self._sock.recvfrom(_RECV_SIZE)
        if sender[0] != 0:
            return  # only the kernel (port id 0) may speak on this socket
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, seq, _port = _NLMSGHDR.unpack_from(data, offset)
            if kind >= AUDIT_FIRST_RECORD:
                # The kernel sends each audit record in a datagram of its own, with a length
                # that leaves out the header (kernel/audit.c, audit_log_end): take the rest.
                yield kind, seq, data[offset + _NLMSGHDR.size :].rstrip(b"\0")
                return
            if length < _NLMSGHDR.size or offset + length > len(data):
                raise AuditError(f"netlink message of type {kind} has a bad length {length}")
            yield kind, seq, data[offset + _NLMSGHDR.size : offset + length]
            offset += (length + 3) & ~3

    def _request(self, kind: int, payload: bytes = b"", timeout: float = 2.0) -> list[bytes]:
        """Send a request and collect its replies.

        The kernel acknowledges at once but sends AUDIT_GET and AUDIT_LIST_RULES answers from
        a separate thread, so the answer may come before or after the acknowledgement; a
        late acknowledgement is skipped later by its sequence number.
        """
        seq = self._send(kind, payload, NLM_F_REQUEST | NLM_F_ACK)
        replies: list[bytes] = []
        while True:
            got = False
            for reply_kind, reply_seq, body in self.messages(timeout):
                got = True
                if reply_seq != seq:
                    continue  # an audit record or a late answer to something else
                if reply_kind == NLMSG_ERROR:
                    (code,) = _NLMSGERR.unpack_from(body)
                    if code:
                        raise _error(kind, -code)
                    if kind not in (AUDIT_GET, AUDIT_LIST_RULES):
                        return replies
                elif reply_kind == NLMSG_DONE:
                    return replies
                else:
                    replies.append(body)
                    if kind == AUDIT_GET:
                        return replies
            if not got:
                raise AuditError(f"no answer from the kernel to audit message {kind}")

    # Control

    def status(self) -> AuditStatus:
        replies = self._request(AUDIT_GET)
        if not replies:
            raise AuditError("the kernel sent no audit status")
        return AuditStatus.decode(replies[0])

    def set_status(
        self,
        *,
        enabled: int | None = None,
        pid: int | None = None,
        backlog_limit: int | None = None,
    ) -> None:
        mask = 0
        values = [0] * len(_STATUS_FIELDS)
        if enabled is not None:
            mask |= AUDIT_STATUS_ENABLED
            values[1] = enabled
        if pid is not None:
            mask |= AUDIT_STATUS_PID
            values[3] = pid
        if backlog_limit is not None:
            mask |= AUDIT_STATUS_BACKLOG_LIMIT
            values[5] = backlog_limit
        values[0] = mask
        self._request(AUDIT_SET, struct.pack(f"={len(values)}I", *values))

    def register(self) -> None:
        """Become the audit daemon: the kernel sends every audit record to this socket."""
        try:
            self.set_status(pid=os.getpid())
        except AuditError as exc:
            if exc.errno == errno.EEXIST:
                holder = self.status().pid
                raise AuditBusy(
                    f"the audit daemon slot is held by pid {holder} ({_process_name(holder)})",
                    exc.errno,
                ) from exc
            raise

    def unregister(self) -> None:
        self.set_status(pid=0)

    def list_rules(self) -> list[AuditRule]:
        return [AuditRule.decode(body) for body in self._request(AUDIT_LIST_RULES)]

    def add_rule(self, rule: AuditRule) -> None:
        self._request(AUDIT_ADD_RULE, rule.encode())

    def delete_rule(self, rule: AuditRule) -> None:
        self._request(AUDIT_DEL_RULE, rule.encode())


def _error(kind: int, code: int) -> AuditError:
    message = f"the kernel refused audit message {kind}: {os.strerror(code)} (errno {code})"
    if code in (errno.EPERM, errno.EACCES, errno.ECONNREFUSED):
        return AuditUnavailable(message, code)
    return AuditError(message, code)


def _process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip() or "unknown"
    except OSError:
        return "not visible here"
