"""Logon events (success, failure, logoff) from PAM's audit records, and the sessions they open.

PAM sends USER_AUTH, USER_ACCT, CRED_ACQ, USER_START, USER_END, USER_LOGIN and USER_ERR
records to the audit daemon when auditing is enabled (libpam's pam_audit.c); the agent holds
that slot, so it receives them. The same events come from auth.log or the journal on
machines without audit (hostwatch.agent.authlog).
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hostwatch import protocol
from hostwatch.agent.audit.records import _FIELD, Record, decode_value
from hostwatch.agent.bounds import LONG, PATH, SHORT, fit

# PAM's audit record types (linux/audit.h).
USER_AUTH = 1100
USER_ACCT = 1101
CRED_ACQ = 1103
CRED_DISP = 1104
USER_START = 1105
USER_END = 1106
USER_ERR = 1109
CRED_REFR = 1110
USER_LOGIN = 1112
USER_LOGOUT = 1113
PAM_TYPES = frozenset(
    {USER_AUTH, USER_ACCT, CRED_ACQ, CRED_DISP, USER_START, USER_END, USER_ERR, CRED_REFR,
     USER_LOGIN, USER_LOGOUT}
)  # fmt: skip

ELEVATION = frozenset({"su", "su-l", "sudo", "sudo-i", "sudo-rs", "sudoedit", "doas", "pkexec",
                       "runuser", "runuser-l"})  # fmt: skip
NETWORK = frozenset({"sshd", "sshd-session", "dropbear", "vsftpd", "proftpd", "telnetd"})
CONSOLE = frozenset({"login", "agetty", "getty", "gdm-password", "lightdm", "sddm"})
_MSG = re.compile(rb"msg='(.*)'\s*$", re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def visible(value: str | None, limit: int = SHORT) -> str | None:
    """An untrusted name with control characters (escape sequences among them) shown as
    \\xNN, cut to `limit`."""
    if value is None:
        return None
    return fit(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value), limit)[0]


def logon_type(service: str | None, terminal: str | None, address: str | None) -> str:
    """network (ssh and other remote logons), elevation (su, sudo), console (a local
    terminal), or other."""
    name = (service or "").rsplit("/", 1)[-1]
    if name in ELEVATION:
        return "elevation"
    if name in NETWORK or terminal == "ssh" or address:
        return "network"
    term = (terminal or "").removeprefix("/dev/")
    if name in CONSOLE or term.startswith(("tty", "console", "hvc", "ttyS")):
        return "console"
    return "other"


def ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.split("%")[0]))
    except ValueError:
        return None


@dataclass
class Logon:
    """One logon step, from whichever source; `event()` makes the agent event of it."""

    action: str  # LogonSuccess, LogonFailed, Logoff
    user: str | None
    service: str | None
    time: datetime | None = None
    terminal: str | None = None
    address: str | None = None
    host: str | None = None
    port: int | None = None
    by_user: str | None = None
    pid: int | None = None
    image: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def logon_type(self) -> str:
        return logon_type(self.service, self.terminal, self.address or self.host)

    def session_key(self) -> str:
        """What pairs a session's start with its end: the service, its process and the user."""
        return f"{self.service}:{self.pid}:{self.user}"

    def event(
        self,
        key: str,
        time: datetime,
        collector: str,
        extra: dict[str, Any] | None = None,
    ) -> protocol.AgentEvent:
        fields: dict[str, Any] = {
            "collector": collector,
            "logon_type": self.logon_type,
            "service": visible(self.service),
            **(extra or {}),
        }
        for name, value in (
            ("terminal", self.terminal),
            ("source_host", self.host),
            ("by_user", self.by_user),
            ("reason", self.reason),
        ):
            if value:
                fields[name] = visible(value)
        if self.port is not None:
            fields["source_port"] = self.port
        for name, value in self.details.items():
            fields[name] = visible(value, LONG) if isinstance(value, str) else value
        if self.pid is not None:
            fields["session_key"] = visible(self.session_key())
        return protocol.AgentEvent(
            key=key,
            time=self.time or time,
            kind="logon",
            action_type=self.action,
            event_code=self.details.get("pam_op") or self.action,
            user=visible(self.user),
            process_id=self.pid,
            process_image=fit(self.image, PATH)[0],
            remote_address=ip_or_none(self.address),
            remote_port=self.port,
            fields=fields,
        )


def pam_fields(record: Record) -> dict[str, str | None]:
    """The name=value pairs inside a user record's msg='...' part, decoded."""
    match = _MSG.search(record.body)
    inner = match.group(1) if match else record.body
    found: dict[str, str | None] = {}
    for item in _FIELD.finditer(inner):
        name = item.group(1).decode("ascii")
        if name not in found:
            value = decode_value(item.group(2))
            found[name] = None if value is None else value.decode("utf-8", "surrogateescape")
    return found


def from_pam_record(record: Record) -> Logon | None:
    values = pam_fields(record)
    result = values.get("res")
    op = values.get("op") or ""
    failed = result not in ("success", "yes", "1")
    if record.kind == USER_START:
        action = "LogonFailed" if failed else "LogonSuccess"
    elif record.kind in (USER_END, USER_LOGOUT):
        action = "Logoff"
    elif record.kind in (USER_AUTH, USER_ACCT, USER_LOGIN, USER_ERR) and failed:
        action = "LogonFailed"
    else:
        return None  # a successful step on the way to USER_START, or credentials
    exe = values.get("exe")
    service = exe.rsplit("/", 1)[-1] if exe else None
    user = values.get("acct") or values.get("id")
    address = values.get("addr")
    host = values.get("hostname")
    terminal = values.get("terminal")
    caller = record.number("auid")
    uid = record.number("uid")
    details: dict[str, Any] = {"pam_op": op or None, "result": result}
    if values.get("grantors"):
        details["grantors"] = values["grantors"]
    session = record.number("ses")
    if session is not None and session != 4294967295:
        details["audit_session"] = session
    by_user = None
    for candidate in (caller, uid):
        if candidate is not None and candidate != 4294967295:
            by_user = _user_name(candidate)
            break
    return Logon(
        action=action,
        user=user if user not in ("?", "(unknown)") else None,
        service=service,
        terminal=None if terminal in (None, "?") else terminal,
        address=None if address in (None, "?") else address,
        host=None if host in (None, "?") or host == address else host,
        by_user=by_user,
        pid=record.number("pid"),
        image=exe,
        reason=f"{op} failed" if action == "LogonFailed" else None,
        details={k: v for k, v in details.items() if v is not None},
    )


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class Sessions:
    """Sessions opened by logon events and not closed yet: the logged-on users of a system
    that keeps no utmp."""

    def __init__(self, max_sessions: int = 4096) -> None:
        self.max_sessions = max_sessions
        self._lock = threading.Lock()
        self._open: dict[str, protocol.LoggedOnUser] = {}
        self.changed = False

    def observe(self, events: list[protocol.AgentEvent]) -> None:
        for event in events:
            if event.kind != "logon" or not event.fields.get("session_key"):
                continue
            key = str(event.fields["session_key"])
            with self._lock:
                if event.action_type == "LogonSuccess" and event.user:
                    if len(self._open) >= self.max_sessions:
                        # Limitation: past max_sessions open sessions (missed logoffs pile
                        # up), the oldest is forgotten.
                        self._open.pop(next(iter(self._open)))
                    self._open[key] = protocol.LoggedOnUser(
                        name=event.user,
                        terminal=event.fields.get("terminal"),
                        host=event.remote_address or event.fields.get("source_host"),
                        started=event.time,
                        source=f"logon events ({event.fields.get('collector')})",
                    )
                    self.changed = True
                elif event.action_type == "Logoff" and self._open.pop(key, None) is not None:
                    self.changed = True

    def current(self) -> list[protocol.LoggedOnUser]:
        with self._lock:
            self.changed = False
            return list(self._open.values())
