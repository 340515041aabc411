"""The real server and the real agent on the kernel audit subsystem: a shell's children and
a loopback connection reach the timeline API, with the child's real parent chain in its
process tree, and stopping the agent leaves no audit rule of its own behind."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.serverproc import ServerProcess
from sqlalchemy import Engine, select

from hostwatch.agent.audit.netlink import AuditSocket, AuditUnavailable
from hostwatch.agent.audit.rules import DEFAULT_KEY, rules_with_key
from hostwatch.devices.models import AgentCredential, Device
from tests.shared import shared_data

from .procs import start_agent, stop, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    try:
        with AuditSocket() as sock:
            if sock.status().pid:
                pytest.skip("another audit daemon holds the kernel's audit slot")
    except AuditUnavailable as exc:
        pytest.skip(f"the kernel audit interface is not available here: {exc}")
    server = ServerProcess(tmp_path / "server", database_url=db_url)
    server.start()
    yield server
    server.stop()


def _device(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(Device.id).join(AgentCredential)).scalar()


def _api(server: ServerProcess) -> httpx.Client:
    server.cli(
        "users", "create", "analyst", "--role", "admin", "--password-stdin", stdin="p" * 16 + "\n"
    )
    token = server.cli("tokens", "create", "--user", "analyst").strip()
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})


def _timeline(api: httpx.Client, device: str, **params: Any) -> list[dict[str, Any]]:
    answer = api.get(f"/api/devices/{device}/timeline", params={"limit": 500, **params})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _chain_up(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """The focus process and its ancestors, nearest first, following 'created' edges."""
    nodes = {node["id"]: node for node in tree["nodes"]}
    creator = {edge["to"]: edge["from"] for edge in tree["edges"] if edge["relation"] == "created"}
    chain = [nodes[tree["focus"]]]
    while chain[-1]["id"] in creator:
        chain.append(nodes[creator[chain[-1]["id"]]])
    return chain


def test_agent_audit_events_reach_the_timeline_with_the_parent_chain(
    server: ServerProcess, engine: Engine, tmp_path: Path
) -> None:
    token = server.cli("enroll-token", "create").strip()
    api = _api(server)
    agent = start_agent(server, tmp_path / "agent", token)
    try:
        device = wait_for(lambda: _device(engine), 60, "the agent to enroll")

        def source() -> str | None:
            detail = api.get(f"/api/devices/{device}").json()
            status = (detail.get("agent") or {}).get("status") or {}
            return status.get("process_source")

        assert wait_for(source, 60, "a heartbeat that names the process source") == "audit"

        marker = f"hw-audit-{uuid.uuid4().hex[:8]}"
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        connect = (
            f"import socket, time; c = socket.create_connection(('127.0.0.1', {port})); "
            "time.sleep(1)"
        )
        shell = subprocess.Popen(
            ["sh", "-c", f'sleep 0.1; /bin/true {marker}; {sys.executable} -c "{connect}"']
        )
        accepted, peer = listener.accept()
        shell.wait(timeout=30)
        accepted.close()
        listener.close()

        def true_event() -> dict[str, Any] | None:
            found = _timeline(api, device, q=marker, kinds="process")
            # The shell's other children match too, through their parent's command line.
            return next(
                (e for e in found if e["process"]["image"] == os.path.realpath("/bin/true")), None
            )

        child = wait_for(true_event, 60, "the child's process event in the timeline")
        assert child["action_type"] == "ProcessCreated"
        assert child["process"]["command_line"] == f"/bin/true {marker}"
        assert child["parent"]["pid"] == shell.pid
        assert child["user"] == "root"

        def connections() -> list[dict[str, Any]] | None:
            found = [
                e
                for e in _timeline(api, device, kinds="network")
                if (e.get("target") or {}).get("remote_port") in (port, peer[1])
            ]
            return found if len(found) >= 2 else None

        found = wait_for(connections, 60, "both ends of the connection in the timeline")
        outbound = next(e for e in found if e["target"]["remote_port"] == port)
        inbound = next(e for e in found if e["target"]["remote_port"] == peer[1])
        assert outbound["target"]["remote_address"] == "127.0.0.1"
        assert outbound["target"]["local_port"] == peer[1]
        assert outbound["process"]["image"] == os.path.realpath(sys.executable)
        assert inbound["process"]["pid"] == os.getpid()
        assert inbound["target"]["local_port"] == port

        tree = api.get(f"/api/events/{child['id']}/process-tree")
        assert tree.status_code == 200, tree.text
        chain = _chain_up(tree.json())
        pids = [node["details"]["pid"] for node in chain]
        # The child, the shell, this test process, and the process that started the tests:
        # the last two ran before the agent and are known from its first /proc snapshot.
        assert pids[:4] == [child["process"]["pid"], shell.pid, os.getpid(), os.getppid()]
        assert chain[1]["details"]["command_line"].startswith("sh -c 'sleep 0.1; /bin/true ")
        assert chain[2]["details"]["image"] == os.path.realpath(sys.executable)
    finally:
        assert stop(agent) == 0

    with AuditSocket() as sock:
        assert rules_with_key(sock, DEFAULT_KEY) == []
        assert sock.status().pid == 0


def _event(api: httpx.Client, event_id: int) -> dict[str, Any]:
    answer = api.get(f"/api/events/{event_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_agent_file_and_logon_events_reach_the_timeline_with_their_process(
    server: ServerProcess, engine: Engine, tmp_path: Path
) -> None:
    token = server.cli("enroll-token", "create").strip()
    api = _api(server)
    tag = uuid.uuid4().hex[:10]
    cron = f"/etc/cron.d/hostwatch-test-{tag}"
    dropped = f"/tmp/hostwatch-test-{tag}"
    agent = start_agent(
        server, tmp_path / "agent", token, env={"HOSTWATCH_AGENT_USERS_REFRESH": "1"}
    )
    su: subprocess.Popen[bytes] | None = None
    try:
        device = wait_for(lambda: _device(engine), 60, "the agent to enroll")

        def source() -> str | None:
            detail = api.get(f"/api/devices/{device}").json()
            return ((detail.get("agent") or {}).get("status") or {}).get("process_source")

        assert wait_for(source, 60, "a heartbeat that names the process source") == "audit"

        shell = subprocess.Popen(
            ["sh", "-c", f"echo '* * * * * root true' > {cron}; cp /bin/true {dropped}"]
        )
        assert shell.wait(timeout=30) == 0
        su = subprocess.Popen(["su", "nobody", "-s", "/bin/sh", "-c", "sleep 60"])

        def file_events() -> list[dict[str, Any]] | None:
            found = [
                e
                for e in _timeline(api, device, kinds="file")
                if tag in ((e.get("target") or {}).get("file") or "")
            ]
            return found if len(found) >= 2 else None

        found = wait_for(file_events, 60, "the cron file and the executable in the timeline")
        by_file = {e["target"]["file"]: e for e in found}
        written = by_file[cron]
        copied = by_file[dropped]
        assert written["action_type"] == "FileCreated"
        assert written["process"]["pid"] == shell.pid
        assert written["process"]["image"] == os.path.realpath("/bin/sh")
        assert written["user"] == "root"
        assert copied["action_type"] == "FileCreated"
        assert copied["process"]["image"] == os.path.realpath("/bin/cp")
        assert copied["process"]["command_line"] == f"cp /bin/true {dropped}"
        assert copied["parent"]["pid"] == shell.pid
        details = _event(api, copied["id"])["fields"]
        assert details["watch"] == "temp-executable"
        assert details["sha256"] == hashlib.sha256(Path("/bin/true").read_bytes()).hexdigest()

        # The shell's own process event carries the same guid as its file event.
        (started,) = [
            e
            for e in _timeline(api, device, kinds="process")
            if e["process"]["pid"] == shell.pid and e["action_type"] == "ProcessCreated"
        ]
        assert started["process"]["guid"] == written["process"]["guid"]

        def logged_on() -> list[dict[str, Any]] | None:
            users = api.get(f"/api/devices/{device}").json()["logged_on_users"] or []
            return [u for u in users if u["name"] == "nobody"] or None

        (user,) = wait_for(logged_on, 60, "nobody among the logged-on users")
        assert user["source"] == "logon events (audit)"
        su.terminate()
        su.wait(timeout=30)

        def logons() -> list[dict[str, Any]] | None:
            found = [e for e in _timeline(api, device, kinds="logon") if e["user"] == "nobody"]
            actions = {e["action_type"] for e in found}
            return found if {"LogonSuccess", "Logoff"} <= actions else None

        found = wait_for(logons, 60, "su's logon and logoff in the timeline")
        logon = next(e for e in found if e["action_type"] == "LogonSuccess")
        assert logon["process"]["pid"] == su.pid
        assert logon["process"]["image"] == os.path.realpath("/usr/bin/su")
        fields = _event(api, logon["id"])["fields"]
        assert fields["logon_type"] == "elevation"
        assert fields["by_user"] == "root"
        gone = wait_for(lambda: logged_on() is None or None, 60, "nobody to be logged off")
        assert gone is True
    finally:
        if su is not None and su.poll() is None:
            su.kill()
            su.wait()
        for path in (cron, dropped):
            Path(path).unlink(missing_ok=True)
        assert stop(agent) == 0

    with AuditSocket() as sock:
        assert rules_with_key(sock, DEFAULT_KEY) == []


BASE64_PIPE_RULE = "ba592c6d-6888-43c3-b8c6-689b8fe47337"


def test_a_command_a_shared_linux_rule_targets_raises_an_alert_on_the_device(
    server: ServerProcess, engine: Engine, tmp_path: Path
) -> None:
    rule = shared_data(
        "sigma", "rules", "linux", "process_creation", "proc_creation_lnx_base64_execution.yml"
    )
    server.cli("rules", "import", str(rule))
    token = server.cli("enroll-token", "create").strip()
    api = _api(server)
    agent = start_agent(server, tmp_path / "agent", token)
    try:
        device = wait_for(lambda: _device(engine), 60, "the agent to enroll")

        def source() -> str | None:
            detail = api.get(f"/api/devices/{device}").json()
            return ((detail.get("agent") or {}).get("status") or {}).get("process_source")

        assert wait_for(source, 60, "a heartbeat that names the process source") == "audit"
        marker = uuid.uuid4().hex[:8]
        # Decodes to a harmless `true MARKER`; the shell's command line is what the rule reads.
        encoded = base64.b64encode(f"true {marker}\n".encode()).decode()
        subprocess.run(["sh", "-c", f"echo {encoded} | base64 -d | sh"], check=True, timeout=30)

        def alert() -> dict[str, Any] | None:
            answer = api.get(f"/api/devices/{device}/alerts")
            assert answer.status_code == 200, answer.text
            return next(
                (a for a in answer.json()["items"] if a["rule_id"] == BASE64_PIPE_RULE), None
            )

        found = wait_for(alert, 60, "the base64 pipe alert on the device")
        detail = api.get(f"/api/alerts/{found['id']}").json()
        assert detail["rule"]["id"] == BASE64_PIPE_RULE
        assert detail["severity"] == "medium"
        [event] = [e for e in detail["events"] if encoded in e["process"]["command_line"]]
        assert event["process"]["image"] == os.path.realpath("/bin/sh")
        assert event["parent"]["pid"] == os.getpid()
        sidebar = api.get(f"/api/devices/{device}").json()
        assert sidebar["security"]["risk_level"] == "medium"
    finally:
        stop(agent)
