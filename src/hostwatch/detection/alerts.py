"""Rule matches become alerts: one alert per rule, device and process within a window.

Matches of one rule on one device whose events share a process (its unique id, else its
image) and fall within the window of an open alert join that alert, raising its event
count and widening its activity, instead of raising a new one each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.detection.attack import tactics_and_techniques
from hostwatch.detection.models import ACTIVE_STATUSES, Alert, AlertEntity, AlertEvent
from hostwatch.detection.rules import RuleInfo

# A rule without a level raises alerts of this severity: Sigma makes the level optional,
# and an unrated rule that fires deserves a look.
DEFAULT_SEVERITY = "medium"
# Entities kept per alert and kind: an alert of a thousand events names its first ones.
MAX_ENTITIES_PER_KIND = 50
MAX_ENTITY_LENGTH = 1024
MAX_GROUP_KEY = 512


@dataclass
class Hit:
    """One event a rule matched, as alerting needs it."""

    rule_id: str
    row: Mapping[str, Any]
    # What the alert's events share beyond rule and device, when not their process: the
    # group-by values of a correlation rule.
    key: str | None = None
    # Entities of the hit besides those of its event (a correlation's group-by values).
    entities: tuple[tuple[str, str], ...] = ()

    @property
    def time(self) -> datetime:
        moment: datetime = self.row["time"]
        return moment


@dataclass
class AlertChanges:
    created: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    events_linked: int = 0


def group_key(row: Mapping[str, Any]) -> str:
    """What the events of one alert share beyond rule and device: their process."""
    guid = row.get("process_guid")
    if guid:
        return str(guid)[:MAX_GROUP_KEY]
    image = row.get("process_image")
    return str(image).lower()[:MAX_GROUP_KEY] if image else ""


def entities_of(row: Mapping[str, Any], device_name: str) -> list[tuple[str, str]]:
    """The (kind, value) entities one event touches."""
    found = [("device", device_name)]
    for kind, column in (
        ("user", "user"),
        ("process", "process_image"),
        ("file", "target_file"),
        ("remote_address", "remote_address"),
    ):
        value = row.get(column)
        if value not in (None, ""):
            found.append((kind, str(value)[:MAX_ENTITY_LENGTH]))
    return found


def _already_linked(session: Session, hits: Sequence[Hit]) -> set[tuple[str, int]]:
    """(rule id, event id) pairs already in an alert: an event is alerted on once per rule."""
    ids = list({int(hit.row["id"]) for hit in hits})
    linked: set[tuple[str, int]] = set()
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        rows = session.execute(
            select(Alert.rule_id, AlertEvent.event_id)
            .join(Alert, Alert.id == AlertEvent.alert_id)
            .where(AlertEvent.event_id.in_(part))
        )
        linked.update((rule_id, event_id) for rule_id, event_id in rows)
    return linked


class _Entities:
    """The entities of the alerts touched in one call, so each is written once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[str, dict[str, set[str]]] = {}

    def load(self, alert: Alert, new: bool) -> None:
        if alert.id in self.known:
            return
        kinds: dict[str, set[str]] = defaultdict(set)
        if not new:
            for kind, value in self.session.execute(
                select(AlertEntity.kind, AlertEntity.value).where(AlertEntity.alert_id == alert.id)
            ):
                kinds[kind].add(value)
        self.known[alert.id] = kinds

    def add(self, alert: Alert, entities: list[tuple[str, str]]) -> None:
        kinds = self.known[alert.id]
        for kind, value in entities:
            values = kinds[kind]
            if value in values or len(values) >= MAX_ENTITIES_PER_KIND:
                continue
            values.add(value)
            self.session.add(AlertEntity(alert_id=alert.id, kind=kind, value=value))


def raise_alerts(
    session: Session,
    device_id: str,
    device_name: str,
    hits: Sequence[Hit],
    rules: Mapping[str, RuleInfo],
    window: timedelta,
) -> AlertChanges:
    """Alerts for a device's rule hits: joined to open alerts in the window, else new ones."""
    changes = AlertChanges()
    if not hits:
        return changes
    linked = _already_linked(session, hits)
    groups: dict[tuple[str, str], list[Hit]] = defaultdict(list)
    for hit in hits:
        if (hit.rule_id, int(hit.row["id"])) in linked:
            continue
        key = hit.key if hit.key is not None else group_key(hit.row)
        groups[(hit.rule_id, key)].append(hit)
    if not groups:
        return changes

    entities = _Entities(session)
    now = utcnow()
    touched: dict[str, Alert] = {}
    for (rule_id, key), group in groups.items():
        group.sort(key=lambda h: h.time)
        # The open alerts of this rule and process that the group's times could join.
        open_alerts = list(
            session.scalars(
                select(Alert)
                .where(
                    Alert.device_id == device_id,
                    Alert.rule_id == rule_id,
                    Alert.group_key == key,
                    Alert.status.in_(ACTIVE_STATUSES),
                    Alert.last_activity >= group[0].time - window,
                    Alert.first_activity <= group[-1].time + window,
                )
                .order_by(Alert.first_activity)
            )
        )
        for hit in group:
            alert = _joinable(open_alerts, hit.time, window)
            if alert is None:
                alert = _new_alert(device_id, key, rules[rule_id], hit)
                session.add(alert)
                session.flush()
                open_alerts.append(alert)
                changes.created.append(alert)
                entities.load(alert, new=True)
            else:
                entities.load(alert, new=alert in changes.created)
                if alert not in changes.created and alert.id not in touched:
                    changes.updated.append(alert)
            touched[alert.id] = alert
            alert.first_activity = min(alert.first_activity, hit.time)
            alert.last_activity = max(alert.last_activity, hit.time)
            alert.event_count += 1
            alert.updated_at = now
            session.add(AlertEvent(alert_id=alert.id, event_id=int(hit.row["id"])))
            entities.add(alert, [*entities_of(hit.row, device_name), *hit.entities])
            changes.events_linked += 1
    session.flush()
    return changes


def _joinable(alerts: list[Alert], moment: datetime, window: timedelta) -> Alert | None:
    for alert in alerts:
        if alert.last_activity >= moment - window and alert.first_activity <= moment + window:
            return alert
    return None


def _new_alert(device_id: str, key: str, info: RuleInfo, hit: Hit) -> Alert:
    tactics, techniques = tactics_and_techniques(info.tags)
    user = hit.row.get("user")
    return Alert(
        device_id=device_id,
        rule_id=info.id,
        group_key=key,
        title=info.title,
        description=info.description,
        severity=info.level or DEFAULT_SEVERITY,
        status="new",
        tactics=tactics,
        techniques=techniques,
        user=str(user)[:255] if user else None,
        first_activity=hit.time,
        last_activity=hit.time,
        event_count=0,
    )
