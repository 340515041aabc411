"""Builds events for the timeline tests and stores them through the real event store."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hostwatch.db.engine import transaction
from hostwatch.events.models import Event
from hostwatch.events.store import SqlEventStore
from tests.helpers import Api

BASE = datetime(2026, 3, 1, tzinfo=UTC)
_keys = itertools.count()


def at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


def ev(minutes: float, kind: str = "file", **columns: Any) -> dict[str, Any]:
    """One event `minutes` after BASE; its key names it for the test."""
    key = columns.pop("key", None) or f"e{next(_keys)}"
    return {"dedupe_key": key, "time": at(minutes), "kind": kind, "source": "test", **columns}


def add_events(api: Api, device_id: str, *events: dict[str, Any]) -> dict[str, int]:
    """Store the events for the device; returns their ids by key."""
    rows = [{**event, "device_id": device_id} for event in events]
    with transaction(api.sessions()) as session:
        SqlEventStore().add_many(session, rows)
        keys = [row["dedupe_key"] for row in rows]
        found = session.execute(
            select(Event.dedupe_key, Event.id).where(
                Event.device_id == device_id, Event.dedupe_key.in_(keys)
            )
        )
        return {key: event_id for key, event_id in found.all()}


def iso(moment: datetime) -> str:
    """A datetime as a query value (the '+' of an offset would read as a space)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
