"""The audit collector against the real kernel: processes and connections these tests make,
and the audit rules it adds and removes. Needs root and a kernel with audit support."""

from __future__ import annotations

import hashlib
import os
import pwd
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hostwatch import protocol
from hostwatch.agent.audit.collector import AuditCollector, Limits
from hostwatch.agent.audit.netlink import (
    AUDIT_ARCH,
    AUDIT_ARCH_X86_64,
    AUDIT_DIR,
    AUDIT_EQUAL,
    AuditBusy,
    AuditRule,
    AuditSocket,
    AuditUnavailable,
    RuleField,
)
from hostwatch.agent.audit.rules import agent_rules, exec_drop_rules, rules_with_key, watch_rule
from hostwatch.agent.processes import ProcessCollector, _read_stat
from hostwatch.agent.runner import run_agent

REBOOT = 169  # x86_64 reboot(2): a syscall the tests' own rule can watch without firing


def _audit_or_skip() -> None:
    try:
        with AuditSocket() as sock:
            sock.status()
    except AuditUnavailable as exc:
        pytest.skip(f"the kernel audit interface is not available here: {exc}")


class _Events:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[protocol.AgentEvent] = []

    def add(self, events: list[protocol.AgentEvent]) -> None:
        with self.lock:
            self.items.extend(events)

    def where(self, test: Callable[[protocol.AgentEvent], bool]) -> list[protocol.AgentEvent]:
        with self.lock:
            return [event for event in self.items if test(event)]

    def wait(
        self, test: Callable[[protocol.AgentEvent], bool], count: int = 1, timeout: float = 15.0
    ) -> list[protocol.AgentEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.where(test)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s: {len(self.where(test))} of {count}")


@pytest.fixture
def collector() -> Iterator[tuple[AuditCollector, _Events]]:
    _audit_or_skip()
    events = _Events()
    key = f"hostwatch-test-{uuid.uuid4().hex[:8]}"
    started = AuditCollector("test-machine", key=key, report_running=False)
    started.start(events.add)
    try:
        yield started, events
    finally:
        started.stop()
        with AuditSocket() as sock:
            assert rules_with_key(sock, key) == []


def _guid_of(pid: int) -> str:
    stat = _read_stat(pid)
    assert stat is not None
    return ProcessCollector("test-machine").process_guid(pid, stat[2])


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_audit_collector_reports_children_linked_to_their_parent(
    collector: tuple[AuditCollector, _Events], tmp_path: Path
) -> None:
    _, events = collector
    me = pwd.getpwuid(os.getuid()).pw_name

    shell = subprocess.Popen(["sh", "-c", "sleep 0.1; /bin/true arg-with-space"], cwd=tmp_path)
    my_guid = _guid_of(os.getpid())
    shell.wait()
    created = events.wait(
        lambda e: (
            e.action_type == "ProcessCreated"
            and (e.process_id == shell.pid or e.parent_process_id == shell.pid)
        ),
        count=3,
    )

    by_image = {event.process_image: event for event in created}
    sh = by_image[os.path.realpath("/bin/sh")]
    true = by_image[os.path.realpath("/bin/true")]
    sleep = by_image[os.path.realpath("/bin/sleep")]
    assert sh.process_id == shell.pid
    assert sh.parent_process_id == os.getpid()
    assert sh.parent_process_guid == my_guid
    assert sh.process_command_line == "sh -c 'sleep 0.1; /bin/true arg-with-space'"
    assert sh.parent_process_image == os.path.realpath(sys.executable)
    assert sh.user == me
    assert sh.fields["effective_user"] == me
    assert sh.fields["cwd"] == str(tmp_path)
    assert sh.process_sha256 == _sha256(os.path.realpath("/bin/sh"))
    assert sh.event_code == "execve"
    assert abs(sh.time.timestamp() - time.time()) < 30
    assert true.process_command_line == "/bin/true arg-with-space"
    assert true.parent_process_id == shell.pid
    assert true.parent_process_guid == sh.process_guid
    assert true.parent_process_command_line == sh.process_command_line
    assert true.process_sha256 == _sha256(os.path.realpath("/bin/true"))
    assert sleep.process_command_line == "sleep 0.1"
    assert sleep.parent_process_guid == sh.process_guid
    assert len({sh.process_guid, true.process_guid, sleep.process_guid}) == 3
    assert sleep.time <= true.time

    (ended,) = events.wait(
        lambda e: e.action_type == "ProcessTerminated" and e.process_id == true.process_id
    )
    assert ended.process_guid == true.process_guid
    assert ended.fields["exit_code"] == 0


def test_audit_collector_guid_matches_the_poller_for_the_same_process(
    collector: tuple[AuditCollector, _Events],
) -> None:
    _, events = collector
    child = subprocess.Popen(["sleep", "30"])
    try:
        (audited,) = events.wait(
            lambda e: e.action_type == "ProcessCreated" and e.process_id == child.pid
        )
        polled = [event for event in ProcessCollector("test-machine").poll()]
    finally:
        child.kill()
        child.wait()

    (same,) = [event for event in polled if event.process_id == child.pid]
    assert audited.process_guid == same.process_guid
    assert audited.fields["guid_source"] == "proc"


def test_audit_collector_long_and_non_utf8_arguments_are_whole_and_escaped(
    collector: tuple[AuditCollector, _Events],
) -> None:
    _, events = collector
    long = "x" * 9000
    marker = uuid.uuid4().hex

    subprocess.run([b"/bin/true", marker.encode(), long.encode(), b"caf\xe9"], check=True)
    (event,) = events.wait(
        lambda e: e.action_type == "ProcessCreated" and marker in (e.process_command_line or "")
    )

    assert event.process_command_line == f"/bin/true {marker} {long} 'caf\\xe9'"
    assert "command_line_incomplete" not in event.fields


def test_audit_collector_reports_outbound_and_inbound_tcp_with_both_ends(
    collector: tuple[AuditCollector, _Events],
) -> None:
    _, events = collector
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    # The collector's own process is never audited (the kernel skips the audit daemon), so
    # both ends run in children: one accepts on the test's listener, one connects to it.
    acceptor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(fileno=int(sys.argv[1]))\n"
            "c, peer = s.accept()\n"
            "print(peer[1], flush=True)\n"
            "time.sleep(1)\n",
            str(listener.fileno()),
        ],
        pass_fds=[listener.fileno()],
        stdout=subprocess.PIPE,
    )
    connector = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
            "print(c.getsockname()[1], flush=True)\n"
            "time.sleep(1)\n",
            str(port),
        ],
        stdout=subprocess.PIPE,
    )
    listener.close()
    local_port = int(connector.communicate(timeout=30)[0])
    peer_port = int(acceptor.communicate(timeout=30)[0])

    (outbound,) = events.wait(
        lambda e: e.kind == "network" and e.process_id == connector.pid and e.remote_port == port
    )
    (inbound,) = events.wait(lambda e: e.kind == "network" and e.process_id == acceptor.pid)
    (started,) = events.wait(
        lambda e: e.action_type == "ProcessCreated" and e.process_id == connector.pid
    )

    assert peer_port == local_port
    assert outbound.action_type == "NetworkConnection"
    assert outbound.event_code == "connect"
    assert outbound.fields["direction"] == "outbound"
    assert outbound.fields["protocol"] == "tcp"
    assert (outbound.remote_address, outbound.remote_port) == ("127.0.0.1", port)
    assert (outbound.local_address, outbound.local_port) == ("127.0.0.1", local_port)
    assert outbound.process_guid == started.process_guid
    assert outbound.process_image == os.path.realpath(sys.executable)
    assert inbound.fields["direction"] == "inbound"
    assert inbound.event_code in ("accept", "accept4")
    assert (inbound.remote_address, inbound.remote_port) == ("127.0.0.1", local_port)
    assert (inbound.local_address, inbound.local_port) == ("127.0.0.1", port)
    assert inbound.fields["protocol"] == "tcp"


def test_audit_collector_reports_cron_and_tmp_executables_with_the_writing_process(
    collector: tuple[AuditCollector, _Events],
) -> None:
    _, events = collector
    tag = uuid.uuid4().hex[:10]
    cron = f"/etc/cron.d/hostwatch-test-{tag}"
    dropped = f"/tmp/hostwatch-test-{tag}.sh"
    plain = f"/tmp/hostwatch-test-{tag}.txt"
    script = (
        f"printf '* * * * * root true\\n' > {cron}; mv {cron} {cron}.moved; "
        f"rm {cron}.moved; printf '#!/bin/sh\\n' > {dropped}; chmod 755 {dropped}; "
        f"echo notes > {plain}; rm {plain}"
    )
    try:
        shell = subprocess.Popen(["sh", "-c", script])
        assert shell.wait(timeout=30) == 0
        changes = events.wait(lambda e: e.kind == "file" and tag in (e.target_file or ""), 4)
        (started,) = events.wait(
            lambda e: e.action_type == "ProcessCreated" and e.process_id == shell.pid
        )
    finally:
        for path in (cron, f"{cron}.moved", dropped, plain):
            Path(path).unlink(missing_ok=True)

    by_action = {(e.action_type, e.target_file): e for e in changes}
    created = by_action[("FileCreated", cron)]
    renamed = by_action[("FileRenamed", f"{cron}.moved")]
    deleted = by_action[("FileDeleted", f"{cron}.moved")]
    chmodded = by_action[("FileModified", dropped)]
    assert created.process_id == shell.pid
    assert created.process_guid == started.process_guid
    assert created.process_command_line == started.process_command_line
    assert created.process_image == os.path.realpath("/bin/sh")
    assert created.user == pwd.getpwuid(os.getuid()).pw_name
    assert created.fields["watch"] == "cron"
    assert renamed.fields["old_name"] == cron
    assert renamed.process_image == os.path.realpath("/bin/mv")
    assert renamed.parent_process_id == shell.pid
    assert deleted.process_image == os.path.realpath("/bin/rm")
    assert chmodded.event_code in ("fchmodat", "fchmodat2", "chmod")
    assert chmodded.fields["watch"] == "temp-executable"
    assert chmodded.process_command_line == f"chmod 755 {dropped}"
    assert chmodded.parent_process_id == shell.pid
    # Files in /tmp that never become executable are left out.
    assert not [e for e in changes if e.target_file == plain]
    time.sleep(0.5)
    everything = events.where(lambda e: e.kind == "file" and tag in (e.target_file or ""))
    assert len(everything) == 4, [(e.action_type, e.target_file) for e in everything]


def test_audit_collector_reports_su_as_an_elevation_logon_and_its_failure(
    collector: tuple[AuditCollector, _Events],
) -> None:
    _, events = collector

    su = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", "true"], timeout=30)
    # As nobody, su to root with a wrong password: PAM refuses it.
    refused = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "su", "root", "-c", "true"],
        input=b"wrong-password\n",
        capture_output=True,
        timeout=30,
    )
    opened = events.wait(lambda e: e.action_type == "LogonSuccess" and e.user == "nobody")
    closed = events.wait(lambda e: e.action_type == "Logoff" and e.user == "nobody")
    failed = events.wait(lambda e: e.action_type == "LogonFailed" and e.user == "root", timeout=20)

    assert su.returncode == 0
    assert refused.returncode != 0
    logon = opened[-1]
    assert logon.kind == "logon"
    assert logon.fields["logon_type"] == "elevation"
    assert logon.fields["service"] == "su"
    assert logon.fields["by_user"] == pwd.getpwuid(os.getuid()).pw_name
    assert logon.process_image == os.path.realpath("/usr/bin/su")
    assert closed[-1].fields["session_key"] == logon.fields["session_key"]
    assert failed[-1].fields["by_user"] == "nobody"
    assert failed[-1].fields["pam_op"] == "PAM:authentication"
    assert failed[-1].fields["logon_type"] == "elevation"


def test_audit_collector_summarizes_starts_over_the_rate_per_image() -> None:
    _audit_or_skip()
    events = _Events()
    limits = Limits(process_rate=1.0, process_burst=5.0, summary_interval=0.5)
    agent = AuditCollector(
        "test-machine",
        key=f"hostwatch-test-storm-{uuid.uuid4().hex[:8]}",
        limits=limits,
        report_running=False,
    )
    marker = uuid.uuid4().hex
    agent.start(events.add)
    try:
        # 40 starts of one image in about a second, far over one a second.
        subprocess.run(["sh", "-c", f"for i in $(seq 40); do /bin/true {marker}; done"], check=True)
        time.sleep(1.0)
    finally:
        agent.stop()

    built = events.where(
        lambda e: e.action_type == "ProcessCreated" and marker in (e.process_command_line or "")
    )
    summaries = events.where(lambda e: e.action_type == "ProcessStormSummary")
    folded = sum(
        s.fields["process_starts"].get(os.path.realpath("/bin/true"), 0) for s in summaries
    )
    assert summaries, "no summary event"
    assert 1 <= len(built) <= 10
    assert len(built) + folded >= 40
    assert agent.counters()["summarized"] >= folded
    assert agent.counters()["dropped"] == 0


def test_audit_collector_stop_removes_its_rules_and_keeps_everyone_elses() -> None:
    _audit_or_skip()
    other_key = f"hostwatch-test-admin-{uuid.uuid4().hex[:8]}"
    agent_key = f"hostwatch-test-agent-{uuid.uuid4().hex[:8]}"
    admin_rule = AuditRule(
        frozenset({REBOOT}),
        (RuleField(AUDIT_ARCH, AUDIT_EQUAL, AUDIT_ARCH_X86_64), RuleField.key(other_key)),
    )
    # An administrator's watch too: its perm field is a number, its dir a string.
    admin_watch = watch_rule("/etc/cron.d", True, other_key)
    with AuditSocket() as sock:
        sock.add_rule(admin_rule)
        sock.add_rule(admin_watch)
        try:
            before = [rule.encode() for rule in sock.list_rules()]
            agent = AuditCollector("test-machine", key=agent_key, report_running=False)
            agent.start(lambda events: None)
            try:
                during = rules_with_key(sock, agent_key)
                assert agent.watches is not None
                installed = agent.watches.installed
            finally:
                agent.stop()
            after = [rule.encode() for rule in sock.list_rules()]
        finally:
            admins = rules_with_key(sock, other_key)
            for rule in admins:
                sock.delete_rule(rule)

        exec_dirs = [path for path, _ in installed if path in ("/tmp", "/dev/shm")]
        expected = (
            len(agent_rules(agent_key))
            + sum(len(exec_drop_rules(path, agent_key)) for path in exec_dirs)
            + len(installed)
            - len(exec_dirs)
        )
        assert len(during) == expected
        assert ("/etc/cron.d", True) in installed
        assert rules_with_key(sock, agent_key) == []
        assert after == before
        assert admin_rule.encode() in after
        watched_dirs = [f.value for rule in admins for f in rule.fields if f.field == AUDIT_DIR]
        assert watched_dirs == ["/etc/cron.d"]
        assert sock.status().pid == 0


def test_audit_collector_sees_execs_that_an_earlier_rule_also_matches() -> None:
    _audit_or_skip()
    other_key = f"hostwatch-test-admin-{uuid.uuid4().hex[:8]}"
    # An administrator's exec rule, added first: the kernel logs a syscall with the key of
    # the first rule that matches, so the agent must put its rules ahead of it.
    admin_rule = AuditRule(
        frozenset({59, 322}),
        (RuleField(AUDIT_ARCH, AUDIT_EQUAL, AUDIT_ARCH_X86_64), RuleField.key(other_key)),
    )
    events = _Events()
    marker = uuid.uuid4().hex
    with AuditSocket() as sock:
        sock.add_rule(admin_rule)
        try:
            agent = AuditCollector(
                "test-machine",
                key=f"hostwatch-test-{uuid.uuid4().hex[:8]}",
                report_running=False,
                watch_files=False,
            )
            agent.start(events.add)
            try:
                subprocess.run(["/bin/true", marker], check=True)
                found = events.wait(lambda e: marker in (e.process_command_line or ""))
            finally:
                agent.stop()
        finally:
            for rule in rules_with_key(sock, other_key):
                sock.delete_rule(rule)

    assert found[0].action_type == "ProcessCreated"


def test_audit_collector_start_removes_rules_left_by_a_crashed_run() -> None:
    _audit_or_skip()
    key = f"hostwatch-test-crash-{uuid.uuid4().hex[:8]}"
    with AuditSocket() as sock:
        # What a killed agent leaves: its rules, but no daemon (the kernel frees the slot).
        for rule in [*agent_rules(key)[:2], watch_rule("/etc/cron.d", True, key)]:
            sock.add_rule(rule)
        agent = AuditCollector("test-machine", key=key, report_running=False, watch_files=False)
        try:
            agent.start(lambda events: None)
            during = rules_with_key(sock, key)
        finally:
            agent.stop()
            for rule in rules_with_key(sock, key):  # if start failed, the test's own rules
                sock.delete_rule(rule)

        assert len(during) == len(agent_rules(key))
        assert rules_with_key(sock, key) == []


def test_audit_collector_refuses_a_taken_daemon_slot_and_changes_nothing() -> None:
    _audit_or_skip()
    key = f"hostwatch-test-busy-{uuid.uuid4().hex[:8]}"
    with AuditSocket() as holder, AuditSocket() as sock:
        holder.register()
        try:
            before = sock.status()
            agent = AuditCollector("test-machine", key=key, report_running=False)
            with pytest.raises(AuditBusy, match=f"held by pid {os.getpid()}"):
                agent.start(lambda events: None)
            assert rules_with_key(sock, key) == []
            assert sock.status().enabled == before.enabled
        finally:
            holder.unregister()


def test_run_agent_falls_back_to_polling_and_says_why_when_audit_is_taken(
    protocol_server, tmp_path: Path
) -> None:
    _audit_or_skip()
    stop = threading.Event()
    result: dict[str, int] = {}
    with AuditSocket() as holder:
        holder.register()
        try:
            thread = threading.Thread(
                target=lambda: result.update(
                    rc=run_agent(
                        protocol_server.url,
                        protocol_server.enroll_token,
                        tmp_path / "agent",
                        heartbeat_interval=0.3,
                        process_poll_interval=0.2,
                        stop_event=stop,
                    )
                ),
                daemon=True,
            )
            thread.start()
            deadline = time.monotonic() + 20
            while not any(b["status"].get("process_source") for b in protocol_server.heartbeats):
                assert time.monotonic() < deadline, "no heartbeat with a process source"
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(15)
            holder.unregister()

    status = next(
        b["status"] for b in protocol_server.heartbeats if b["status"].get("process_source")
    )
    assert result == {"rc": 0}
    assert status["process_source"] == "poll"
    assert any("another audit daemon is running" in error for error in status["errors"])
    assert any(f"held by pid {os.getpid()}" in error for error in status["errors"])
