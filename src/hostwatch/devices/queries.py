"""Read side of the device registry: the device list and one device's sidebar."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hostwatch import protocol
from hostwatch.config import Settings
from hostwatch.db import paging
from hostwatch.db.base import utcnow
from hostwatch.detection import risk
from hostwatch.devices import registry, schemas
from hostwatch.devices.models import Device, DeviceTag, Software
from hostwatch.errors import InvalidInput, NotFound
from hostwatch.response import service as actions
from hostwatch.vulns import exposure, recommendation_queries
from hostwatch.vulns.recommendation_model import Recommendation

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The deepest row a page may start at: deep offsets cost a scan, and no one reads that far.
MAX_OFFSET = 100_000
_ENDPOINT_SOURCES = ("agent", "endpoint_logs", "osquery")


@dataclass(frozen=True)
class DeviceFilters:
    """The device list's filters; each one that is set narrows the list."""

    q: str | None = None
    tags: list[str] | None = None
    health: str | None = None
    source: str | None = None
    known_from: str | None = None
    domain: str | None = None
    os: str | None = None
    risk: str | None = None
    exposure: str | None = None
    last_seen_after: datetime | None = None
    last_seen_before: datetime | None = None


def _text_key(column: Any, descending: bool) -> paging.SortKey:
    return paging.SortKey(
        func.lower(func.coalesce(column, "")), Device.id, descending, value_type=str
    )


def _sort_key(sort: str) -> paging.SortKey:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "name":
        return paging.SortKey(func.lower(Device.hostname), Device.id, descending, value_type=str)
    if name == "domain":
        return _text_key(Device.domain, descending)
    if name == "os":
        return _text_key(Device.os_name, descending)
    if name in {"last_seen", "first_seen"}:
        column = getattr(Device, name)
        return paging.SortKey(
            func.coalesce(column, _EPOCH), Device.id, descending, is_time=True, value_type=datetime
        )
    raise InvalidInput(
        f"sort {sort!r} is not supported: use name, domain, os, last_seen or first_seen, "
        "'-' for descending",
        errors=[{"field": "sort", "message": "unsupported sort"}],
    )


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, text: str) -> Any:
    return func.lower(column).like(_like(text), escape="\\")


def _has_tag(name: str) -> Any:
    return (
        select(DeviceTag.id)
        .where(DeviceTag.device_id == Device.id, DeviceTag.name == name)
        .exists()
    )


def _known_from_filter(known_from: str) -> Any:
    """Devices known from the endpoint only, the directory only, or both.

    Sources are read from the system tags, which mirror them and are indexed.
    """
    endpoint = or_(*(_has_tag(f"source:{s}") for s in _ENDPOINT_SOURCES))
    directory = _has_tag("source:directory")
    if known_from == "endpoint":
        return and_(endpoint, ~directory)
    if known_from == "directory":
        return and_(directory, ~endpoint)
    return and_(endpoint, directory)


_ADDRESS_PART = re.compile(r"[0-9A-Fa-f.:]*[0-9A-Fa-f][0-9A-Fa-f.:]*")


def _conditions(filters: DeviceFilters, settings: Settings, now: datetime) -> list[Any]:
    conditions: list[Any] = []
    if filters.q:
        pattern = _like(filters.q)
        tagged = select(DeviceTag.id).where(
            DeviceTag.device_id == Device.id, func.lower(DeviceTag.name).like(pattern, escape="\\")
        )
        matches = [
            func.lower(Device.hostname).like(pattern, escape="\\"),
            func.lower(Device.fqdn).like(pattern, escape="\\"),
            tagged.exists(),
        ]
        # Addresses are searched as the JSON text of their list, so only a query that could
        # be part of an address may look there; '[', '"' or ',' would match the JSON itself.
        if _ADDRESS_PART.fullmatch(filters.q):
            matches.append(func.lower(cast(Device.ip_addresses, String)).like(pattern, escape="\\"))
        conditions.append(or_(*matches))
    conditions.extend(_has_tag(tag) for tag in filters.tags or [])
    if filters.health:
        if filters.health not in {"active", "inactive", "misconfigured", "degraded"}:
            raise InvalidInput(
                f"health {filters.health!r} is not one of: active, inactive, misconfigured, "
                "degraded",
                errors=[{"field": "health", "message": "unknown health state"}],
            )
        conditions.append(registry.health_filter(filters.health, settings, now))
    if filters.source:
        if filters.source not in registry.SOURCES:
            raise InvalidInput(
                f"source {filters.source!r} is not one of: {', '.join(registry.SOURCES)}",
                errors=[{"field": "source", "message": "unknown source"}],
            )
        conditions.append(_has_tag(f"source:{filters.source}"))
    if filters.known_from:
        conditions.append(_known_from_filter(filters.known_from))
    if filters.domain:
        conditions.append(_contains(Device.domain, filters.domain))
    if filters.os:
        conditions.append(
            or_(
                _contains(Device.os_name, filters.os),
                _contains(Device.os_family, filters.os),
                _contains(Device.os_version, filters.os),
            )
        )
    if filters.risk:
        conditions.append(Device.risk_level == filters.risk)
    if filters.exposure:
        # Devices never rated (no findings refresh yet) have no level and match no filter.
        conditions.append(Device.exposure_level == filters.exposure)
    if filters.last_seen_after:
        conditions.append(Device.last_seen >= filters.last_seen_after)
    if filters.last_seen_before:
        conditions.append(
            or_(Device.last_seen.is_(None), Device.last_seen < filters.last_seen_before)
        )
    return conditions


def _check_paging(cursor: str | None, offset: int | None) -> None:
    paging.check_position(cursor, offset)


def list_devices(
    session: Session,
    settings: Settings,
    filters: DeviceFilters,
    *,
    sort: str = "name",
    limit: int = 50,
    cursor: str | None = None,
    offset: int | None = None,
) -> schemas.DevicePage:
    """One page of devices: after a cursor (cheap at any depth) or at an offset (page numbers)."""
    _check_paging(cursor, offset)
    now = utcnow()
    key = _sort_key(sort)
    conditions = _conditions(filters, settings, now)

    total = session.scalar(select(func.count(Device.id)).where(*conditions)) or 0
    query = paging.apply(
        select(Device, key.expression.label("sort_value"))
        .where(*conditions)
        .options(selectinload(Device.tags), selectinload(Device.agent)),
        key,
        cursor,
        limit,
    )
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    items = [_summary(device, settings, now) for device, _ in rows[:limit]]
    if filters.health in {"active", "misconfigured", "degraded"}:
        # Limitation: misconfiguration is judged from the agent's latest status in Python,
        # so a page filtered by active or misconfigured may hold fewer rows than the limit
        # and the total counts both.
        items = [i for i in items if i.health_state == filters.health]
    next_cursor = None
    if len(rows) > limit:
        last_device, last_value = rows[limit - 1]
        next_cursor = paging.encode_cursor(last_value, last_device.id)
    return schemas.DevicePage(items=items, next_cursor=next_cursor, total=total)


def known_from(sources: list[str] | None) -> str | None:
    endpoint = any(s in _ENDPOINT_SOURCES for s in sources or [])
    directory = "directory" in (sources or [])
    if endpoint and directory:
        return "both"
    if endpoint:
        return "endpoint"
    return "directory" if directory else None


def _tags(device: Device) -> list[schemas.TagOut]:
    ordered = sorted(device.tags, key=lambda t: (t.kind != "system", t.name))
    return [schemas.TagOut(name=t.name, kind=t.kind) for t in ordered]  # type: ignore[arg-type]


def _summary(device: Device, settings: Settings, now: datetime) -> schemas.DeviceSummary:
    state, _ = registry.health(device, settings, now)
    return schemas.DeviceSummary(
        id=device.id,
        name=device.hostname,
        fqdn=device.fqdn,
        domain=device.domain,
        os_family=device.os_family,
        os_name=device.os_name,
        os_version=device.os_version,
        health_state=state,  # type: ignore[arg-type]
        risk_level=device.risk_level,  # type: ignore[arg-type]
        exposure_level=device.exposure_level,  # type: ignore[arg-type]
        exposure_score=device.exposure_score,
        tags=_tags(device),
        sources=list(device.sources or []),  # type: ignore[arg-type]
        known_from=known_from(device.sources),  # type: ignore[arg-type]
        ip_addresses=list(device.ip_addresses or []),
        first_seen=device.first_seen,
        last_seen=device.last_seen,
        isolated=bool((device.containment or {}).get("isolated")),
        app_restricted=bool((device.containment or {}).get("app_restricted")),
    )


def get_device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"no device with id {device_id!r}")
    return device


def _exposure(session: Session, device: Device) -> schemas.ExposureInfo | None:
    """The exposure, assessed now from the stored findings, with the findings driving it."""
    if device.exposure_level is None:
        return None
    now = utcnow()
    found = exposure.assess(session, device.id, now)
    active = (
        session.scalar(
            select(func.count(Recommendation.id)).where(
                Recommendation.device_id == device.id,
                recommendation_queries.status_condition("active", now),
            )
        )
        or 0
    )
    return schemas.ExposureInfo(
        score=found.score,
        level=found.level,  # type: ignore[arg-type]
        counted=found.counted,
        exploited=found.exploited,
        unknown=found.unknown,
        excepted=found.excepted,
        drivers=[
            schemas.ExposureDriver(
                vulnerability=w.key,
                software=w.software,
                version=w.version,
                cvss=w.cvss,
                exploited=w.exploited,
                ransomware=w.ransomware,
                weight=round(w.likelihood, 4),
            )
            for w in found.drivers
        ],
        active_recommendations=active,
    )


def _security(session: Session, device: Device) -> schemas.SecurityInfo:
    device_id = device.id
    found = risk.security_info(session, device_id)
    rated = _exposure(session, device)
    return schemas.SecurityInfo(
        open_incidents=found.open_incidents,
        active_alerts=found.active_alerts,
        active_alerts_by_severity=found.active_by_severity,
        risk_level=found.risk_level,  # type: ignore[arg-type]
        risk_reasons=[
            schemas.RiskReason(alert_id=r.alert_id, title=r.title, severity=r.severity)
            for r in found.risk_reasons
        ],
        # Assessed now, so the level, the score and their drivers always agree.
        exposure_level=rated.level if rated else None,
        exposure_score=rated.score if rated else None,
        exposure=rated,
    )


def device_detail(session: Session, settings: Settings, device_id: str) -> schemas.DeviceDetail:
    device = get_device(session, device_id)
    state, reasons = registry.health(device, settings, utcnow())
    software_count = (
        session.scalar(select(func.count(Software.id)).where(Software.device_id == device.id)) or 0
    )
    agent = device.agent
    return schemas.DeviceDetail(
        id=device.id,
        name=device.hostname,
        sources=list(device.sources or []),  # type: ignore[arg-type]
        known_from=known_from(device.sources),  # type: ignore[arg-type]
        tags=_tags(device),
        security=_security(session, device),
        details=schemas.DeviceDetails(
            hostname=device.hostname,
            fqdn=device.fqdn,
            domain=device.domain,
            os_family=device.os_family,
            os_name=device.os_name,
            os_version=device.os_version,
            os_kernel=device.os_kernel,
            os_arch=device.os_arch,
            ip_addresses=list(device.ip_addresses or []),
            mac_addresses=list(device.mac_addresses or []),
            resources=schemas.Resources(**(device.resources or {})),
            health_state=state,  # type: ignore[arg-type]
            health_reasons=reasons,
            boot_time=device.boot_time,
            machine_id=device.machine_id,
            sam_name=device.sam_name,
            directory_created=device.directory_created,
            agent_version=agent.version if agent else None,
        ),
        network_activity=schemas.NetworkActivity(
            first_seen=device.first_seen, last_seen=device.last_seen
        ),
        directory=schemas.DirectoryData(**device.directory) if device.directory else None,
        logged_on_users=[
            schemas.LoggedOnUserOut.model_validate(u) for u in device.logged_on_users or []
        ]
        if device.inventory_collected_at or device.logged_on_users
        else None,
        inventory=schemas.InventoryInfo(
            collected_at=device.inventory_collected_at, software_count=software_count
        ),
        agent=schemas.AgentInfo(
            enrolled_at=agent.enrolled_at,
            last_heartbeat=agent.last_heartbeat,
            version=agent.version,
            revoked=agent.revoked_at is not None,
            status=schemas.AgentStatus(**agent.status) if agent.status else None,
        )
        if agent
        else None,
        containment=_containment(session, device),
    )


def _containment(session: Session, device: Device) -> schemas.ContainmentInfo:
    found = protocol.ContainmentStatus.model_validate(device.containment or {})
    return schemas.ContainmentInfo(
        isolated=found.isolated,
        isolation_mode=found.isolation_mode,
        app_restricted=found.app_restricted,
        checked_at=found.checked_at,
        problems=list(found.problems),
        pending=[
            schemas.PendingActionRef(id=a.id, type=a.type, state=a.state)  # type: ignore[arg-type]
            for a in actions.pending(session, device.id, utcnow())
        ],
    )


def _software_key(sort: str) -> paging.SortKey:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    columns = {"name": Software.name, "vendor": Software.vendor, "source": Software.source}
    if name not in columns:
        raise InvalidInput(
            f"sort {sort!r} is not supported: use name, vendor or source, '-' for descending",
            errors=[{"field": "sort", "message": "unsupported sort"}],
        )
    return paging.SortKey(
        func.lower(func.coalesce(columns[name], "")), Software.id, descending, value_type=str
    )


def _software_out(s: Software) -> schemas.SoftwareOut:
    return schemas.SoftwareOut(
        id=s.id,
        source=s.source,
        name=s.name,
        version=s.version or None,
        arch=s.arch or None,
        vendor=s.vendor,
        source_package=s.source_package,
        install_path=s.install_path,
        status=s.status,
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        product_code=None,
        weaknesses=0,
        exploited=False,
    )


def list_software(
    session: Session,
    device_id: str,
    *,
    q: str | None,
    source: str | None = None,
    sort: str = "name",
    limit: int,
    cursor: str | None,
    offset: int | None = None,
    ids: Collection[int] | None = None,
) -> schemas.SoftwarePage:
    _check_paging(cursor, offset)
    get_device(session, device_id)
    key = _software_key(sort)
    conditions: list[Any] = [Software.device_id == device_id]
    if q:
        conditions.append(or_(_contains(Software.name, q), _contains(Software.vendor, q)))
    if source:
        conditions.append(Software.source == source)
    if ids is not None:
        conditions.append(Software.id.in_(ids))
    total = session.scalar(select(func.count(Software.id)).where(*conditions)) or 0
    query = paging.apply(
        select(Software, key.expression.label("sort_value")).where(*conditions),
        key,
        cursor,
        limit,
    )
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    items = [_software_out(s) for s, _ in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last, value = rows[limit - 1]
        next_cursor = paging.encode_cursor(value, last.id)
    return schemas.SoftwarePage(items=items, next_cursor=next_cursor, total=total)


def get_software(session: Session, device_id: str, software_id: int) -> schemas.SoftwareOut:
    found = session.scalar(
        select(Software).where(Software.device_id == device_id, Software.id == software_id)
    )
    if found is None:
        get_device(session, device_id)  # a missing device says so, rather than its software
        raise NotFound(f"device {device_id} has no software item {software_id}")
    return _software_out(found)
