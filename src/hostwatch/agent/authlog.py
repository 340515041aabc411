"""Logon events from syslog's auth.log lines and the journal's JSON lines (sshd, sudo, su,
login), for machines where the agent cannot use the audit subsystem.

Each message format below is what OpenSSH (auth.c, auth_log), sudo (logging.c), util-linux
su and login, and pam_unix write. Names in them are untrusted: an attacker picks the user
name an sshd failure logs, so every value is made visible (control characters escaped) and
cut to size before it leaves the agent.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hostwatch.agent.logons import Logon

# Limitation: a line longer than this is cut before parsing and, its end lost, usually not
# recognized; rsyslog's default message limit (8 KiB) is below it.
MAX_LINE = 16_384

_SYSLOG = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\S+|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)\s+(?P<host>\S+)\s+"
    r"(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$",
    re.S,
)
_ACCEPTED = re.compile(
    r"^Accepted (?P<method>\S+) for (?P<user>.*) from (?P<addr>\S+) port (?P<port>\d+)"
)
_FAILED = re.compile(
    r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*) from (?P<addr>\S+) "
    r"port (?P<port>\d+)"
)
_INVALID = re.compile(r"^Invalid user (?P<user>.*) from (?P<addr>\S+) port (?P<port>\d+)")
_SESSION = re.compile(
    r"^pam_unix\((?P<service>[^:()]+):session\): session (?P<what>opened|closed) for user "
    r"(?P<user>.+?)(?:\(uid=\d+\))?(?: by (?P<by>.*?)(?:\(uid=\d+\))?)?$"
)
_SU_FAILED = re.compile(r"^FAILED SU \(to (?P<user>.*)\) (?P<by>\S*) on (?P<tty>\S+)$")
_LOGIN_FAILED = re.compile(
    r"^FAILED LOGIN \(\d+\) on '(?P<tty>[^']*)'(?: FROM '(?P<host>[^']*)')? FOR '(?P<user>.*)', "
    r"(?P<reason>.*)$"
)
# sshd's session lines pair with the Accepted line; sudo's with its command line.
_SESSION_EVENTS = frozenset({"su", "su-l", "login", "runuser", "runuser-l"})
_SESSION_CLOSES = _SESSION_EVENTS | {"sshd"}


def parse_message(
    program: str, pid: int | None, message: str, when: datetime | None, host: str | None = None
) -> Logon | None:
    """The logon a syslog message of `program` tells of, or None."""
    message = message[:MAX_LINE].rstrip("\n")
    service = program.rsplit("/", 1)[-1]
    if service in ("sshd", "sshd-session"):
        return _sshd(message, pid, when)
    if service == "sudo":
        return _sudo(message, pid, when)
    if (match := _SESSION.match(message)) is not None:
        name = match.group("service")
        opened = match.group("what") == "opened"
        if (opened and name in _SESSION_EVENTS) or (not opened and name in _SESSION_CLOSES):
            return Logon(
                action="LogonSuccess" if opened else "Logoff",
                user=match.group("user"),
                service=name,
                time=when,
                by_user=match.group("by") or None,
                pid=pid,
            )
        return None
    if service == "su" and (match := _SU_FAILED.match(message)) is not None:
        return Logon(
            action="LogonFailed",
            user=match.group("user"),
            service="su",
            time=when,
            terminal=match.group("tty"),
            by_user=match.group("by") or None,
            pid=pid,
            reason="authentication failure",
        )
    if service == "login" and (match := _LOGIN_FAILED.match(message)) is not None:
        return Logon(
            action="LogonFailed",
            user=match.group("user"),
            service="login",
            time=when,
            terminal=match.group("tty"),
            host=match.group("host"),
            pid=pid,
            reason=match.group("reason"),
        )
    return None


def _sshd(message: str, pid: int | None, when: datetime | None) -> Logon | None:
    if (match := _ACCEPTED.match(message)) is not None:
        action, reason = "LogonSuccess", None
    elif (match := _FAILED.match(message)) is not None:
        invalid = bool(match.group("invalid"))
        action, reason = "LogonFailed", "invalid user" if invalid else "wrong credentials"
    elif (match := _INVALID.match(message)) is not None:
        action, reason = "LogonFailed", "invalid user"
    elif (match := _SESSION.match(message)) is not None and match.group("what") == "closed":
        return Logon(action="Logoff", user=match.group("user"), service="sshd", time=when, pid=pid)
    else:
        return None
    groups = match.groupdict()
    details = {"method": groups["method"]} if groups.get("method") else {}
    return Logon(
        action=action,
        user=groups["user"],
        service="sshd",
        time=when,
        terminal="ssh",
        address=groups["addr"],
        port=int(groups["port"]) if int(groups["port"]) < 65536 else None,
        pid=pid,
        reason=reason,
        details=details,
    )


def _sudo(message: str, pid: int | None, when: datetime | None) -> Logon | None:
    """`alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id`, with a
    failure in front of TTY= when sudo refused."""
    by, sep, rest = message.partition(" : ")
    if not sep or "COMMAND=" not in rest:
        return None
    parts = rest.split(" ; ")
    values: dict[str, str] = {}
    failure = None
    for index, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if eq and name.isupper():
            # COMMAND is last and may itself hold " ; ": it takes the rest of the line.
            if name == "COMMAND":
                values[name] = " ; ".join([value, *parts[index + 1 :]])
                break
            values[name] = value
        elif index == 0:
            failure = part
    return Logon(
        action="LogonFailed" if failure else "LogonSuccess",
        user=values.get("USER", "root"),
        service="sudo",
        time=when,
        terminal=values.get("TTY"),
        by_user=by.strip(),
        pid=pid,
        reason=failure,
        details={"command": values.get("COMMAND"), "cwd": values.get("PWD")},
    )


def syslog_time(text: str, now: datetime | None = None) -> datetime | None:
    """An RFC 3339 stamp, or a traditional `Dec  4 19:09:37` one (no year, local time: the
    year that puts it no more than a day in the future)."""
    if text[:1].isdigit():
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
        return value if value.tzinfo else value.astimezone()
    now = now or datetime.now().astimezone()
    try:
        value = datetime.strptime(f"{now.year} {text}", "%Y %b %d %H:%M:%S")
    except ValueError:
        return None
    value = value.replace(tzinfo=now.tzinfo)
    if value - now > timedelta(days=1):
        value = value.replace(year=now.year - 1)
    return value.astimezone(UTC)


def parse_auth_line(line: str, now: datetime | None = None) -> Logon | None:
    """One line of /var/log/auth.log (or /var/log/secure)."""
    match = _SYSLOG.match(line[:MAX_LINE].rstrip("\n"))
    if match is None:
        return None
    pid = int(match.group("pid")) if match.group("pid") else None
    when = syslog_time(match.group("ts"), now)
    return parse_message(match.group("prog"), pid, match.group("msg"), when, match.group("host"))


def _journal_text(value: Any) -> str | None:
    # Binary-unsafe messages come as an array of byte values (systemd's JSON export format).
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "surrogateescape")
    return value if isinstance(value, str) else None


def parse_journal_line(line: str) -> tuple[Logon | None, str | None]:
    """One `journalctl -o json` line: the logon it tells of, and its cursor."""
    try:
        entry = json.loads(line[: MAX_LINE * 2])
    except ValueError:
        return None, None
    if not isinstance(entry, dict):
        return None, None
    cursor = entry.get("__CURSOR") if isinstance(entry.get("__CURSOR"), str) else None
    program = _journal_text(entry.get("SYSLOG_IDENTIFIER")) or _journal_text(entry.get("_COMM"))
    message = _journal_text(entry.get("MESSAGE"))
    if not program or message is None:
        return None, cursor
    raw_pid = _journal_text(entry.get("SYSLOG_PID")) or _journal_text(entry.get("_PID"))
    pid = int(raw_pid) if raw_pid and raw_pid.isdigit() else None
    when = None
    stamp = _journal_text(entry.get("__REALTIME_TIMESTAMP"))
    if stamp and stamp.isdigit():
        when = datetime.fromtimestamp(int(stamp) / 1_000_000, UTC)
    return parse_message(program, pid, message, when, _journal_text(entry.get("_HOSTNAME"))), cursor
