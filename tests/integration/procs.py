"""Real server and agent processes for integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from bench.serverproc import ServerProcess

T = TypeVar("T")


def start_agent(
    server: ServerProcess,
    data_dir: Path,
    enroll_token: str | None,
    heartbeat: float = 1.0,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """`hostwatch agent` in a child process; `prefix` runs it through another command (e.g.
    `ip netns exec NS`)."""
    env = {**os.environ, **(env or {})}
    if enroll_token:
        env["HOSTWATCH_ENROLL_TOKEN"] = enroll_token
    log = open(data_dir.parent / f"{data_dir.name}.log", "ab")  # noqa: SIM115
    try:
        return subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "hostwatch",
                "agent",
                "--server",
                server.url,
                "--data-dir",
                str(data_dir),
                "--heartbeat-interval",
                str(heartbeat),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
