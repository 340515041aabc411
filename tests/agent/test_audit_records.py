"""Audit record parsing and assembly, on record text in the shape the kernel sends it."""

from __future__ import annotations

import pytest

from hostwatch.agent.audit.netlink import (
    AUDIT_ARCH,
    AUDIT_ARCH_X86_64,
    AUDIT_EQUAL,
    AUDIT_EXIT,
    AuditRule,
    RuleField,
)
from hostwatch.agent.audit.records import (
    CWD,
    EOE,
    EXECVE,
    PATH,
    PROCTITLE,
    SOCKADDR,
    SYSCALL,
    Assembler,
    AuditEvent,
    RecordError,
    decode_sockaddr,
    parse_record,
)
from hostwatch.agent.audit.rules import DEFAULT_KEY, agent_rules
from hostwatch.agent.bounds import LONG, fit
from hostwatch.agent.processes import command_line

HEADER = b"audit(1796409555.977:121): "
EXEC_SYSCALL = (
    b"arch=c000003e syscall=59 success=yes exit=0 a0=55adb25babe8 a1=55adb25bac50 "
    b"a2=55adb25bac70 a3=8 items=2 ppid=13682 pid=13688 auid=1000 uid=0 gid=0 euid=0 "
    b'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="true" exe="/usr/bin/true" '
    b'subj=unconfined key="hostwatch-agent"'
)


def _event(*records: tuple[int, bytes], serial: int = 121) -> AuditEvent:
    assembler = Assembler()
    done: list[AuditEvent] = []
    header = f"audit(1796409555.977:{serial}): ".encode()
    for kind, body in (*records, (EOE, b"")):
        done += assembler.add(parse_record(kind, header + body), now=0.0)
    assert len(done) == 1
    return done[0]


def test_audit_records_header_gives_time_and_serial() -> None:
    record = parse_record(SYSCALL, HEADER + EXEC_SYSCALL)

    assert (record.seconds, record.millis, record.serial) == (1796409555, 977, 121)
    assert record.number("pid") == 13688
    assert record.number("arch", 16) == AUDIT_ARCH_X86_64
    assert record.text("exe") == "/usr/bin/true"
    assert record.text("key") == "hostwatch-agent"
    assert record.text("tty") == "pts0"


def test_audit_records_without_header_are_refused_naming_the_type() -> None:
    with pytest.raises(RecordError, match="type 1300"):
        parse_record(SYSCALL, b"arch=c000003e syscall=59")


def test_audit_records_bad_number_names_record_and_field() -> None:
    record = parse_record(SYSCALL, HEADER + b"pid=12ab")

    with pytest.raises(RecordError, match="serial 121: field pid"):
        record.number("pid")


def test_audit_records_hex_arguments_are_decoded() -> None:
    # A space, a quote and a non-UTF-8 byte each make the kernel log the argument as hex.
    event = _event(
        (SYSCALL, EXEC_SYSCALL),
        (EXECVE, b'argc=4 a0="/bin/true" a1=6172672077697468207370616365 a2=22 a3=E9'),
    )

    argv, missing = event.argv()

    assert argv == ["/bin/true", "arg with space", '"', "\udce9"]
    assert missing is False
    line, _ = fit(command_line(argv), LONG)
    assert line == "/bin/true 'arg with space' '\"' '\\xe9'"


def test_audit_records_split_long_argument_is_joined_across_records() -> None:
    # The kernel's shape for a long argument: aN_len counts logged characters (two per byte
    # in hex), pieces aN[i] may continue in the next EXECVE record, and a piece may cut a
    # multi-byte character in two.
    text = "x" * 9 + " é"
    raw = text.encode()
    hexed = raw.hex().upper().encode()
    event = _event(
        (SYSCALL, EXEC_SYSCALL),
        (EXECVE, b'argc=3 a0="/bin/true" a1_len=%d a1[0]=%s' % (len(hexed), hexed[:12])),
        (EXECVE, b" a1[1]=%s" % hexed[12:22]),
        (EXECVE, b' a1[2]=%s a2="short"' % hexed[22:]),
    )

    argv, missing = event.argv()

    assert argv == ["/bin/true", text, "short"]
    assert missing is False


def test_audit_records_split_argument_with_a_lost_piece_is_flagged() -> None:
    event = _event(
        (SYSCALL, EXEC_SYSCALL),
        (EXECVE, b'argc=2 a0="/bin/true" a1_len=12 a1[0]="abcd"'),
        (EXECVE, b' a1[2]="ijkl"'),
    )

    argv, missing = event.argv()

    assert argv == ["/bin/true", "abcdijkl"]
    assert missing is True


def test_audit_records_missing_arguments_are_flagged() -> None:
    event = _event((SYSCALL, EXEC_SYSCALL), (EXECVE, b'argc=3 a0="/bin/true" a1="one"'))

    assert event.argv() == (["/bin/true", "one"], True)


def test_audit_records_proctitle_cwd_and_paths() -> None:
    event = _event(
        (SYSCALL, EXEC_SYSCALL),
        (CWD, b"cwd=2F746D702F6120646972"),
        (PATH, b'item=0 name="/bin/true" inode=261009 dev=fe:00 mode=0100755 nametype=NORMAL'),
        (PROCTITLE, b"proctitle=2F62696E2F7472756500617267"),
    )

    assert event.cwd() == "/tmp/a dir"
    assert [path.number("inode") for path in event.paths()] == [261009]
    assert event.proctitle() == ["/bin/true", "arg"]
    assert event.complete is True


def test_audit_records_missing_eoe_is_given_up_after_max_age() -> None:
    assembler = Assembler(max_age=2.0)
    first = parse_record(SYSCALL, HEADER + EXEC_SYSCALL)
    other = parse_record(SYSCALL, b"audit(1796409556.100:122): " + EXEC_SYSCALL)

    assert assembler.add(first, now=10.0) == []
    assert assembler.add(other, now=11.0) == []
    expired = assembler.expire(now=12.5)

    assert [event.serial for event in expired] == [121]
    assert expired[0].complete is False
    assert assembler.incomplete == 1
    assert len(assembler) == 1


def test_audit_records_pending_events_are_bounded() -> None:
    assembler = Assembler(max_pending=3, max_age=60.0)
    handed: list[AuditEvent] = []

    for serial in range(10):
        record = parse_record(SYSCALL, f"audit(1796409556.100:{serial}): ".encode() + EXEC_SYSCALL)
        handed += assembler.add(record, now=0.0)

    assert len(assembler) == 3
    assert [event.serial for event in handed] == list(range(7))
    assert assembler.incomplete == 7


def test_audit_records_stand_alone_records_do_not_count_as_incomplete() -> None:
    assembler = Assembler(max_age=1.0)
    change = parse_record(1305, b'audit(1796409556.100:5): op=add_rule key="x" res=1')

    assembler.add(change, now=0.0)
    expired = assembler.expire(now=5.0)

    assert [event.serial for event in expired] == [5]
    assert assembler.incomplete == 0


def test_audit_records_sockaddr_inet() -> None:
    # 127.0.0.1 port 8080, as struct sockaddr_in with its zero padding.
    address = decode_sockaddr(bytes.fromhex("02001F907F0000010000000000000000"))

    assert (address.family, address.address, address.port) == ("inet", "127.0.0.1", 8080)


def test_audit_records_sockaddr_inet6() -> None:
    raw = bytes.fromhex("0A0001BB00000000" + "20010DB8000000000000000000000001" + "00000000")

    address = decode_sockaddr(raw)

    assert (address.family, address.address, address.port) == ("inet6", "2001:db8::1", 443)


def test_audit_records_sockaddr_unix_path_and_abstract() -> None:
    path = decode_sockaddr(b"\x01\x00/run/docker.sock\x00\x00\x00")
    abstract = decode_sockaddr(b"\x01\x00\x00hidden\xff")

    assert (path.family, path.path) == ("unix", "/run/docker.sock")
    assert (abstract.family, abstract.path) == ("unix", "@hidden\udcff")


def test_audit_records_sockaddr_from_event_and_other_families() -> None:
    event = _event(
        (SYSCALL, EXEC_SYSCALL.replace(b"syscall=59", b"syscall=42")),
        (SOCKADDR, b"saddr=02000035C0A80001"),
    )

    address = event.sockaddr()

    assert address is not None
    assert (address.address, address.port) == ("192.168.0.1", 53)
    assert decode_sockaddr(bytes.fromhex("10000000")).family == "family 16"


def test_audit_rule_encodes_and_decodes_unchanged() -> None:
    rule = AuditRule(
        frozenset({42, 288}),
        (
            RuleField(AUDIT_ARCH, AUDIT_EQUAL, AUDIT_ARCH_X86_64),
            RuleField(AUDIT_EXIT, AUDIT_EQUAL, -115),
            RuleField.key("some-key"),
        ),
    )

    decoded = AuditRule.decode(rule.encode())

    assert decoded.syscalls == frozenset({42, 288})
    assert decoded.keys == ["some-key"]
    assert decoded.fields[1].value == 2**32 - 115
    assert decoded.encode() == AuditRule(decoded.syscalls, decoded.fields).encode()


def test_audit_agent_rules_all_carry_the_key_on_both_arches() -> None:
    rules = agent_rules(machine="x86_64")

    assert all(rule.keys == [DEFAULT_KEY] for rule in rules)
    arches = {field.value for rule in rules for field in rule.fields if field.field == AUDIT_ARCH}
    assert arches == {0xC000003E, 0x40000003}
    syscalls = set().union(*(rule.syscalls for rule in rules))
    assert {59, 322, 231, 42, 43, 288, 11, 358, 252, 362, 364} <= syscalls
