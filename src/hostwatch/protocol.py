"""Messages between the endpoint agent and the server: the only module both sides import.

Everything an agent sends is untrusted by the server, so each model bounds its sizes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1

# Paths under the server's /api prefix.
ENROLL_PATH = "/api/agent/enroll"
HEARTBEAT_PATH = "/api/agent/heartbeat"
INVENTORY_PATH = "/api/agent/inventory"
EVENTS_PATH = "/api/agent/events"

# Upper bounds on what one request may carry; the server refuses anything larger.
MAX_EVENTS_PER_BATCH = 5_000
MAX_SOFTWARE_ITEMS = 50_000

ShortText = Annotated[str, Field(max_length=256)]
LongText = Annotated[str, Field(max_length=32_768)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HostFacts(_Message):
    """What the agent knows about the machine it runs on. Unknown values stay None."""

    hostname: ShortText
    fqdn: ShortText | None = None
    domain: ShortText | None = None
    os_family: Literal["linux", "windows", "macos", "other"] = "other"
    os_name: ShortText | None = None
    os_version: ShortText | None = None
    os_kernel: ShortText | None = None
    os_arch: ShortText | None = None
    ip_addresses: list[ShortText] = Field(default_factory=list, max_length=512)
    mac_addresses: list[ShortText] = Field(default_factory=list, max_length=512)
    cpu_count: int | None = Field(default=None, ge=0)
    cpu_model: ShortText | None = None
    memory_bytes: int | None = Field(default=None, ge=0)
    disk_total_bytes: int | None = Field(default=None, ge=0)
    disk_free_bytes: int | None = Field(default=None, ge=0)
    boot_time: AwareDatetime | None = None
    machine_id: ShortText | None = None


class LoggedOnUser(_Message):
    name: ShortText
    terminal: ShortText | None = None
    host: ShortText | None = None
    started: AwareDatetime | None = None
    source: ShortText = Field(description="where the session was read from, e.g. utmp")


class SoftwareItem(_Message):
    source: Literal["dpkg", "rpm", "pip", "npm", "windows", "osquery", "other"]
    name: ShortText
    version: ShortText | None = None
    vendor: ShortText | None = None
    arch: ShortText | None = None
    source_package: ShortText | None = None
    install_path: Annotated[str, Field(max_length=4096)] | None = None
    status: ShortText | None = None


class EnrollRequest(_Message):
    enroll_token: Annotated[str, Field(min_length=8, max_length=256)]
    host: HostFacts
    agent_version: ShortText
    protocol_version: int = PROTOCOL_VERSION


class EnrollResponse(_Message):
    device_id: str
    credential: str = Field(description="device credential; shown once, stored hashed")
    heartbeat_interval: int


class AgentStatus(_Message):
    """The agent's own health, reported with each heartbeat."""

    spool_events: int = Field(default=0, ge=0)
    spool_bytes: int = Field(default=0, ge=0)
    dropped_events: int = Field(default=0, ge=0, description="telemetry dropped since start")
    errors: list[LongText] = Field(default_factory=list, max_length=64)
    cpu_percent: float | None = Field(default=None, ge=0)
    rss_bytes: int | None = Field(default=None, ge=0)


class HeartbeatRequest(_Message):
    agent_version: ShortText
    sent_at: AwareDatetime
    status: AgentStatus = Field(default_factory=AgentStatus)


class PendingAction(_Message):
    id: str
    type: ShortText
    parameters: dict[str, Any] = Field(default_factory=dict)


class HeartbeatResponse(_Message):
    server_time: AwareDatetime
    heartbeat_interval: int
    inventory_due: bool = Field(description="the server wants a fresh inventory snapshot")
    actions: list[PendingAction] = Field(default_factory=list)


class InventoryUpload(_Message):
    """A full snapshot. The server replaces the device's previous snapshot with it atomically."""

    collected_at: AwareDatetime
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
    time: AwareDatetime
    kind: ShortText
    action_type: ShortText | None = None
    source: ShortText = "agent"
    event_code: ShortText | None = None
    user: ShortText | None = None
    process_id: int | None = None
    process_image: Annotated[str, Field(max_length=4096)] | None = None
    process_command_line: LongText | None = None
    process_sha256: ShortText | None = None
    process_guid: ShortText | None = None
    parent_process_id: int | None = None
    parent_process_image: Annotated[str, Field(max_length=4096)] | None = None
    parent_process_command_line: LongText | None = None
    parent_process_guid: ShortText | None = None
    target_file: Annotated[str, Field(max_length=4096)] | None = None
    target_registry_key: Annotated[str, Field(max_length=4096)] | None = None
    target_registry_value: LongText | None = None
    remote_address: ShortText | None = None
    remote_port: int | None = Field(default=None, ge=0, le=65535)
    local_address: ShortText | None = None
    local_port: int | None = Field(default=None, ge=0, le=65535)
    dns_name: ShortText | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class EventBatch(_Message):
    events: list[AgentEvent] = Field(max_length=MAX_EVENTS_PER_BATCH)


class EventBatchResult(_Message):
    stored: int
    duplicates: int
