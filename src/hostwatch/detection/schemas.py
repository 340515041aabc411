"""Request and response bodies of the alerts, incidents and rules API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hostwatch.events.schemas import TimelineItem
from hostwatch.protocol import Time

Severity = Literal["informational", "low", "medium", "high", "critical"]
AlertStatus = Literal["new", "in_progress", "resolved"]
IncidentStatus = Literal["active", "in_progress", "resolved"]
RiskLevel = Literal["none", "low", "medium", "high"]
Classification = Literal["true_positive", "informational_expected", "false_positive"]
Determination = Literal[
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
]
EntityKind = Literal["device", "user", "process", "file", "remote_address"]
AlertSort = Literal[
    "last_activity", "-last_activity", "first_activity", "-first_activity", "severity",
    "-severity", "title", "-title", "status", "-status", "event_count", "-event_count",
]  # fmt: skip


class Out(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class AlertItem(BaseModel):
    """One alert in a list. With `fields`, only `id` and the fields asked for are present."""

    id: str
    title: str | None = None
    severity: Severity | None = None
    status: AlertStatus | None = None
    classification: Classification | None = None
    determination: Determination | None = None
    assignee: str | None = None
    tactics: list[str] | None = None
    techniques: list[str] | None = None
    first_activity: datetime | None = None
    last_activity: datetime | None = None
    event_count: int | None = None
    rule_id: str | None = None
    device_id: str | None = None
    device_name: str | None = None
    user: str | None = None
    incident_id: str | None = None


class AlertPage(BaseModel):
    items: list[AlertItem]
    next_cursor: str | None
    total: int


class EntityOut(Out):
    kind: EntityKind
    value: str


class RuleRef(Out):
    id: str
    title: str
    level: str | None
    description: str | None = Field(description="untrusted text from the rule file")
    references: list[str] = Field(description="untrusted; links as the rule wrote them")
    tags: list[str]
    enabled: bool | None = Field(description="null when the rule is no longer stored")


class IncidentRef(Out):
    id: str
    title: str
    status: IncidentStatus
    reason: str | None = Field(description="why this alert is in the incident")


class AlertDetail(Out):
    id: str
    title: str
    description: str | None
    severity: Severity
    status: AlertStatus
    classification: Classification | None
    determination: Determination | None
    assignee: str | None
    tactics: list[str]
    techniques: list[str]
    first_activity: datetime
    last_activity: datetime
    event_count: int
    device_id: str
    device_name: str
    user: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    rule: RuleRef
    incident: IncidentRef | None
    entities: list[EntityOut]
    events: list[TimelineItem] = Field(description="the first matched events, oldest first")
    events_total: int


class AlertPatch(BaseModel):
    """Fields to change; a field sent as null is cleared (not `status`)."""

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = None
    assignee: str | None = Field(default=None, max_length=128)
    classification: Classification | None = None
    determination: Determination | None = None


class IncidentAlert(Out):
    id: str
    title: str
    severity: Severity
    status: AlertStatus
    device_id: str
    device_name: str
    user: str | None
    first_activity: datetime
    last_activity: datetime
    reason: str | None


class IncidentItem(Out):
    id: str
    title: str
    status: IncidentStatus
    severity: Severity
    first_activity: datetime
    last_activity: datetime
    alert_count: int
    active_alerts: int
    devices: list[str] = Field(description="names of the devices its alerts are on")
    users: list[str] = Field(description="the acting users of its alerts (untrusted)")


class IncidentPage(Out):
    items: list[IncidentItem]
    next_cursor: str | None
    total: int


class IncidentDetail(IncidentItem):
    alerts: list[IncidentAlert]


class IncidentPatch(BaseModel):
    """An incident's new status. Resolving it resolves its open alerts; it reopens only
    while one of its alerts is open (reopen an alert to reopen a resolved incident)."""

    model_config = ConfigDict(extra="forbid")

    status: IncidentStatus


class RuleItem(Out):
    id: str
    title: str
    level: str | None
    status: str | None
    tags: list[str]
    file: str
    enabled: bool
    updated_at: datetime


class RulePage(Out):
    items: list[RuleItem]
    next_cursor: str | None
    total: int


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class ExclusionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(default=None, max_length=36)
    tag: str | None = Field(default=None, min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=1000)
    expires_at: Time | None = Field(default=None, description="ISO 8601 with a zone")


class ExclusionOut(Out):
    id: int
    rule_id: str
    device_id: str | None
    tag: str | None
    reason: str
    expires_at: datetime | None
    created_by: str
    created_at: datetime
    active: bool


class RiskReasonOut(Out):
    alert_id: str
    title: str
    severity: Severity
