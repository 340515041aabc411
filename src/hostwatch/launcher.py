"""The main job on one machine: server and agent side by side on the embedded database.

Used by `hostwatch up`. The two run as child processes, exactly as they would run apart,
so what works here works when they are deployed separately.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select

from hostwatch.auth import audit, service
from hostwatch.auth.models import User
from hostwatch.auth.roles import Role
from hostwatch.config import Settings
from hostwatch.db import migrate
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.devices import enrollment
from hostwatch.devices.models import AgentCredential

# Never wrap: scripts and tests read the URL line.
console = Console(soft_wrap=True)
ADMIN = "admin"


def _ensure_admin(sessions: object) -> str | None:
    """Create the admin account on first run; returns a generated password to print once."""
    with transaction(sessions) as session:  # type: ignore[arg-type]
        if session.scalar(select(User.id).where(User.name == ADMIN)) is not None:
            return None
        password = os.environ.get("HOSTWATCH_ADMIN_PASSWORD")
        generated = None
        if not password:
            generated = password = secrets.token_urlsafe(15)
        service.create_user(session, ADMIN, Role.admin, password)
        console.print(f"created the {ADMIN} account")
        audit.record(
            session, actor="hostwatch up", actor_kind="system", action="user.create", target=ADMIN
        )
        return generated


def _wait_for_server(url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            # Anonymous: a 401 proves the server answers.
            if httpx.get(f"{url}/api/auth/me", timeout=2).status_code == 401:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _wait_for_device(
    sessions: object,
    token_id: str | None,
    agent_dir: Path,
    agent: subprocess.Popen[bytes],
    timeout: float = 120.0,
) -> str | None:
    from hostwatch.agent.state import load_state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.poll() is not None:
            return None
        state = load_state(agent_dir)
        if state is not None:
            return state.device_id
        if token_id:
            with transaction(sessions, write=False) as session:  # type: ignore[arg-type]
                device_id = session.scalar(
                    select(AgentCredential.device_id).where(
                        AgentCredential.enroll_token_id == token_id
                    )
                )
            if device_id:
                return device_id
        time.sleep(0.5)
    return None


def _stop(process: subprocess.Popen[bytes] | None, name: str) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        console.print(f"{name} did not stop in 15 s; killing it")
        process.kill()
        process.wait()


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the server does, so that connections of an earlier run in TIME_WAIT don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _stop_on_signals() -> None:
    """Ctrl-C, a terminal hang-up and `kill` all stop the stack the same way.

    SIGINT is set explicitly: a launcher started in the background inherits it ignored.
    """

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def run_stack(settings: Settings, port: int | None = None) -> int:
    port = port or settings.port
    url = f"http://{settings.host}:{port}"
    if not _port_free(settings.host, port):
        console.print(
            f"[red]port {port} on {settings.host} is in use[/]: stop what listens there "
            "(an earlier Hostwatch?) or pass --port"
        )
        return 1
    _stop_on_signals()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    agent_dir = settings.data_dir / "agent"
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    generated = _ensure_admin(sessions)

    server: subprocess.Popen[bytes] | None = None
    agent: subprocess.Popen[bytes] | None = None
    try:
        console.print(f"starting the server on {url} (database: {engine.url.render_as_string()})")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hostwatch",
                "serve",
                "--host",
                settings.host,
                "--port",
                str(port),
            ]
        )
        if not _wait_for_server(url, server):
            console.print("[red]the server did not start; see its messages above[/]")
            return 1

        from hostwatch.agent.state import load_state

        env = dict(os.environ)
        token_id = None
        if load_state(agent_dir) is None:
            with transaction(sessions) as session:
                raw, token = enrollment.create_enroll_token(
                    session, "hostwatch up", valid_for=timedelta(hours=1), max_uses=1
                )
                token_id = token.id
            # Through the environment, not the command line, which other users can read.
            env["HOSTWATCH_ENROLL_TOKEN"] = raw
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hostwatch",
                "agent",
                "--server",
                url,
                "--data-dir",
                str(agent_dir),
            ],
            env=env,
        )
        device_id = _wait_for_device(sessions, token_id, agent_dir, agent)
        if device_id is None:
            console.print("[red]the agent did not enroll; see its messages above[/]")
            return 1

        console.print()
        console.print(
            f"[bold green]Hostwatch is running.[/] This machine's profile: "
            f"[bold]{url}/devices/{device_id}[/]"
        )
        if generated:
            console.print(
                f"Sign in as [bold]{ADMIN}[/] with password [bold]{generated}[/] "
                "(shown once; set HOSTWATCH_ADMIN_PASSWORD to choose it)"
            )
        else:
            console.print(f"Sign in as [bold]{ADMIN}[/] with the password set on first run.")
        console.print("Press Ctrl-C to stop.")
        while server.poll() is None and agent.poll() is None:
            time.sleep(0.5)
        which = "server" if server.poll() is not None else "agent"
        console.print(f"[red]the {which} stopped unexpectedly; stopping the rest[/]")
        return 1
    except KeyboardInterrupt:
        console.print("stopping")
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        _stop(agent, "agent")
        _stop(server, "server")
        engine.dispose()
