"""Messages between the endpoint agent and the server: the only module both sides import.

Everything an agent sends is untrusted by the server, so each model bounds its sizes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1

# Paths under the server's /api prefix.
ENROLL_PATH = "/api/agent/enroll"
HEARTBEAT_PATH = "/api/agent/heartbeat"
INVENTORY_PATH = "/api/agent/inventory"
EVENTS_PATH = "/api/agent/events"
# POST an ActionReport for one action the server handed this agent.
ACTION_REPORT_PATH = "/api/agent/actions/{action_id}/report"

# Upper bounds on what one request may carry; the server refuses anything larger.
MAX_EVENTS_PER_BATCH = 5_000
MAX_SOFTWARE_ITEMS = 50_000


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL, and no legitimate name, path or command line holds one.
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


# Text bounds match the server's columns, so anything valid here can be stored.
Text32 = Annotated[str, Field(max_length=32), AfterValidator(_no_nul)]
Text64 = Annotated[str, Field(max_length=64), AfterValidator(_no_nul)]
Text128 = Annotated[str, Field(max_length=128), AfterValidator(_no_nul)]
ShortText = Annotated[str, Field(max_length=255), AfterValidator(_no_nul)]
PathText = Annotated[str, Field(max_length=4096), AfterValidator(_no_nul)]
LongText = Annotated[str, Field(max_length=32_768), AfterValidator(_no_nul)]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("time must be between 1970 and 2200")
    return utc


Time = Annotated[AwareDatetime, AfterValidator(_plausible)]
Count = Annotated[int, Field(ge=0, le=2**62)]
ProcessId = Annotated[int, Field(ge=0, le=2**32)]
Port = Annotated[int, Field(ge=0, le=65535)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class HostFacts(_Message):
    """What the agent knows about the machine it runs on. Unknown values stay None."""

    hostname: ShortText
    fqdn: ShortText | None = None
    domain: ShortText | None = None
    os_family: Literal["linux", "windows", "macos", "other"] = "other"
    os_name: ShortText | None = None
    os_version: ShortText | None = None
    os_kernel: ShortText | None = None
    os_arch: Text32 | None = None
    ip_addresses: list[ShortText] = Field(default_factory=list, max_length=512)
    mac_addresses: list[ShortText] = Field(default_factory=list, max_length=512)
    cpu_count: Count | None = None
    cpu_model: ShortText | None = None
    memory_bytes: Count | None = None
    disk_total_bytes: Count | None = None
    disk_free_bytes: Count | None = None
    boot_time: Time | None = None
    machine_id: Text128 | None = None


class LoggedOnUser(_Message):
    name: ShortText
    terminal: ShortText | None = None
    host: ShortText | None = None
    started: Time | None = None
    source: ShortText = Field(description="where the session was read from, e.g. utmp")


class SoftwareItem(_Message):
    source: Literal["dpkg", "rpm", "pip", "npm", "windows", "osquery", "other"]
    name: ShortText
    version: ShortText | None = None
    vendor: ShortText | None = None
    arch: Text32 | None = None
    source_package: ShortText | None = None
    install_path: PathText | None = None
    status: Text64 | None = None


class EnrollRequest(_Message):
    enroll_token: Annotated[str, Field(min_length=8, max_length=256)]
    host: HostFacts
    agent_version: Text64
    protocol_version: int = PROTOCOL_VERSION


class EnrollResponse(_Message):
    device_id: str
    credential: str = Field(description="device credential; shown once, stored hashed")
    heartbeat_interval: int


class AgentStatus(_Message):
    """The agent's own health, reported with each heartbeat."""

    spool_events: Count = 0
    spool_bytes: Count = 0
    dropped_events: Count = Field(default=0, description="telemetry dropped since start")
    errors: list[LongText] = Field(default_factory=list, max_length=64)
    cpu_percent: float | None = Field(default=None, ge=0, le=100_000)
    rss_bytes: Count | None = None
    # Added with the audit collector; older agents leave them out.
    process_source: Literal["audit", "poll"] | None = Field(
        default=None, description="where process events come from"
    )
    collector_dropped_events: Count = Field(
        default=0, description="events the collector dropped since start (queue full)"
    )
    summarized_events: Count = Field(
        default=0, description="events over the rate limit, counted in summary events instead"
    )
    kernel_lost_events: Count | None = Field(
        default=None, description="audit records the kernel lost since the agent started"
    )


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ContainmentStatus(_Message):
    """What the agent finds in force on the device when it reports, read back from the kernel
    (the nftables ruleset, the fanotify mark), not what it was asked to do."""

    isolated: bool = False
    isolation_mode: Literal["full", "selective"] | None = None
    app_restricted: bool = False
    checked_at: Time | None = None
    problems: list[LongText] = Field(
        default_factory=list, max_length=16, description="why a containment is not as expected"
    )


class HeartbeatRequest(_Message):
    agent_version: Text64
    sent_at: Time
    status: AgentStatus = Field(default_factory=AgentStatus)
    # Added with response actions; older agents leave it out.
    containment: ContainmentStatus | None = None


# The action types an agent can run. The server sends only these; an agent that gets another
# type (a newer server) reports it failed as unsupported.
ISOLATE = "isolate"
RELEASE_ISOLATION = "release_isolation"
RESTRICT_APP_EXECUTION = "restrict_app_execution"
REMOVE_APP_RESTRICTION = "remove_app_restriction"
AGENT_ACTION_TYPES = (ISOLATE, RELEASE_ISOLATION, RESTRICT_APP_EXECUTION, REMOVE_APP_RESTRICTION)


class IsolateParameters(_Message):
    """Full isolation keeps loopback, the flows it must keep and the Hostwatch server. Selective
    isolation also lets through the traffic of the listed users and cgroups (nftables matches a
    socket's owner and its cgroup v2 path; it has no match on the executable)."""

    mode: Literal["full", "selective"] = "full"
    allow_users: list[Text64] = Field(
        default_factory=list, max_length=64, description="user names or numeric uids"
    )
    allow_cgroups: list[PathText] = Field(
        default_factory=list,
        max_length=64,
        description="cgroup v2 paths relative to the cgroup root, e.g. system.slice/mail.service",
    )


class RestrictParameters(_Message):
    """Only executables owned by the OS's packages with unmodified content, those allowed here,
    and the agent itself may start."""

    allow_sha256: list[Sha256] = Field(default_factory=list, max_length=10_000)
    allow_paths: list[PathText] = Field(default_factory=list, max_length=1_000)
    scope: list[PathText] = Field(
        default_factory=list,
        max_length=64,
        description="directories or mount points to enforce on; empty means every local "
        "filesystem the agent can mark",
    )


class PendingAction(_Message):
    id: str
    type: Text64
    parameters: dict[str, Any] = Field(default_factory=dict)
    expires_at: Time | None = None


class ActionReport(_Message):
    """The agent's word on one action: running, then succeeded or failed. A success carries the
    evidence, read back from the device, that the change is in place."""

    state: Literal["running", "succeeded", "failed"]
    at: Time
    message: LongText | None = Field(default=None, description="progress, or why it failed")
    evidence: dict[str, Any] = Field(default_factory=dict)


class ActionReportResult(_Message):
    state: Text32 = Field(description="the action's state on the server after this report")


class HeartbeatResponse(_Message):
    server_time: Time
    heartbeat_interval: int
    inventory_due: bool = Field(description="the server wants a fresh inventory snapshot")
    actions: list[PendingAction] = Field(default_factory=list)


class InventoryUpload(_Message):
    """A full snapshot. The server replaces the device's previous snapshot with it atomically."""

    collected_at: Time
    host: HostFacts
    logged_on_users: list[LoggedOnUser] = Field(default_factory=list, max_length=4096)
    software: list[SoftwareItem] = Field(default_factory=list, max_length=MAX_SOFTWARE_ITEMS)


class InventoryResult(_Message):
    software_added: int
    software_removed: int
    software_unchanged: int


class AgentEvent(_Message):
    """One telemetry event, in the shape of the server's event record."""

    key: Annotated[str, Field(min_length=1, max_length=128)] = Field(
        description="stable per-event key; uploading the same key twice stores one event"
    )
    time: Time
    kind: Text32
    action_type: Text64 | None = None
    source: Text32 = "agent"
    event_code: Text64 | None = None
    user: ShortText | None = None
    process_id: ProcessId | None = None
    process_image: PathText | None = None
    process_command_line: LongText | None = None
    process_sha256: Text64 | None = None
    process_guid: Text128 | None = None
    parent_process_id: ProcessId | None = None
    parent_process_image: PathText | None = None
    parent_process_command_line: LongText | None = None
    parent_process_guid: Text128 | None = None
    target_file: PathText | None = None
    target_registry_key: PathText | None = None
    target_registry_value: LongText | None = None
    remote_address: Text64 | None = None
    remote_port: Port | None = None
    local_address: Text64 | None = None
    local_port: Port | None = None
    dns_name: ShortText | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class EventBatch(_Message):
    events: list[AgentEvent] = Field(max_length=MAX_EVENTS_PER_BATCH)


class EventBatchResult(_Message):
    stored: int
    duplicates: int
