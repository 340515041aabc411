"""The normalized event table: one row per event, from any source, attributed to a device."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
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


# The columns a text search reads, in the order they are joined into the search text.
SEARCHED_COLUMNS = (
    "process_command_line",
    "parent_process_command_line",
    "process_image",
    "parent_process_image",
    "target_file",
    "target_registry_key",
    "target_registry_value",
    "dns_name",
    "user",
)
# Joins the searched columns in the search text. A term that holds it could match across
# two columns, so such a term is searched column by column instead.
SEARCH_SEPARATOR = "\x1f"


def search_text(dialect: str) -> ColumnElement[str]:
    """Every searched column of an event, lowercased and joined into one string.

    The search indexes below are built on this very expression, and a query uses them only
    when it repeats it exactly: every piece is a literal of the SQL, none a bound parameter.
    """
    separator: ColumnElement[str] = literal_column(
        "chr(31)" if dialect == "postgresql" else "char(31)"
    )
    empty: ColumnElement[str] = literal_column("''")
    parts: list[ColumnElement[str]] = []
    for name in SEARCHED_COLUMNS:
        if parts:
            parts.append(separator)
        parts.append(func.coalesce(Event.__table__.c[name], empty))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(part)
    return func.lower(joined)


# SQLite: the search text in a b-tree index in timeline order, so that a search reads the
# index alone, never the rows (which also hold the original fields), and stops after one
# page for a common word. PostgreSQL: a trigram index on it, which finds the events of a
# rare word directly; its b-tree could not take a long command line (2,704 bytes at most).
Index(
    "ix_events_search",
    Event.__table__.c.device_id,
    Event.__table__.c.time,
    Event.__table__.c.id,
    Event.__table__.c.kind,
    search_text("sqlite"),
).ddl_if(dialect="sqlite")
Index(
    "ix_events_search_trgm",
    search_text("postgresql").label("search"),
    postgresql_using="gin",
    postgresql_ops={"search": "gin_trgm_ops"},
    # An index on an expression alone does not find its table by itself.
    _table=cast(Table, Event.__table__),
).ddl_if(dialect="postgresql")


class EventHourCount(Base):
    """How many events of each kind a device has in each hour, as hours since the epoch.

    The timeline's chart sums these for whole hours instead of counting events. PostgreSQL
    keeps them exact with statement triggers on events; SQLite catches up from the events
    past `EventCountMark` when a histogram asks (see hostwatch.events.histogram).
    """

    __tablename__ = "event_hour_counts"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    # Before the kind: a range of hours is one stretch of the key, whatever the kinds.
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)


class EventCountMark(Base):
    """SQLite only: every event with an id up to `last_id` is counted in event_hour_counts."""

    __tablename__ = "event_count_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
