"""Read side of actions: the action center's list and one action."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hostwatch.db import paging
from hostwatch.devices.models import Device
from hostwatch.errors import InvalidInput, NotFound
from hostwatch.response import schemas, service
from hostwatch.response.models import Action

MAX_OFFSET = 100_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The list's columns, by the name `fields` uses.
FIELDS = (
    "device_id",
    "device_name",
    "type",
    "state",
    "comment",
    "parameters",
    "requested_by",
    "requested_at",
    "delivered_at",
    "started_at",
    "completed_at",
    "expires_at",
    "cancelled_by",
    "message",
    "evidence",
)


@dataclass(frozen=True)
class ActionFilters:
    device_id: str | None = None
    types: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    requested_by: str | None = None
    # Requested in [requested_from, requested_to).
    requested_from: datetime | None = None
    requested_to: datetime | None = None


def parse_fields(given: Sequence[str] | None) -> tuple[str, ...]:
    return paging.parse_fields(given, FIELDS)


def _sort_key(sort: str, now: datetime) -> paging.SortKey:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name in {"requested_at", "expires_at"}:
        return paging.SortKey(getattr(Action, name), Action.id, descending, is_time=True)
    if name == "completed_at":
        return paging.SortKey(
            func.coalesce(Action.completed_at, _EPOCH),
            Action.id,
            descending,
            is_time=True,
            value_type=datetime,
        )
    if name == "type":
        return paging.SortKey(Action.type, Action.id, descending)
    if name == "state":
        return paging.SortKey(service.effective_state(now), Action.id, descending, value_type=str)
    raise InvalidInput(
        f"sort {sort!r} is not supported: use requested_at, expires_at, completed_at, type or "
        "state, '-' for descending",
        errors=[{"field": "sort", "message": "unsupported sort"}],
    )


def _conditions(filters: ActionFilters, now: datetime) -> list[Any]:
    conditions: list[Any] = []
    if filters.device_id:
        conditions.append(Action.device_id == filters.device_id)
    if filters.types:
        conditions.append(Action.type.in_(filters.types))
    if filters.states:
        conditions.append(service.effective_state(now).in_(filters.states))
    if filters.requested_by:
        conditions.append(Action.requested_by == filters.requested_by)
    if filters.requested_from is not None:
        conditions.append(Action.requested_at >= filters.requested_from)
    if filters.requested_to is not None:
        conditions.append(Action.requested_at < filters.requested_to)
    return conditions


def action_out(action: Action, device_name: str, now: datetime) -> schemas.ActionOut:
    state = service.shown_state(action, now)
    expired_late = state != action.state
    return schemas.ActionOut(
        id=action.id,
        device_id=action.device_id,
        device_name=device_name,
        type=action.type,
        state=state,  # type: ignore[arg-type]
        comment=action.comment,
        parameters=action.parameters or {},
        requested_by=action.requested_by,
        requested_at=action.requested_at,
        delivered_at=action.delivered_at,
        started_at=action.started_at,
        completed_at=action.expires_at if expired_late else action.completed_at,
        expires_at=action.expires_at,
        cancelled_by=action.cancelled_by,
        message=service.shown_message(action, now),
        evidence=action.evidence,
    )


def list_actions(
    session: Session,
    filters: ActionFilters,
    now: datetime,
    *,
    fields: Sequence[str] = FIELDS,
    sort: str = "-requested_at",
    limit: int = 30,
    cursor: str | None = None,
    offset: int | None = None,
) -> schemas.ActionPage:
    paging.check_position(cursor, offset)
    if filters.device_id and session.get(Device, filters.device_id) is None:
        raise NotFound(f"no device with id {filters.device_id!r}")
    key = _sort_key(sort, now)
    conditions = _conditions(filters, now)
    total = session.scalar(select(func.count(Action.id)).where(*conditions)) or 0
    query = paging.apply(
        select(Action, Device.hostname, key.expression.label("sort_value"))
        .join(Device, Device.id == Action.device_id)
        .where(*conditions),
        key,
        cursor,
        limit,
    )
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    items = []
    for action, hostname, _ in rows[:limit]:
        full = action_out(action, hostname, now).model_dump()
        items.append(schemas.ActionItem(id=action.id, **{name: full[name] for name in fields}))
    next_cursor = None
    if len(rows) > limit:
        last, _, value = rows[limit - 1]
        next_cursor = paging.encode_cursor(value, last.id)
    return schemas.ActionPage(items=items, next_cursor=next_cursor, total=total)


def action_detail(session: Session, action_id: str, now: datetime) -> schemas.ActionOut:
    action = service.get_action(session, action_id)
    device = session.get(Device, action.device_id)
    assert device is not None  # actions go with their device
    return action_out(action, device.hostname, now)
