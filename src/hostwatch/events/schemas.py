"""Response bodies of the timeline, its histogram, one event and the process tree."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field

Order = Literal["newest", "oldest"]
TargetType = Literal["file", "registry", "network", "dns"]
NodeType = Literal["process", "file", "registry", "network", "dns", "user"]


class ProcessOut(BaseModel):
    image: str | None
    command_line: str | None
    pid: int | None
    guid: str | None
    sha256: str | None


class ParentOut(BaseModel):
    image: str | None
    command_line: str | None
    pid: int | None
    guid: str | None


class TargetOut(BaseModel):
    type: TargetType
    file: str | None
    registry_key: str | None
    registry_value: str | None
    remote_address: str | None
    remote_port: int | None
    local_address: str | None
    local_port: int | None
    dns_name: str | None


class TimelineItem(BaseModel):
    """One event. With `fields`, only the fields asked for are present."""

    id: int | None = None
    time: datetime | None = None
    kind: str | None = None
    action_type: str | None = None
    user: str | None = None
    process: ProcessOut | None = None
    parent: ParentOut | None = None
    target: TargetOut | None = None
    source: str | None = None
    event_code: str | None = None


class EventDetail(TimelineItem):
    """One event whole: every column, its device, and the original record's fields."""

    id: int
    time: datetime
    kind: str
    source: str
    device_id: str
    received_at: datetime
    fields: dict[str, Any] = Field(
        description="the source record's own fields as it had them (for EVTX: the System "
        "parts worth keeping and EventData), untrusted text"
    )


def _from_field(description: str | None = None) -> Any:
    # 'from' is a Python keyword: the attribute is from_, the JSON name is from.
    return Field(
        validation_alias=AliasChoices("from_", "from"),
        serialization_alias="from",
        description=description,
    )


class _Range(BaseModel):
    from_: datetime = _from_field("start of the range, inclusive")
    to: datetime = Field(description="end of the range, exclusive")


class TimelinePage(_Range):
    items: list[TimelineItem]
    next_cursor: str | None
    order: Order


class Bucket(BaseModel):
    start: datetime
    counts: dict[str, int] = Field(description="events per kind; kinds with none are left out")


class Histogram(_Range):
    bucket: str = Field(description="bucket size, such as 5m, 1h or 1d")
    bucket_seconds: int
    buckets: list[Bucket]
    totals: dict[str, int]


class Node(BaseModel):
    id: str
    type: NodeType
    label: str
    details: dict[str, Any]


class Edge(BaseModel):
    from_: str = _from_field()
    to: str
    relation: str


class ProcessTree(BaseModel):
    event_id: int
    device_id: str
    focus: str | None = Field(description="the node of the event's own process")
    nodes: list[Node]
    edges: list[Edge]
    truncated: bool = Field(description="true when the depth or the children bound cut it")
