"""CSV export of a device's timeline, streamed in keyset batches, of at most 7 days.

Each batch is read in its own short transaction with its own turn at the database, so a
slow download never holds a connection, and memory stays at one batch whatever the range.
An export reads tens of thousands of rows, so the database turns the cells into text, and
Python joins them into lines, checking each line rather than each cell.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import ColumnElement, String, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from hostwatch.api.deps import db_slot, unit_of_work
from hostwatch.db.base import UTCDateTime
from hostwatch.errors import RangeTooLong
from hostwatch.events import timeline
from hostwatch.events.timeline import Column, Filters, events

MAX_SPAN = timedelta(days=7)
BATCH_SIZE = 5000

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_AFTER_COMMA = re.compile(",[" + re.escape("".join(FORMULA_START)) + "]")

# The time as the driver returns it, without SQLAlchemy's conversion of every value to an
# aware datetime, which costs about as much as reading the row: SQLite gives the stored UTC
# text ('2026-03-01 12:00:00.000000'), PostgreSQL an aware datetime. Only the last row of a
# batch needs a datetime, for the keyset position.
_RAW_TIME = type_coerce(events.time, String())
_ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'

Position = tuple[datetime, int]


def check_span(filters: Filters) -> None:
    span = filters.end - filters.start
    if span > MAX_SPAN:
        raise RangeTooLong(
            f"an export covers at most 7 days; this range has {span.total_seconds() / 86400:g} "
            "days: split it into ranges of 7 days or less"
        )


def filename(filters: Filters) -> str:
    device = re.sub(r"[^A-Za-z0-9-]", "_", filters.device_id)
    start = filters.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    end = filters.end.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"timeline-{device}-{start}-{end}.csv"


@functools.cache
def _cell(column: Column, dialect: str) -> ColumnElement[Any]:
    """The column as the text of its CSV cell, made by the database."""
    if isinstance(column.type, UTCDateTime):
        # ISO 8601 in UTC with microseconds: 2026-03-01T12:00:00.000000Z.
        if dialect == "postgresql":
            return func.to_char(func.timezone("UTC", column), _ISO_UTC)
        return func.replace(_RAW_TIME, " ", "T", type_=String()) + "Z"
    text = column if column.type.python_type is str else cast(column, String())
    return func.coalesce(text, "")


def neutralize(text: str) -> str:
    """Text from a device made safe for a spreadsheet: a leading quote keeps it text."""
    return "'" + text if text.startswith(FORMULA_START) else text


def read_batch(
    session: Session, filters: Filters, columns: Sequence[Column], position: Position | None
) -> tuple[str, int, Position | None]:
    """The CSV lines of up to BATCH_SIZE events past `position`, oldest first; their
    number; and the position of the last."""
    dialect = session.get_bind().dialect.name
    terms = timeline.conditions(filters, dialect)
    terms += timeline.window(filters, position, descending=False)
    query = (
        select(*[_cell(column, dialect) for column in columns], _RAW_TIME, events.id)
        .where(*terms)
        .order_by(events.time.asc(), events.id.asc())
        .limit(BATCH_SIZE)
    )
    batch = session.execute(query).all()
    if not batch:
        return "", 0, None

    width = len(columns)
    lines = [_line(row[:width]) for row in batch]
    *_, at, last_id = batch[-1]
    if isinstance(at, str):
        at = datetime.fromisoformat(at).replace(tzinfo=UTC)
    return "".join(lines), len(batch), (at, last_id)


def _line(cells: Sequence[str]) -> str:
    """One CSV record, neutralized.

    Joining the cells is several times faster than the csv module, and most records need
    nothing more; only a record with a cell that may start a formula, or with a comma, quote
    or line break inside a cell, takes the slower way.
    """
    line = ",".join(cells)
    # Every cell starts the line or follows a comma.
    if line[:1] in FORMULA_START or _FORMULA_AFTER_COMMA.search(line):
        cells = [neutralize(cell) for cell in cells]
        line = ",".join(cells)
    quoted = '"' in line or "\r" in line or "\n" in line
    if line and not quoted and line.count(",") == len(cells) - 1:
        return line + "\r\n"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def header(columns: Sequence[Column]) -> str:
    return _line([column.key for column in columns])


def _read(
    app_state: Any, filters: Filters, columns: Sequence[Column], position: Position | None
) -> tuple[str, int, Position | None]:
    # In a worker thread: both the reading and the encoding stay off the event loop.
    with unit_of_work(app_state, write=False) as session:
        return read_batch(session, filters, columns, position)


async def stream(app_state: Any, filters: Filters, columns: Sequence[Column]) -> AsyncIterator[str]:
    """The CSV text: the header, then the events oldest first, one batch at a time."""
    yield header(columns)
    # Limitation: with a transaction per batch, an export is not one snapshot: an event
    # stored while it runs is in it only if its time lies after the rows already sent.
    position = None
    while True:
        async with db_slot(app_state, write=False):
            text, count, position = await run_in_threadpool(
                _read, app_state, filters, columns, position
            )
        if text:
            yield text
        # Limitation: an error after the first batch breaks the download off; the client
        # gets a short file, and the server log has the error under the request id.
        if count < BATCH_SIZE:
            return
