"""The event store interface and its SQL implementation (SQLite and PostgreSQL).

Inserts are idempotent: a (device, dedupe key) pair already stored is skipped, so
re-importing a file or re-sending an agent batch adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hostwatch.events.models import Event

_COLUMNS = frozenset(c.name for c in Event.__table__.columns) - {"id"}


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


class EventStore(Protocol):
    def add_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> StoreResult: ...


class SqlEventStore:
    """Events in the relational database, deduplicated by (device_id, dedupe_key)."""

    def add_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> StoreResult:
        if not rows:
            return StoreResult(stored=0, duplicates=0)
        unknown = {key for row in rows for key in row} - _COLUMNS
        if unknown:
            raise ValueError(f"unknown event columns: {sorted(unknown)}")
        # Duplicates inside one batch count as duplicates too.
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            unique.setdefault((row["device_id"], row["dedupe_key"]), row)
        values = list(unique.values())

        dialect = session.get_bind().dialect.name
        stmt: Any
        if dialect == "postgresql":
            stmt = postgresql.insert(Event).on_conflict_do_nothing(
                index_elements=["device_id", "dedupe_key"]
            )
        elif dialect == "sqlite":
            stmt = sqlite.insert(Event).on_conflict_do_nothing(
                index_elements=["device_id", "dedupe_key"]
            )
        else:  # pragma: no cover - only the two engines above are supported
            raise RuntimeError(f"unsupported database engine {dialect}")

        stored = 0
        for chunk in _chunks(values, 500):
            result = session.execute(stmt.returning(Event.id), chunk)
            stored += len(result.all())
        return StoreResult(stored=stored, duplicates=len(rows) - stored)


def _chunks(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
