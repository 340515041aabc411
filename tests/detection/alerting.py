"""Rules, devices and Sysmon-shaped events for the alerting tests, stored for real."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from hostwatch.detection import catalog
from hostwatch.devices.models import Device, DeviceTag
from hostwatch.events.models import Event
from hostwatch.events.store import SqlEventStore

BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SYSMON = "Microsoft-Windows-Sysmon/Operational"
WHOAMI_RULE = "0e2d7a44-1c1a-4a1e-9a51-6f1d5e0c7a01"
NET_RULE = "0e2d7a44-1c1a-4a1e-9a51-6f1d5e0c7a02"
_keys = itertools.count()


def at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


def rule_yaml(rule_id: str, title: str, image: str, level: str = "high", **extra: Any) -> str:
    return yaml.safe_dump(
        {
            "title": title,
            "id": rule_id,
            "status": "test",
            "description": f"Runs {image}.",
            "references": ["https://example.org/<b>ref</b>"],
            "tags": ["attack.discovery", "attack.t1033", "attack.s0002", "cve.2021-1"],
            "logsource": {"product": "windows", "category": "process_creation"},
            "detection": {"selection": {"Image|endswith": f"\\{image}"}, "condition": "selection"},
            "level": level,
            **extra,
        }
    )


def import_test_rules(session: Session) -> None:
    result = catalog.import_texts(
        session,
        [
            ("whoami.yml", rule_yaml(WHOAMI_RULE, "Whoami Run", "whoami.exe")),
            ("net.yml", rule_yaml(NET_RULE, "Net Run", "net.exe", level="low")),
        ],
    )
    assert result.report.rejected == [], result.report.rejected


def add_device(session: Session, hostname: str, *tags: str) -> str:
    device = Device(hostname=hostname, sources=["endpoint_logs"])
    session.add(device)
    session.flush()
    for tag in tags:
        session.add(DeviceTag(device_id=device.id, name=tag, kind="user"))
    session.flush()
    return device.id


def process_event(
    minutes: float,
    image: str,
    *,
    guid: str = "{guid-1}",
    user: str = "CORP\\alice",
    target: str | None = None,
) -> dict[str, Any]:
    """A Sysmon process creation, `minutes` after BASE."""
    path = f"C:\\Windows\\System32\\{image}"
    return {
        "dedupe_key": f"k{next(_keys)}",
        "time": at(minutes),
        "source": "sysmon",
        "event_code": "1",
        "kind": "process",
        "action_type": "ProcessCreated",
        "user": user,
        "process_image": path,
        "process_guid": guid,
        "process_command_line": image,
        "target_file": target,
        "fields": {
            "channel": SYSMON,
            "provider": "Microsoft-Windows-Sysmon",
            "EventData": {"Image": path, "CommandLine": image, "ProcessGuid": guid, "User": user},
        },
    }


def store(session: Session, device_id: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """Store the events through the event store; returns them as stored rows with ids."""
    rows = [{**event, "device_id": device_id} for event in events]
    SqlEventStore().add_many(session, rows)
    keys = [row["dedupe_key"] for row in rows]
    found = session.execute(
        select(*Event.__table__.columns).where(
            Event.device_id == device_id, Event.dedupe_key.in_(keys)
        )
    )
    stored = [dict(row._mapping) for row in found]
    stored.sort(key=lambda row: keys.index(row["dedupe_key"]))
    return stored
