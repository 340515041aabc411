"""Detection in the ingest path: a batch of just-stored events in, alerts and incidents out.

    result = detect(session, device_id, rows)   # rows: event-table dicts with their ids

runs the enabled rules over the rows once, leaves out the rules excluded for the device,
raises or widens alerts, correlates new alerts into incidents and stores the device's
risk level, all in the caller's transaction. Calling it again with the same rows changes
nothing: an event is alerted on at most once per rule.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.config import Settings
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.detection import alerts, catalog, correlation, incidents, risk
from hostwatch.detection.cache import CACHE, DetectorCache
from hostwatch.detection.rules import RuleInfo
from hostwatch.devices.models import Device
from hostwatch.errors import NotFound
from hostwatch.events.models import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Windows:
    """How far apart events may be and still join one alert, and alerts one incident."""

    alert: timedelta = timedelta(hours=24)
    incident: timedelta = timedelta(hours=2)

    @classmethod
    def from_settings(cls, settings: Settings) -> Windows:
        return cls(
            alert=timedelta(seconds=settings.alert_window_seconds),
            incident=timedelta(seconds=settings.incident_window_seconds),
        )


@dataclass
class DetectionResult:
    rules_version: int = 0
    events: int = 0
    matches: int = 0
    # Matches dropped by an exclusion, by rule id.
    excluded: dict[str, int] = field(default_factory=dict)
    alerts_created: list[str] = field(default_factory=list)
    alerts_updated: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    risk_level: str | None = None


def detect(
    session: Session,
    device_id: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    windows: Windows | None = None,
    cache: DetectorCache = CACHE,
) -> DetectionResult:
    """Alerts for one device's just-stored events (each row with its `id`)."""
    windows = windows or Windows()
    built = cache.detector(session)
    result = DetectionResult(rules_version=built.version, events=len(rows))
    if not rows or not built.detector.rules:
        return result
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"no device with id {device_id!r}")
    for row in rows:
        if row.get("id") is None:
            raise ValueError("detect needs stored event rows: a row has no id")
        if row.get("device_id") not in (None, device_id):
            raise ValueError(
                f"event {row['id']} belongs to device {row['device_id']}, not {device_id}"
            )

    matches = built.detector.match(rows)
    result.matches = len(matches)
    if not matches:
        return result
    now = utcnow()
    excluded = catalog.excluded_rules(session, device_id, {m.rule_id for m in matches}, now)
    hits = []
    for match in matches:
        if match.rule_id in excluded:
            result.excluded[match.rule_id] = result.excluded.get(match.rule_id, 0) + 1
        else:
            hits.append(alerts.Hit(match.rule_id, rows[match.event_index]))

    infos: Mapping[str, RuleInfo] = built.detector.rules
    correlations = built.correlations
    if correlations.by_rule:
        # Base rules feed the correlations that read them; those marked `generate: false`
        # raise nothing of their own.
        found = correlation.evaluate(session, device_id, hits, correlations)
        hits = [hit for hit in hits if hit.rule_id not in correlations.silent]
        if found:
            excluded = catalog.excluded_rules(session, device_id, {h.rule_id for h in found}, now)
            for hit in found:
                if hit.rule_id in excluded:
                    result.excluded[hit.rule_id] = result.excluded.get(hit.rule_id, 0) + 1
                else:
                    hits.append(hit)
            infos = ChainMap(correlations.infos, built.detector.rules)

    changes = alerts.raise_alerts(session, device_id, device.hostname, hits, infos, windows.alert)
    touched_incidents = incidents.correlate_new(
        session, changes.created, device.hostname, windows.incident
    )
    for alert in changes.updated:
        if alert.incident_id:
            incidents.refresh(session, alert.incident_id)
    # A widened alert may now reach the alerts of another open incident.
    touched_incidents += incidents.recorrelate(
        session, changes.widened, device.hostname, windows.incident
    )
    result.alerts_created = [a.id for a in changes.created]
    result.alerts_updated = [a.id for a in changes.updated]
    result.incidents = sorted({i.id for i in touched_incidents})
    if changes.created or changes.updated:
        result.risk_level = risk.recompute(session, [device_id]).get(device_id)
    if changes.created:
        log.info(
            "device %s: %d alerts raised, %d widened, from %d matches",
            device_id,
            len(changes.created),
            len(changes.updated),
            len(matches),
        )
    return result


def detect_batch(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    *,
    windows: Windows | None = None,
    cache: DetectorCache = CACHE,
) -> dict[str, DetectionResult]:
    """`detect` for stored rows of any number of devices, by device id."""
    by_device: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_device.setdefault(row["device_id"], []).append(row)
    return {
        device_id: detect(session, device_id, part, windows=windows, cache=cache)
        for device_id, part in sorted(by_device.items())
    }


def stored_rows(
    session: Session, device_id: str, dedupe_keys: Sequence[str]
) -> list[dict[str, Any]]:
    """A device's stored events with these dedupe keys, as rows with their ids, in id order.

    For callers whose store does not hand back the ids of what it wrote.
    """
    rows: list[dict[str, Any]] = []
    columns = list(Event.__table__.columns)
    keys = list(dict.fromkeys(dedupe_keys))
    for start in range(0, len(keys), 1000):
        found = session.execute(
            select(*columns).where(
                Event.device_id == device_id, Event.dedupe_key.in_(keys[start : start + 1000])
            )
        )
        rows.extend(dict(row._mapping) for row in found)
    rows.sort(key=lambda row: row["id"])
    return rows


def detect_stored(
    sessions: sessionmaker[Session],
    device_ids: Sequence[str] | None = None,
    *,
    batch_size: int = 5000,
    windows: Windows | None = None,
    cache: DetectorCache = CACHE,
) -> dict[str, DetectionResult]:
    """Run the enabled rules over events already stored, one transaction per batch.

    For events stored before their rules were imported; events already alerted on by a
    rule are not alerted on again, so running it twice changes nothing.
    """
    with sessions() as session:
        query = select(Device.id).order_by(Device.id)
        if device_ids:
            query = query.where(Device.id.in_(list(device_ids)))
        devices = list(session.scalars(query))
        # Built here, outside any write transaction: compiling thousands of rules takes
        # seconds, and on SQLite a write transaction would keep the server's writers
        # (agent uploads) waiting that long.
        cache.detector(session)
    columns = list(Event.__table__.columns)
    results: dict[str, DetectionResult] = {}
    for device_id in devices:
        total = results[device_id] = DetectionResult()
        after = 0
        while True:
            with transaction(sessions) as session:
                found = session.execute(
                    select(*columns)
                    .where(Event.device_id == device_id, Event.id > after)
                    .order_by(Event.id)
                    .limit(batch_size)
                )
                rows = [dict(row._mapping) for row in found]
                if not rows:
                    break
                part = detect(session, device_id, rows, windows=windows, cache=cache)
            after = rows[-1]["id"]
            _add_up(total, part)
    return results


def _add_up(total: DetectionResult, part: DetectionResult) -> None:
    total.rules_version = part.rules_version
    total.events += part.events
    total.matches += part.matches
    for rule_id, count in part.excluded.items():
        total.excluded[rule_id] = total.excluded.get(rule_id, 0) + count
    total.alerts_created += part.alerts_created
    total.alerts_updated += [a for a in part.alerts_updated if a not in total.alerts_updated]
    total.incidents += [i for i in part.incidents if i not in total.incidents]
    total.risk_level = part.risk_level or total.risk_level


def detect_new(
    session: Session,
    by_device: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    windows: Windows | None = None,
    cache: DetectorCache = CACHE,
) -> DetectionResult:
    """Detection for rows just handed to the event store, which gives back no ids.

    The rows (event-table dicts with `fields` decoded, by device) are matched once; only
    those that match a rule are read back with their ids and given to `detect`. A row the
    store skipped as a duplicate is read back as the event stored before it, on which
    `detect` raises nothing twice. With no rule enabled this costs one small query.
    """
    total = DetectionResult()
    built = cache.detector(session)
    total.rules_version = built.version
    if not built.detector.rules:
        return total
    for device_id, rows in sorted(by_device.items()):
        matches = built.detector.match(rows)
        if not matches:
            continue
        keys = sorted({rows[m.event_index]["dedupe_key"] for m in matches})
        stored = stored_rows(session, device_id, keys)
        _add_up(total, detect(session, device_id, stored, windows=windows, cache=cache))
    total.events = sum(len(rows) for rows in by_device.values())
    return total
