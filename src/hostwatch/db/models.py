"""Imports every table so that the metadata, and migrations, see the whole schema."""

from hostwatch.auth.models import ApiToken, AuditEntry, LoginSession, User
from hostwatch.db.base import Base
from hostwatch.detection.models import (
    Alert,
    AlertEntity,
    AlertEvent,
    DetectionRule,
    DetectionState,
    Incident,
    RuleExclusion,
)
from hostwatch.devices.models import AgentCredential, Device, DeviceTag, EnrollToken, Software
from hostwatch.events.models import Event, EventCountMark, EventHourCount
from hostwatch.response.models import Action
from hostwatch.vulns.feed_state import FeedSource
from hostwatch.vulns.models import (
    Advisory,
    AdvisoryLink,
    Affected,
    CpeProduct,
    Finding,
    Vulnerability,
    VulnIdentifier,
)
from hostwatch.vulns.recommendation_model import Recommendation

__all__ = [
    "Action",
    "Advisory",
    "AdvisoryLink",
    "Affected",
    "AgentCredential",
    "Alert",
    "AlertEntity",
    "AlertEvent",
    "ApiToken",
    "AuditEntry",
    "Base",
    "CpeProduct",
    "DetectionRule",
    "DetectionState",
    "Device",
    "DeviceTag",
    "EnrollToken",
    "Event",
    "EventCountMark",
    "EventHourCount",
    "FeedSource",
    "Finding",
    "Incident",
    "LoginSession",
    "Recommendation",
    "RuleExclusion",
    "Software",
    "User",
    "VulnIdentifier",
    "Vulnerability",
]
