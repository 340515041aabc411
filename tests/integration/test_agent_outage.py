"""The agent's spool across a real server outage, and a revoked credential: no loss, no
duplicates. Real server process, real agent process, real processes to observe."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.serverproc import ServerProcess
from sqlalchemy import Engine, func, select

from hostwatch.devices.models import AgentCredential, Device
from hostwatch.events.models import Event

from .procs import start_agent, stop, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "server", database_url=db_url)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _spawn(sleepers: list[subprocess.Popen[bytes]], marker: str, count: int) -> list[int]:
    for i in range(count):
        # The marker rides in argv, where the agent reads the command line.
        sleepers.append(
            subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(120)", f"{marker}-{i}"]
            )
        )
    return [p.pid for p in sleepers[-count:]]


def _marker_events(engine: Engine, marker: str) -> list[tuple[int | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Event.process_id, Event.process_command_line).where(
                Event.process_command_line.like(f"%{marker}%")
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


def _enrolled(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(Device.id)
            .join(AgentCredential)
            .where(Device.inventory_collected_at.is_not(None))
        ).scalar()


def test_spool_survives_server_outage_without_loss_or_duplicates(
    server: ServerProcess, engine: Engine, tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    token = server.cli("enroll-token", "create").strip()
    agent = start_agent(server, tmp_path / "agent", token)
    try:
        wait_for(lambda: _enrolled(engine), 60, "the agent to enroll and send inventory")
        before = _spawn(sleepers, marker := f"hw-up-{uuid.uuid4().hex[:8]}", 3)
        wait_for(lambda: len(_marker_events(engine, marker)) == 3, 30, "events while up")

        server.stop()
        outage = f"hw-down-{uuid.uuid4().hex[:8]}"
        during = _spawn(sleepers, outage, 5)
        # Let the agent observe them and fail to send at least twice.
        wait_for(lambda: _spooled(tmp_path / "agent", outage) == 5, 30, "events spooled")
        server.start()
        wait_for(lambda: len(_marker_events(engine, outage)) == 5, 60, "spooled events to arrive")

        assert agent.poll() is None, "the agent died during the outage"
        assert sorted(pid for pid, _ in _marker_events(engine, outage)) == sorted(during)
        assert sorted(pid for pid, _ in _marker_events(engine, marker)) == sorted(before)
        with engine.connect() as conn:
            keys = conn.execute(
                select(func.count(Event.id), func.count(Event.dedupe_key.distinct()))
            ).one()
        assert keys[0] == keys[1]
        wait_for(lambda: _spooled(tmp_path / "agent", outage) == 0, 30, "the spool to drain")
    finally:
        assert stop(agent) == 0


def test_revoked_credential_gets_401_and_agent_keeps_its_spool(
    server: ServerProcess, engine: Engine, tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    token = server.cli("enroll-token", "create").strip()
    agent = start_agent(server, tmp_path / "agent", token)
    try:
        device_id = wait_for(lambda: _enrolled(engine), 60, "the agent to enroll")
        server.cli(
            "users", "create", "boss", "--role", "admin", "--password-stdin", stdin="p" * 16 + "\n"
        )
        api_token = server.cli("tokens", "create", "--user", "boss").strip()
        revoked = httpx.post(
            f"{server.url}/api/devices/{device_id}/agent/revoke",
            headers={"Authorization": f"Bearer {api_token}"},
        )
        assert revoked.status_code == 204

        marker = f"hw-revoked-{uuid.uuid4().hex[:8]}"
        _spawn(sleepers, marker, 4)
        wait_for(lambda: _spooled(tmp_path / "agent", marker) == 4, 30, "events kept in the spool")

        assert agent.poll() is None, "the agent exited on a revoked credential"
        assert _marker_events(engine, marker) == []
    finally:
        stop(agent)


def _spooled(agent_dir: Path, marker: str) -> int:
    path = agent_dir / "spool.sqlite3"
    if not path.exists():
        return -1
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(
            "SELECT count(*) FROM events WHERE body LIKE ?", (f"%{marker}%",)
        ).fetchone()[0]
