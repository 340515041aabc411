"""Routes of a device's timeline: the event list, its histogram, the CSV export, and one
event with its process tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from hostwatch.api.deps import Db, Viewer
from hostwatch.errors import NotFound
from hostwatch.events import export, histogram, schemas, timeline, tree
from hostwatch.protocol import Time

router = APIRouter(prefix="/api", tags=["timeline"])

Values = Annotated[list[str] | None, Query(max_length=timeline.MAX_FILTER_VALUES)]


@dataclass(frozen=True)
class FilterParams:
    """The filters the list, the histogram and the export share. Times are checked as the
    agent protocol checks event times: with a zone, between 1970 and 2200."""

    start: Time | None
    end: Time | None
    kinds: list[str] | None
    action_types: list[str] | None
    q: str | None

    def resolve(self, db: Session, device_id: str) -> timeline.Filters:
        return timeline.make_filters(
            db,
            device_id,
            start=self.start,
            end=self.end,
            kinds=self.kinds,
            action_types=self.action_types,
            q=self.q,
        )


def filter_params(
    from_: Annotated[
        Time | None, Query(alias="from", description="ISO 8601 with a zone; inclusive")
    ] = None,
    to: Annotated[Time | None, Query(description="ISO 8601 with a zone; exclusive")] = None,
    kinds: Values = None,
    action_types: Values = None,
    q: Annotated[
        str | None,
        Query(
            max_length=256,
            description="case-insensitive text in command lines, images, targets, DNS "
            "names and users",
        ),
    ] = None,
) -> FilterParams:
    return FilterParams(start=from_, end=to, kinds=kinds, action_types=action_types, q=q)


Filters = Annotated[FilterParams, Depends(filter_params)]
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Fields = Annotated[
    list[str] | None,
    Query(max_length=len(timeline.FIELDS), description="columns wanted; repeat or comma-separate"),
]


@router.get(
    "/devices/{device_id}/timeline",
    response_model=schemas.TimelinePage,
    response_model_exclude_unset=True,
)
def get_timeline(
    device_id: str,
    _: Viewer,
    db: Db,
    params: Filters,
    order: schemas.Order = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 30,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    fields: Fields = None,
) -> schemas.TimelinePage:
    wanted = timeline.parse_fields(fields)
    filters = params.resolve(db, device_id)
    return timeline.page(db, filters, fields=wanted, order=order, limit=limit, cursor=cursor)


@router.get("/devices/{device_id}/timeline/histogram", response_model=schemas.Histogram)
def get_histogram(device_id: str, _: Viewer, db: Db, params: Filters) -> schemas.Histogram:
    return histogram.histogram(db, params.resolve(db, device_id))


@router.get(
    "/devices/{device_id}/timeline/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the events as CSV"}},
)
def export_timeline(
    device_id: str, request: Request, _: Viewer, db: Db, params: Filters, fields: Fields = None
) -> StreamingResponse:
    columns = timeline.columns_of(timeline.parse_fields(fields))
    filters = params.resolve(db, device_id)
    export.check_span(filters)
    return StreamingResponse(
        export.stream(request.app.state, filters, columns),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename(filters)}"'},
    )


@router.get("/events/{event_id}", response_model=schemas.EventDetail)
def get_event(event_id: EventId, _: Viewer, db: Db) -> schemas.EventDetail:
    # Every viewer sees every device, so any viewer may see any event.
    events = timeline.events
    every_field = tuple(timeline.FIELDS)
    columns = [
        *timeline.columns_of(every_field),
        events.device_id,
        events.received_at,
        events.fields,
    ]
    row = db.execute(select(*columns).where(events.id == event_id)).first()
    if row is None:
        raise NotFound(f"no event with id {event_id}")
    listed = timeline.item(row, every_field)
    return schemas.EventDetail.model_validate(
        {
            **dict(listed),
            "device_id": row.device_id,
            "received_at": row.received_at,
            "fields": row.fields or {},
        }
    )


@router.get("/events/{event_id}/process-tree", response_model=schemas.ProcessTree)
def get_process_tree(event_id: EventId, _: Viewer, db: Db) -> schemas.ProcessTree:
    # Every viewer sees every device, so any viewer may see any event's tree.
    return tree.process_tree(db, event_id)
