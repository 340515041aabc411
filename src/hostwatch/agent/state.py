"""The agent's enrollment state on disk: device id and credential, readable by the agent only."""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("var/agent")
STATE_FILE = "state.json"
SPOOL_FILE = "spool.sqlite3"


class StateError(Exception):
    """The state file exists but cannot be used."""


@dataclass(frozen=True)
class AgentState:
    device_id: str
    credential: str = field(repr=False)
    server_url: str
    enrolled_at: datetime


def prepare_data_dir(data_dir: Path) -> Path:
    """Create the data dir as 0700; an existing one is kept as it is, with a warning if open."""
    if not data_dir.exists():
        data_dir.mkdir(mode=0o700, parents=True)
        data_dir.chmod(0o700)  # mkdir's mode is filtered by the umask
        logger.info("created agent data dir %s", data_dir)
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        # Limitation: an existing data dir is not tightened (it may be shared, like /var/lib);
        # the state and spool files in it are 0600 regardless.
        logger.warning("agent data dir %s is open to other users (mode %o)", data_dir, mode)
    return data_dir


def load_state(data_dir: Path) -> AgentState | None:
    """The saved state, or None if the agent has not enrolled yet."""
    path = data_dir / STATE_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read agent state {path}: {exc}") from exc

    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("agent state %s had mode %o; setting it to 600", path, mode)
        path.chmod(0o600)
    try:
        data = json.loads(raw)
        return AgentState(
            device_id=str(data["device_id"]),
            credential=str(data["credential"]),
            server_url=str(data["server_url"]),
            enrolled_at=datetime.fromisoformat(data["enrolled_at"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        # The message names the file and the problem, never the file's content.
        raise StateError(f"agent state {path} is damaged ({type(exc).__name__})") from exc


def save_state(data_dir: Path, state: AgentState) -> Path:
    """Write the state atomically, as a file only the agent's user can read."""
    path = data_dir / STATE_FILE
    body = json.dumps(
        {
            "device_id": state.device_id,
            "credential": state.credential,
            "server_url": state.server_url,
            "enrolled_at": state.enrolled_at.astimezone(UTC).isoformat(),
        }
    )
    # Durable rename too, so a crash cannot leave an enrolled but stateless agent.
    write_private(path, body)
    return path


def write_private(path: Path, body: str) -> None:
    """Replace `path` with `body`, readable by the agent's user only, atomically and durably
    (the content, then the rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, body.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
