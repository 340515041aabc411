"""Routes for the device list, a device's profile, its software, tags and enrollment tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from hostwatch.api.deps import Admin, Analyst, AppSettings, Db, Viewer, record_audit
from hostwatch.db.base import utcnow
from hostwatch.devices import enrollment, queries, schemas, tags
from hostwatch.devices.models import Device, EnrollToken, Software
from hostwatch.errors import InvalidInput
from hostwatch.protocol import Time
from hostwatch.vulns import queries as vuln_queries
from hostwatch.vulns import software_view

router = APIRouter(prefix="/api", tags=["devices"])

Limit = Annotated[int, Query(ge=1, le=500)]


Offset = Annotated[
    int | None,
    Query(
        ge=0,
        le=queries.MAX_OFFSET,
        description="rows to skip, for page numbers; cursor is cheaper for deep pages",
    ),
]
Cursor = Annotated[str | None, Query(max_length=1024)]
Text = Annotated[str | None, Query(max_length=256)]


@router.get("/devices", response_model=schemas.DevicePage)
def list_devices(
    _: Viewer,
    db: Db,
    settings: AppSettings,
    q: Text = None,
    tag: Annotated[list[str] | None, Query(max_length=20, description="all must match")] = None,
    health: schemas.HealthState | None = None,
    source: str | None = None,
    known_from: schemas.KnownFrom | None = None,
    domain: Annotated[str | None, Query(max_length=256, description="contains")] = None,
    os: Annotated[str | None, Query(max_length=256, description="family, name or version")] = None,
    risk: schemas.RiskLevel | None = None,
    exposure: schemas.ExposureLevel | None = None,
    last_seen_after: Time | None = None,
    last_seen_before: Annotated[
        Time | None, Query(description="also matches devices never seen")
    ] = None,
    sort: schemas.DeviceSort = "name",
    limit: Limit = 50,
    cursor: Cursor = None,
    offset: Offset = None,
) -> schemas.DevicePage:
    filters = queries.DeviceFilters(
        q=q,
        tags=tag,
        health=health,
        source=source,
        known_from=known_from,
        domain=domain,
        os=os,
        risk=risk,
        exposure=exposure,
        last_seen_after=last_seen_after,
        last_seen_before=last_seen_before,
    )
    return queries.list_devices(
        db, settings, filters, sort=sort, limit=limit, cursor=cursor, offset=offset
    )


@router.get("/devices/{device_id}", response_model=schemas.DeviceDetail)
def get_device(device_id: str, _: Viewer, db: Db, settings: AppSettings) -> schemas.DeviceDetail:
    return queries.device_detail(db, settings, device_id)


@router.get("/devices/{device_id}/software", response_model=schemas.SoftwarePage)
def list_software(
    device_id: str,
    _: Viewer,
    db: Db,
    q: Annotated[str | None, Query(max_length=256, description="name or vendor")] = None,
    source: Annotated[str | None, Query(max_length=16)] = None,
    product_code: Annotated[
        str | None,
        Query(
            max_length=512,
            description="a package URL or CPE; without a version it finds every version",
        ),
    ] = None,
    sort: schemas.SoftwareSort = "name",
    limit: Limit = 30,
    cursor: Cursor = None,
    offset: Offset = None,
) -> schemas.SoftwarePage:
    ids = None
    if product_code:
        queries.get_device(db, device_id)
        ids = software_view.ids_with_product_code(db, device_id, product_code)
    page = queries.list_software(
        db,
        device_id,
        q=q,
        source=source,
        sort=sort,
        limit=limit,
        cursor=cursor,
        offset=offset,
        ids=ids,
    )
    page.items = _with_vulnerabilities(db, device_id, page.items)
    return page


def _with_vulnerabilities(
    db: Db, device_id: str, items: list[schemas.SoftwareOut]
) -> list[schemas.SoftwareOut]:
    rows = list(db.scalars(select(Software).where(Software.id.in_([i.id for i in items]))))
    codes = software_view.codes(db, device_id, rows)
    found = software_view.weaknesses(db, [i.id for i in items])
    none = software_view.Weakness(0, False)
    return [
        item.model_copy(
            update={
                "product_code": codes.get(item.id),
                "weaknesses": found.get(item.id, none).count,
                "exploited": found.get(item.id, none).kev,
            }
        )
        for item in items
    ]


@router.get("/devices/{device_id}/software/{software_id}", response_model=schemas.SoftwareDetail)
def get_software(
    device_id: str,
    software_id: Annotated[int, Path(ge=1, le=2**62)],
    _: Viewer,
    db: Db,
) -> schemas.SoftwareDetail:
    [item] = _with_vulnerabilities(
        db, device_id, [queries.get_software(db, device_id, software_id)]
    )
    now = utcnow()
    vulnerabilities = [
        schemas.SoftwareVulnerability(
            finding_id=finding.id,
            cve=cve,
            severity=finding.severity,
            cvss_score=finding.cvss_score,
            match=finding.status,
            status=vuln_queries.effective_status(finding, now),
            exploited=finding.kev,
            fixed_version=finding.fixed_version,
        )
        for finding, cve in software_view.software_vulnerabilities(db, software_id)
    ]
    return schemas.SoftwareDetail(**item.model_dump(), vulnerabilities=vulnerabilities)


@router.post("/devices/tags", response_model=schemas.BulkTagsOut)
def bulk_tags(
    body: schemas.BulkTagsIn, principal: Analyst, request: Request, db: Db
) -> schemas.BulkTagsOut:
    """Add and remove user tags on many devices; each device's outcome is told apart."""
    add = [tags.check_tag(t, "add") for t in body.add]
    remove = [tags.check_tag(t, "remove") for t in body.remove]
    if not add and not remove:
        raise InvalidInput(
            "name tags to add or to remove",
            errors=[{"field": "add", "message": "add and remove are both empty"}],
        )
    results = []
    for device_id in dict.fromkeys(body.device_ids):
        device = db.get(Device, device_id)
        if device is None:
            results.append(
                schemas.BulkTagResult(
                    device_id=device_id, added=[], removed=[], error="no device with this id"
                )
            )
            continue
        removed = tags.remove_user_tags(db, device, remove)
        added = tags.add_user_tags(db, device, add, principal.name)
        if added:
            record_audit(request, db, principal, "device.tag.add", device.id, {"tags": added})
        if removed:
            record_audit(request, db, principal, "device.tag.remove", device.id, {"tags": removed})
        results.append(
            schemas.BulkTagResult(device_id=device.id, added=added, removed=removed, error=None)
        )
    request.state.audited = True
    return schemas.BulkTagsOut(results=results)


@router.post("/devices/{device_id}/tags", response_model=list[schemas.TagOut])
def add_tags(
    device_id: str, body: schemas.TagsIn, principal: Analyst, request: Request, db: Db
) -> list[schemas.TagOut]:
    device = queries.get_device(db, device_id)
    added = tags.add_user_tags(db, device, body.tags, principal.name)
    record_audit(request, db, principal, "device.tag.add", device.id, {"tags": added})
    return [schemas.TagOut(name=t.name, kind=t.kind) for t in device.tags]  # type: ignore[arg-type]


@router.delete("/devices/{device_id}/tags/{tag}", status_code=204)
def remove_tag(device_id: str, tag: str, principal: Analyst, request: Request, db: Db) -> Response:
    device = queries.get_device(db, device_id)
    tags.remove_user_tag(device, tag)
    record_audit(request, db, principal, "device.tag.remove", device.id, {"tag": tag})
    return Response(status_code=204)


class EnrollTokenIn(BaseModel):
    valid_hours: int | None = Field(default=7 * 24, ge=1, le=24 * 365)
    max_uses: int | None = Field(default=None, ge=1, le=1_000_000)
    note: str | None = Field(default=None, max_length=255)


class EnrollTokenOut(BaseModel):
    id: str
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    max_uses: int | None
    uses: int
    revoked_at: datetime | None
    note: str | None


class EnrollTokenCreated(EnrollTokenOut):
    token: str = Field(description="shown once; pass it to 'hostwatch agent --enroll-token'")


@router.get("/enroll-tokens", response_model=list[EnrollTokenOut])
def list_enroll_tokens(_: Admin, db: Db) -> list[EnrollToken]:
    return list(db.scalars(select(EnrollToken).order_by(EnrollToken.created_at)))


@router.post("/enroll-tokens", response_model=EnrollTokenCreated, status_code=201)
def create_enroll_token(
    body: EnrollTokenIn, principal: Admin, request: Request, db: Db
) -> dict[str, object]:
    valid = timedelta(hours=body.valid_hours) if body.valid_hours else None
    raw, token = enrollment.create_enroll_token(
        db, principal.name, valid_for=valid, max_uses=body.max_uses, note=body.note
    )
    record_audit(request, db, principal, "enroll_token.create", token.id)
    return {**EnrollTokenOut.model_validate(token, from_attributes=True).model_dump(), "token": raw}


@router.delete("/enroll-tokens/{token_id}", status_code=204)
def revoke_enroll_token(token_id: str, principal: Admin, request: Request, db: Db) -> Response:
    enrollment.revoke_enroll_token(db, token_id)
    record_audit(request, db, principal, "enroll_token.revoke", token_id)
    return Response(status_code=204)


@router.post("/devices/{device_id}/agent/revoke", status_code=204)
def revoke_agent(device_id: str, principal: Admin, request: Request, db: Db) -> Response:
    queries.get_device(db, device_id)
    enrollment.revoke_agent(db, device_id)
    record_audit(request, db, principal, "device.agent.revoke", device_id)
    return Response(status_code=204)
