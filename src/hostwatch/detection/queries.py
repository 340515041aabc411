"""Read side of detection: alert lists and details, incidents, rules; and alert triage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, or_, select
from sqlalchemy.orm import Session

from hostwatch.db import paging
from hostwatch.db.base import utcnow
from hostwatch.detection import incidents, risk, schemas
from hostwatch.detection.models import (
    ACTIVE_STATUSES,
    Alert,
    AlertEntity,
    AlertEvent,
    DetectionRule,
    Incident,
    RuleExclusion,
)
from hostwatch.devices.models import Device
from hostwatch.errors import InvalidInput, NotFound
from hostwatch.events import timeline

# Matched events shown in an alert's detail; the total is given beside them.
DETAIL_EVENTS = 50
MAX_OFFSET = 100_000
_SEVERITY_ORDER = case(
    {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4},
    value=Alert.severity,
    else_=0,
)
_STATUS_ORDER = case({"new": 0, "in_progress": 1, "resolved": 2}, value=Alert.status, else_=3)
# The list's columns, by the name `fields` and `sort` use.
FIELDS = (
    "title",
    "severity",
    "status",
    "classification",
    "determination",
    "assignee",
    "tactics",
    "techniques",
    "first_activity",
    "last_activity",
    "event_count",
    "rule_id",
    "device_id",
    "device_name",
    "user",
    "incident_id",
)


@dataclass(frozen=True)
class AlertFilters:
    device_id: str | None = None
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    assignee: str | None = None
    rule_id: str | None = None
    # Text in the device's host name or FQDN (case-insensitive), for a search box.
    device_search: str | None = None
    # Alerts whose activity overlaps [active_from, active_to).
    active_from: datetime | None = None
    active_to: datetime | None = None


def parse_fields(given: Sequence[str] | None) -> tuple[str, ...]:
    return paging.parse_fields(given, FIELDS)


def _sort_key(sort: str) -> paging.SortKey:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name in {"last_activity", "first_activity"}:
        return paging.SortKey(getattr(Alert, name), Alert.id, descending, is_time=True)
    if name == "severity":
        return paging.SortKey(_SEVERITY_ORDER, Alert.id, descending, value_type=int)
    if name == "status":
        return paging.SortKey(_STATUS_ORDER, Alert.id, descending, value_type=int)
    if name == "title":
        return paging.SortKey(func.lower(Alert.title), Alert.id, descending, value_type=str)
    if name == "event_count":
        return paging.SortKey(Alert.event_count, Alert.id, descending)
    raise InvalidInput(
        f"sort {sort!r} is not supported",
        errors=[{"field": "sort", "message": "unsupported sort"}],
    )


def _conditions(filters: AlertFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.device_id:
        conditions.append(Alert.device_id == filters.device_id)
    if filters.severities:
        conditions.append(Alert.severity.in_(filters.severities))
    if filters.statuses:
        conditions.append(Alert.status.in_(filters.statuses))
    if filters.assignee is not None:
        # An empty assignee asks for the unassigned alerts.
        if filters.assignee == "":
            conditions.append(Alert.assignee.is_(None))
        else:
            conditions.append(Alert.assignee == filters.assignee)
    if filters.rule_id:
        conditions.append(Alert.rule_id == filters.rule_id)
    if filters.device_search:
        needle = filters.device_search.lower()
        conditions.append(
            Alert.device_id.in_(
                select(Device.id).where(
                    or_(
                        func.lower(Device.hostname).contains(needle, autoescape=True),
                        func.lower(Device.fqdn).contains(needle, autoescape=True),
                    )
                )
            )
        )
    if filters.active_from is not None:
        conditions.append(Alert.last_activity >= filters.active_from)
    if filters.active_to is not None:
        conditions.append(Alert.first_activity < filters.active_to)
    return conditions


def list_alerts(
    session: Session,
    filters: AlertFilters,
    *,
    fields: Sequence[str] = FIELDS,
    sort: str = "-last_activity",
    limit: int = 30,
    cursor: str | None = None,
    offset: int | None = None,
) -> schemas.AlertPage:
    paging.check_position(cursor, offset)
    if filters.device_id and session.get(Device, filters.device_id) is None:
        raise NotFound(f"no device with id {filters.device_id!r}")
    key = _sort_key(sort)
    conditions = _conditions(filters)
    total = session.scalar(select(func.count(Alert.id)).where(*conditions)) or 0
    query = paging.apply(
        select(Alert, Device.hostname, key.expression.label("sort_value"))
        .join(Device, Device.id == Alert.device_id)
        .where(*conditions),
        key,
        cursor,
        limit,
    )
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    items = [_item(alert, hostname, fields) for alert, hostname, _ in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last, _, value = rows[limit - 1]
        next_cursor = paging.encode_cursor(value, last.id)
    return schemas.AlertPage(items=items, next_cursor=next_cursor, total=total)


def _item(alert: Alert, hostname: str, fields: Sequence[str]) -> schemas.AlertItem:
    values: dict[str, Any] = {"id": alert.id}
    for name in fields:
        values[name] = hostname if name == "device_name" else getattr(alert, name)
    return schemas.AlertItem(**values)


def get_alert(session: Session, alert_id: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    return alert


def alert_detail(session: Session, alert_id: str) -> schemas.AlertDetail:
    alert = get_alert(session, alert_id)
    device = session.get(Device, alert.device_id)
    assert device is not None  # alerts go with their device
    rule = session.get(DetectionRule, alert.rule_id)
    incident = session.get(Incident, alert.incident_id) if alert.incident_id else None
    entities = session.execute(
        select(AlertEntity.kind, AlertEntity.value)
        .where(AlertEntity.alert_id == alert.id)
        .order_by(AlertEntity.id)
    ).all()
    every_field = tuple(timeline.FIELDS)
    events: Sequence[Row[Any]] = session.execute(  # type: ignore[assignment]
        select(*timeline.columns_of(every_field))
        .join(AlertEvent, AlertEvent.event_id == timeline.events.id)
        .where(AlertEvent.alert_id == alert.id)
        .order_by(timeline.events.time, timeline.events.id)
        .limit(DETAIL_EVENTS)
    ).all()
    events_total = session.scalar(select(func.count()).where(AlertEvent.alert_id == alert.id)) or 0
    return schemas.AlertDetail(
        id=alert.id,
        title=alert.title,
        description=alert.description,
        severity=alert.severity,  # type: ignore[arg-type]
        status=alert.status,  # type: ignore[arg-type]
        classification=alert.classification,  # type: ignore[arg-type]
        determination=alert.determination,  # type: ignore[arg-type]
        assignee=alert.assignee,
        tactics=alert.tactics,
        techniques=alert.techniques,
        first_activity=alert.first_activity,
        last_activity=alert.last_activity,
        event_count=alert.event_count,
        device_id=alert.device_id,
        device_name=device.hostname,
        user=alert.user,
        created_at=alert.created_at,
        updated_at=alert.updated_at,
        resolved_at=alert.resolved_at,
        rule=schemas.RuleRef(
            id=alert.rule_id,
            title=rule.title if rule else alert.title,
            level=rule.level if rule else None,
            description=rule.description if rule else alert.description,
            references=list(rule.references) if rule else [],
            tags=list(rule.tags) if rule else [],
            enabled=rule.enabled if rule else None,
        ),
        incident=schemas.IncidentRef(
            id=incident.id,
            title=incident.title,
            status=incident.status,  # type: ignore[arg-type]
            reason=alert.incident_reason,
        )
        if incident
        else None,
        entities=[
            schemas.EntityOut(kind=k, value=v)  # type: ignore[arg-type]
            for k, v in entities
        ],
        events=[timeline.item(row, every_field) for row in events],
        events_total=events_total,
    )


def update_alert(
    session: Session, alert_id: str, changes: dict[str, Any]
) -> tuple[Alert, dict[str, list[Any]]]:
    """Apply triage changes; returns the alert and each changed field's [before, after].

    A status change refreshes the alert's incident and its device's risk level.
    """
    alert = get_alert(session, alert_id)
    if "status" in changes and changes["status"] is None:
        raise InvalidInput(
            "status cannot be cleared", errors=[{"field": "status", "message": "null"}]
        )
    changed: dict[str, list[Any]] = {}
    for name, value in changes.items():
        before = getattr(alert, name)
        if before != value:
            changed[name] = [before, value]
            setattr(alert, name, value)
    if not changed:
        return alert, changed
    now = utcnow()
    alert.updated_at = now
    if "status" in changed:
        alert.resolved_at = now if alert.status == "resolved" else None
        session.flush()
        if alert.incident_id:
            incidents.refresh(session, alert.incident_id)
        risk.recompute(session, [alert.device_id])
    session.flush()
    return alert, changed


def _incident_items(session: Session, found: Sequence[Incident]) -> list[schemas.IncidentItem]:
    ids = [incident.id for incident in found]
    counts: dict[str, tuple[int, int]] = {}
    devices: dict[str, set[str]] = {}
    users: dict[str, set[str]] = {}
    if ids:
        rows = session.execute(
            select(
                Alert.incident_id,
                func.count(Alert.id),
                func.sum(case((Alert.status.in_(ACTIVE_STATUSES), 1), else_=0)),
            )
            .where(Alert.incident_id.in_(ids))
            .group_by(Alert.incident_id)
        )
        counts = {
            incident_id: (int(total), int(active or 0)) for incident_id, total, active in rows
        }
        for incident_id, hostname, user in session.execute(
            select(Alert.incident_id, Device.hostname, Alert.user)
            .join(Device, Device.id == Alert.device_id)
            .where(Alert.incident_id.in_(ids))
            .distinct()
        ):
            if incident_id:
                devices.setdefault(incident_id, set()).add(hostname)
                if user:
                    users.setdefault(incident_id, set()).add(user)
    return [
        schemas.IncidentItem(
            id=incident.id,
            title=incident.title,
            status=incident.status,  # type: ignore[arg-type]
            severity=incident.severity,  # type: ignore[arg-type]
            first_activity=incident.first_activity,
            last_activity=incident.last_activity,
            alert_count=counts.get(incident.id, (0, 0))[0],
            active_alerts=counts.get(incident.id, (0, 0))[1],
            devices=sorted(devices.get(incident.id, set())),
            users=sorted(users.get(incident.id, set())),
        )
        for incident in found
    ]


def list_incidents(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    severities: Sequence[str] = (),
    device_id: str | None = None,
    limit: int = 30,
    cursor: str | None = None,
) -> schemas.IncidentPage:
    conditions: list[Any] = []
    if statuses:
        conditions.append(Incident.status.in_(statuses))
    if severities:
        conditions.append(Incident.severity.in_(severities))
    if device_id:
        conditions.append(
            select(Alert.id)
            .where(Alert.incident_id == Incident.id, Alert.device_id == device_id)
            .exists()
        )
    key = paging.SortKey(Incident.last_activity, Incident.id, True, is_time=True)
    total = session.scalar(select(func.count(Incident.id)).where(*conditions)) or 0
    rows = session.scalars(paging.apply(select(Incident).where(*conditions), key, cursor, limit))
    found = list(rows)
    next_cursor = None
    if len(found) > limit:
        last = found[limit - 1]
        next_cursor = paging.encode_cursor(last.last_activity, last.id)
    return schemas.IncidentPage(
        items=_incident_items(session, found[:limit]), next_cursor=next_cursor, total=total
    )


def incident_detail(session: Session, incident_id: str) -> schemas.IncidentDetail:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident with id {incident_id!r}")
    [item] = _incident_items(session, [incident])
    rows = session.execute(
        select(Alert, Device.hostname)
        .join(Device, Device.id == Alert.device_id)
        .where(Alert.incident_id == incident_id)
        .order_by(Alert.first_activity, Alert.id)
    ).all()
    return schemas.IncidentDetail(
        **item.model_dump(),
        alerts=[
            schemas.IncidentAlert(
                id=alert.id,
                title=alert.title,
                severity=alert.severity,  # type: ignore[arg-type]
                status=alert.status,  # type: ignore[arg-type]
                device_id=alert.device_id,
                device_name=hostname,
                user=alert.user,
                first_activity=alert.first_activity,
                last_activity=alert.last_activity,
                reason=alert.incident_reason,
            )
            for alert, hostname in rows
        ],
    )


def list_rules(
    session: Session,
    *,
    q: str | None = None,
    enabled: bool | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> schemas.RulePage:
    conditions: list[Any] = []
    if q:
        conditions.append(func.lower(DetectionRule.title).contains(q.lower(), autoescape=True))
    if enabled is not None:
        conditions.append(DetectionRule.enabled.is_(enabled))
    key = paging.SortKey(func.lower(DetectionRule.title), DetectionRule.id, False, value_type=str)
    total = session.scalar(select(func.count(DetectionRule.id)).where(*conditions)) or 0
    rows = session.execute(
        paging.apply(
            select(DetectionRule, key.expression.label("sort_value")).where(*conditions),
            key,
            cursor,
            limit,
        )
    ).all()
    next_cursor = None
    if len(rows) > limit:
        last, value = rows[limit - 1]
        next_cursor = paging.encode_cursor(value, last.id)
    return schemas.RulePage(
        items=[
            schemas.RuleItem(
                id=rule.id,
                title=rule.title,
                level=rule.level,
                status=rule.status,
                tags=list(rule.tags),
                file=rule.file,
                enabled=rule.enabled,
                updated_at=rule.updated_at,
            )
            for rule, _ in rows[:limit]
        ],
        next_cursor=next_cursor,
        total=total,
    )


def exclusion_out(exclusion: RuleExclusion, now: datetime | None = None) -> schemas.ExclusionOut:
    now = now or utcnow()
    return schemas.ExclusionOut(
        id=exclusion.id,
        rule_id=exclusion.rule_id,
        device_id=exclusion.device_id,
        tag=exclusion.tag,
        reason=exclusion.reason,
        expires_at=exclusion.expires_at,
        created_by=exclusion.created_by,
        created_at=exclusion.created_at,
        active=exclusion.expires_at is None or exclusion.expires_at > now,
    )
