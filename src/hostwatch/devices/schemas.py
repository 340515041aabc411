"""Response and request bodies of the device API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hostwatch.protocol import AgentStatus as AgentStatus

HealthState = Literal["active", "inactive", "misconfigured", "degraded"]
# The scales detection and vulnerability matching will rate devices on; null until they do.
RiskLevel = Literal["none", "low", "medium", "high"]
ExposureLevel = Literal["low", "medium", "high"]
# Where a device is known from: the endpoint (its agent or imported endpoint logs), the
# directory, or both.
KnownFrom = Literal["endpoint", "directory", "both"]
DeviceSource = Literal["agent", "endpoint_logs", "osquery", "directory"]
DeviceSort = Literal[
    "name", "-name", "domain", "-domain", "os", "-os", "last_seen", "-last_seen",
    "first_seen", "-first_seen",
]  # fmt: skip
SoftwareSort = Literal["name", "-name", "vendor", "-vendor", "source", "-source"]


class Out(BaseModel):
    """A response body: every field is always sent, so the generated types mark none optional."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class TagOut(Out):
    name: str
    kind: Literal["user", "system"]


class DeviceSummary(Out):
    id: str
    name: str
    fqdn: str | None
    domain: str | None
    os_family: str | None
    os_name: str | None
    os_version: str | None
    health_state: HealthState
    risk_level: RiskLevel | None = Field(description="from the device's active alerts")
    exposure_level: ExposureLevel | None = Field(
        description="null until vulnerabilities are matched"
    )
    exposure_score: int | None = Field(description="0-100; null until vulnerabilities are matched")
    tags: list[TagOut]
    sources: list[DeviceSource]
    known_from: KnownFrom | None = Field(description="null when no source is recorded")
    ip_addresses: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    isolated: bool = Field(description="isolated, as the agent last verified on the device")
    app_restricted: bool = Field(
        description="app execution restricted, as the agent last verified on the device"
    )


class DevicePage(Out):
    items: list[DeviceSummary]
    next_cursor: str | None
    total: int


class RiskReason(Out):
    alert_id: str
    title: str
    severity: str


class ExposureDriver(Out):
    """An open finding, among those that weigh most in the exposure score."""

    vulnerability: str
    software: str
    version: str
    cvss: float | None = Field(description="null: no feed gives a vector; scored as 5.0")
    exploited: bool = Field(description="listed in CISA's known exploited vulnerabilities")
    ransomware: bool
    weight: float = Field(description="the finding's likelihood term, 0-1")


class ExposureInfo(Out):
    score: int = Field(description="0-100; see hostwatch.vulns.exposure for the formula")
    level: ExposureLevel
    counted: int = Field(description="affected findings in the score")
    exploited: int = Field(description="of which CISA lists as exploited")
    unknown: int = Field(description="findings of unknown status: shown, not counted")
    excepted: int = Field(description="affected findings under a recommendation exception")
    drivers: list[ExposureDriver] = Field(description="the heaviest findings first (at most 5)")
    active_recommendations: int


class SecurityInfo(Out):
    open_incidents: int | None
    active_alerts: int | None
    active_alerts_by_severity: dict[str, int] = Field(
        description="informational, low, medium, high, critical: active alerts of each"
    )
    risk_level: RiskLevel | None
    risk_reasons: list[RiskReason] = Field(
        description="the active alerts that set the risk level, newest first (at most 5)"
    )
    exposure_level: ExposureLevel | None
    exposure_score: int | None = Field(
        description="0-100 from the open vulnerability findings; null until they are matched"
    )
    exposure: ExposureInfo | None = Field(description="what drives the exposure score")


class Resources(Out):
    cpu_count: int | None = None
    cpu_model: str | None = None
    memory_bytes: int | None = None
    disk_total_bytes: int | None = None
    disk_free_bytes: int | None = None


class DeviceDetails(Out):
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


class NetworkActivity(Out):
    first_seen: datetime | None
    last_seen: datetime | None


class DirectoryData(Out):
    distinguished_name: str | None = None
    uac_flags: list[str] = Field(default_factory=list)
    spns: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)


class LoggedOnUserOut(Out):
    name: str
    terminal: str | None = None
    host: str | None = None
    started: datetime | None = None
    source: str
    logon_type: int | None = Field(
        default=None, description="Windows logon type, for sessions read from event logs"
    )


class InventoryInfo(Out):
    collected_at: datetime | None
    software_count: int


class AgentInfo(Out):
    enrolled_at: datetime
    last_heartbeat: datetime | None
    version: str | None
    revoked: bool
    status: AgentStatus | None


class PendingActionRef(Out):
    id: str
    type: str
    state: Literal["requested", "delivered", "running"]


class ContainmentInfo(Out):
    """What the agent last read back from the device (never what was requested), and the
    actions not finished yet."""

    isolated: bool
    isolation_mode: Literal["full", "selective"] | None
    app_restricted: bool
    checked_at: datetime | None = Field(description="null until the agent reports containment")
    problems: list[str] = Field(description="why a containment is not as expected")
    pending: list[PendingActionRef] = Field(description="oldest first")


class DeviceDetail(Out):
    id: str
    name: str
    sources: list[DeviceSource]
    known_from: KnownFrom | None
    tags: list[TagOut]
    security: SecurityInfo
    details: DeviceDetails
    network_activity: NetworkActivity
    directory: DirectoryData | None
    logged_on_users: list[LoggedOnUserOut] | None = Field(
        description="null until an inventory or a logon event arrives; empty when the device "
        "keeps no sessions"
    )
    inventory: InventoryInfo
    agent: AgentInfo | None
    containment: ContainmentInfo


class SoftwareOut(Out):
    id: int
    source: str
    name: str
    version: str | None
    arch: str | None
    vendor: str | None
    source_package: str | None
    install_path: str | None
    status: str | None
    first_seen: datetime
    last_seen: datetime
    product_code: str | None = Field(
        description="a package URL where the ecosystem has one, else the CPE it maps to"
    )
    weaknesses: int = Field(
        description="affected vulnerabilities (not unknown ones, nor false positives)"
    )
    exploited: bool = Field(description="any of them is in CISA's known exploited catalog")


class SoftwareVulnerability(Out):
    finding_id: int
    cve: str
    severity: str | None
    cvss_score: float | None
    match: str = Field(description="affected, or unknown")
    status: str = Field(description="open, false_positive or accepted_risk")
    exploited: bool
    fixed_version: str | None


class SoftwareDetail(SoftwareOut):
    vulnerabilities: list[SoftwareVulnerability]


class SoftwarePage(Out):
    items: list[SoftwareOut]
    next_cursor: str | None
    total: int


class TagsIn(BaseModel):
    tags: list[str] = Field(min_length=1, max_length=50)


DeviceId = Annotated[str, Field(max_length=36)]


class BulkTagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_ids: list[DeviceId] = Field(min_length=1, max_length=1000)
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


class BulkTagResult(Out):
    device_id: str
    added: list[str] = Field(description="tags the device did not have before")
    removed: list[str] = Field(description="user tags the device had and no longer has")
    error: str | None = Field(description="why nothing changed on this device")


class BulkTagsOut(Out):
    results: list[BulkTagResult] = Field(description="one per device, in the order asked")
