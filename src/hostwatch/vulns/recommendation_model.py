"""The table of security recommendations: one thing to do on one device, and its status.

A recommendation comes from a `source`: "vulnerability" (update a vulnerable product, see
recommendations.py); configuration checks will add their own. Its identity on the device is
(source, subject): for a vulnerable product the subject is its package key, so the row
survives version changes, and with it the status an analyst gave it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hostwatch.db.base import Base, JSONType, utcnow

ACTIVE = "active"
EXCEPTION = "exception"
RESOLVED = "resolved"
STATUSES = (ACTIVE, EXCEPTION, RESOLVED)
SOURCE_VULNERABILITY = "vulnerability"


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint("device_id", "source", "subject"),
        Index("ix_recommendations_device_status", "device_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    # What it is about, stable across refreshes: "PyPI/jinja2", "Debian:11/openssl",
    # "windows/mozilla firefox (x64 en-us)".
    subject: Mapped[str] = mapped_column(String(320))
    title: Mapped[str] = mapped_column(Text)
    # The related component as shown: product name, vendor, where its versions come from.
    component: Mapped[str] = mapped_column(String(255))
    vendor: Mapped[str | None] = mapped_column(String(255), default=None)
    software_source: Mapped[str | None] = mapped_column(String(16), default=None)
    # The lowest version that fixes every weakness; null when no fix is known.
    fixed_version: Mapped[str | None] = mapped_column(String(255), default=None)
    weakness_count: Mapped[int] = mapped_column(default=0)
    # Vulnerabilities addressed that CISA lists as exploited, and with known ransomware use.
    exploited_count: Mapped[int] = mapped_column(default=0)
    ransomware_count: Mapped[int] = mapped_column(default=0)
    highest_cvss: Mapped[float | None] = mapped_column(default=None)
    # Points the device's exposure score drops by once this is applied.
    exposure_reduction: Mapped[int] = mapped_column(default=0)
    # The installed items it covers: [{software_id, version, install_path, arch}].
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # The weaknesses: [{vulnerability_id, key, cvss, exploited, ransomware, fixed_version}].
    weaknesses: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    exception_justification: Mapped[str | None] = mapped_column(Text, default=None)
    exception_expires: Mapped[datetime | None] = mapped_column(default=None)
    exception_by: Mapped[str | None] = mapped_column(String(128), default=None)
    exception_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
