"""Alerts correlated into incidents: the same device, or the same user, within a window.

Every alert belongs to an incident. A new alert joins the open incident of the earliest
alert it relates to (same device, or same named user, with activity within the window),
with the reason written on the alert; when it relates to alerts of several open incidents,
those incidents become one. An alert that relates to none opens an incident of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.detection.models import Alert, Incident

_SEVERITY_RANK = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
# Accounts every Windows machine runs services as: alerts that share one of these share
# nothing about who did it, so they do not correlate by user.
_SERVICE_ACCOUNTS = frozenset(
    {
        "system",
        "nt authority\\system",
        "local service",
        "nt authority\\local service",
        "network service",
        "nt authority\\network service",
        "s-1-5-18",
        "s-1-5-19",
        "s-1-5-20",
        "-",
    }
)


def severity_rank(severity: str) -> int:
    return _SEVERITY_RANK.get(severity, 0)


def correlates_by_user(user: str | None) -> bool:
    """Whether alerts of this user relate through it (named people, not service accounts)."""
    if not user:
        return False
    name = user.strip().lower()
    # Machine accounts (NAME$) are the device itself, which correlates by device anyway.
    return bool(name) and name not in _SERVICE_ACCOUNTS and not name.endswith("$")


def describe_gap(gap: timedelta) -> str:
    """A gap between activities as a reason says it: "1 min", "40 min", "2 h", "3 d"."""
    minutes = max(1, math.ceil(gap.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = math.ceil(minutes / 60)
    if hours < 48:
        return f"{hours} h"
    return f"{math.ceil(hours / 24)} d"


def _gap(a: Alert, b: Alert) -> timedelta:
    """Time between two alerts' activities; zero when they overlap."""
    zero = timedelta(0)
    return max(zero, a.first_activity - b.last_activity, b.first_activity - a.last_activity)


def correlate(session: Session, alert: Alert, device_name: str, window: timedelta) -> Incident:
    """Put a new alert into an incident, with the reason; returns the incident.

    An alert whose activity widens later is correlated again by `recorrelate`.
    Limitation: an alert correlates by the user of its first event only.
    """
    by_user = correlates_by_user(alert.user)
    related_to = [Alert.device_id == alert.device_id]
    if by_user:
        related_to.append(Alert.user == alert.user)
    related = list(
        session.scalars(
            select(Alert)
            .join(Incident, Incident.id == Alert.incident_id)
            .where(
                Alert.id != alert.id,
                or_(*related_to),
                Incident.status != "resolved",
                Alert.last_activity >= alert.first_activity - window,
                Alert.first_activity <= alert.last_activity + window,
            )
            .order_by(Alert.first_activity, Alert.id)
        )
    )
    incident = _place(session, alert, related, device_name)
    session.flush()
    return incident


def correlate_new(
    session: Session, alerts: Sequence[Alert], device_name: str, window: timedelta
) -> list[Incident]:
    """`correlate` for the new alerts of one device, in order, with one query for them all.

    The alerts they could relate to (same device, or one of their users, in open incidents,
    within the window of their activity) are read once; each alert placed joins them for
    the next.
    """
    if not alerts:
        return []
    users = sorted({a.user for a in alerts if a.user and correlates_by_user(a.user)})
    devices = sorted({a.device_id for a in alerts})
    related_to = [Alert.device_id.in_(devices)]
    if users:
        related_to.append(Alert.user.in_(users))
    session.flush()
    candidates = list(
        session.scalars(
            select(Alert)
            .join(Incident, Incident.id == Alert.incident_id)
            .where(
                or_(*related_to),
                Incident.status != "resolved",
                Alert.last_activity >= min(a.first_activity for a in alerts) - window,
                Alert.first_activity <= max(a.last_activity for a in alerts) + window,
            )
        )
    )
    # Plain tuples: reading the ORM's attributes for every pair would cost more than this.
    known = [_facts(a) for a in candidates]
    placed = []
    for alert in alerts:
        by_user = correlates_by_user(alert.user)
        start, end = alert.first_activity - window, alert.last_activity + window
        related = [
            item
            for item in known
            if item[1] >= start
            and item[0] <= end
            and item[4] != alert.id
            and (item[2] == alert.device_id or (by_user and item[3] == alert.user))
        ]
        related.sort(key=lambda item: (item[0], item[4]))
        placed.append(_place(session, alert, [item[5] for item in related], device_name))
        known.append(
            (
                alert.first_activity,
                alert.last_activity,
                alert.device_id,
                alert.user,
                alert.id,
                alert,
            )
        )
    session.flush()
    return placed


def recorrelate(
    session: Session, alerts: Sequence[Alert], device_name: str, window: timedelta
) -> list[Incident]:
    """Incidents of widened alerts merged with the open incidents they now come near.

    An alert whose activity grew as events joined it may now be within the window of
    alerts of another open incident (same device, or same named user): those incidents
    merge into the alert's, and the alert's reason says why. Returns the incidents that
    took others in.
    """
    grown = []
    for alert in alerts:
        if alert.incident_id is None:
            continue
        incident = session.get(Incident, alert.incident_id)
        if incident is None or incident.status == "resolved":
            continue
        by_user = correlates_by_user(alert.user)
        related_to = [Alert.device_id == alert.device_id]
        if by_user:
            related_to.append(Alert.user == alert.user)
        session.flush()
        related = list(
            session.scalars(
                select(Alert)
                .join(Incident, Incident.id == Alert.incident_id)
                .where(
                    Alert.incident_id != incident.id,
                    or_(*related_to),
                    Incident.status != "resolved",
                    Alert.last_activity >= alert.first_activity - window,
                    Alert.first_activity <= alert.last_activity + window,
                )
                .order_by(Alert.first_activity, Alert.id)
            )
        )
        if not related:
            continue
        others: dict[str, Alert] = {}
        for other in related:
            assert other.incident_id is not None
            others.setdefault(other.incident_id, other)
        merged = "; ".join(
            f"{_link(alert, other, device_name)}, whose incident merged into this one "
            "as the alert grew"
            for other in others.values()
        )
        alert.incident_reason = f"{alert.incident_reason}; also {merged}"
        _merge(session, incident, set(others))
        _widen(incident, alert)
        incident.updated_at = utcnow()
        grown.append(incident)
    session.flush()
    return grown


def _facts(alert: Alert) -> tuple[datetime, datetime, str, str | None, str, Alert]:
    return (
        alert.first_activity,
        alert.last_activity,
        alert.device_id,
        alert.user,
        alert.id,
        alert,
    )


def _place(session: Session, alert: Alert, related: list[Alert], device_name: str) -> Incident:
    """Put the alert into the incident of the first related alert, or a new one."""
    now = utcnow()
    if not related:
        incident = Incident(
            title=f"{alert.title} on {device_name}",
            status="active",
            severity=alert.severity,
            first_activity=alert.first_activity,
            last_activity=alert.last_activity,
            created_at=now,
            updated_at=now,
        )
        session.add(incident)
        session.flush()
        alert.incident_id = incident.id
        alert.incident_reason = "first alert of the incident"
        return incident

    first = related[0]
    target = session.get(Incident, first.incident_id)
    assert target is not None
    alert.incident_id = target.id
    alert.incident_reason = _link(alert, first, device_name)
    # The first related alert of each other open incident: those incidents merge into this.
    others: dict[str, Alert] = {}
    for other in related:
        if other.incident_id and other.incident_id != target.id:
            others.setdefault(other.incident_id, other)
    if others:
        merged = "; ".join(
            f"{_link(alert, other, device_name)}, whose incident merged into this one"
            for other in others.values()
        )
        alert.incident_reason = f"{alert.incident_reason}; also {merged}"
        _merge(session, target, set(others))
    _widen(target, alert)
    target.updated_at = now
    return target


def _link(alert: Alert, other: Alert, device_name: str) -> str:
    """Why `alert` relates to `other`: "same device app-01 within 2 h of alert '...' (id)"."""
    if other.device_id == alert.device_id:
        how = f"same device {device_name}"
    else:
        how = f"same user {alert.user}"
    return (
        f"{how} within {describe_gap(_gap(alert, other))} of alert '{other.title}' ({other.id[:8]})"
    )


def _merge(session: Session, target: Incident, others: set[str]) -> None:
    """Move the alerts of other open incidents into the target, then drop those incidents."""
    session.flush()
    for incident in session.scalars(select(Incident).where(Incident.id.in_(others))):
        session.execute(
            update(Alert).where(Alert.incident_id == incident.id).values(incident_id=target.id)
        )
        target.first_activity = min(target.first_activity, incident.first_activity)
        target.last_activity = max(target.last_activity, incident.last_activity)
        if severity_rank(incident.severity) > severity_rank(target.severity):
            target.severity = incident.severity
        session.delete(incident)


def _widen(incident: Incident, alert: Alert) -> None:
    incident.first_activity = min(incident.first_activity, alert.first_activity)
    incident.last_activity = max(incident.last_activity, alert.last_activity)
    if severity_rank(alert.severity) > severity_rank(incident.severity):
        incident.severity = alert.severity


def refresh(session: Session, incident_id: str) -> Incident | None:
    """An incident's status, severity and activity again from its alerts (after a change).

    All alerts resolved: the incident is resolved; an alert open again reopens it.
    """
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    alerts = list(session.scalars(select(Alert).where(Alert.incident_id == incident_id)))
    if not alerts:
        return incident
    open_alerts = [a for a in alerts if a.status != "resolved"]
    if not open_alerts:
        incident.status = "resolved"
    elif incident.status == "resolved":
        incident.status = "active"
    elif incident.status == "active" and any(a.status == "in_progress" for a in alerts):
        incident.status = "in_progress"
    incident.severity = max((a.severity for a in alerts), key=severity_rank)
    incident.first_activity = min(a.first_activity for a in alerts)
    incident.last_activity = max(a.last_activity for a in alerts)
    incident.updated_at = utcnow()
    return incident
