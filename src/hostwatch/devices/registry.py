"""Device identity, facts, sources, system tags and health state."""

from __future__ import annotations

import hashlib
import ipaddress
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hostwatch import protocol
from hostwatch.config import Settings
from hostwatch.devices.models import AgentCredential, Device, DeviceTag

SOURCES = ("agent", "endpoint_logs", "osquery", "directory")
# System tags that follow the containment the agent reads back from the device.
ISOLATED_TAG = "isolation:isolated"
RESTRICTED_TAG = "restriction:app-execution"
CONTAINMENT_TAGS = (ISOLATED_TAG, RESTRICTED_TAG)


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
    wanted |= containment_tags(device.containment)
    current = {t.name: t for t in device.tags if t.kind == "system"}
    for name, tag in current.items():
        if name not in wanted:
            device.tags.remove(tag)
    for name in sorted(wanted - set(current)):
        device.tags.append(DeviceTag(name=name, kind="system", created_by="hostwatch"))


def containment_tags(containment: dict[str, Any] | None) -> set[str]:
    """The system tags of a device's containment as its agent last verified it."""
    found = containment or {}
    wanted = set()
    if found.get("isolated"):
        wanted.add(ISOLATED_TAG)
    if found.get("app_restricted"):
        wanted.add(RESTRICTED_TAG)
    return wanted


def sync_containment_tags(
    session: Session, device_id: str, containment: protocol.ContainmentStatus
) -> None:
    """Keep the containment tags in step with a heartbeat's report, without loading the device.

    Each tag goes in under a savepoint: when two heartbeats add it at once, the unique
    constraint decides and the loser finds it present.
    """
    wanted = containment_tags(containment.model_dump())
    present = set(
        session.scalars(
            select(DeviceTag.name).where(
                DeviceTag.device_id == device_id, DeviceTag.name.in_(CONTAINMENT_TAGS)
            )
        )
    )
    if present - wanted:
        session.execute(
            delete(DeviceTag).where(
                DeviceTag.device_id == device_id,
                DeviceTag.name.in_(present - wanted),
                DeviceTag.kind == "system",
            )
        )
    for name in sorted(wanted - present):
        try:
            with session.begin_nested():
                session.add(
                    DeviceTag(device_id=device_id, name=name, kind="system", created_by="hostwatch")
                )
        except IntegrityError:
            continue


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

    See `find_or_add_many_from_logs`.
    """
    return find_or_add_many_from_logs(session, [computer])[computer]


@dataclass
class _Known:
    """A device that a computer name may stand for, with its names as the database lowers
    them (the engines fold case differently from Python; see `same_text`)."""

    device: Device
    hostname: str | None
    fqdn: str | None

    def has_hostname(self, name: str) -> bool:
        return self.device.hostname == name or self.hostname == name.lower()

    def has_fqdn(self, name: str) -> bool:
        return self.device.fqdn == name or self.fqdn == name.lower()


def find_or_add_many_from_logs(
    session: Session,
    computers: Iterable[str],
    source: str = "endpoint_logs",
    os_family: str | None = "windows",
) -> dict[str, tuple[Device, bool]]:
    """The devices log records' computer names stand for, and whether each was created now.

    Devices merge by identity: SID, then FQDN, then host name (DESIGN.md); logs name no
    machine SID, so an FQDN is matched first, then the host name, both ignoring case. A name
    with a domain part matches by host name only a device that has no FQDN of its own, so
    fs01.a.example never merges with fs01.b.example. The devices found or created are marked
    as known from `source` (endpoint logs unless told), and new ones get `os_family` (EVTX
    logs only come from Windows; osquery says the family later). Names are taken in order,
    as if one at a time: a name can find the device an earlier one created.

    One query reads every candidate device. On PostgreSQL, where two imports can run at
    once, each host name is first locked (an advisory lock held until the transaction
    ends), so that the second import waits for the first and finds the device it created.
    """
    names = list(dict.fromkeys(computers))
    if not names:
        return {}
    split = {computer: _split_computer_name(computer) for computer in names}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        _lock_host_names(session, {hostname.lower() for hostname, _, _ in split.values()})
    known = _candidates(session, split.values())

    found: dict[str, tuple[Device, bool]] = {}
    for computer in names:
        hostname, fqdn, domain = split[computer]
        match = _match(known, hostname, fqdn)
        if match is None:
            device = Device(hostname=hostname, fqdn=fqdn, domain=domain, os_family=os_family)
            session.add(device)
            known.append(
                _Known(device, _lowered(dialect, hostname), fqdn and _lowered(dialect, fqdn))
            )
        else:
            device = match.device
            if fqdn is not None and device.fqdn is None:
                device.fqdn = fqdn
                device.domain = device.domain or domain
                match.fqdn = _lowered(dialect, fqdn)
            device.os_family = device.os_family or os_family
        add_source(device, source)
        sync_system_tags(session, device)
        found[computer] = (device, match is None)
    session.flush()
    return found


def _candidates(
    session: Session, names: Iterable[tuple[str, str | None, str | None]]
) -> list[_Known]:
    """Devices with any of these host names or FQDNs, oldest first."""
    hostnames: set[str] = set()
    fqdns: set[str] = set()
    for hostname, fqdn, _ in names:
        hostnames.add(hostname)
        if fqdn is not None:
            fqdns.add(fqdn)
    conditions = [
        Device.hostname.in_(hostnames),
        func.lower(Device.hostname).in_({name.lower() for name in hostnames}),
    ]
    if fqdns:
        conditions += [
            Device.fqdn.in_(fqdns),
            func.lower(Device.fqdn).in_({name.lower() for name in fqdns}),
        ]
    rows = session.execute(
        select(Device, func.lower(Device.hostname), func.lower(Device.fqdn))
        .where(or_(*conditions))
        .options(selectinload(Device.tags))
        .order_by(Device.created_at, Device.id)
    )
    return [_Known(device, hostname, fqdn) for device, hostname, fqdn in rows]


def _match(known: list[_Known], hostname: str, fqdn: str | None) -> _Known | None:
    if fqdn is not None:
        for candidate in known:
            if candidate.has_fqdn(fqdn):
                return candidate
    same_name = [
        candidate
        for candidate in known
        if candidate.has_hostname(hostname) and (fqdn is None or candidate.device.fqdn is None)
    ]
    # Limitation: a bare host name known in several domains goes to the oldest device
    # without an FQDN, else the oldest of them; logs give nothing better to tell them by.
    for candidate in same_name:
        if candidate.device.fqdn is None:
            return candidate
    return same_name[0] if same_name else None


def _lowered(dialect: str, name: str) -> str:
    # What the engine's lower() makes of a name: SQLite folds ASCII letters only.
    return name.translate(_ASCII_LOWER) if dialect == "sqlite" else name.lower()


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _lock_host_names(session: Session, hostnames: set[str]) -> None:
    """Advisory locks on these host names until the transaction ends, taken in one order
    so that two imports never wait for each other in a circle."""
    keys = sorted(_lock_key(name) for name in hostnames)
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k) FROM "
            "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY k OFFSET 0) AS ordered"
        ),
        {"keys": keys},
    )


def _lock_key(hostname: str) -> int:
    digest = hashlib.sha256(f"hostwatch.device-name:{hostname}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


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
