"""The agent's entry point: `hostwatch agent` runs the agent without the server's modules."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent.conftest import ProtocolServer

SERVER_MODULES = ("hostwatch.db", "hostwatch.api", "hostwatch.auth", "fastapi", "sqlalchemy")


def _imported(importtime_log: str) -> set[str]:
    """Module names from the `-X importtime` report on stderr."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _server_modules(names: set[str]) -> list[str]:
    return sorted(
        name for name in names if any(name == m or name.startswith(m + ".") for m in SERVER_MODULES)
    )


@pytest.mark.parametrize(
    "command",
    [["-m", "hostwatch", "agent"], ["-m", "hostwatch.agent"]],
    ids=["hostwatch-agent-command", "python-m-hostwatch.agent"],
)
def test_agent_entry_enrolls_without_importing_server_modules(
    protocol_server: ProtocolServer, tmp_path: Path, command: list[str]
) -> None:
    env = {**os.environ, "HOSTWATCH_AGENT_PROCESS_SOURCE": "poll"}
    argv = [
        sys.executable,
        "-X",
        "importtime",
        *command,
        "--server",
        protocol_server.url,
        "--enroll-token",
        protocol_server.enroll_token,
        "--data-dir",
        str(tmp_path / "agent"),
        "--heartbeat-interval",
        "0.5",
    ]
    agent = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not protocol_server.heartbeats and time.monotonic() < deadline:
            assert agent.poll() is None, "the agent ended early"
            time.sleep(0.1)
    finally:
        agent.terminate()
        _, stderr = agent.communicate(timeout=30)

    names = _imported(stderr)
    assert protocol_server.enrolls == 1
    assert protocol_server.heartbeats, "no heartbeat within 30 s"
    assert agent.returncode == 0, stderr[-2000:]
    assert "hostwatch.agent.runner" in names  # the report really lists the agent's imports
    assert _server_modules(names) == []


def test_agent_modules_import_no_server_modules() -> None:
    code = (
        "import sys, hostwatch.agent.main, hostwatch.agent.runner, hostwatch.agent.collectors\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()

    assert "hostwatch.agent.runner" in found
    assert _server_modules(set(found)) == []


def test_hostwatch_agent_help_still_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hostwatch", "agent", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )

    assert result.returncode == 0
    for option in ("--server", "--enroll-token", "--data-dir", "--heartbeat-interval"):
        assert option in result.stdout
