"""Fixtures for the vulnerability tests: sessions, the CLI, feed files written on the spot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.devices.models import Device, Software


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def osv_record(
    record_id: str,
    package: str,
    events: list[dict[str, str]],
    *,
    ecosystem: str = "PyPI",
    aliases: list[str] | None = None,
    modified: str = "2024-01-01T00:00:00Z",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "schema_version": "1.6.0",
        "id": record_id,
        "modified": modified,
        "aliases": aliases or [],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        **extra,
    }


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def add_device(
    sessions: sessionmaker[Session],
    software: list[dict[str, Any]],
    *,
    os_family: str = "linux",
    os_name: str = "Debian GNU/Linux 11 (bullseye)",
    os_version: str = "11",
) -> tuple[str, dict[str, int]]:
    """A device with the given software rows; returns its id and each row's id by name."""
    with transaction(sessions) as session:
        device = Device(
            hostname="vuln-test", os_family=os_family, os_name=os_name, os_version=os_version
        )
        session.add(device)
        session.flush()
        rows = [Software(device_id=device.id, **item) for item in software]
        session.add_all(rows)
        session.flush()
        return device.id, {row.name: row.id for row in rows}
