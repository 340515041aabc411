"""Executions the agent's app restriction refused, repeated on one device, raise one alert.

A single refused program is an event on the timeline; BLOCKED_THRESHOLD of them within
BLOCKED_WINDOW raise the alert "Application execution blocked repeatedly". Later refusals
within the window of that alert's activity join it (its event count grows), so one burst is
one alert. Events are the agent's ExecutionBlocked process events (hostwatch.agent.restriction).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hostwatch.db.base import new_id, utcnow
from hostwatch.detection import alerts, incidents, risk
from hostwatch.detection.models import ACTIVE_STATUSES, Alert, AlertEntity, AlertEvent
from hostwatch.detection.service import Windows, stored_rows
from hostwatch.devices.models import Device
from hostwatch.events.models import Event

log = logging.getLogger(__name__)

ACTION_TYPE = "ExecutionBlocked"
BLOCKED_RULE_ID = "hostwatch-execution-blocked"
BLOCKED_TITLE = "Application execution blocked repeatedly"
BLOCKED_DESCRIPTION = (
    "App execution restriction on this device refused programs repeatedly: someone or "
    "something keeps trying to run software that is not allowed."
)
BLOCKED_THRESHOLD = 5
BLOCKED_WINDOW = timedelta(minutes=10)
BLOCKED_SEVERITY = "medium"


def _is_blocked(row: Mapping[str, Any]) -> bool:
    return row.get("kind") == "process" and row.get("action_type") == ACTION_TYPE


def _already_alerted(session: Session, event_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(event_ids), 1000):
        found.update(
            session.scalars(
                select(AlertEvent.event_id)
                .join(Alert, Alert.id == AlertEvent.alert_id)
                .where(
                    Alert.rule_id == BLOCKED_RULE_ID,
                    AlertEvent.event_id.in_(event_ids[start : start + 1000]),
                )
            )
        )
    return found


def _burst(session: Session, device_id: str, moment: datetime) -> list[dict[str, Any]]:
    """The device's blocked executions in the window up to `moment` not in an alert yet."""
    alerted = (
        select(AlertEvent.event_id)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .where(Alert.device_id == device_id, Alert.rule_id == BLOCKED_RULE_ID)
    )
    found = session.execute(
        select(*Event.__table__.columns)
        .where(
            Event.device_id == device_id,
            Event.kind == "process",
            Event.action_type == ACTION_TYPE,
            Event.time >= moment - BLOCKED_WINDOW,
            Event.time <= moment,
            Event.id.not_in(alerted),
        )
        .order_by(Event.time, Event.id)
    )
    return [dict(row._mapping) for row in found]


def _open_alert(session: Session, device_id: str, moment: datetime) -> Alert | None:
    return session.scalars(
        select(Alert)
        .where(
            Alert.device_id == device_id,
            Alert.rule_id == BLOCKED_RULE_ID,
            Alert.status.in_(ACTIVE_STATUSES),
            Alert.last_activity >= moment - BLOCKED_WINDOW,
            Alert.first_activity <= moment + BLOCKED_WINDOW,
        )
        .order_by(Alert.last_activity.desc())
        .limit(1)
    ).first()


def _link(session: Session, alert: Alert, rows: Sequence[Mapping[str, Any]], name: str) -> None:
    for row in rows:
        alert.first_activity = min(alert.first_activity, row["time"])
        alert.last_activity = max(alert.last_activity, row["time"])
    alert.event_count += len(rows)
    alert.updated_at = utcnow()
    session.flush()
    session.execute(
        insert(AlertEvent), [{"alert_id": alert.id, "event_id": int(r["id"])} for r in rows]
    )
    have: set[tuple[str, str]] = {
        (kind, value)
        for kind, value in session.execute(
            select(AlertEntity.kind, AlertEntity.value).where(AlertEntity.alert_id == alert.id)
        )
    }
    per_kind: dict[str, int] = {}
    for kind, _ in have:
        per_kind[kind] = per_kind.get(kind, 0) + 1
    entity_rows = []
    for row in rows:
        for kind, value in alerts.entities_of(row, name):
            if (kind, value) in have or per_kind.get(kind, 0) >= alerts.MAX_ENTITIES_PER_KIND:
                continue
            have.add((kind, value))
            per_kind[kind] = per_kind.get(kind, 0) + 1
            entity_rows.append({"alert_id": alert.id, "kind": kind, "value": value})
    if entity_rows:
        session.execute(insert(AlertEntity), entity_rows)


def alert_on_blocked(
    session: Session,
    device_id: str,
    rows: Sequence[Mapping[str, Any]],
    windows: Windows | None = None,
) -> list[str]:
    """Raises or grows the device's blocked-execution alert for just-stored event rows (as
    handed to the event store); returns the ids of the alerts created or grown."""
    keys = [str(row["dedupe_key"]) for row in rows if _is_blocked(row)]
    if not keys:
        return []
    stored = [row for row in stored_rows(session, device_id, keys) if _is_blocked(row)]
    done = _already_alerted(session, [int(row["id"]) for row in stored])
    new = sorted((r for r in stored if r["id"] not in done), key=lambda r: (r["time"], r["id"]))
    if not new:
        return []
    device = session.get(Device, device_id)
    if device is None:
        return []

    created: list[Alert] = []
    touched: dict[str, Alert] = {}
    for row in new:
        if int(row["id"]) in done:
            continue  # joined an alert with an earlier burst of this batch
        alert = _open_alert(session, device_id, row["time"])
        if alert is not None:
            _link(session, alert, [row], device.hostname)
            done.add(int(row["id"]))
            touched[alert.id] = alert
            continue
        burst = _burst(session, device_id, row["time"])
        if len(burst) < BLOCKED_THRESHOLD:
            continue
        alert = _new_alert(device_id, burst[0])
        session.add(alert)
        _link(session, alert, burst, device.hostname)
        done.update(int(r["id"]) for r in burst)
        created.append(alert)
        touched[alert.id] = alert
    if not touched:
        return []

    windows = windows or Windows()
    incidents.correlate_new(session, created, device.hostname, windows.incident)
    for alert in touched.values():
        if alert not in created and alert.incident_id:
            incidents.refresh(session, alert.incident_id)
    risk.recompute(session, [device_id])
    if created:
        log.info("device %s: alert %s, executions blocked repeatedly", device_id, created[0].id)
    return list(touched)


def _new_alert(device_id: str, first: Mapping[str, Any]) -> Alert:
    user = first.get("user")
    return Alert(
        id=new_id(),
        device_id=device_id,
        rule_id=BLOCKED_RULE_ID,
        group_key="",
        title=BLOCKED_TITLE,
        description=BLOCKED_DESCRIPTION,
        severity=BLOCKED_SEVERITY,
        status="new",
        tactics=["Execution"],
        techniques=[],
        user=str(user)[:255] if user else None,
        first_activity=first["time"],
        last_activity=first["time"],
        event_count=0,
    )
