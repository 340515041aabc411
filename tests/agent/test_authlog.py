"""Logons from auth.log and journal lines: real message formats, failures, hostile values."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from hostwatch import protocol
from hostwatch.agent.authlog import parse_auth_line, parse_journal_line, syslog_time
from hostwatch.agent.authtail import AuthLogTail, Position
from hostwatch.agent.logons import Sessions

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


TYPES = {"network": "net", "elevation": "elev", "console": "con"}


def _summary(event: protocol.AgentEvent) -> tuple[object, ...]:
    """Action, user, service, logon type (shortened), address, port, by user, reason."""
    fields = event.fields
    return (
        (event.action_type or "").removeprefix("Logon"),
        event.user,
        fields.get("service"),
        TYPES.get(fields.get("logon_type", ""), fields.get("logon_type")),
        event.remote_address,
        event.remote_port,
        fields.get("by_user"),
        fields.get("reason"),
    )


def _events(lines: list[str]) -> list[protocol.AgentEvent]:
    events = []
    for index, line in enumerate(lines):
        logon = parse_auth_line(line, NOW)
        if logon is not None:
            events.append(logon.event(key=f"k{index}", time=NOW, collector="auth.log"))
    return events


def test_auth_log_lines_become_logons_with_type_source_and_reason() -> None:
    lines = (DATA / "auth.log").read_text().splitlines()

    events = _events(lines)

    assert [_summary(e) for e in events] == [
        ("Success", "alice", "sshd", "net", "192.0.2.10", 51822, None, None),
        ("Failed", "admin", "sshd", "net", "198.51.100.7", 40022, None, "invalid user"),
        ("Failed", "admin", "sshd", "net", "198.51.100.7", 40022, None, "invalid user"),
        ("Failed", "root", "sshd", "net", "198.51.100.7", 40030, None, "wrong credentials"),
        ("Success", "root", "sudo", "elev", None, None, "alice", None),
        ("Failed", "root", "sudo", "elev", None, None, "bob", "3 incorrect password attempts"),
        ("Failed", "root", "sudo", "elev", None, None, "eve", "user NOT in sudoers"),
        ("Success", "nobody", "su", "elev", None, None, "root", None),
        ("Logoff", "nobody", "su", "elev", None, None, None, None),
        ("Failed", "root", "su", "elev", None, None, "bob", "authentication failure"),
        ("Success", "root", "login", "con", None, None, "LOGIN", None),
        ("Failed", "mallory", "login", "con", None, None, None, "Authentication failure"),
        ("Logoff", "alice", "sshd", "net", None, None, None, None),
        ("Success", "carol", "sshd", "net", "2001:db8::5", 60001, None, None),
    ]  # fmt: skip
    sudo = events[4]
    assert sudo.fields["command"] == "/usr/bin/systemctl restart nginx"
    assert sudo.fields["terminal"] == "pts/0"
    assert events[6].fields["command"] == "/bin/sh -c id ; whoami"
    assert events[0].fields["method"] == "publickey"
    assert events[0].time == datetime(2026, 12, 4, 10, 15, 2, 117734, tzinfo=UTC)
    assert events[0].fields["session_key"] == events[12].fields["session_key"]


def test_sessions_open_on_logon_and_close_on_logoff() -> None:
    sessions = Sessions()

    sessions.observe(_events((DATA / "auth.log").read_text().splitlines()))
    current = sessions.current()

    # alice logged off, nobody's su ended; root on the console and carol over ssh remain.
    assert sorted((u.name, u.host) for u in current) == [("carol", "2001:db8::5"), ("root", None)]
    assert all(u.source == "logon events (auth.log)" for u in current)


def test_hostile_names_are_escaped_and_cut() -> None:
    escape = "\x1b]0;owned\x07\x1b[31mroot"
    long_name = "a" * 100_000
    lines = [
        f"2026-12-04T10:00:00+00:00 h sshd[1]: Invalid user {escape} from 203.0.113.9 port 22",
        f"2026-12-04T10:00:01+00:00 h sshd[2]: Failed password for invalid user {long_name} "
        "from 203.0.113.9 port 22 ssh2",
        "2026-12-04T10:00:02+00:00 h sshd[3]: Accepted password for x from not-an-ip port 99999 "
        "ssh2",
        "2026-12-04T10:00:03+00:00 h sudo: \x1b[2J : TTY=pts/0 ; PWD=/ ; USER=r\x00oot ; "
        "COMMAND=/bin/true",
    ]

    events = _events(lines)

    assert events[0].user == "\\x1b]0;owned\\x07\\x1b[31mroot"
    # The whole line is cut to 16 KiB before parsing, so this one no longer matches.
    assert len(events) == 3
    assert events[1].user == "x"
    assert events[1].remote_address is None  # not an address: kept out of the address field
    assert events[1].remote_port is None
    assert events[2].fields["by_user"] == "\\x1b[2J"
    assert events[2].user == "r\\x00oot"
    for event in events:
        assert "\x1b" not in json.dumps(event.model_dump(mode="json"), ensure_ascii=False)


def test_long_user_name_within_the_line_limit_is_cut_to_the_field_size() -> None:
    name = "b" * 5000
    line = f"2026-12-04T10:00:01+00:00 h sshd[2]: Invalid user {name} from 203.0.113.9 port 22"

    (event,) = _events([line])

    assert event.user == "b" * 255


def test_journal_json_lines_with_byte_array_messages() -> None:
    accepted = {
        "__CURSOR": "s=1;i=2a",
        "__REALTIME_TIMESTAMP": "1796378102117734",
        "_HOSTNAME": "web01",
        "SYSLOG_IDENTIFIER": "sshd",
        "_PID": "20114",
        "MESSAGE": "Accepted password for alice from 192.0.2.10 port 51822 ssh2",
    }
    raw = b"Invalid user caf\xe9\x1b[0m from 192.0.2.99 port 4000"
    binary = {
        "__CURSOR": "s=1;i=2b",
        "__REALTIME_TIMESTAMP": "1796378103000000",
        "SYSLOG_IDENTIFIER": "sshd",
        "_PID": "20115",
        "MESSAGE": list(raw),
    }

    first, cursor1 = parse_journal_line(json.dumps(accepted))
    second, cursor2 = parse_journal_line(json.dumps(binary))
    nothing, cursor3 = parse_journal_line('{"__CURSOR": "s=1;i=2c", "MESSAGE": "hello"}')
    broken, cursor4 = parse_journal_line("{not json")

    assert first is not None and second is not None
    event = second.event(key="k", time=NOW, collector="journal")
    assert (first.action, first.user, first.address, first.pid) == (
        "LogonSuccess",
        "alice",
        "192.0.2.10",
        20114,
    )
    assert first.time == datetime.fromtimestamp(1796378102.117734, UTC)
    assert event.user == "caf\\xe9\\x1b[0m"
    assert (cursor1, cursor2, cursor3) == ("s=1;i=2a", "s=1;i=2b", "s=1;i=2c")
    assert nothing is None and broken is None and cursor4 is None


def test_traditional_stamp_takes_the_year_that_is_not_in_the_future() -> None:
    assert syslog_time("Dec 31 23:59:00", NOW).year == 2025
    assert syslog_time("Dec  4 11:00:00", NOW).year == 2026
    assert syslog_time("Foo 99 99:99:99", NOW) is None


def _append(path: Path, *lines: str) -> None:
    with path.open("a") as handle:
        for line in lines:
            handle.write(line + "\n")


LINE = "2026-12-04T10:00:00+00:00 h sshd[{pid}]: Failed password for u{pid} from 192.0.2.1 port 22"


def test_tail_starts_at_the_end_then_survives_rotation_and_restart(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    _append(log, LINE.format(pid=1))
    tail = AuthLogTail(str(log), Position(tmp_path), "m")
    assert tail.read() == []  # the past is not replayed

    _append(log, LINE.format(pid=2))
    first = tail.read()
    _append(log, LINE.format(pid=3))
    log.rename(tmp_path / "auth.log.1")  # logrotate: rename, then a new file
    _append(log, LINE.format(pid=4), "2026-12-04T10:00:00+00:00 h sshd[5]: unfinished")
    log.write_text(log.read_text().rstrip("\n"))
    second = tail.read()
    tail.position.save()

    restarted = AuthLogTail(str(log), Position(tmp_path), "m")
    _append(log, "", LINE.format(pid=6))
    third = restarted.read()

    assert [e.user for e in first] == ["u2"]
    assert [e.user for e in second] == ["u3", "u4"]
    assert [e.user for e in third] == ["u6"]
    keys = [e.key for e in first + second + third]
    assert len(set(keys)) == len(keys)


def test_tail_reads_a_file_truncated_in_place_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    _append(log, LINE.format(pid=1), LINE.format(pid=2))
    tail = AuthLogTail(str(log), Position(tmp_path), "m")
    tail.read()
    _append(log, LINE.format(pid=3))
    assert [e.user for e in tail.read()] == ["u3"]

    os.truncate(log, 0)  # copytruncate
    _append(log, LINE.format(pid=4))

    assert [e.user for e in tail.read()] == ["u4"]
