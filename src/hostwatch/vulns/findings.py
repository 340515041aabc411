"""A device's findings, refreshed from its inventory and the knowledge base.

The refresh matches every installed item, then diffs against the stored findings: new ones
are inserted, changed ones updated (status, fixed version, evidence), gone ones deleted,
kept ones seen again; first-seen times survive. Each finding also carries its
vulnerability's facts (computed CVSS, dates, KEV; see facts.py). An analyst's marking is
never written here, so it survives every refresh. The tabs read `vuln_findings`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.devices.models import Device, Software
from hostwatch.vulns import facts, matching, recommendations, windows_findings
from hostwatch.vulns.models import Finding
from hostwatch.vulns.packages import DeviceRelease

log = logging.getLogger(__name__)

_FINDINGS = cast(Table, Finding.__table__)
_ROWS = 5_000


@dataclass(frozen=True)
class RefreshResult:
    affected: int
    unknown: int
    added: int
    removed: int
    changed: int


def device_release(device: Device) -> DeviceRelease:
    return DeviceRelease(device.os_family, device.os_name, device.os_version)


def installed_items(session: Session, device_id: str) -> list[matching.InstalledItem]:
    # Core, not the ORM: plain tuples cost a third of ORM rows for a 50,000-item inventory,
    # and every agent upload that changes software pays for this read.
    rows = session.connection().execute(
        select(
            Software.id,
            Software.source,
            Software.name,
            Software.version,
            Software.vendor,
            Software.source_package,
            Software.install_path,
        ).where(Software.device_id == device_id, Software.source != windows_findings.OS_SOURCE)
    )
    return [matching.InstalledItem(*row) for row in rows]


def refresh_device(session: Session, device_id: str) -> RefreshResult:
    """Match the device's software and store the findings, in the caller's transaction."""
    device = session.get(Device, device_id)
    if device is None:
        raise LookupError(f"no device {device_id}")
    items = installed_items(session, device_id)
    combined = matching.combine(matching.match_items(session, device_release(device), items))
    # The OS itself: a Windows device's missing security updates (windows_findings.py).
    combined.update(windows_findings.findings_of(session, device))
    known = facts.of_vulnerabilities(session, {key[1] for key in combined})
    for key, finding in combined.items():
        finding.update(known.get(key[1]) or facts.empty())
    now = utcnow()
    connection = session.connection()
    c = _FINDINGS.c
    compared = ("status", "fixed_version", "evidence", "installed_version", *facts.KEYS)
    stored = {
        (row.software_id, row.vulnerability_id): (row.id, tuple(row[1:]))
        for row in connection.execute(
            select(c.id, *(c[name] for name in compared), c.software_id, c.vulnerability_id).where(
                c.device_id == device_id
            )
        )
    }
    # Limitation: a marking lives on its finding's row, so a finding that goes (package
    # removed or upgraded) and later comes back returns open, without its old marking.
    gone = [row[0] for key, row in stored.items() if key not in combined]
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, finding in combined.items():
        old = stored.get(key)
        if old is None:
            added.append({"device_id": device_id, **finding})
        elif old[1][: len(compared)] != tuple(finding[name] for name in compared):
            changed.append({"row_id": old[0], **{name: finding[name] for name in compared}})
    for start in range(0, len(gone), _ROWS):
        connection.execute(delete(_FINDINGS).where(c.id.in_(gone[start : start + _ROWS])))
    if len(stored) > len(gone):
        connection.execute(update(_FINDINGS).where(c.device_id == device_id).values(last_seen=now))
    if changed:
        statement = update(_FINDINGS).where(c.id == bindparam("row_id"))
        for start in range(0, len(changed), _ROWS):
            connection.execute(statement, changed[start : start + _ROWS])
    if added:
        adding = insert(_FINDINGS).values(first_seen=now, last_seen=now)
        for start in range(0, len(added), _ROWS):
            connection.execute(adding, added[start : start + _ROWS])

    recommendations.refresh_device(session, device_id, now)

    affected = sum(1 for f in combined.values() if f["status"] == matching.AFFECTED)
    log.info(
        "findings of device %s: %d affected, %d unknown (%d added, %d removed, %d changed)",
        device_id,
        affected,
        len(combined) - affected,
        len(added),
        len(gone),
        len(changed),
    )
    return RefreshResult(affected, len(combined) - affected, len(added), len(gone), len(changed))
