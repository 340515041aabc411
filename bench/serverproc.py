"""Starts a real Hostwatch server process on a free loopback port, for benchmarks and tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """`hostwatch serve` in a child process; start, stop and start again on the same port."""

    data_dir: Path
    database_url: str = ""
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "HOSTWATCH_DATA_DIR": str(self.data_dir), **self.extra_env}
        if self.database_url:
            env["HOSTWATCH_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str, stdin: str | None = None, exit_codes: tuple[int, ...] = (0,)) -> str:
        """Run a `hostwatch` subcommand against the same database; returns its stdout.

        An exit status not in `exit_codes` raises (3, a partial import, may be expected)."""
        result = subprocess.run(
            [sys.executable, "-m", "hostwatch", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode not in exit_codes:
            raise RuntimeError(f"hostwatch {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path or self.data_dir / "server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hostwatch",
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/api/auth/me", timeout=1).status_code == 401:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
