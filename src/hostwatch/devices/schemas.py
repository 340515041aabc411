"""Response and request bodies of the device API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from hostwatch.protocol import AgentStatus as AgentStatus

HealthState = Literal["active", "inactive", "misconfigured"]


class TagOut(BaseModel):
    name: str
    kind: Literal["user", "system"]


class DeviceSummary(BaseModel):
    id: str
    name: str
    fqdn: str | None
    domain: str | None
    os_family: str | None
    os_name: str | None
    os_version: str | None
    health_state: HealthState
    risk_level: str | None = Field(description="null until detection rates the device")
    exposure_level: str | None = Field(description="null until vulnerabilities are matched")
    tags: list[TagOut]
    sources: list[str]
    ip_addresses: list[str]
    first_seen: datetime | None
    last_seen: datetime | None


class DevicePage(BaseModel):
    items: list[DeviceSummary]
    next_cursor: str | None
    total: int


class SecurityInfo(BaseModel):
    open_incidents: int | None
    active_alerts: int | None
    risk_level: str | None
    exposure_level: str | None


class Resources(BaseModel):
    cpu_count: int | None = None
    cpu_model: str | None = None
    memory_bytes: int | None = None
    disk_total_bytes: int | None = None
    disk_free_bytes: int | None = None


class DeviceDetails(BaseModel):
    hostname: str
    fqdn: str | None
    domain: str | None
    os_family: str | None
    os_name: str | None
    os_version: str | None
    os_kernel: str | None
    os_arch: str | None
    ip_addresses: list[str]
    mac_addresses: list[str]
    resources: Resources
    health_state: HealthState
    health_reasons: list[str]
    boot_time: datetime | None
    machine_id: str | None
    sam_name: str | None
    directory_created: datetime | None
    agent_version: str | None


class NetworkActivity(BaseModel):
    first_seen: datetime | None
    last_seen: datetime | None


class DirectoryData(BaseModel):
    distinguished_name: str | None = None
    uac_flags: list[str] = Field(default_factory=list)
    spns: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)


class LoggedOnUserOut(BaseModel):
    name: str
    terminal: str | None = None
    host: str | None = None
    started: datetime | None = None
    source: str


class InventoryInfo(BaseModel):
    collected_at: datetime | None
    software_count: int


class AgentInfo(BaseModel):
    enrolled_at: datetime
    last_heartbeat: datetime | None
    version: str | None
    revoked: bool
    status: AgentStatus | None


class DeviceDetail(BaseModel):
    id: str
    name: str
    sources: list[str]
    tags: list[TagOut]
    security: SecurityInfo
    details: DeviceDetails
    network_activity: NetworkActivity
    directory: DirectoryData | None
    logged_on_users: list[LoggedOnUserOut] | None = Field(
        description="null until an inventory arrives; empty when the device keeps no sessions"
    )
    inventory: InventoryInfo
    agent: AgentInfo | None


class SoftwareOut(BaseModel):
    id: int
    source: str
    name: str
    version: str | None
    arch: str | None
    vendor: str | None
    source_package: str | None
    install_path: str | None
    first_seen: datetime
    last_seen: datetime


class SoftwarePage(BaseModel):
    items: list[SoftwareOut]
    next_cursor: str | None
    total: int


class TagsIn(BaseModel):
    tags: list[str] = Field(min_length=1, max_length=50)
