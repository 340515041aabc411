"""The normalized event table: one row per event, from any source, attributed to a device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hostwatch.db.base import Base, JSONType, utcnow

# SQLite only auto-increments a plain INTEGER PRIMARY KEY.
EventId = BigInteger().with_variant(Integer(), "sqlite")

# The kind of process events, and the action of the one that starts a process.
PROCESS_KIND = "process"
PROCESS_CREATED = "ProcessCreated"

# Process-tree lookups only ever want process events, a tenth or so of all events, so their
# indexes hold only those rows: far smaller, and most inserts skip them. A query uses them
# only when it names this same condition with the kind written out in its SQL. The action
# type is a column of each so that SQLite, which has no statistics unless ANALYZE ran,
# ranks them above the (device, kind, time) index, which would read every process event.
_PROCESS_ONLY = text(f"kind = '{PROCESS_KIND}'")


def _process_index(name: str, column: str) -> Index:
    return Index(
        name,
        "device_id",
        column,
        "action_type",
        "time",
        sqlite_where=_PROCESS_ONLY,
        postgresql_where=_PROCESS_ONLY,
    )


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("device_id", "dedupe_key"),
        # Keyset order of the timeline; with the kind in it, a kind filter skips the events
        # of other kinds without reading their rows.
        Index("ix_events_device_time_kind", "device_id", "time", "id", "kind"),
        Index("ix_events_device_kind_time", "device_id", "kind", "time"),
        _process_index("ix_events_process_guid", "process_guid"),
        _process_index("ix_events_process_parent_guid", "parent_process_guid"),
        _process_index("ix_events_process_pid", "process_id"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    time: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(32))
    event_code: Mapped[str | None] = mapped_column(String(64), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    action_type: Mapped[str | None] = mapped_column(String(64), default=None)
    user: Mapped[str | None] = mapped_column(String(255), default=None)
    process_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    process_image: Mapped[str | None] = mapped_column(Text, default=None)
    process_command_line: Mapped[str | None] = mapped_column(Text, default=None)
    process_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    process_guid: Mapped[str | None] = mapped_column(String(128), default=None)
    parent_process_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    parent_process_image: Mapped[str | None] = mapped_column(Text, default=None)
    parent_process_command_line: Mapped[str | None] = mapped_column(Text, default=None)
    parent_process_guid: Mapped[str | None] = mapped_column(String(128), default=None)
    target_file: Mapped[str | None] = mapped_column(Text, default=None)
    target_registry_key: Mapped[str | None] = mapped_column(Text, default=None)
    target_registry_value: Mapped[str | None] = mapped_column(Text, default=None)
    remote_address: Mapped[str | None] = mapped_column(String(64), default=None)
    remote_port: Mapped[int | None] = mapped_column(default=None)
    local_address: Mapped[str | None] = mapped_column(String(64), default=None)
    local_port: Mapped[int | None] = mapped_column(default=None)
    dns_name: Mapped[str | None] = mapped_column(String(255), default=None)
    # The original fields of the source record, kept whole.
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
