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

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hostwatch.db.base import new_id, utcnow
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
    # Updated alerts whose activity now starts earlier or ends later than before.
    widened: list[Alert] = field(default_factory=list)
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


def _known_entities(session: Session, alert_ids: list[str]) -> dict[str, set[tuple[str, str]]]:
    """The (kind, value) entities stored for these alerts, by alert id."""
    known: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for start in range(0, len(alert_ids), 1000):
        for alert_id, kind, value in session.execute(
            select(AlertEntity.alert_id, AlertEntity.kind, AlertEntity.value).where(
                AlertEntity.alert_id.in_(alert_ids[start : start + 1000])
            )
        ):
            known[alert_id].add((kind, value))
    return known


def raise_alerts(
    session: Session,
    device_id: str,
    device_name: str,
    hits: Sequence[Hit],
    rules: Mapping[str, RuleInfo],
    window: timedelta,
) -> AlertChanges:
    """Alerts for a device's rule hits: joined to open alerts in the window, else new ones.

    A few statements per call whatever the number of hits: one for the events already
    alerted on, one for the open alerts the hits could join, one for those alerts'
    entities, and bulk inserts of the links; new alerts get their ids here, so nothing
    waits for a flush in between.
    """
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

    now = utcnow()
    earliest = min(hit.time for group in groups.values() for hit in group)
    latest = max(hit.time for group in groups.values() for hit in group)
    # The open alerts of these rules that the hits' times could join, by rule and group.
    open_by_group: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    rule_ids = sorted({rule_id for rule_id, _ in groups})
    with session.no_autoflush:
        for start in range(0, len(rule_ids), 1000):
            for found in session.scalars(
                select(Alert)
                .where(
                    Alert.device_id == device_id,
                    Alert.rule_id.in_(rule_ids[start : start + 1000]),
                    Alert.status.in_(ACTIVE_STATUSES),
                    Alert.last_activity >= earliest - window,
                    Alert.first_activity <= latest + window,
                )
                .order_by(Alert.first_activity, Alert.id)
            ):
                if (found.rule_id, found.group_key) in groups:
                    open_by_group[(found.rule_id, found.group_key)].append(found)

    touched: dict[str, Alert] = {}
    created: set[str] = set()
    bounds: dict[str, tuple[datetime, datetime]] = {}
    event_links: list[dict[str, Any]] = []
    wanted: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (rule_id, key), group in groups.items():
        group.sort(key=lambda h: h.time)
        open_alerts = open_by_group[(rule_id, key)]
        for hit in group:
            alert = _joinable(open_alerts, hit.time, window)
            if alert is None:
                alert = _new_alert(device_id, key, rules[rule_id], hit)
                session.add(alert)
                open_alerts.append(alert)
                changes.created.append(alert)
                created.add(alert.id)
            elif alert.id not in created and alert.id not in touched:
                changes.updated.append(alert)
                bounds[alert.id] = (alert.first_activity, alert.last_activity)
            touched[alert.id] = alert
            alert.first_activity = min(alert.first_activity, hit.time)
            alert.last_activity = max(alert.last_activity, hit.time)
            alert.event_count += 1
            alert.updated_at = now
            event_links.append({"alert_id": alert.id, "event_id": int(hit.row["id"])})
            wanted[alert.id] += [*entities_of(hit.row, device_name), *hit.entities]
            changes.events_linked += 1
    changes.widened = [
        a for a in changes.updated if bounds[a.id] != (a.first_activity, a.last_activity)
    ]
    # The new alerts first: their links refer to them.
    session.flush()

    known = _known_entities(session, [a for a in wanted if a not in created])
    entity_rows = []
    for alert_id, entities in wanted.items():
        have = known[alert_id]
        per_kind: dict[str, int] = defaultdict(int)
        for kind, _ in have:
            per_kind[kind] += 1
        for kind, value in entities:
            if (kind, value) in have or per_kind[kind] >= MAX_ENTITIES_PER_KIND:
                continue
            have.add((kind, value))
            per_kind[kind] += 1
            entity_rows.append({"alert_id": alert_id, "kind": kind, "value": value})
    if event_links:
        session.execute(insert(AlertEvent), event_links)
    if entity_rows:
        session.execute(insert(AlertEntity), entity_rows)
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
        id=new_id(),
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
