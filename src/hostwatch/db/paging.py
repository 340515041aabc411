"""Keyset pagination: a cursor names the last row shown, so no page costs an OFFSET scan."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from hostwatch.errors import InvalidInput


@dataclass(frozen=True)
class SortKey:
    """A sort expression and the row's unique id column that breaks ties."""

    expression: ColumnElement[Any] | InstrumentedAttribute[Any]
    tiebreak: ColumnElement[Any] | InstrumentedAttribute[Any]
    descending: bool
    is_time: bool = False
    # The Python type of the sort value, where the expression (a SQL function) cannot tell.
    value_type: type | None = None


def encode_cursor(value: Any, row_id: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _python_type(expression: Any) -> type | None:
    try:
        kind: type = expression.type.python_type
    except (AttributeError, NotImplementedError):
        return None
    return kind


def _fits(value: Any, kind: type | None) -> bool:
    """Whether a decoded cursor part can be compared with a column of this Python type."""
    if value is None or kind is None:
        return True
    if isinstance(value, bool):
        return kind is bool
    if kind is int:
        return isinstance(value, int) and abs(value) <= 2**62
    if kind is float:
        return isinstance(value, (int, float))
    # An expression of unknown type (a SQL function) takes any scalar, but nothing nested.
    allowed: tuple[type, ...] = (str, int, float, datetime) if kind is object else (kind,)
    if not isinstance(value, allowed):
        return False
    # PostgreSQL cannot compare with text holding NUL; no stored value has one.
    return not isinstance(value, str) or (len(value) <= 1024 and "\x00" not in value)


def _aware_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("cursor time has no zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("cursor time is out of range") from None


def decode_cursor(cursor: str, key: SortKey) -> tuple[Any, Any]:
    """The sort value and row id a cursor names, checked against the columns' types.

    A cursor comes back from the client, so it is untrusted: a value of the wrong type would
    otherwise reach the database and fail there.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if value is None or row_id is None:
            raise TypeError("cursor names no row")
        if key.is_time:
            value = _aware_time(value)
        value_type = key.value_type or _python_type(key.expression)
        if not _fits(value, value_type) or not _fits(row_id, _python_type(key.tiebreak)):
            raise TypeError("cursor value does not match the sort column")
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "cursor is not valid: pass the next_cursor of a previous page unchanged",
            errors=[{"field": "cursor", "message": "malformed cursor"}],
        ) from exc
    return value, row_id


def apply(query: Select[Any], key: SortKey, cursor: str | None, limit: int) -> Select[Any]:
    """Order by the key, start after the cursor, fetch one row more than asked."""
    if key.descending:
        query = query.order_by(key.expression.desc(), key.tiebreak.desc())
    else:
        query = query.order_by(key.expression.asc(), key.tiebreak.asc())
    if cursor:
        value, row_id = decode_cursor(cursor, key)
        if key.descending:
            after = or_(
                key.expression < value, and_(key.expression == value, key.tiebreak < row_id)
            )
        else:
            after = or_(
                key.expression > value, and_(key.expression == value, key.tiebreak > row_id)
            )
        query = query.where(after)
    return query.limit(limit + 1)


def check_position(cursor: str | None, offset: int | None) -> None:
    """A page is asked for by a cursor (keyset) or by an offset (page numbers), not both."""
    if cursor and offset:
        raise InvalidInput(
            "send either cursor or offset, not both",
            errors=[{"field": "offset", "message": "cannot be combined with cursor"}],
        )


def parse_fields(given: Sequence[str] | None, fields: tuple[str, ...]) -> tuple[str, ...]:
    """A list's `fields` parameter: names repeated or comma-separated, from `fields` (`id` is
    always sent and may be named); all of them when none is given."""
    if not given:
        return fields
    names = [name.strip() for value in given for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in fields and name != "id"]
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}: choose from id, {', '.join(fields)}",
            errors=[{"field": "fields", "message": f"unknown field {name!r}"} for name in unknown],
        )
    return tuple(dict.fromkeys(name for name in names if name != "id"))
