"""A device's risk level from its active alerts, and the sidebar's security counts.

The level is the highest one any active (not resolved) alert sets: a high or critical
alert makes the device high, a medium one medium, a low one low; informational alerts and
no alerts leave it at none. It is stored on the device whenever its alerts change, so the
device list filters on it without reading alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from hostwatch.detection.models import ACTIVE_STATUSES, SEVERITIES, Alert, Incident
from hostwatch.devices.models import Device

RISK_LEVELS = ("none", "low", "medium", "high")
_RISK_OF_SEVERITY = {
    "informational": "none",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "high",
}
# How many of the alerts that set the level are named as its reasons.
MAX_REASONS = 5


def risk_of(severities: Iterable[str]) -> str:
    level = 0
    for severity in severities:
        level = max(level, RISK_LEVELS.index(_RISK_OF_SEVERITY.get(severity, "none")))
    return RISK_LEVELS[level]


def _active_counts(session: Session, device_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Alert.severity, func.count(Alert.id))
        .where(Alert.device_id == device_id, Alert.status.in_(ACTIVE_STATUSES))
        .group_by(Alert.severity)
    )
    return {severity: count for severity, count in rows}


def recompute(session: Session, device_ids: Iterable[str]) -> dict[str, str]:
    """Store each device's risk level from its active alerts; returns the new levels."""
    levels = {}
    for device_id in sorted(set(device_ids)):
        device = session.get(Device, device_id)
        if device is None:
            continue
        level = risk_of(_active_counts(session, device_id))
        device.risk_level = level
        levels[device_id] = level
    session.flush()
    return levels


@dataclass(frozen=True)
class RiskReason:
    alert_id: str
    title: str
    severity: str


@dataclass(frozen=True)
class Security:
    open_incidents: int
    active_alerts: int
    active_by_severity: dict[str, int]
    risk_level: str
    risk_reasons: list[RiskReason]


def security_info(session: Session, device_id: str) -> Security:
    """Open incidents, active alerts by severity, and the risk level with the alerts that
    set it (the newest of the top severity first)."""
    counts = _active_counts(session, device_id)
    by_severity = {severity: counts.get(severity, 0) for severity in SEVERITIES}
    level = risk_of(counts)
    reasons: list[RiskReason] = []
    if level != "none":
        setting = [s for s, risk in _RISK_OF_SEVERITY.items() if risk == level]
        rows = session.execute(
            select(Alert.id, Alert.title, Alert.severity)
            .where(
                Alert.device_id == device_id,
                Alert.status.in_(ACTIVE_STATUSES),
                Alert.severity.in_(setting),
            )
            .order_by(Alert.last_activity.desc(), Alert.id)
            .limit(MAX_REASONS * 20)
        )
        # One reason per rule title, its newest alert: five alerts of one rule on five
        # processes are one reason, not five lines saying the same.
        newest: dict[str, RiskReason] = {}
        for alert_id, title, severity in rows:
            newest.setdefault(title, RiskReason(alert_id, title, severity))
        reasons = list(newest.values())[:MAX_REASONS]
    open_incidents = (
        session.scalar(
            select(func.count(distinct(Incident.id)))
            .join(Alert, Alert.incident_id == Incident.id)
            .where(Alert.device_id == device_id, Incident.status != "resolved")
        )
        or 0
    )
    return Security(
        open_incidents=open_incidents,
        active_alerts=sum(counts.values()),
        active_by_severity=by_severity,
        risk_level=level,
        risk_reasons=reasons,
    )
