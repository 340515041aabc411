"""Routes of response actions: request and cancel them, and the action center's lists.

Viewers read; the role an action needs depends on its type (containment: responder).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hostwatch.api.deps import Analyst, Db, Viewer, record_audit, unit_of_work
from hostwatch.db.base import utcnow
from hostwatch.devices import queries as device_queries
from hostwatch.errors import InvalidInput
from hostwatch.protocol import Time
from hostwatch.response import queries, schemas, service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["actions"])

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=1024)]
Offset = Annotated[
    int | None,
    Query(ge=0, le=queries.MAX_OFFSET, description="rows to skip, for page numbers"),
]
Types = Annotated[list[schemas.ActionType] | None, Query(max_length=10)]
States = Annotated[list[schemas.ActionState] | None, Query(max_length=10)]
RequestedBy = Annotated[str | None, Query(max_length=128, description="exact user name")]
From = Annotated[
    Time | None, Query(alias="from", description="requested at or after; ISO 8601 with a zone")
]
To = Annotated[Time | None, Query(description="requested before (exclusive); ISO 8601 with a zone")]
Fields = Annotated[
    list[str] | None,
    Query(
        max_length=len(queries.FIELDS) + 1, description="columns wanted; repeat or comma-separate"
    ),
]
ActionId = Annotated[str, Path(max_length=36)]
DeviceId = Annotated[str, Path(max_length=36)]


def _settle_expired(request: Request, db: Session, now: datetime) -> None:
    """Write down the expiry of actions whose time has passed, with their audit entries.

    Reads show such actions expired in any case (service.effective_state); this only makes
    the record catch up. A reading request holds no write turn (SQLite), so the write goes
    in a short transaction of its own, and only when something is due.
    """
    if not service.has_due(db, now):
        return
    try:
        with unit_of_work(request.app.state, write=True) as side:
            service.expire_due(side, now)
    except OperationalError:
        log.warning("could not record expired actions in request %s", request.state.request_id)


def _list(
    request: Request,
    db: Session,
    device_id: str | None,
    type_: Sequence[str] | None,
    state: Sequence[str] | None,
    requested_by: str | None,
    from_: datetime | None,
    to: datetime | None,
    sort: str,
    limit: int,
    cursor: str | None,
    offset: int | None,
    fields: list[str] | None,
) -> schemas.ActionPage:
    if from_ is not None and to is not None and from_ >= to:
        raise InvalidInput(
            "'from' must be before 'to'", errors=[{"field": "to", "message": "not after 'from'"}]
        )
    now = utcnow()
    _settle_expired(request, db, now)
    filters = queries.ActionFilters(
        device_id=device_id,
        types=tuple(type_ or ()),
        states=tuple(state or ()),
        requested_by=requested_by,
        requested_from=from_,
        requested_to=to,
    )
    return queries.list_actions(
        db,
        filters,
        now,
        fields=queries.parse_fields(fields),
        sort=sort,
        limit=limit,
        cursor=cursor,
        offset=offset,
    )


@router.get(
    "/devices/{device_id}/actions",
    response_model=schemas.ActionPage,
    response_model_exclude_unset=True,
)
def list_device_actions(
    device_id: DeviceId,
    request: Request,
    _: Viewer,
    db: Db,
    type: Types = None,
    state: States = None,
    requested_by: RequestedBy = None,
    from_: From = None,
    to: To = None,
    sort: schemas.ActionSort = "-requested_at",
    limit: Limit = 30,
    cursor: Cursor = None,
    offset: Offset = None,
    fields: Fields = None,
) -> schemas.ActionPage:
    return _list(
        request, db, device_id, type, state, requested_by, from_, to, sort, limit, cursor,
        offset, fields,
    )  # fmt: skip


@router.get("/actions", response_model=schemas.ActionPage, response_model_exclude_unset=True)
def list_actions(
    request: Request,
    _: Viewer,
    db: Db,
    device_id: Annotated[str | None, Query(max_length=36)] = None,
    type: Types = None,
    state: States = None,
    requested_by: RequestedBy = None,
    from_: From = None,
    to: To = None,
    sort: schemas.ActionSort = "-requested_at",
    limit: Limit = 30,
    cursor: Cursor = None,
    offset: Offset = None,
    fields: Fields = None,
) -> schemas.ActionPage:
    return _list(
        request, db, device_id, type, state, requested_by, from_, to, sort, limit, cursor,
        offset, fields,
    )  # fmt: skip


@router.get("/actions/{action_id}", response_model=schemas.ActionOut)
def get_action(action_id: ActionId, request: Request, _: Viewer, db: Db) -> schemas.ActionOut:
    now = utcnow()
    _settle_expired(request, db, now)
    return queries.action_detail(db, action_id, now)


@router.post("/devices/{device_id}/actions", response_model=schemas.ActionOut, status_code=201)
def request_action(
    device_id: DeviceId, body: schemas.ActionIn, principal: Analyst, request: Request, db: Db
) -> schemas.ActionOut:
    now = utcnow()
    device = device_queries.get_device(db, device_id)
    action = service.request_action(
        db,
        device,
        actor=principal.name,
        role=principal.role,
        action_type=body.type,
        parameters=body.parameters,
        comment=body.comment,
        expires_in=timedelta(hours=body.expires_in_hours) if body.expires_in_hours else None,
        now=now,
    )
    record_audit(
        request,
        db,
        principal,
        "action.request",
        action.id,
        {
            "device_id": device.id,
            "type": action.type,
            "comment": action.comment,
            "parameters": action.parameters,
            "expires_at": action.expires_at.isoformat(),
        },
    )
    return queries.action_out(action, device.hostname, now)


@router.post("/actions/{action_id}/cancel", response_model=schemas.ActionOut)
def cancel_action(
    action_id: ActionId,
    principal: Analyst,
    request: Request,
    db: Db,
    body: Annotated[schemas.CancelIn, Body(default_factory=schemas.CancelIn)],
) -> schemas.ActionOut:
    now = utcnow()
    comment = body.comment
    action = service.cancel(
        db, action_id, actor=principal.name, role=principal.role, comment=comment, now=now
    )
    record_audit(
        request,
        db,
        principal,
        "action.cancel",
        action.id,
        {"device_id": action.device_id, "type": action.type, "comment": action.message},
    )
    return queries.action_detail(db, action.id, now)
