"""A device's timeline: its events in a time range, filtered, in keyset pages.

The filters here are shared by the event list, the histogram and the CSV export, so the
three always agree on which events a range holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import KeyedColumnElement

from hostwatch.db import paging
from hostwatch.db.base import utcnow
from hostwatch.devices.queries import get_device
from hostwatch.errors import InvalidInput
from hostwatch.events import schemas
from hostwatch.events.models import SEARCH_SEPARATOR, SEARCHED_COLUMNS, Event, search_text

DEFAULT_SPAN = timedelta(days=7)
MAX_FILTER_VALUES = 20
MAX_FILTER_LENGTH = 64

Column = KeyedColumnElement[Any]
# Table columns, not ORM attributes: results come back as plain rows, without the ORM's
# work on each row.
events = Event.__table__.c

# What the client may ask for with `fields`, and the columns behind each.
FIELDS: dict[str, tuple[Column, ...]] = {
    "id": (events.id,),
    "time": (events.time,),
    "kind": (events.kind,),
    "action_type": (events.action_type,),
    "user": (events.user,),
    "process": (
        events.process_image,
        events.process_command_line,
        events.process_id,
        events.process_guid,
        events.process_sha256,
    ),
    "parent": (
        events.parent_process_image,
        events.parent_process_command_line,
        events.parent_process_id,
        events.parent_process_guid,
    ),
    "target": (
        events.target_file,
        events.target_registry_key,
        events.target_registry_value,
        events.remote_address,
        events.remote_port,
        events.local_address,
        events.local_port,
        events.dns_name,
    ),
    "source": (events.source,),
    "event_code": (events.event_code,),
}

# The text that `q` searches.
SEARCHED: tuple[Column, ...] = tuple(events[name] for name in SEARCHED_COLUMNS)


@dataclass(frozen=True)
class Filters:
    """Which of one device's events a request is about: [start, end), kinds, actions, text."""

    device_id: str
    start: datetime
    end: datetime
    kinds: tuple[str, ...] = ()
    action_types: tuple[str, ...] = ()
    q: str | None = None


def make_filters(
    session: Session,
    device_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kinds: Sequence[str] | None = None,
    action_types: Sequence[str] | None = None,
    q: str | None = None,
) -> Filters:
    """Check the request's filters; without a range, the 7 days up to the newest event."""
    get_device(session, device_id)
    if start is None and end is None:
        newest = session.scalar(select(func.max(events.time)).where(events.device_id == device_id))
        # The range's end is exclusive; the newest event belongs in it.
        end = newest + timedelta(microseconds=1) if newest else utcnow()
    if start is None:
        assert end is not None
        start = end - DEFAULT_SPAN
    if end is None:
        end = start + DEFAULT_SPAN
    if start >= end:
        raise InvalidInput(
            "'from' must be before 'to'",
            errors=[{"field": "from", "message": "must be before 'to'"}],
        )
    return Filters(
        device_id=device_id,
        start=start,
        end=end,
        kinds=_values("kinds", kinds),
        action_types=_values("action_types", action_types),
        q=q or None,
    )


def _values(name: str, given: Sequence[str] | None) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(given or ()))
    if len(values) > MAX_FILTER_VALUES:
        raise InvalidInput(
            f"at most {MAX_FILTER_VALUES} values of '{name}' may be given",
            errors=[{"field": name, "message": "too many values"}],
        )
    for value in values:
        if not value or len(value) > MAX_FILTER_LENGTH:
            raise InvalidInput(
                f"each '{name}' value must have 1 to {MAX_FILTER_LENGTH} characters",
                errors=[{"field": name, "message": "empty or too long"}],
            )
    return values


def parse_fields(given: Sequence[str] | None) -> tuple[str, ...]:
    """The fields asked for, in the order asked; each may be repeated or comma-separated."""
    if not given:
        return tuple(FIELDS)
    names = [name.strip() for value in given for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in FIELDS]
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}: choose from {', '.join(FIELDS)}",
            errors=[{"field": "fields", "message": f"unknown field {name!r}"} for name in unknown],
        )
    if not names:
        raise InvalidInput(
            "'fields' names no field", errors=[{"field": "fields", "message": "empty"}]
        )
    return tuple(dict.fromkeys(names))


def columns_of(fields: Sequence[str]) -> list[Column]:
    return [column for name in fields for column in FIELDS[name]]


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(filters: Filters, dialect: str) -> list[ColumnElement[bool]]:
    """The WHERE terms of the filters but the time range, for the given database engine."""
    terms: list[ColumnElement[bool]] = [events.device_id == filters.device_id]
    if filters.kinds:
        terms.append(events.kind.in_(filters.kinds))
    return terms + content_conditions(filters, dialect)


def content_conditions(filters: Filters, dialect: str) -> list[ColumnElement[bool]]:
    """The terms on what an event holds: its action type and its text."""
    terms: list[ColumnElement[bool]] = []
    if filters.action_types:
        terms.append(events.action_type.in_(filters.action_types))
    if filters.q:
        terms.append(text_matches(filters.q, dialect))
    return terms


def _has_trigram(term: str) -> bool:
    """Whether pg_trgm can take trigrams from the term: it needs three letters or digits
    in a row. Without one, its index would read every entry it has. Only ASCII ones are
    counted: which other letters pg_trgm sees as letters depends on the database's locale.
    """
    run = 0
    for char in term:
        run = run + 1 if char.isascii() and char.isalnum() else 0
        if run == 3:
            return True
    return False


def text_matches(term: str, dialect: str) -> ColumnElement[bool]:
    """Events whose searched columns hold `term`, case-insensitively, anywhere in them.

    The columns are searched as one lowercased text (models.search_text), the expression the
    search indexes hold: on SQLite the b-tree index is read in timeline order without the
    rows, on PostgreSQL the trigram index finds a rare word's events at once. A term that
    holds the separator of that text is searched column by column, as it could otherwise
    match across two columns.
    """
    pattern = like_pattern(term)
    if SEARCH_SEPARATOR in term:
        if dialect == "postgresql":
            return or_(*(column.ilike(pattern, escape="\\") for column in SEARCHED))
        return or_(*(column.like(pattern, escape="\\") for column in SEARCHED))
    if dialect == "postgresql":
        # ILIKE in a UTF-8 database is LIKE on lower() of both sides, so this finds the
        # same events, and PostgreSQL's lower() folds every letter.
        searched = search_text("postgresql")
        if _has_trigram(term):
            return searched.like(func.lower(pattern), escape="\\")
        # Limitation: a term without three letters or digits in a row has no trigram, so
        # on PostgreSQL it is matched against every event of the range, as all terms were
        # before the index. This form keeps the planner off the trigram index for it.
        return func.strpos(searched, func.lower(term)) > 0
    # Limitation: SQLite's LIKE and lower() fold ASCII letters only, so on SQLite a search
    # for 'ÉTÉ' does not find 'été'. PostgreSQL folds every letter.
    # Limitation: on SQLite a word found nowhere still reads the range's index entries, one
    # per event: about 19 ms for a busy week (78,000 events) at load 4.7, 50 ms at 5.5. A
    # trigram index (FTS5) would need insert triggers, which the event store's change
    # count cannot take (see hostwatch.events.histogram).
    return search_text("sqlite").like(pattern, escape="\\")


def decode_cursor(cursor: str, descending: bool) -> tuple[datetime, int]:
    key = paging.SortKey(Event.time, Event.id, descending, is_time=True)
    value, row_id = paging.decode_cursor(cursor, key)
    if not isinstance(value, datetime) or value.tzinfo is None or row_id is None:
        raise InvalidInput(
            "cursor is not valid: pass the next_cursor of a previous page unchanged",
            errors=[{"field": "cursor", "message": "malformed cursor"}],
        )
    return value, row_id


def window(
    filters: Filters, position: tuple[datetime, int] | None, descending: bool
) -> list[ColumnElement[bool]]:
    """The time range, narrowed to the rows past a keyset position in the given order.

    Each end of the range gets one bound only: given two lower bounds on time, SQLite
    seeks to the first one written, so every page would scan from the range's start.
    """
    lower: ColumnElement[bool] = events.time >= filters.start
    upper: ColumnElement[bool] = events.time < filters.end
    if position is None:
        return [lower, upper]
    at, row_id = position
    if descending:
        if at < filters.end:
            upper = events.time <= at
        return [lower, upper, or_(events.time < at, events.id < row_id)]
    if at >= filters.start:
        lower = events.time >= at
    return [lower, upper, or_(events.time > at, events.id > row_id)]


def rows(
    session: Session,
    filters: Filters,
    columns: Sequence[Column],
    *,
    descending: bool,
    limit: int,
    position: tuple[datetime, int] | None = None,
) -> Sequence[Row[Any]]:
    """Up to `limit` events past `position`, with their time and id first."""
    dialect = session.get_bind().dialect.name
    terms = conditions(filters, dialect) + window(filters, position, descending)
    wanted = [c for c in columns if c.key not in ("id", "time")]
    query = select(events.time, events.id, *wanted).where(*terms)
    if descending:
        query = query.order_by(events.time.desc(), events.id.desc())
    else:
        query = query.order_by(events.time.asc(), events.id.asc())
    return session.execute(query.limit(limit)).all()


def page(
    session: Session,
    filters: Filters,
    *,
    fields: Sequence[str],
    order: schemas.Order = "newest",
    limit: int = 30,
    cursor: str | None = None,
) -> schemas.TimelinePage:
    descending = order == "newest"
    position = decode_cursor(cursor, descending) if cursor else None
    found = rows(
        session,
        filters,
        columns_of(fields),
        descending=descending,
        limit=limit + 1,
        position=position,
    )
    shown = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = shown[-1]
        next_cursor = paging.encode_cursor(last.time, last.id)
    return schemas.TimelinePage(
        items=[item(row, fields) for row in shown],
        next_cursor=next_cursor,
        order=order,
        from_=filters.start,
        to=filters.end,
    )


def item(row: Row[Any], fields: Sequence[str]) -> schemas.TimelineItem:
    values: dict[str, Any] = {}
    for name in fields:
        if name == "process":
            values[name] = _process(row)
        elif name == "parent":
            values[name] = _parent(row)
        elif name == "target":
            values[name] = _target(row)
        else:
            values[name] = getattr(row, name)
    return schemas.TimelineItem(**values)


def _process(row: Row[Any]) -> schemas.ProcessOut | None:
    values = (
        row.process_image,
        row.process_command_line,
        row.process_id,
        row.process_guid,
        row.process_sha256,
    )
    if all(value is None for value in values):
        return None
    image, command_line, pid, guid, sha256 = values
    return schemas.ProcessOut(
        image=image, command_line=command_line, pid=pid, guid=guid, sha256=sha256
    )


def _parent(row: Row[Any]) -> schemas.ParentOut | None:
    values = (
        row.parent_process_image,
        row.parent_process_command_line,
        row.parent_process_id,
        row.parent_process_guid,
    )
    if all(value is None for value in values):
        return None
    image, command_line, pid, guid = values
    return schemas.ParentOut(image=image, command_line=command_line, pid=pid, guid=guid)


def _target_type(row: Row[Any]) -> schemas.TargetType | None:
    if row.target_registry_key or row.target_registry_value:
        return "registry"
    if row.dns_name:
        return "dns"
    if row.remote_address or row.remote_port is not None:
        return "network"
    if row.target_file:
        return "file"
    return None


def _target(row: Row[Any]) -> schemas.TargetOut | None:
    kind = _target_type(row)
    if kind is None:
        return None
    return schemas.TargetOut(
        type=kind,
        file=row.target_file,
        registry_key=row.target_registry_key,
        registry_value=row.target_registry_value,
        remote_address=row.remote_address,
        remote_port=row.remote_port,
        local_address=row.local_address,
        local_port=row.local_port,
        dns_name=row.dns_name,
    )
