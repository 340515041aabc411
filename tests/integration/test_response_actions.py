"""Containment end to end: a real server, a real agent, the analyst's request through the API,
and the effect measured on the device. Isolation: the agent in a network namespace of its own,
reachability measured from both sides. App restriction: programs started in a directory the
restriction covers, and the alert the refusals raise.

The agent's namespace is joined to this one by a veth pair on a private /30. The server and an
unrelated service listen on this side's address; another service listens in the namespace.
Nothing here touches this namespace's firewall: the agent's nftables table lives in its own
namespace, and the test checks that this side's ruleset is byte for byte what it was.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.serverproc import ServerProcess, free_port

from .procs import start_agent, stop, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]

NFT = shutil.which("nft") or "/usr/sbin/nft"
PASSWORD = "correct horse battery staple"


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=30)


@dataclass
class Net:
    ns: str
    host_ip: str  # this namespace's end
    ns_ip: str  # the agent's namespace's end

    def exec(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *args]

    def reach_from_ns(self, ip: str, port: int) -> bool:
        """A TCP connection from inside the namespace, with a one-second budget."""
        probe = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({ip!r}, {port}), timeout=1).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n"
        )
        done = subprocess.run(self.exec(sys.executable, "-c", probe), timeout=20, check=False)
        return done.returncode == 0


@pytest.fixture
def net() -> Iterator[Net]:
    if shutil.which("ip") is None:
        pytest.fail("iproute2's `ip` is needed for the isolation test (Debian package iproute2)")
    suffix = secrets.token_hex(3)
    ns, host_if, ns_if = f"hwact-{suffix}", f"hwa{suffix}h", f"hwa{suffix}n"
    third = int(suffix[:2], 16) % 250 + 1
    fourth = int(suffix[2:4], 16) % 60 * 4
    host_ip, ns_ip = f"10.232.{third}.{fourth + 1}", f"10.232.{third}.{fourth + 2}"
    _run("ip", "netns", "add", ns)
    try:
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _run("ip", "link", "set", ns_if, "netns", ns)
        _run("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _run("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield Net(ns, host_ip, ns_ip)
    finally:
        _run("ip", "link", "del", host_if, check=False)
        _run("ip", "netns", "del", ns, check=False)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_service(net: Net) -> Iterator[int]:
    """A service on this side that is not the Hostwatch server."""
    server = ThreadingHTTPServer((net.host_ip, 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def ns_service(net: Net, tmp_path: Path) -> Iterator[int]:
    """A service inside the agent's namespace."""
    port = free_port()
    process = subprocess.Popen(
        net.exec(sys.executable, "-m", "http.server", str(port), "--bind", net.ns_ip),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _reach(net.ns_ip, port), 20, "the namespace's service to listen")
        yield port
    finally:
        process.kill()
        process.wait()


def _reach(ip: str, port: int) -> bool:
    try:
        socket.create_connection((ip, port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def server(db_url: str, tmp_path: Path, net: Net) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "server", database_url=db_url, host=net.host_ip)
    server.start()
    yield server
    server.stop()


def _start_agent(net: Net, server: ServerProcess, data_dir: Path, token: str | None) -> Any:
    """The agent inside the namespace; processes polled from /proc (the kernel's audit slot
    is not this test's concern)."""
    poll = {"HOSTWATCH_AGENT_PROCESS_SOURCE": "poll"}
    return start_agent(server, data_dir, token, env=poll, prefix=net.exec())


def _api(server: ServerProcess, role: str) -> httpx.Client:
    name = f"{role}-{secrets.token_hex(3)}"
    server.cli("users", "create", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    token = server.cli("tokens", "create", "--user", name).strip()
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _request(api: httpx.Client, device_id: str, kind: str, **parameters: Any) -> str:
    answer = api.post(
        f"/api/devices/{device_id}/actions",
        json={"type": kind, "parameters": parameters, "comment": f"test: {kind}"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["state"] == "requested"
    return str(answer.json()["id"])


def _finished(api: httpx.Client, action_id: str) -> dict[str, Any] | None:
    action = api.get(f"/api/actions/{action_id}").json()
    return action if action["state"] in {"succeeded", "failed", "cancelled", "expired"} else None


def _containment(api: httpx.Client, device_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/devices/{device_id}").json()["containment"])


def _ruleset() -> str:
    return _run(NFT, "list", "ruleset").stdout


def test_isolation_through_the_api_is_verified_on_the_device_and_released(
    net: Net,
    server: ServerProcess,
    other_service: int,
    ns_service: int,
    tmp_path: Path,
) -> None:
    host_rules = _ruleset()
    responder = _api(server, "responder")
    analyst = _api(server, "analyst")
    agent_dir = tmp_path / "agent"
    agent = _start_agent(net, server, agent_dir, server.cli("enroll-token", "create").strip())
    try:
        device_id = wait_for(
            lambda: next(
                iter(d["id"] for d in responder.get("/api/devices").json()["items"]), None
            ),
            60,
            "the agent to enroll",
        )
        # Before: both sides reach each other.
        assert net.reach_from_ns(net.host_ip, other_service)
        assert _reach(net.ns_ip, ns_service)

        # An analyst may not isolate; the server says so, whatever the page shows.
        refused = analyst.post(
            f"/api/devices/{device_id}/actions",
            json={"type": "isolate", "parameters": {}, "comment": "no"},
        )
        assert refused.status_code == 403

        action_id = _request(responder, device_id, "isolate", mode="full")
        done = wait_for(lambda: _finished(responder, action_id), 60, "isolation to finish")
        assert done["state"] == "succeeded", done
        assert done["evidence"], "a success carries the evidence read back from the device"
        assert done["delivered_at"] and done["started_at"] and done["completed_at"]

        # The sidebar shows what the agent read back, after its next heartbeat.
        wait_for(lambda: _containment(responder, device_id)["isolated"], 30, "verified isolation")
        tags = {t["name"] if isinstance(t, dict) else t for t in _device(responder, device_id)}
        assert "isolation:isolated" in tags

        # After: the server is still reachable from the device, nothing else either way.
        assert net.reach_from_ns(net.host_ip, server.port)
        assert not net.reach_from_ns(net.host_ip, other_service)
        assert not _reach(net.ns_ip, ns_service)
        assert _ruleset() == host_rules, "isolation changed this namespace's firewall"

        # An agent restart keeps the device isolated and the agent keeps reporting.
        assert stop(agent) == 0
        assert not net.reach_from_ns(net.host_ip, other_service)
        agent = _start_agent(net, server, agent_dir, None)
        seen = _containment(responder, device_id)["checked_at"]
        wait_for(
            lambda: _containment(responder, device_id)["checked_at"] != seen,
            30,
            "a heartbeat from the restarted, isolated agent",
        )
        assert _containment(responder, device_id)["isolated"]
        assert not net.reach_from_ns(net.host_ip, other_service)

        release_id = _request(responder, device_id, "release_isolation")
        released = wait_for(lambda: _finished(responder, release_id), 60, "release to finish")
        assert released["state"] == "succeeded", released
        wait_for(lambda: not _containment(responder, device_id)["isolated"], 30, "verified release")
        assert net.reach_from_ns(net.host_ip, other_service)
        assert _reach(net.ns_ip, ns_service)
        assert _ruleset() == host_rules
        listing = _run(*net.exec(NFT, "list", "ruleset")).stdout
        assert "hostwatch" not in listing, "release left part of the isolation behind"

        # The action center lists both, newest first, and the audit log has them.
        center = responder.get("/api/actions", params={"device_id": device_id}).json()["items"]
        assert [a["id"] for a in center[:2]] == [release_id, action_id]
    finally:
        stop(agent)
        # Whatever happened, the namespace goes with its rules in the fixture's teardown.


def _device(api: httpx.Client, device_id: str) -> list[Any]:
    return list(api.get(f"/api/devices/{device_id}").json().get("tags", []))


@pytest.fixture
def local_server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "server", database_url=db_url)
    server.start()
    yield server
    server.stop()


def _exec(path: Path) -> int | str:
    """Start a program from this test process (not the agent's child); its exit code, or the
    error the kernel gave instead of starting it."""
    try:
        return subprocess.run([str(path)], timeout=20, check=False).returncode
    except PermissionError as exc:
        return errno.errorcode[exc.errno or 0]


def test_app_restriction_through_the_api_refuses_alerts_and_is_removed(
    local_server: ServerProcess, tmp_path: Path
) -> None:
    scope = tmp_path / "apps"
    scope.mkdir()
    allowed, modified = scope / "allowed-tool", scope / "modified-tool"
    shutil.copyfile("/bin/true", allowed)
    shutil.copyfile("/bin/true", modified)
    with modified.open("ab") as tail:
        tail.write(b"\0")
    for tool in (allowed, modified):
        tool.chmod(0o755)
    digest = hashlib.sha256(allowed.read_bytes()).hexdigest()

    responder = _api(local_server, "responder")
    agent = start_agent(
        local_server,
        tmp_path / "agent",
        local_server.cli("enroll-token", "create").strip(),
        env={"HOSTWATCH_AGENT_PROCESS_SOURCE": "poll"},
    )
    try:
        device_id = wait_for(
            lambda: next(
                iter(d["id"] for d in responder.get("/api/devices").json()["items"]), None
            ),
            60,
            "the agent to enroll",
        )
        assert _exec(modified) == 0
        action_id = _request(
            responder,
            device_id,
            "restrict_app_execution",
            scope=[str(scope)],
            allow_sha256=[digest],
        )
        done = wait_for(lambda: _finished(responder, action_id), 60, "restriction to finish")
        assert done["state"] == "succeeded", done
        assert done["evidence"]["enforcing"] is True
        wait_for(
            lambda: _containment(responder, device_id)["app_restricted"], 30, "verified restriction"
        )

        assert _exec(allowed) == 0
        for _ in range(5):
            assert _exec(modified) == "EPERM"

        def blocked_alert() -> dict[str, Any] | None:
            page = responder.get(f"/api/devices/{device_id}/alerts").json()["items"]
            found = [a for a in page if a["title"] == "Application execution blocked repeatedly"]
            return found[0] if found else None

        alert = wait_for(blocked_alert, 60, "the alert on repeated blocks")
        assert alert["event_count"] == 5

        remove_id = _request(responder, device_id, "remove_app_restriction")
        removed = wait_for(lambda: _finished(responder, remove_id), 60, "removal to finish")
        assert removed["state"] == "succeeded", removed
        assert _exec(modified) == 0
        wait_for(
            lambda: not _containment(responder, device_id)["app_restricted"],
            30,
            "verified removal",
        )
    finally:
        assert stop(agent) == 0
    # Stopped, the agent holds no fanotify group: nothing is refused any more.
    assert _exec(modified) == 0
