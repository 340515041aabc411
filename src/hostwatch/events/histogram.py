"""Counts of a device's events per kind over time, for the timeline's chart.

Buckets of an hour or more are summed from event_hour_counts, a rollup of events per
(device, hour, kind); only the parts of an hour at the two ends of the range are counted
from the events. A month of a busy device (330,000 events) then sums about 8,000 rollup
rows in the database instead of counting every event (bench/timeline.py, RESULTS.md).

PostgreSQL keeps the rollup exact with statement triggers on events (migration 0003), so
every insert path counts, COPY included. SQLite does not use insert triggers for it: the
changes its row triggers make count as the connection's changes, and the event store counts
new events by those, so every import would report twice the events it stored; a trigger
would also cost every import. Instead the rollup holds every event up to an id mark. A
histogram adds the events past the mark from its own snapshot, which keeps it exact, then
folds them into the rollup for the next one. SQLite hands out ids in commit order (one
writer at a time, each new id above every id in the table), so no event lands below the
mark later; a deletion trigger keeps the counts and the mark right when events go.

A text search or an action-type filter cannot use the rollup. Those group the matching
events by bucket in one statement; sub-hour buckets without them are a range count per
(bucket, kind) in the (device, kind, time) index. Grouping every event of a month by a
computed bucket took about 200 ms on either engine; it is fine once a search has left few.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    String,
    column,
    func,
    literal_column,
    select,
    text,
    true,
    values,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hostwatch.db.base import UTCDateTime
from hostwatch.errors import RangeTooLong
from hostwatch.events import schemas
from hostwatch.events.models import Event, EventCountMark, EventHourCount
from hostwatch.events.timeline import Filters, conditions, content_conditions

logger = logging.getLogger(__name__)

MAX_BUCKETS = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
LADDER = (
    ("1m", timedelta(minutes=1)),
    ("5m", timedelta(minutes=5)),
    ("15m", timedelta(minutes=15)),
    ("1h", timedelta(hours=1)),
    ("3h", timedelta(hours=3)),
    ("6h", timedelta(hours=6)),
    ("12h", timedelta(hours=12)),
    ("1d", timedelta(days=1)),
    ("7d", timedelta(days=7)),
)
# How long a histogram waits for SQLite's write lock to fold new events into the rollup;
# past that it leaves them to the next histogram (its own answer is exact either way).
FOLD_LOCK_WAIT_MS = 200
# As hostwatch.db.engine sets it on every SQLite connection.
BUSY_TIMEOUT_MS = 10_000
# Counts the events between two ids into the rollup. The SELECT of an upsert needs a WHERE,
# or SQLite reads ON as a join's.
_SQLITE_FOLD = (
    "INSERT INTO event_hour_counts (device_id, hour, kind, events) "
    "SELECT device_id, {hour}, kind, count(*) FROM events "
    "WHERE id > :mark AND id <= :newest GROUP BY 1, 2, 3 "
    "ON CONFLICT (device_id, hour, kind) "
    "DO UPDATE SET events = events + excluded.events"
)
# The hour of an event as SQLite stores its time ('YYYY-MM-DD HH:MM:SS.ffffff', UTC), in
# hours since the epoch: the same expression as migration 0003's.
SQLITE_HOUR = (
    "CAST(round((julianday(substr(time, 1, 10)) - 2440587.5) * 24) AS INTEGER)"
    " + CAST(substr(time, 12, 2) AS INTEGER)"
)

Counts = list[dict[str, int]]


def buckets_for(start: datetime, end: datetime) -> tuple[str, timedelta, list[datetime]]:
    """The smallest bucket of the ladder that covers [start, end) in at most MAX_BUCKETS.

    Buckets are aligned to the Unix epoch, so the same instant falls in the same bucket
    whatever the range.
    """
    for name, size in LADDER:
        first = EPOCH + (start - EPOCH) // size * size
        count = -((first - end) // size)
        if count <= MAX_BUCKETS:
            return name, size, [first + size * i for i in range(count)]
    longest = LADDER[-1][1] * MAX_BUCKETS
    raise RangeTooLong(
        f"a histogram covers at most {longest.days} days; this range has {(end - start).days} days"
    )


def kinds_of(session: Session, device_id: str) -> list[str]:
    """Every kind the device has events of: one index seek per kind, not a scan."""
    kinds: list[str] = []
    while True:
        query = select(func.min(Event.kind)).where(Event.device_id == device_id)
        if kinds:
            query = query.where(Event.kind > kinds[-1])
        kind = session.scalar(query)
        if kind is None:
            return kinds
        kinds.append(kind)


def _add(counts: Counts, index: int, kind: str, n: int) -> None:
    if n:
        counts[index][kind] = counts[index].get(kind, 0) + n


def _range_counts(
    session: Session, filters: Filters, starts: list[datetime], size: timedelta
) -> Counts:
    """Events per kind in each bucket, in one statement: a range count per (bucket, kind)."""
    counts: Counts = [{} for _ in starts]
    kinds = list(filters.kinds) or kinds_of(session, filters.device_id)
    if not kinds:
        return counts
    # The first and last buckets are cut to the range, so they count only its events.
    bounds = [
        (i, max(at, filters.start), min(at + size, filters.end)) for i, at in enumerate(starts)
    ]
    buckets = (
        values(
            column("i", Integer()),
            column("lo", UTCDateTime()),
            column("hi", UTCDateTime()),
            name="buckets",
        )
        .data(bounds)
        .cte("buckets")
    )
    kind_table = values(column("kind", String()), name="kinds").data([(k,) for k in kinds])
    kind_rows = kind_table.cte("kinds")
    dialect = session.get_bind().dialect.name
    count = (
        select(func.count())
        .where(
            Event.device_id == filters.device_id,
            Event.kind == kind_rows.c.kind,
            Event.time >= buckets.c.lo,
            Event.time < buckets.c.hi,
            *content_conditions(filters, dialect),
        )
        .scalar_subquery()
    )
    query = select(buckets.c.i, kind_rows.c.kind, count).select_from(
        buckets.join(kind_rows, true())
    )
    for i, kind, n in session.execute(query):
        _add(counts, i, kind, n)
    return counts


def _bucket_of_time(dialect: str, first: datetime, size: timedelta) -> ColumnElement[int]:
    """The bucket index of an event's time, in SQL: whole seconds since `first` over the
    bucket size. Bucket edges are whole seconds, so dropping the fraction keeps each event
    on its side of them."""
    first_s = int((first - EPOCH).total_seconds())
    size_s = int(size.total_seconds())
    # Both are whole numbers made here, never request text. No event of the range is
    # before `first`, so integer division is the floor.
    if dialect == "postgresql":
        seconds = "floor(extract(epoch FROM events.time))::bigint"
    else:
        seconds = "CAST(strftime('%s', events.time) AS INTEGER)"
    return literal_column(f"({seconds} - {first_s}) / {size_s}", Integer)


def _matching_counts(
    session: Session, filters: Filters, starts: list[datetime], size: timedelta
) -> Counts:
    """Events per kind in each bucket that a text search or action filter leaves: the
    search's own index finds them, and only they are grouped by bucket."""
    counts: Counts = [{} for _ in starts]
    dialect = session.get_bind().dialect.name
    bucket = _bucket_of_time(dialect, starts[0], size).label("bucket")
    query = (
        select(bucket, Event.kind, func.count())
        .where(
            *conditions(filters, dialect),
            Event.time >= filters.start,
            Event.time < filters.end,
        )
        .group_by(bucket, Event.kind)
    )
    for i, kind, n in session.execute(query):
        _add(counts, i, kind, n)
    return counts


def _hours_since_epoch(moment: datetime) -> int:
    return (moment - EPOCH) // HOUR


def _edge_counts(
    session: Session, filters: Filters, start: datetime, end: datetime
) -> list[tuple[str, int]]:
    """Events per kind in [start, end), a part of an hour at one end of the range."""
    if start >= end:
        return []
    query = (
        select(Event.kind, func.count())
        .where(Event.device_id == filters.device_id, Event.time >= start, Event.time < end)
        .group_by(Event.kind)
    )
    if filters.kinds:
        query = query.where(Event.kind.in_(filters.kinds))
    return [(kind, n) for kind, n in session.execute(query)]


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def fold_sqlite(engine: Engine, wait_ms: int = FOLD_LOCK_WAIT_MS) -> int:
    """Count the events past the mark into the rollup and move the mark; SQLite only.

    Runs in its own short write transaction. If another writer holds the lock for longer
    than `wait_ms`, it gives up and returns -1: the events stay past the mark, counted by
    each histogram from its snapshot, until a later fold gets the lock. Returns the number
    of ids folded.
    """
    if engine.url.database in (None, "", ":memory:"):
        # Each connection to an in-memory database sees a database of its own.
        return -1
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            with connection.execution_options(sqlite_begin="IMMEDIATE").begin():
                mark = connection.scalar(select(EventCountMark.last_id)) or 0
                newest = connection.scalar(select(func.max(Event.id))) or 0
                if newest <= mark:
                    return 0
                connection.execute(
                    text(_SQLITE_FOLD.format(hour=SQLITE_HOUR)),
                    {"mark": mark, "newest": newest},
                )
                connection.execute(
                    text(
                        "INSERT INTO event_count_mark (id, last_id) VALUES (1, :newest) "
                        "ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id"
                    ),
                    {"newest": newest},
                )
        except OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            logger.debug("event rollup fold skipped: the database is busy")
            return -1
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    logger.debug("event rollup folded event ids %s to %s", mark + 1, newest)
    return newest - mark


def _rollup_counts(
    session: Session, filters: Filters, starts: list[datetime], size: timedelta
) -> Counts:
    """Counts from the rollup for the range's whole hours, and from the events for the
    parts of an hour at its ends. Buckets are whole hours aligned like the rollup's, so
    each end part falls inside one bucket."""
    counts: Counts = [{} for _ in starts]
    first = starts[0]
    inner_start = min(EPOCH + -((EPOCH - filters.start) // HOUR) * HOUR, filters.end)
    inner_end = max(EPOCH + (filters.end - EPOCH) // HOUR * HOUR, inner_start)

    for kind, n in _edge_counts(session, filters, filters.start, inner_start):
        _add(counts, (filters.start - first) // size, kind, n)
    for kind, n in _edge_counts(session, filters, inner_end, filters.end):
        _add(counts, (inner_end - first) // size, kind, n)
    if inner_start >= inner_end:
        return counts

    first_hour = _hours_since_epoch(first)
    hours_per_bucket = size // HOUR
    lo, hi = _hours_since_epoch(inner_start), _hours_since_epoch(inner_end)
    rollup = EventHourCount.__table__.c
    bucket = ((rollup.hour - first_hour) // hours_per_bucket).label("bucket")
    query = (
        select(bucket, rollup.kind, func.sum(rollup.events))
        .where(rollup.device_id == filters.device_id, rollup.hour >= lo, rollup.hour < hi)
        .group_by(bucket, rollup.kind)
    )
    if filters.kinds:
        query = query.where(rollup.kind.in_(filters.kinds))
    for i, kind, n in session.execute(query):
        _add(counts, i, kind, int(n))

    if session.get_bind().dialect.name == "sqlite":
        # Limitation: the first histogram after a bulk load on SQLite reads the new events
        # twice, to count them from its snapshot and to fold them: 2 to 4 s per million
        # new events on the benchmark machine. Later ones read the rollup alone.
        mark = session.scalar(select(EventCountMark.last_id)) or 0
        if (session.scalar(select(func.max(Event.id))) or 0) > mark:
            _add_sqlite_tail(session, filters, counts, (inner_start, inner_end), first, size, mark)
            fold_sqlite(_engine_of(session))
    return counts


def _add_sqlite_tail(
    session: Session,
    filters: Filters,
    counts: Counts,
    span: tuple[datetime, datetime],
    first: datetime,
    size: timedelta,
    mark: int,
) -> None:
    """Add the events past the rollup's mark, which it does not count yet.

    They are found by id, from the end of the table: this costs as much as the events
    stored since the last fold, whatever the device or the range.
    """
    bucket = _bucket_of_time("sqlite", first, size).label("bucket")
    query = (
        select(bucket, Event.kind, func.count())
        .where(
            Event.id > mark,
            Event.device_id == filters.device_id,
            Event.time >= span[0],
            Event.time < span[1],
        )
        .group_by(bucket, Event.kind)
    )
    if filters.kinds:
        query = query.where(Event.kind.in_(filters.kinds))
    for i, kind, n in session.execute(query):
        _add(counts, i, kind, n)


def histogram(session: Session, filters: Filters) -> schemas.Histogram:
    name, size, starts = buckets_for(filters.start, filters.end)
    if filters.q or filters.action_types:
        counts = _matching_counts(session, filters, starts, size)
    elif size >= HOUR:
        counts = _rollup_counts(session, filters, starts, size)
    else:
        counts = _range_counts(session, filters, starts, size)

    totals: dict[str, int] = {}
    for bucket in counts:
        for kind, n in bucket.items():
            totals[kind] = totals.get(kind, 0) + n
    return schemas.Histogram(
        from_=filters.start,
        to=filters.end,
        bucket=name,
        bucket_seconds=int(size.total_seconds()),
        buckets=[
            schemas.Bucket(start=at, counts=bucket)
            for at, bucket in zip(starts, counts, strict=True)
        ],
        totals=dict(sorted(totals.items())),
    )
