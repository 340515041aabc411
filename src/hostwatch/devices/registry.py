"""Device identity, facts, sources, system tags and health state."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hostwatch import protocol
from hostwatch.config import Settings
from hostwatch.devices.models import AgentCredential, Device, DeviceTag

SOURCES = ("agent", "endpoint_logs", "directory")


def same_text(column: Any, value: str) -> Any:
    """A SQL condition: the column holds this name, ignoring case.

    The exact spelling is matched as well, because the engines fold case differently from
    Python: SQLite's lower() folds ASCII letters only, and PostgreSQL follows its collation.
    Without it, a name such as "ÄPC02" would never find its own device again.
    """
    # Limitation: on SQLite, names that differ only in the case of non-ASCII letters
    # ("ÄPC02" and "äpc02") are not recognised as the same device.
    return or_(column == value, func.lower(column) == value.lower())


def find_for_agent(session: Session, host: protocol.HostFacts) -> Device | None:
    """The device an enrolling agent is, if Hostwatch knows it already.

    Only devices that never had an agent are matched: the machine id and names an agent
    reports are not secrets, so matching a device with an agent of its own would let anyone
    holding an enrollment token take over that device's credential and history, or bring a
    revoked agent back. A re-installed agent that lost its data directory therefore enrolls
    as a new device, and the old one falls inactive.
    """
    without_agent = (
        ~select(AgentCredential.device_id).where(AgentCredential.device_id == Device.id).exists()
    )
    # A device known only from logs or the directory: by machine id, then FQDN, then name.
    candidates = (
        (Device.machine_id, host.machine_id, False),
        (Device.fqdn, host.fqdn, True),
        (Device.hostname, host.hostname, True),
    )
    for column, value, fold_case in candidates:
        if not value:
            continue
        match = same_text(column, value) if fold_case else column == value
        device = session.scalar(
            select(Device).where(match, without_agent).order_by(Device.first_seen).limit(1)
        )
        if device is not None:
            return device
    return None


def apply_host_facts(device: Device, host: protocol.HostFacts) -> None:
    device.hostname = host.hostname
    device.fqdn = host.fqdn
    device.domain = host.domain
    device.os_family = host.os_family
    device.os_name = host.os_name
    device.os_version = host.os_version
    device.os_kernel = host.os_kernel
    device.os_arch = host.os_arch
    device.machine_id = host.machine_id
    device.ip_addresses = list(host.ip_addresses)
    device.mac_addresses = list(host.mac_addresses)
    device.resources = {
        "cpu_count": host.cpu_count,
        "cpu_model": host.cpu_model,
        "memory_bytes": host.memory_bytes,
        "disk_total_bytes": host.disk_total_bytes,
        "disk_free_bytes": host.disk_free_bytes,
    }
    device.boot_time = host.boot_time


def add_source(device: Device, source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"unknown device source {source!r}")
    if source not in (device.sources or []):
        device.sources = [*(device.sources or []), source]


def sync_system_tags(session: Session, device: Device) -> None:
    """System tags say where a device is known from and its OS family; users cannot remove them."""
    wanted = {f"source:{s}" for s in device.sources or []}
    if device.os_family:
        wanted.add(f"os:{device.os_family}")
    current = {t.name: t for t in device.tags if t.kind == "system"}
    for name, tag in current.items():
        if name not in wanted:
            device.tags.remove(tag)
    for name in sorted(wanted - set(current)):
        device.tags.append(DeviceTag(name=name, kind="system", created_by="hostwatch"))


def health(device: Device, settings: Settings, now: datetime) -> tuple[str, list[str]]:
    """The health state and the reasons for it: active, inactive, misconfigured or degraded.

    Misconfigured: the agent reports errors, a refused credential or no inventory. Degraded:
    the agent runs, but its telemetry has gaps (events dropped, or lost by the kernel).
    """
    reasons: list[str] = []
    if device.last_seen is None or now - device.last_seen > timedelta(
        seconds=settings.inactive_after_seconds
    ):
        days = settings.inactive_after_seconds / 86400
        reasons.append(f"no report for more than {days:g} days")
        return "inactive", reasons
    agent = device.agent
    if agent is None:
        return "active", []
    status: dict[str, Any] = agent.status or {}
    if agent.revoked_at is not None:
        reasons.append("the agent's credential was revoked")
    reasons.extend(f"agent error: {e}" for e in status.get("errors") or [])
    if device.inventory_collected_at is None:
        reasons.append("no inventory received yet")
    gaps = telemetry_gaps(status)
    if reasons:
        return "misconfigured", reasons + gaps
    if gaps:
        return "degraded", gaps
    return "active", []


def telemetry_gaps(status: dict[str, Any]) -> list[str]:
    """What the agent's heartbeat says it failed to deliver, one reason per counter.

    Limitation: the counters run from the agent's start, so a device stays degraded after
    a burst of drops until its agent restarts.
    """
    gaps = []
    if status.get("dropped_events"):
        gaps.append(f"the agent dropped {status['dropped_events']} events (spool full)")
    if status.get("collector_dropped_events"):
        gaps.append(
            f"the agent's collector dropped {status['collector_dropped_events']} events "
            "(queue full or socket overrun)"
        )
    if status.get("kernel_lost_events"):
        gaps.append(f"the kernel lost {status['kernel_lost_events']} audit records (backlog full)")
    return gaps


def health_filter(state: str, settings: Settings, now: datetime) -> Any:
    """A SQL condition for a health filter; misconfigured and degraded devices are subsets of
    the active ones."""
    cutoff = now - timedelta(seconds=settings.inactive_after_seconds)
    if state == "inactive":
        return or_(Device.last_seen.is_(None), Device.last_seen < cutoff)
    return Device.last_seen >= cutoff


def find_or_add_from_logs(session: Session, computer: str) -> tuple[Device, bool]:
    """The device a log record's computer name stands for, and whether it was created now.

    Devices merge by identity: SID, then FQDN, then host name (DESIGN.md); logs name no
    machine SID, so an FQDN is matched first, then the host name, both ignoring case. A name
    with a domain part matches by host name only a device that has no FQDN of its own, so
    fs01.a.example never merges with fs01.b.example. The device found or created is marked
    as known from endpoint logs.
    """
    hostname, fqdn, domain = _split_computer_name(computer)
    device = None
    if fqdn is not None:
        device = session.scalar(
            select(Device).where(same_text(Device.fqdn, fqdn)).order_by(Device.created_at).limit(1)
        )
    if device is None:
        same_name = select(Device).where(same_text(Device.hostname, hostname))
        if fqdn is not None:
            same_name = same_name.where(Device.fqdn.is_(None))
        # Limitation: a bare host name known in several domains goes to the oldest device
        # without an FQDN, else the oldest of them; logs give nothing better to tell them by.
        device = session.scalar(
            same_name.order_by(Device.fqdn.is_not(None), Device.created_at).limit(1)
        )

    created = device is None
    if device is None:
        # Limitation: no unique key on device names, so two imports that meet the same new
        # computer at the same moment (PostgreSQL) each create a device for it.
        device = Device(hostname=hostname, fqdn=fqdn, domain=domain, os_family="windows")
        session.add(device)
    else:
        if fqdn is not None and device.fqdn is None:
            device.fqdn = fqdn
            device.domain = device.domain or domain
        device.os_family = device.os_family or "windows"
    add_source(device, "endpoint_logs")
    sync_system_tags(session, device)
    session.flush()
    return device, created


def _split_computer_name(computer: str) -> tuple[str, str | None, str | None]:
    """Host name, FQDN and domain from a name such as "PC01" or "pc01.corp.example"."""
    name = computer.strip().rstrip(".")[:255] or "unknown"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return name, None, None
    host, _, domain = name.partition(".")
    if not domain:
        return name, None, None
    return host, name, domain
