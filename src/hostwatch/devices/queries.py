"""Read side of the device registry: the device list and one device's sidebar."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hostwatch.config import Settings
from hostwatch.db import paging
from hostwatch.db.base import utcnow
from hostwatch.devices import registry, schemas
from hostwatch.devices.models import Device, DeviceTag, Software
from hostwatch.errors import InvalidInput, NotFound

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sort_key(sort: str) -> paging.SortKey:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "name":
        return paging.SortKey(func.lower(Device.hostname), Device.id, descending, value_type=str)
    if name in {"last_seen", "first_seen"}:
        column = getattr(Device, name)
        return paging.SortKey(
            func.coalesce(column, _EPOCH), Device.id, descending, is_time=True, value_type=datetime
        )
    raise InvalidInput(
        f"sort {sort!r} is not supported: use name, last_seen or first_seen, '-' for descending",
        errors=[{"field": "sort", "message": "unsupported sort"}],
    )


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_devices(
    session: Session,
    settings: Settings,
    *,
    q: str | None = None,
    tags: list[str] | None = None,
    health: str | None = None,
    source: str | None = None,
    sort: str = "name",
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.DevicePage:
    now = utcnow()
    key = _sort_key(sort)
    conditions: list[Any] = []
    if q:
        pattern = _like(q)
        tagged = select(DeviceTag.id).where(
            DeviceTag.device_id == Device.id, func.lower(DeviceTag.name).like(pattern, escape="\\")
        )
        conditions.append(
            or_(
                func.lower(Device.hostname).like(pattern, escape="\\"),
                func.lower(Device.fqdn).like(pattern, escape="\\"),
                func.lower(cast(Device.ip_addresses, String)).like(pattern, escape="\\"),
                tagged.exists(),
            )
        )
    for tag in tags or []:
        conditions.append(
            select(DeviceTag.id)
            .where(DeviceTag.device_id == Device.id, DeviceTag.name == tag)
            .exists()
        )
    if health:
        if health not in {"active", "inactive", "misconfigured"}:
            raise InvalidInput(
                f"health {health!r} is not one of: active, inactive, misconfigured",
                errors=[{"field": "health", "message": "unknown health state"}],
            )
        conditions.append(registry.health_filter(health, settings, now))
    if source:
        if source not in registry.SOURCES:
            raise InvalidInput(
                f"source {source!r} is not one of: {', '.join(registry.SOURCES)}",
                errors=[{"field": "source", "message": "unknown source"}],
            )
        conditions.append(
            select(DeviceTag.id)
            .where(DeviceTag.device_id == Device.id, DeviceTag.name == f"source:{source}")
            .exists()
        )

    total = session.scalar(select(func.count(Device.id)).where(*conditions)) or 0
    query = paging.apply(
        select(Device, key.expression.label("sort_value"))
        .where(*conditions)
        .options(selectinload(Device.tags), selectinload(Device.agent)),
        key,
        cursor,
        limit,
    )
    rows = session.execute(query).all()
    items = [_summary(device, settings, now) for device, _ in rows[:limit]]
    if health in {"active", "misconfigured"}:
        # Limitation: misconfiguration is judged from the agent's latest status in Python,
        # so a page filtered by active or misconfigured may hold fewer rows than the limit
        # and the total counts both.
        items = [i for i in items if i.health_state == health]
    next_cursor = None
    if len(rows) > limit:
        last_device, last_value = rows[limit - 1]
        next_cursor = paging.encode_cursor(last_value, last_device.id)
    return schemas.DevicePage(items=items, next_cursor=next_cursor, total=total)


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
        risk_level=None,
        exposure_level=None,
        tags=_tags(device),
        sources=list(device.sources or []),
        ip_addresses=list(device.ip_addresses or []),
        first_seen=device.first_seen,
        last_seen=device.last_seen,
    )


def get_device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"no device with id {device_id!r}")
    return device


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
        sources=list(device.sources or []),
        tags=_tags(device),
        # Limitation: alerts, incidents, risk and exposure arrive with detection (issue 6)
        # and vulnerability matching (issue 7); until then they are unknown, not zero.
        security=schemas.SecurityInfo(
            open_incidents=None, active_alerts=None, risk_level=None, exposure_level=None
        ),
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
        logged_on_users=[schemas.LoggedOnUserOut(**u) for u in device.logged_on_users or []]
        if device.inventory_collected_at
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
    )


def list_software(
    session: Session,
    device_id: str,
    *,
    q: str | None,
    source: str | None = None,
    limit: int,
    cursor: str | None,
) -> schemas.SoftwarePage:
    get_device(session, device_id)
    key = paging.SortKey(func.lower(Software.name), Software.id, descending=False, value_type=str)
    conditions: list[Any] = [Software.device_id == device_id]
    if q:
        conditions.append(func.lower(Software.name).like(_like(q), escape="\\"))
    if source:
        conditions.append(Software.source == source)
    total = session.scalar(select(func.count(Software.id)).where(*conditions)) or 0
    rows = session.execute(
        paging.apply(
            select(Software, key.expression.label("sort_value")).where(*conditions),
            key,
            cursor,
            limit,
        )
    ).all()
    items = [
        schemas.SoftwareOut(
            id=s.id,
            source=s.source,
            name=s.name,
            version=s.version or None,
            arch=s.arch or None,
            vendor=s.vendor,
            source_package=s.source_package,
            install_path=s.install_path,
            first_seen=s.first_seen,
            last_seen=s.last_seen,
        )
        for s, _ in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last, value = rows[limit - 1]
        next_cursor = paging.encode_cursor(value, last.id)
    return schemas.SoftwarePage(items=items, next_cursor=next_cursor, total=total)
