"""Devices written straight into the server's database, for pages that need many devices or
devices of a kind the agent cannot make (known from the directory or from imported logs)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from hostwatch.db.base import utcnow
from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.devices import registry
from hostwatch.devices.models import Device, Software

DIRECTORY = {
    "distinguished_name": "CN=DC-01,OU=Domain Controllers,DC=corp,DC=example",
    "uac_flags": ["SERVER_TRUST_ACCOUNT", "TRUSTED_FOR_DELEGATION"],
    "spns": ["ldap/dc-01.corp.example", "HOST/dc-01"],
    "groups": ["Domain Controllers", "Pre-Windows 2000 Compatible Access"],
}


def add_device(
    engine: Engine,
    hostname: str,
    sources: Iterable[str],
    *,
    seen_days_ago: float = 0,
    software: Iterable[dict[str, Any]] = (),
    **columns: Any,
) -> str:
    """One device with its system tags; returns its id."""
    now = utcnow()
    with transaction(make_session_factory(engine)) as session:
        device = Device(
            hostname=hostname,
            first_seen=now - timedelta(days=seen_days_ago + 30),
            last_seen=now - timedelta(days=seen_days_ago),
            **columns,
        )
        for source in sources:
            registry.add_source(device, source)
        session.add(device)
        registry.sync_system_tags(session, device)
        session.flush()
        for item in software:
            session.add(Software(device_id=device.id, **item))
        return device.id


def add_many(engine: Engine, count: int, prefix: str = "host") -> list[str]:
    """`count` endpoint devices named prefix-000, prefix-001, ..."""
    now = utcnow()
    with transaction(make_session_factory(engine)) as session:
        devices = []
        for i in range(count):
            device = Device(
                hostname=f"{prefix}-{i:03d}",
                os_family="linux",
                os_name="Debian GNU/Linux 12 (bookworm)",
                first_seen=now - timedelta(days=20),
                last_seen=now - timedelta(minutes=i),
            )
            registry.add_source(device, "endpoint_logs")
            session.add(device)
            registry.sync_system_tags(session, device)
            devices.append(device)
        session.flush()
        return [d.id for d in devices]


def directory_device(engine: Engine, hostname: str = "dc-01") -> str:
    """A domain controller known only from the directory."""
    return add_device(
        engine,
        hostname,
        ["directory"],
        fqdn=f"{hostname}.corp.example",
        domain="corp.example",
        os_family="windows",
        os_name="Windows Server 2022 Datacenter",
        sam_name=f"{hostname.upper()}$",
        directory_created=utcnow() - timedelta(days=400),
        directory=DIRECTORY,
    )


def logs_device(engine: Engine, hostname: str = "ws-logs") -> str:
    """A workstation known only from imported endpoint logs."""
    return add_device(
        engine,
        hostname,
        ["endpoint_logs"],
        domain="corp.example",
        os_family="windows",
        os_name="Windows 11 Enterprise",
    )


def software(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "source": "dpkg",
        "name": name,
        "version": "1.0-1",
        "arch": "amd64",
        "vendor": "Debian",
        "install_path": f"/usr/share/doc/{name}",
        **fields,
    }
