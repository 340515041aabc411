"""An analyst's change of an incident's status, kept consistent with its alerts.

An incident's status follows its alerts (`incidents.refresh`): all resolved makes it
resolved, an open one reopens it. A status set by hand must not fight that rule, so
resolving an incident resolves its open alerts (and lowers their devices' risk), and an
incident whose alerts are all resolved is reopened by reopening one of them, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.detection import risk
from hostwatch.detection.models import ACTIVE_STATUSES, Alert, Incident
from hostwatch.errors import Conflict, NotFound


@dataclass
class IncidentChange:
    """What a status change did, for the audit log."""

    incident: Incident
    changes: dict[str, list[Any]] = field(default_factory=dict)
    resolved_alerts: list[str] = field(default_factory=list)


def get_incident(session: Session, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident with id {incident_id!r}")
    return incident


def set_status(session: Session, incident_id: str, status: str) -> IncidentChange:
    """Set the incident's status; resolving it resolves its open alerts too."""
    incident = get_incident(session, incident_id)
    change = IncidentChange(incident)
    if incident.status == status:
        return change

    open_alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.incident_id == incident.id, Alert.status.in_(ACTIVE_STATUSES))
            .order_by(Alert.first_activity, Alert.id)
        )
    )
    if status != "resolved" and not open_alerts:
        raise Conflict(
            f"incident {incident.id!r} has no open alert, so it cannot be {status!r}: "
            "reopen one of its alerts (PATCH /api/alerts/{id}) and the incident reopens"
        )

    now = utcnow()
    if status == "resolved":
        for alert in open_alerts:
            alert.status = "resolved"
            alert.resolved_at = now
            alert.updated_at = now
            change.resolved_alerts.append(alert.id)
    change.changes["status"] = [incident.status, status]
    incident.status = status
    incident.updated_at = now
    session.flush()
    if change.resolved_alerts:
        risk.recompute(session, {alert.device_id for alert in open_alerts})
    return change
