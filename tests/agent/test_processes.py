"""The polling process collector, watching processes these tests start themselves."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psutil
import pytest

from hostwatch import protocol
from hostwatch.agent.processes import ProcessCollector

SLEEP = shutil.which("sleep") or "/bin/sleep"


def _unique_argument() -> str:
    """A duration for `sleep` that no other process on the machine is likely to have."""
    return f"{3600 + secrets.randbelow(10**6) / 10**6:.6f}"


@pytest.fixture
def sleeper() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A `sleep` with an argument no other process has, so its events can be told apart."""
    argument = _unique_argument()
    proc = subprocess.Popen([SLEEP, argument])
    yield proc, argument
    proc.kill()
    proc.wait()


def _for_pid(events: list[protocol.AgentEvent], pid: int) -> list[protocol.AgentEvent]:
    return [event for event in events if event.process_id == pid]


def test_process_collector_reports_a_new_sleep_with_its_parent() -> None:
    collector = ProcessCollector(machine_id="test-machine")
    me = psutil.Process()
    argument = _unique_argument()
    collector.poll()
    proc = subprocess.Popen([SLEEP, argument])

    try:
        events = _for_pid(collector.poll(), proc.pid)
        created = psutil.Process(proc.pid).create_time()
    finally:
        proc.kill()
        proc.wait()

    assert len(events) == 1
    event = events[0]
    assert event.kind == "process"
    assert event.action_type == "ProcessCreated"
    assert event.process_image == os.path.realpath(SLEEP)
    assert event.process_command_line == f"{SLEEP} {argument}"
    assert event.parent_process_id == os.getpid()
    assert event.parent_process_image == me.exe()
    assert event.parent_process_command_line == shlex.join(me.cmdline())
    assert event.user == me.username()
    assert abs(event.time.timestamp() - created) < 0.02
    assert event.time.tzinfo == UTC
    assert event.fields["running_at_agent_start"] is False


def test_process_collector_first_poll_reports_running_processes_once(
    sleeper: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, argument = sleeper
    collector = ProcessCollector(machine_id="test-machine")

    first = collector.poll()
    second = collector.poll()

    mine = _for_pid(first, proc.pid)
    assert [e.process_command_line for e in mine] == [f"{SLEEP} {argument}"]
    assert mine[0].fields["running_at_agent_start"] is True
    assert _for_pid(second, proc.pid) == []
    assert len(first) == len({e.key for e in first})
    assert [e.time for e in first] == sorted(e.time for e in first)


def test_process_collector_key_is_stable_across_restarts_and_machine_specific(
    sleeper: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, _ = sleeper

    before = _for_pid(ProcessCollector(machine_id="m1").poll(), proc.pid)[0]
    after_restart = _for_pid(ProcessCollector(machine_id="m1").poll(), proc.pid)[0]
    other_machine = _for_pid(ProcessCollector(machine_id="m2").poll(), proc.pid)[0]

    assert after_restart.key == before.key
    assert after_restart.process_guid == before.process_guid
    assert other_machine.key != before.key
    assert (
        before.parent_process_guid
        == _for_pid(ProcessCollector(machine_id="m1").poll(), os.getpid())[0].process_guid
    )


def test_process_collector_quotes_arguments_with_spaces() -> None:
    argv = ["/bin/sh", "-c", "sleep 30; : 'it''s'"]
    collector = ProcessCollector(machine_id="test-machine")
    collector.poll()
    proc = subprocess.Popen(argv)

    try:
        event = _for_pid(collector.poll(), proc.pid)[0]
    finally:
        proc.kill()
        proc.wait()

    assert event.process_command_line == "/bin/sh -c 'sleep 30; : '\"'\"'it'\"'\"''\"'\"'s'\"'\"''"
    assert shlex.split(event.process_command_line) == argv


def test_process_collector_thread_hands_new_processes_to_the_sink() -> None:
    collector = ProcessCollector(machine_id="test-machine", interval=0.1)
    received: list[protocol.AgentEvent] = []
    arrived = threading.Event()
    proc: subprocess.Popen[bytes] | None = None

    def sink(events: list[protocol.AgentEvent]) -> None:
        received.extend(events)
        if proc is not None and _for_pid(received, proc.pid):
            arrived.set()

    collector.start(sink)
    try:
        proc = subprocess.Popen([SLEEP, "3601.5"])
        assert arrived.wait(5.0)
    finally:
        collector.stop()
        if proc is not None:
            proc.kill()
            proc.wait()

    event = _for_pid(received, proc.pid)[0]
    assert event.process_command_line == f"{SLEEP} 3601.5"
    assert event.time <= datetime.now(UTC)


def _start(argv: Sequence[str | bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_process_collector_escapes_undecodable_argv_and_keeps_the_other_processes() -> None:
    # Linux passes argv as bytes; b"caf\xe9" is Latin-1, not UTF-8, and reaches Python as
    # "caf\udce9", a lone surrogate the protocol refuses.
    odd_argv = [sys.executable, "-c", "import time; time.sleep(30)", _unique_argument()]
    collector = ProcessCollector(machine_id="test-machine")
    collector.poll()
    children: list[subprocess.Popen[bytes]] = []

    try:
        odd = _start([*odd_argv, b"caf\xe9"])
        children.append(odd)
        plain = _start([SLEEP, _unique_argument()])
        children.append(plain)
        errors: list[str] = []
        events = collector.poll(errors)
    finally:
        for child in children:
            child.kill()
            child.wait()

    [odd_event] = _for_pid(events, odd.pid)
    assert odd_event.process_command_line == shlex.join(odd_argv) + " 'caf\\xe9'"
    assert protocol.AgentEvent.model_validate_json(odd_event.model_dump_json()) == odd_event
    assert len(_for_pid(events, plain.pid)) == 1
    assert errors == []


def test_process_collector_skips_a_failing_process_and_retries_it_next_poll(
    sleeper: tuple[subprocess.Popen[bytes], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, argument = sleeper
    collector = ProcessCollector(machine_id="test-machine")
    build = collector._event

    def fail_for_sleeper(*args: Any) -> protocol.AgentEvent:
        if args[0].pid == proc.pid:
            raise ValueError("transient")
        return build(*args)

    monkeypatch.setattr(collector, "_event", fail_for_sleeper)
    errors: list[str] = []
    first = collector.poll(errors)
    assert _for_pid(first, proc.pid) == []
    assert len(_for_pid(first, os.getpid())) == 1
    assert f"process {proc.pid}: ValueError: transient" in errors

    monkeypatch.setattr(collector, "_event", build)
    retried = _for_pid(collector.poll(), proc.pid)
    assert [e.process_command_line for e in retried] == [f"{SLEEP} {argument}"]
    # It was running when the agent started, even though it is reported one poll late.
    assert retried[0].fields["running_at_agent_start"] is True
    assert _for_pid(collector.poll(), proc.pid) == []


def test_process_collector_thread_reports_a_failing_process_as_an_error(
    sleeper: tuple[subprocess.Popen[bytes], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, _ = sleeper
    collector = ProcessCollector(machine_id="test-machine", interval=0.1)
    build = collector._event

    def fail_for_sleeper(*args: Any) -> protocol.AgentEvent:
        if args[0].pid == proc.pid:
            raise ValueError("broken")
        return build(*args)

    monkeypatch.setattr(collector, "_event", fail_for_sleeper)
    messages: list[str | None] = []
    reported = threading.Event()

    def on_error(message: str | None) -> None:
        messages.append(message)
        if message and f"process {proc.pid}: ValueError: broken" in message:
            reported.set()

    collector.start(lambda events: None, on_error)
    try:
        assert reported.wait(5.0)
    finally:
        collector.stop()
    assert any(m and m.startswith("process collector: ") for m in messages)
