"""The main job: `hostwatch up` brings up server and agent, and this machine appears with its
real facts; Ctrl-C stops both; a second run reuses the database."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil
import pytest
from bench.serverproc import free_port

from .procs import wait_for

pytestmark = pytest.mark.slow

PASSWORD = "an admin password for the test"
URL_LINE = re.compile(r"profile: (http://\S+/devices/([0-9a-f-]{36}))")


class Up:
    """`hostwatch up` in its own process group, as a terminal would run it."""

    def __init__(self, data_dir: Path, port: int) -> None:
        env = {
            **os.environ,
            "HOSTWATCH_DATA_DIR": str(data_dir),
            "HOSTWATCH_ADMIN_PASSWORD": PASSWORD,
        }
        env.pop("HOSTWATCH_DATABASE_URL", None)
        self.lines: list[str] = []
        self.found = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hostwatch", "up", "--port", str(port)],
            env=env,
            cwd=data_dir.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if URL_LINE.search(line):
                self.found.set()

    def profile_url(self) -> tuple[str, str]:
        assert self.found.wait(120), "no profile URL printed:\n" + "".join(self.lines[-40:])
        match = next(m for m in map(URL_LINE.search, self.lines) if m)
        return match.group(1), match.group(2)

    def kill_launcher(self) -> int:
        """`kill PID` of the launcher alone: it must still stop what it started."""
        self.process.terminate()
        return self.process.wait(timeout=40)

    def ctrl_c(self) -> int:
        # The terminal sends SIGINT to the whole foreground group.
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=40)


def _children_gone(pid_group: int) -> bool:
    return not [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pid_group]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _dpkg_count() -> int:
    out = subprocess.run(["dpkg-query", "-W"], capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def _os_release() -> dict[str, str]:
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    return values


def test_up_enrolls_this_machine_with_real_facts(tmp_path: Path) -> None:
    port = free_port()
    up = Up(tmp_path / "var", port)
    try:
        url, device_id = up.profile_url()
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        login = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code == 200

        detail = wait_for(
            lambda: (
                (d := client.get(f"/api/devices/{device_id}").json())["inventory"]["collected_at"]
                and d
            ),
            60,
            "the first inventory",
        )
        dpkg = client.get(f"/api/devices/{device_id}/software?source=dpkg&limit=1").json()

        assert url == f"http://127.0.0.1:{port}/devices/{device_id}"
        assert detail["details"]["hostname"] == socket.gethostname()
        assert detail["details"]["os_name"] == _os_release()["PRETTY_NAME"]
        assert detail["details"]["os_kernel"] == os.uname().release
        expected_ips = {
            a.address.split("%")[0]
            for addrs in psutil.net_if_addrs().values()
            for a in addrs
            if a.family in (socket.AF_INET, socket.AF_INET6)
            and not a.address.startswith(("127.", "::1"))
        }
        assert set(detail["details"]["ip_addresses"]) == expected_ips
        # From the system's own session records: none here when there is no utmp.
        assert [(u["name"], u["terminal"]) for u in detail["logged_on_users"]] == [
            (u.name, u.terminal) for u in psutil.users()
        ]
        assert dpkg["total"] == _dpkg_count()
        assert detail["sources"] == ["agent"]
        assert detail["details"]["health_reasons"] == []
        assert detail["details"]["health_state"] == "active"
    finally:
        assert up.ctrl_c() == 0
    assert _children_gone(up.process.pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/auth/me", timeout=2)

    again = Up(tmp_path / "var", port)
    try:
        _, second_id = again.profile_url()
        assert second_id == device_id
        assert not any("shown once" in line for line in again.lines)
    finally:
        assert again.kill_launcher() == 0
    assert wait_for(lambda: _children_gone(again.process.pid), 20, "server and agent to stop")


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = Up(tmp_path / "var", port)

        code = up.process.wait(timeout=60)

    assert code == 1
    assert any(f"port {port} on 127.0.0.1 is in use" in line for line in up.lines)
