"""The agent loop end to end against a real protocol server on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hostwatch.agent.runner import EXIT_ENROLL_REFUSED, EXIT_OK, run_agent
from hostwatch.agent.spool import Spool
from hostwatch.agent.state import AgentState, load_state, save_state

SLEEP = shutil.which("sleep") or "/bin/sleep"


def _wait_for(condition: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(0.05)


@contextmanager
def _agent(url: str, token: str | None, data_dir: Path) -> Iterator[dict[str, int]]:
    """The agent in a thread of this process; yields a dict that receives its exit code."""
    stop = threading.Event()
    result: dict[str, int] = {}

    def target() -> None:
        result["rc"] = run_agent(
            url,
            token,
            data_dir,
            heartbeat_interval=0.3,
            process_poll_interval=0.2,
            stop_event=stop,
        )

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join(15.0)
    assert not thread.is_alive()


@contextmanager
def _sleeping(argument: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([SLEEP, argument])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _marker() -> str:
    return f"{3600 + secrets.randbelow(10**6) / 10**6:.6f}"


def _spooled_with(data_dir: Path, marker: str) -> int:
    with sqlite3.connect(f"file:{data_dir / 'spool.sqlite3'}?mode=ro", uri=True) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM events WHERE body LIKE ?", (f"%{marker}%",)
            ).fetchone()[0]
        )


def test_run_agent_enrolls_once_and_delivers_inventory_and_events(
    protocol_server, tmp_path: Path
) -> None:
    data_dir = tmp_path / "agent"
    marker = _marker()

    with _agent(protocol_server.url, protocol_server.enroll_token, data_dir) as first:
        _wait_for(lambda: protocol_server.inventories)
        with _sleeping(marker) as proc:
            _wait_for(lambda: protocol_server.event_keys_with(marker))
    with _agent(protocol_server.url, None, data_dir) as second:
        seen = len(protocol_server.heartbeats)
        _wait_for(lambda: len(protocol_server.heartbeats) > seen)

    assert first == {"rc": EXIT_OK}
    assert second == {"rc": EXIT_OK}
    assert protocol_server.enrolls == 1
    assert load_state(data_dir).device_id == protocol_server.device_id
    inventory = protocol_server.inventories[0]
    assert inventory["host"]["hostname"] == os.uname().nodename
    assert any(item["source"] == "dpkg" for item in inventory["software"])
    (key,) = protocol_server.event_keys_with(marker)
    event = protocol_server.events[key]
    assert event["process_id"] == proc.pid
    assert event["parent_process_id"] == os.getpid()
    assert event["process_command_line"] == f"{SLEEP} {marker}"
    status = protocol_server.heartbeats[-1]["status"]
    assert status["dropped_events"] == 0
    assert status["rss_bytes"] > 0


def test_run_agent_spools_during_an_outage_and_delivers_afterwards(
    protocol_server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "agent"
    marker = _marker()

    with (
        caplog.at_level(logging.INFO, logger="hostwatch.agent"),
        _agent(protocol_server.url, protocol_server.enroll_token, data_dir) as result,
    ):
        _wait_for(lambda: protocol_server.inventories)
        protocol_server.stop()
        with _sleeping(marker):
            _wait_for(lambda: _spooled_with(data_dir, marker) == 1)
            protocol_server.start()  # same port
            _wait_for(lambda: protocol_server.event_keys_with(marker))
        _wait_for(lambda: _spooled_with(data_dir, marker) == 0)

    assert result == {"rc": EXIT_OK}
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("server unreachable, keeping telemetry") for m in messages)
    assert any(m.startswith(f"server {protocol_server.url} reachable again") for m in messages)


def test_run_agent_quarantines_a_refused_event_and_delivers_the_rest(
    protocol_server, tmp_path: Path
) -> None:
    data_dir = tmp_path / "agent"
    refused, accepted = _marker(), _marker()
    protocol_server.refuse_marker = refused

    with _agent(protocol_server.url, protocol_server.enroll_token, data_dir) as result:
        _wait_for(lambda: protocol_server.inventories)
        with _sleeping(refused), _sleeping(accepted):
            _wait_for(lambda: protocol_server.event_keys_with(accepted))
            _wait_for(
                lambda: any(
                    "1 events quarantined" in error
                    for beat in protocol_server.heartbeats
                    for error in beat["status"]["errors"]
                )
            )

    spool = Spool(data_dir / "spool.sqlite3")
    quarantined = spool.quarantined()
    spool.close()
    assert result == {"rc": EXIT_OK}
    assert protocol_server.event_keys_with(refused) == []
    assert len(quarantined) == 1
    assert quarantined[0][1] == "HTTP 422: event refused by test marker"


def test_run_agent_retries_enrollment_until_the_server_is_up(
    protocol_server, tmp_path: Path
) -> None:
    data_dir = tmp_path / "agent"
    protocol_server.stop()

    with _agent(protocol_server.url, protocol_server.enroll_token, data_dir) as result:
        time.sleep(1.5)  # at least one refused connection and one retry
        refused_while_down = load_state(data_dir)
        protocol_server.start()  # same port
        _wait_for(lambda: protocol_server.heartbeats)

    assert result == {"rc": EXIT_OK}
    assert refused_while_down is None
    assert protocol_server.enrolls == 1
    assert load_state(data_dir).device_id == protocol_server.device_id


def test_run_agent_without_state_or_token_exits_without_contacting_the_server(
    protocol_server, tmp_path: Path
) -> None:
    rc = run_agent(protocol_server.url, None, tmp_path / "agent", stop_event=threading.Event())

    assert rc == EXIT_ENROLL_REFUSED
    assert protocol_server.requests == []


def test_run_agent_with_a_refused_token_exits_and_saves_no_state(
    protocol_server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "hwe_wrong-token-for-this-test"

    with caplog.at_level(logging.DEBUG):
        rc = run_agent(protocol_server.url, wrong, tmp_path / "agent", stop_event=threading.Event())

    assert rc == EXIT_ENROLL_REFUSED
    assert protocol_server.enrolls == 0
    assert load_state(tmp_path / "agent") is None
    assert all(wrong not in r.getMessage() for r in caplog.records)


def test_run_agent_with_a_refused_credential_keeps_its_spool_and_logs_no_secret(
    protocol_server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "agent"
    data_dir.mkdir(mode=0o700)
    revoked = "hwd_revoked-credential-for-this-test"
    save_state(
        data_dir,
        AgentState("dev-revoked", revoked, protocol_server.url, enrolled_at=datetime.now(UTC)),
    )

    with (
        caplog.at_level(logging.DEBUG),
        _agent(protocol_server.url, protocol_server.enroll_token, data_dir) as result,
    ):
        _wait_for(lambda: any("refuses the credential" in r.getMessage() for r in caplog.records))
        _wait_for(lambda: _spooled_with(data_dir, "ProcessCreated") > 0)
        time.sleep(0.5)  # several heartbeat intervals: no retry storm, no re-enrollment

    spool = Spool(data_dir / "spool.sqlite3")
    left = spool.stats().events
    spool.close()
    assert result == {"rc": EXIT_OK}
    assert protocol_server.enrolls == 0
    assert len([r for r in protocol_server.requests if r[1] == "/api/agent/heartbeat"]) == 1
    assert left > 0
    assert all(revoked not in r.getMessage() for r in caplog.records)
    assert all(protocol_server.enroll_token not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_agent_stops_cleanly_on_a_signal(
    protocol_server, tmp_path: Path, signum: signal.Signals
) -> None:
    script = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from hostwatch.agent.runner import run_agent\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        "sys.exit(run_agent(sys.argv[1], sys.argv[2], Path(sys.argv[3]), heartbeat_interval=0.3))\n"
    )
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            protocol_server.url,
            protocol_server.enroll_token,
            str(tmp_path / "agent"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: protocol_server.inventories and protocol_server.events)
        agent.send_signal(signum)
        started = time.monotonic()
        rc = agent.wait(10)
        took = time.monotonic() - started
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    stderr = agent.stderr.read() if agent.stderr else ""

    assert rc == EXIT_OK
    assert took < 5.0
    assert "agent stopped; 0 events wait in the spool" in stderr
    assert f"enrolled as device {protocol_server.device_id}" in stderr
    assert protocol_server.credential not in stderr
    assert protocol_server.enroll_token not in stderr
