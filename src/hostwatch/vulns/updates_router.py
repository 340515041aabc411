"""The machine profile's missing updates: `GET /api/devices/{id}/missing-updates`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hostwatch.api.deps import Db, Viewer
from hostwatch.devices.queries import get_device
from hostwatch.vulns import missing_updates
from hostwatch.vulns.updates_schemas import (
    MissingAdvisoryOut,
    MissingUpdateOut,
    MissingUpdatesPage,
    UpdateCveOut,
    UpdatesSort,
)

router = APIRouter(prefix="/api", tags=["vulnerabilities"])


@router.get("/devices/{device_id}/missing-updates", response_model=MissingUpdatesPage)
def list_missing_updates(
    device_id: str,
    _: Viewer,
    db: Db,
    sort: UpdatesSort = "-bulletin",
    limit: Annotated[int, Query(ge=1, le=500)] = 30,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> MissingUpdatesPage:
    device = get_device(db, device_id)
    hotfixes = missing_updates.device_hotfixes(db, device)
    result = missing_updates.for_device(db, device, hotfixes)
    items = [_update_out(result, update) for update in result.missing]
    if sort == "bulletin":
        items.reverse()
    advisories = missing_updates.missing_advisories(db, device_id)
    return MissingUpdatesPage(
        status=result.status,
        reason=result.reason,
        product=result.product,
        build=result.build,
        updates_missing=len(result.missing),
        cves_addressed=result.cve_count,
        exploited_cves=result.exploited_count,
        installed=result.covered,
        items=items[offset : offset + limit],
        total=len(items),
        advisories=[
            MissingAdvisoryOut(
                id=f"{a.advisory} {a.package}",
                advisory=a.advisory,
                package=a.package,
                binary_packages=a.binary_packages,
                installed_version=a.installed_version,
                fixed_version=a.fixed_version,
                cve_count=len(a.cves),
                cves=a.cves,
            )
            for a in advisories
        ],
    )


def _update_out(
    result: missing_updates.DeviceUpdates, update: missing_updates.MissingUpdate
) -> MissingUpdateOut:
    cves = [result.cves[c] for c in update.cves if c in result.cves]
    exploited = sum(1 for c in cves if c.exploited)
    tags = [update.sub_type] if update.sub_type else []
    if exploited:
        tags.append("Exploited vulnerabilities")
    if (update.restart_required or "").lower() == "yes":
        tags.append("Restart required")
    return MissingUpdateOut(
        id=f"KB{update.kb}",
        kb=f"KB{update.kb}",
        bulletin=update.month,
        os_version=result.product or "",
        fixed_build=update.fixed_build,
        update_type=update.sub_type,
        restart_required=update.restart_required,
        url=update.url,
        cve_count=len(update.cves),
        exploited_count=exploited,
        cves=[
            UpdateCveOut(
                cve=c.cve,
                title=c.title,
                severity=c.severity,
                exploited=c.exploited,
                publicly_disclosed=c.publicly_disclosed,
            )
            for c in cves
        ],
        reason=update.reason,
        tags=tags,
    )
