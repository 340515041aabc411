"""Routes of a device's discovered vulnerabilities and of analysts' markings on findings.

Viewers read; analysts mark a finding false positive or accepted risk, audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from hostwatch.api.deps import Analyst, Db, Viewer, record_audit
from hostwatch.devices.models import Device
from hostwatch.errors import NotFound
from hostwatch.vulns import coverage, queries, schemas

router = APIRouter(prefix="/api", tags=["vulnerabilities"])

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=1024)]
Offset = Annotated[
    int | None,
    Query(ge=0, le=queries.MAX_OFFSET, description="rows to skip, for page numbers"),
]
Fields = Annotated[
    list[str] | None,
    Query(
        max_length=len(queries.FIELDS) + 1, description="columns wanted; repeat or comma-separate"
    ),
]
FindingId = Annotated[int, Path(ge=1, le=2**62)]


@router.get(
    "/devices/{device_id}/vulnerabilities",
    response_model=schemas.VulnerabilityPage,
    response_model_exclude_unset=True,
)
def list_device_vulnerabilities(
    device_id: Annotated[str, Path(max_length=36)],
    _: Viewer,
    db: Db,
    severity: Annotated[
        list[schemas.Severity | schemas.Unscored] | None, Query(max_length=6)
    ] = None,
    status: Annotated[list[schemas.FindingStatus] | None, Query(max_length=3)] = None,
    match: Annotated[
        schemas.MatchStatus | None,
        Query(description="affected, or unknown (no version, or one that cannot be ordered)"),
    ] = None,
    kev: Annotated[bool | None, Query(description="in CISA's known exploited catalog")] = None,
    software_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    software: Annotated[str | None, Query(max_length=256, description="name contains")] = None,
    cve: Annotated[str | None, Query(max_length=128, description="any identifier contains")] = None,
    sort: schemas.VulnerabilitySort = "-cvss_score",
    limit: Limit = 30,
    cursor: Cursor = None,
    offset: Offset = None,
    fields: Fields = None,
) -> schemas.VulnerabilityPage:
    filters = queries.VulnerabilityFilters(
        severities=tuple(severity or ()),
        statuses=tuple(status or ()),
        match=match,
        kev=kev,
        software_id=software_id,
        software=software,
        cve=cve,
    )
    return queries.list_vulnerabilities(
        db,
        device_id,
        filters,
        fields=queries.parse_fields(fields),
        sort=sort,
        limit=limit,
        cursor=cursor,
        offset=offset,
    )


@router.get("/devices/{device_id}/vulnerabilities/coverage", response_model=schemas.Coverage)
def get_device_coverage(
    device_id: Annotated[str, Path(max_length=36)], _: Viewer, db: Db
) -> schemas.Coverage:
    """Which of the device's software the imported feeds can speak about, and which not."""
    device = db.get(Device, device_id)
    if device is None:
        raise NotFound(f"no device {device_id}")
    groups = coverage.device_groups(db, device)
    return schemas.Coverage(
        assessed=any(g.checked for g in groups),
        groups=[schemas.CoverageGroup(**vars(g)) for g in groups],
    )


@router.get(
    "/devices/{device_id}/vulnerabilities/{finding_id}",
    response_model=schemas.VulnerabilityDetail,
)
def get_device_vulnerability(
    device_id: Annotated[str, Path(max_length=36)], finding_id: FindingId, _: Viewer, db: Db
) -> schemas.VulnerabilityDetail:
    return queries.vulnerability_detail(db, device_id, finding_id)


@router.patch("/findings/{finding_id}", response_model=schemas.VulnerabilityDetail)
def patch_finding(
    finding_id: FindingId,
    body: schemas.FindingPatch,
    principal: Analyst,
    request: Request,
    db: Db,
) -> schemas.VulnerabilityDetail:
    finding, changes = queries.mark_finding(db, finding_id, body, principal.name)
    record_audit(request, db, principal, "finding.mark", str(finding.id), changes)
    return queries.vulnerability_detail(db, None, finding.id)
