"""Routes of alerts (per device and across devices), incidents, and rule management.

Viewers read; analysts triage alerts; admins switch rules and manage exclusions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from hostwatch.api.deps import Admin, Analyst, Db, Viewer, record_audit
from hostwatch.detection import catalog, incident_triage, queries, schemas
from hostwatch.errors import InvalidInput
from hostwatch.protocol import Time

router = APIRouter(prefix="/api", tags=["detection"])

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=1024)]
Offset = Annotated[
    int | None,
    Query(ge=0, le=queries.MAX_OFFSET, description="rows to skip, for page numbers"),
]
Severities = Annotated[list[schemas.Severity] | None, Query(max_length=5)]
Statuses = Annotated[list[schemas.AlertStatus] | None, Query(max_length=3)]
Assignee = Annotated[
    str | None, Query(max_length=128, description="exact name; empty for unassigned alerts")
]
Fields = Annotated[
    list[str] | None,
    Query(
        max_length=len(queries.FIELDS) + 1, description="columns wanted; repeat or comma-separate"
    ),
]
AlertId = Annotated[str, Path(max_length=36)]


@router.get(
    "/devices/{device_id}/alerts",
    response_model=schemas.AlertPage,
    response_model_exclude_unset=True,
)
def list_device_alerts(
    device_id: str,
    _: Viewer,
    db: Db,
    severity: Severities = None,
    status: Statuses = None,
    assignee: Assignee = None,
    sort: schemas.AlertSort = "-last_activity",
    limit: Limit = 30,
    cursor: Cursor = None,
    offset: Offset = None,
    fields: Fields = None,
) -> schemas.AlertPage:
    # The all-devices list, filtered to this device.
    return list_alerts(
        _,
        db,
        severity,
        status,
        assignee,
        rule=None,
        device=device_id,
        sort=sort,
        limit=limit,
        cursor=cursor,
        offset=offset,
        fields=fields,
    )


@router.get("/alerts", response_model=schemas.AlertPage, response_model_exclude_unset=True)
def list_alerts(
    _: Viewer,
    db: Db,
    severity: Severities = None,
    status: Statuses = None,
    assignee: Assignee = None,
    rule: Annotated[str | None, Query(max_length=64, description="rule id")] = None,
    device: Annotated[str | None, Query(max_length=36, description="device id")] = None,
    device_search: Annotated[
        str | None, Query(max_length=256, description="text in the device's name or FQDN")
    ] = None,
    from_: Annotated[
        Time | None,
        Query(alias="from", description="activity at or after; ISO 8601 with a zone"),
    ] = None,
    to: Annotated[
        Time | None, Query(description="activity before (exclusive); ISO 8601 with a zone")
    ] = None,
    sort: schemas.AlertSort = "-last_activity",
    limit: Limit = 30,
    cursor: Cursor = None,
    offset: Offset = None,
    fields: Fields = None,
) -> schemas.AlertPage:
    if from_ is not None and to is not None and from_ >= to:
        raise InvalidInput(
            "'from' must be before 'to'",
            errors=[{"field": "to", "message": "not after 'from'"}],
        )
    filters = queries.AlertFilters(
        device_id=device,
        severities=tuple(severity or ()),
        statuses=tuple(status or ()),
        assignee=assignee,
        rule_id=rule,
        device_search=device_search.strip() if device_search else None,
        active_from=from_,
        active_to=to,
    )
    return queries.list_alerts(
        db,
        filters,
        fields=queries.parse_fields(fields),
        sort=sort,
        limit=limit,
        cursor=cursor,
        offset=offset,
    )


@router.get("/alerts/{alert_id}", response_model=schemas.AlertDetail)
def get_alert(alert_id: AlertId, _: Viewer, db: Db) -> schemas.AlertDetail:
    return queries.alert_detail(db, alert_id)


@router.patch("/alerts/{alert_id}", response_model=schemas.AlertDetail)
def patch_alert(
    alert_id: AlertId, body: schemas.AlertPatch, principal: Analyst, request: Request, db: Db
) -> schemas.AlertDetail:
    changes = body.model_dump(exclude_unset=True)
    alert, changed = queries.update_alert(db, alert_id, changes)
    record_audit(request, db, principal, "alert.update", alert.id, {"changes": changed})
    return queries.alert_detail(db, alert.id)


@router.get("/incidents", response_model=schemas.IncidentPage)
def list_incidents(
    _: Viewer,
    db: Db,
    status: Annotated[list[schemas.IncidentStatus] | None, Query(max_length=3)] = None,
    severity: Severities = None,
    device: Annotated[str | None, Query(max_length=36, description="device id")] = None,
    limit: Limit = 30,
    cursor: Cursor = None,
) -> schemas.IncidentPage:
    return queries.list_incidents(
        db,
        statuses=tuple(status or ()),
        severities=tuple(severity or ()),
        device_id=device,
        limit=limit,
        cursor=cursor,
    )


IncidentId = Annotated[str, Path(max_length=36)]


@router.get("/incidents/{incident_id}", response_model=schemas.IncidentDetail)
def get_incident(incident_id: IncidentId, _: Viewer, db: Db) -> schemas.IncidentDetail:
    return queries.incident_detail(db, incident_id)


@router.patch("/incidents/{incident_id}", response_model=schemas.IncidentDetail)
def patch_incident(
    incident_id: IncidentId,
    body: schemas.IncidentPatch,
    principal: Analyst,
    request: Request,
    db: Db,
) -> schemas.IncidentDetail:
    change = incident_triage.set_status(db, incident_id, body.status)
    detail = {"changes": change.changes, "resolved_alerts": change.resolved_alerts}
    record_audit(request, db, principal, "incident.update", change.incident.id, detail)
    return queries.incident_detail(db, change.incident.id)


@router.get("/rules", response_model=schemas.RulePage)
def list_rules(
    _: Viewer,
    db: Db,
    q: Annotated[str | None, Query(max_length=256, description="title contains")] = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> schemas.RulePage:
    return queries.list_rules(db, q=q, enabled=enabled, limit=limit, cursor=cursor)


@router.patch("/rules/{rule_id}", response_model=schemas.RuleItem)
def patch_rule(
    rule_id: Annotated[str, Path(max_length=64)],
    body: schemas.RulePatch,
    principal: Admin,
    request: Request,
    db: Db,
) -> schemas.RuleItem:
    changed = catalog.set_enabled(db, [rule_id], body.enabled)
    rule = catalog.get_rule(db, rule_id)
    action = "rule.enable" if body.enabled else "rule.disable"
    record_audit(request, db, principal, action, rule_id, {"changed": bool(changed)})
    return schemas.RuleItem(
        id=rule.id,
        title=rule.title,
        level=rule.level,
        status=rule.status,
        tags=list(rule.tags),
        file=rule.file,
        enabled=rule.enabled,
        updated_at=rule.updated_at,
    )


@router.get("/rules/{rule_id}/exclusions", response_model=list[schemas.ExclusionOut])
def list_exclusions(
    rule_id: Annotated[str, Path(max_length=64)], _: Viewer, db: Db
) -> list[schemas.ExclusionOut]:
    catalog.get_rule(db, rule_id)
    return [queries.exclusion_out(e) for e in catalog.list_exclusions(db, rule_id)]


@router.post("/rules/{rule_id}/exclusions", response_model=schemas.ExclusionOut, status_code=201)
def add_exclusion(
    rule_id: Annotated[str, Path(max_length=64)],
    body: schemas.ExclusionIn,
    principal: Admin,
    request: Request,
    db: Db,
) -> schemas.ExclusionOut:
    exclusion = catalog.add_exclusion(
        db,
        rule_id,
        device_id=body.device_id,
        tag=body.tag,
        reason=body.reason,
        expires_at=body.expires_at,
        created_by=principal.name,
    )
    out = queries.exclusion_out(exclusion)
    record_audit(request, db, principal, "rule.exclusion.add", rule_id, out.model_dump(mode="json"))
    return out


@router.delete("/exclusions/{exclusion_id}", status_code=204)
def remove_exclusion(
    exclusion_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Admin,
    request: Request,
    db: Db,
) -> Response:
    exclusion = catalog.remove_exclusion(db, exclusion_id)
    record_audit(
        request, db, principal, "rule.exclusion.remove", exclusion.rule_id, {"id": exclusion_id}
    )
    return Response(status_code=204)
