"""Tables of detection: rules and their exclusions, alerts with events and entities, incidents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hostwatch.db.base import Base, JSONType, new_id, utcnow
from hostwatch.events.models import EventId

# Alert workflow states, and the ones that still count toward risk and the sidebar.
ALERT_STATUSES = ("new", "in_progress", "resolved")
ACTIVE_STATUSES = ("new", "in_progress")
INCIDENT_STATUSES = ("active", "in_progress", "resolved")
# Alert severity is the rule's Sigma level.
SEVERITIES = ("informational", "low", "medium", "high", "critical")
CLASSIFICATIONS = ("true_positive", "informational_expected", "false_positive")
DETERMINATIONS = (
    "malware",
    "security_testing",
    "unwanted_software",
    "multistage_attack",
    "malicious_user_activity",
    "compromised_account",
    "phishing",
    "line_of_business_application",
    "confirmed_activity",
    "not_malicious",
    "not_enough_data",
    "other",
)
ENTITY_KINDS = ("device", "user", "process", "file", "remote_address")


class DetectionRule(Base):
    """One Sigma rule as imported: what the list shows, and the YAML it is compiled from."""

    __tablename__ = "detection_rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    level: Mapped[str | None] = mapped_column(String(16), default=None)
    status: Mapped[str | None] = mapped_column(String(16), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    references: Mapped[list[str]] = mapped_column(JSONType, default=list)
    product: Mapped[str | None] = mapped_column(String(64), default=None)
    category: Mapped[str | None] = mapped_column(String(64), default=None)
    service: Mapped[str | None] = mapped_column(String(64), default=None)
    # The file the rule came from, and that file's whole YAML text (one file may hold
    # several documents that only make sense together).
    file: Mapped[str] = mapped_column(Text)
    # The rule's Sigma `name`, by which correlation rules may refer to it (besides its id).
    name: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    # For a correlation rule its type (event_count, value_count, temporal, ...); else None.
    correlation_type: Mapped[str | None] = mapped_column(String(32), default=None)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DetectionState(Base):
    """One row: the rules version, raised on every change of the rule set or its switches,
    so that each process knows when to rebuild its detector."""

    __tablename__ = "detection_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rules_version: Mapped[int] = mapped_column(Integer, default=0)
    # New on every change too: a cache keyed by it never mistakes another database's (or a
    # recreated database's) version 3 for its own.
    stamp: Mapped[str] = mapped_column(String(36), default=new_id)


class RuleExclusion(Base):
    """A rule switched off for one device or for every device with one tag."""

    __tablename__ = "rule_exclusions"
    __table_args__ = (
        CheckConstraint("(device_id IS NULL) <> (tag IS NULL)", name="device_or_tag"),
        Index("ix_rule_exclusions_rule", "rule_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("detection_rules.id", ondelete="CASCADE")
    )
    device_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("devices.id", ondelete="CASCADE"), default=None
    )
    tag: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_last", "status", "last_activity"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    severity: Mapped[str] = mapped_column(String(16))
    first_activity: Mapped[datetime]
    last_activity: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # Aggregation looks up the open alert of (device, rule, process); lists sort by time.
        Index("ix_alerts_group", "device_id", "rule_id", "group_key", "last_activity"),
        Index("ix_alerts_device_last", "device_id", "last_activity", "id"),
        Index("ix_alerts_last", "last_activity", "id"),
        Index("ix_alerts_incident", "incident_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(64))
    # What the alert's events share beyond rule and device: the process guid, else image.
    group_key: Mapped[str] = mapped_column(String(512), default="")
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new")
    classification: Mapped[str | None] = mapped_column(String(32), default=None)
    determination: Mapped[str | None] = mapped_column(String(48), default=None)
    assignee: Mapped[str | None] = mapped_column(String(128), default=None)
    tactics: Mapped[list[str]] = mapped_column(JSONType, default=list)
    techniques: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The acting user of the first event, for correlation by user.
    user: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    first_activity: Mapped[datetime]
    last_activity: Mapped[datetime]
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )
    # Why the alert is in its incident ("same device app-01 within 2 h of alert ...").
    incident_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class AlertEvent(Base):
    """An event an alert's rule matched."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_event", "event_id"),)

    alert_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        EventId, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )


class AlertEntity(Base):
    """Something an alert touches: its device, a user, a process, a file, a remote address."""

    __tablename__ = "alert_entities"
    __table_args__ = (
        UniqueConstraint("alert_id", "kind", "value"),
        Index("ix_alert_entities_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(36), ForeignKey("alerts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(1024))


class CorrelationMatch(Base):
    """A base-rule match kept for a correlation rule's windows (hostwatch.detection.correlation).

    Kept in the database so that windows span batches, imports and agent uploads, and so
    that events arriving out of time order meet the ones stored before them.
    """

    __tablename__ = "correlation_matches"
    __table_args__ = (
        # Leading with the event: an event's deletion finds its matches by it too.
        UniqueConstraint("event_id", "correlation_id", "rule_id"),
        Index("ix_correlation_matches_window", "correlation_id", "device_id", "group_key", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    correlation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("detection_rules.id", ondelete="CASCADE")
    )
    device_id: Mapped[str] = mapped_column(String(36), ForeignKey("devices.id", ondelete="CASCADE"))
    # The values of the correlation's group-by fields, as "Field=value; Other=value".
    group_key: Mapped[str] = mapped_column(String(512))
    # The base rule that matched, and for value_count the value of the counted field.
    rule_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int] = mapped_column(EventId, ForeignKey("events.id", ondelete="CASCADE"))
    time: Mapped[datetime]
    value: Mapped[str | None] = mapped_column(String(1024), default=None)
