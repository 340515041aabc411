"""Keyset pagination: a cursor names the last row shown, so no page costs an OFFSET scan."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
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


def encode_cursor(value: Any, row_id: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey) -> tuple[Any, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if key.is_time and value is not None:
            value = datetime.fromisoformat(value)
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
