"""Routes of security recommendations: a device's list, one with how to apply it, triage.

Viewers read; analysts file exceptions and make recommendations active again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from hostwatch.api.deps import Analyst, Db, Viewer, record_audit
from hostwatch.vulns import recommendation_queries as queries
from hostwatch.vulns import recommendation_schemas as schemas

router = APIRouter(prefix="/api", tags=["recommendations"])

RecommendationId = Annotated[int, Path(ge=1, le=2**62)]
Fields = Annotated[
    list[str] | None,
    Query(
        max_length=len(queries.FIELDS) + 1, description="columns wanted; repeat or comma-separate"
    ),
]


@router.get(
    "/devices/{device_id}/recommendations",
    response_model=schemas.RecommendationPage,
    response_model_exclude_unset=True,
)
def list_device_recommendations(
    device_id: Annotated[str, Path(max_length=36)],
    _: Viewer,
    db: Db,
    status: Annotated[list[schemas.RecommendationStatus] | None, Query(max_length=3)] = None,
    sort: schemas.RecommendationSort = "-exposure_reduction",
    limit: Annotated[int, Query(ge=1, le=500)] = 30,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    offset: Annotated[int | None, Query(ge=0, le=queries.MAX_OFFSET)] = None,
    fields: Fields = None,
) -> schemas.RecommendationPage:
    return queries.list_recommendations(
        db,
        device_id,
        statuses=tuple(status or ()),
        fields=queries.parse_fields(fields),
        sort=sort,
        limit=limit,
        cursor=cursor,
        offset=offset,
    )


@router.get("/recommendations/{recommendation_id}", response_model=schemas.RecommendationDetail)
def get_recommendation(
    recommendation_id: RecommendationId, _: Viewer, db: Db
) -> schemas.RecommendationDetail:
    return queries.recommendation_detail(db, recommendation_id)


@router.patch("/recommendations/{recommendation_id}", response_model=schemas.RecommendationDetail)
def patch_recommendation(
    recommendation_id: RecommendationId,
    body: schemas.RecommendationPatch,
    principal: Analyst,
    request: Request,
    db: Db,
) -> schemas.RecommendationDetail:
    row, changed = queries.update_status(db, recommendation_id, body, principal.name)
    record_audit(
        request,
        db,
        principal,
        "recommendation.update",
        str(row.id),
        {"device_id": row.device_id, "subject": row.subject, "changes": changed},
    )
    return queries.recommendation_detail(db, row.id)
