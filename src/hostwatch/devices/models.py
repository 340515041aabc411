"""Tables for devices, their tags, their installed software and agent enrollment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hostwatch.db.base import Base, JSONType, new_id, utcnow


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_last_seen", "last_seen"),
        Index("ix_devices_risk_level", "risk_level"),
        Index("ix_devices_exposure_level", "exposure_level"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    fqdn: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    domain: Mapped[str | None] = mapped_column(String(255), default=None)
    sid: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    os_family: Mapped[str | None] = mapped_column(String(16), default=None)
    os_name: Mapped[str | None] = mapped_column(default=None)
    os_version: Mapped[str | None] = mapped_column(default=None)
    os_kernel: Mapped[str | None] = mapped_column(default=None)
    os_arch: Mapped[str | None] = mapped_column(String(32), default=None)
    # The full build with its revision (Windows: 10.0.19045.3803), the release it belongs to
    # (22H2, bullseye) and the edition (Pro, Enterprise): what missing updates are judged by.
    os_build: Mapped[str | None] = mapped_column(String(64), default=None)
    os_release: Mapped[str | None] = mapped_column(String(64), default=None)
    os_edition: Mapped[str | None] = mapped_column(String(64), default=None)
    machine_id: Mapped[str | None] = mapped_column(String(128), default=None)
    ip_addresses: Mapped[list[str]] = mapped_column(JSONType, default=list)
    mac_addresses: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # cpu_count, cpu_model, memory_bytes, disk_total_bytes, disk_free_bytes
    resources: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    boot_time: Mapped[datetime | None] = mapped_column(default=None)
    logged_on_users: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Where the device is known from: agent, endpoint_logs, osquery, directory.
    sources: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Directory data (distinguished name, UAC flags, SPNs, groups), null when not known.
    directory: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    sam_name: Mapped[str | None] = mapped_column(String(255), default=None)
    directory_created: Mapped[datetime | None] = mapped_column(default=None)
    first_seen: Mapped[datetime | None] = mapped_column(default=None)
    last_seen: Mapped[datetime | None] = mapped_column(default=None)
    inventory_collected_at: Mapped[datetime | None] = mapped_column(default=None)
    # none, low, medium, high: from the device's active alerts (hostwatch.detection.risk),
    # stored so that the device list filters on it without reading alerts.
    risk_level: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    # low, medium, high and a 0-100 score from the device's open vulnerability findings
    # (hostwatch.vulns.exposure); null until its findings are first refreshed.
    exposure_level: Mapped[str | None] = mapped_column(String(8), default=None)
    exposure_score: Mapped[int | None] = mapped_column(default=None)
    # The containment the agent last read back from the device (protocol.ContainmentStatus
    # as JSON); null until an agent reports one.
    containment: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[AgentCredential | None] = relationship(back_populates="device", uselist=False)
    tags: Mapped[list[DeviceTag]] = relationship(
        back_populates="device", cascade="all, delete-orphan"
    )


class AgentCredential(Base):
    """The agent of one device: its hashed credential and what it last said of itself."""

    __tablename__ = "agent_credentials"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    enroll_token_id: Mapped[str | None] = mapped_column(String(36), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[str | None] = mapped_column(String(64), default=None)
    last_heartbeat: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    device: Mapped[Device] = relationship(back_populates="agent")


class DeviceTag(Base):
    __tablename__ = "device_tags"
    __table_args__ = (UniqueConstraint("device_id", "name"), Index("ix_device_tags_name", "name"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # user or system
    created_by: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    device: Mapped[Device] = relationship(back_populates="tags")


class Software(Base):
    """One installed product on one device, from the device's latest inventory snapshot."""

    __tablename__ = "software"
    __table_args__ = (
        UniqueConstraint("device_id", "source", "name", "version", "arch"),
        Index("ix_software_name_version", "name", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    # Empty string, not null, when unknown, so the unique key holds on every engine.
    version: Mapped[str] = mapped_column(String(255), default="")
    arch: Mapped[str] = mapped_column(String(32), default="")
    vendor: Mapped[str | None] = mapped_column(String(255), default=None)
    source_package: Mapped[str | None] = mapped_column(String(255), default=None)
    install_path: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str | None] = mapped_column(String(64), default=None)
    # A purl where the ecosystem has one, else a CPE 2.3 name; null when neither is known.
    product_code: Mapped[str | None] = mapped_column(Text, default=None)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class Hotfix(Base):
    """An update installed on a Windows device (osquery's `patches`), by its KB number."""

    __tablename__ = "device_hotfixes"
    __table_args__ = (UniqueConstraint("device_id", "hotfix_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    # As Windows names it, e.g. KB5032189.
    hotfix_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    installed_on: Mapped[datetime | None] = mapped_column(default=None)
    # Where it is known from: osquery.
    source: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


# Re-matching after a feed change looks installed packages up by the names advisories use,
# which compare case-insensitively (PyPI, rpm source packages).
Index("ix_software_lower_name", func.lower(Software.name))
Index("ix_software_lower_source_package", func.lower(Software.source_package))


class EnrollToken(Base):
    __tablename__ = "enroll_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    max_uses: Mapped[int | None] = mapped_column(default=None)
    uses: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(String(255), default=None)
