"""Imports every table so that the metadata, and migrations, see the whole schema."""

from hostwatch.auth.models import ApiToken, AuditEntry, LoginSession, User
from hostwatch.db.base import Base
from hostwatch.devices.models import AgentCredential, Device, DeviceTag, EnrollToken, Software
from hostwatch.events.models import Event, EventCountMark, EventHourCount

__all__ = [
    "AgentCredential",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Device",
    "DeviceTag",
    "EnrollToken",
    "Event",
    "EventCountMark",
    "EventHourCount",
    "LoginSession",
    "Software",
    "User",
]
