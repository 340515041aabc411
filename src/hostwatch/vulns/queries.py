"""Reads and triage of a device's findings: the discovered vulnerabilities tab."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from hostwatch.db import paging
from hostwatch.db.base import UTCDateTime, utcnow
from hostwatch.devices.models import Device, Software
from hostwatch.errors import InvalidInput, NotFound
from hostwatch.vulns import evidence as evidence_text
from hostwatch.vulns import recommendations, schemas
from hostwatch.vulns.models import Advisory, AdvisoryLink, Finding, Vulnerability, VulnIdentifier

MAX_OFFSET = 100_000
FIELDS = (
    "cve",
    "aliases",
    "severity",
    "cvss_score",
    "cvss_vector",
    "cvss_version",
    "software",
    "published",
    "updated",
    "threats",
    "fixed_version",
    "match",
    "status",
    "first_seen",
)
_SEVERITY_ORDER = case(
    {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4},
    value=Finding.severity,
    else_=-1,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _marked(now: datetime) -> ColumnElement[bool]:
    """A marking is in force until its expiry; past it the finding is open again."""
    return and_(
        Finding.marking.is_not(None),
        or_(Finding.marking_expires.is_(None), Finding.marking_expires > now),
    )


def status_expression(now: datetime) -> ColumnElement[str]:
    return case((_marked(now), Finding.marking), else_=literal("open"))


@dataclass(frozen=True)
class VulnerabilityFilters:
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    match: str | None = None
    kev: bool | None = None
    software_id: int | None = None
    software: str | None = None
    cve: str | None = None


def parse_fields(given: Sequence[str] | None) -> tuple[str, ...]:
    return paging.parse_fields(given, FIELDS)


def _sort_key(sort: str, now: datetime) -> paging.SortKey:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "cvss_score":
        # Unscored findings sort below every score (0.0 included).
        expression = func.coalesce(Finding.cvss_score, -1.0)
        return paging.SortKey(expression, Finding.id, descending, value_type=float)
    if name == "severity":
        return paging.SortKey(_SEVERITY_ORDER, Finding.id, descending, value_type=int)
    if name in ("published", "updated"):
        column = getattr(Finding, name)
        expression = func.coalesce(column, literal(_EPOCH, UTCDateTime()))
        return paging.SortKey(expression, Finding.id, descending, is_time=True, value_type=datetime)
    if name == "cve":
        return paging.SortKey(Vulnerability.key, Finding.id, descending, value_type=str)
    if name == "software":
        return paging.SortKey(func.lower(Software.name), Finding.id, descending, value_type=str)
    if name == "status":
        return paging.SortKey(status_expression(now), Finding.id, descending, value_type=str)
    raise InvalidInput(
        f"sort {sort!r} is not supported", errors=[{"field": "sort", "message": "unsupported"}]
    )


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(device_id: str, filters: VulnerabilityFilters, now: datetime) -> list[Any]:
    conditions: list[Any] = [Finding.device_id == device_id]
    if filters.severities:
        wanted = [s for s in filters.severities if s != "unscored"]
        either = [Finding.severity.in_(wanted)] if wanted else []
        if "unscored" in filters.severities:
            either.append(Finding.severity.is_(None))
        conditions.append(or_(*either))
    if filters.statuses:
        conditions.append(status_expression(now).in_(filters.statuses))
    if filters.match:
        conditions.append(Finding.status == filters.match)
    if filters.kev is not None:
        conditions.append(Finding.kev.is_(filters.kev))
    if filters.software_id is not None:
        conditions.append(Finding.software_id == filters.software_id)
    if filters.software:
        conditions.append(func.lower(Software.name).like(_like(filters.software), escape="\\"))
    if filters.cve:
        named = select(VulnIdentifier.vulnerability_id).where(
            func.lower(VulnIdentifier.identifier).like(_like(filters.cve), escape="\\")
        )
        conditions.append(Finding.vulnerability_id.in_(named))
    return conditions


def _device(session: Session, device_id: str) -> None:
    if session.get(Device, device_id) is None:
        raise NotFound(f"no device with id {device_id!r}")


def list_vulnerabilities(
    session: Session,
    device_id: str,
    filters: VulnerabilityFilters,
    *,
    fields: Sequence[str] = FIELDS,
    sort: str = "-cvss_score",
    limit: int = 30,
    cursor: str | None = None,
    offset: int | None = None,
) -> schemas.VulnerabilityPage:
    paging.check_position(cursor, offset)
    _device(session, device_id)
    now = utcnow()
    key = _sort_key(sort, now)
    conditions = _conditions(device_id, filters, now)
    joined = (
        select(Finding, Vulnerability.key, Software, status_expression(now).label("effective"))
        .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
        .join(Software, Software.id == Finding.software_id)
    )
    total = (
        session.scalar(
            select(func.count(Finding.id))
            .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
            .join(Software, Software.id == Finding.software_id)
            .where(*conditions)
        )
        or 0
    )
    query = paging.apply(
        joined.add_columns(key.expression.label("sort_value")).where(*conditions),
        key,
        cursor,
        limit,
    )
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    page = rows[:limit]
    vulnerability_ids = [row[0].vulnerability_id for row in page]
    aliases = _aliases(session, vulnerability_ids) if "aliases" in fields else {}
    kev = _kev(session, vulnerability_ids) if "threats" in fields else {}
    items = [
        _item(finding, cve, software, effective, fields, aliases, kev)
        for finding, cve, software, effective, _ in page
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = paging.encode_cursor(last[-1], last[0].id)
    return schemas.VulnerabilityPage(items=items, next_cursor=next_cursor, total=total)


def _aliases(session: Session, vulnerability_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    rows = session.execute(
        select(VulnIdentifier.vulnerability_id, VulnIdentifier.identifier)
        .join(Vulnerability, Vulnerability.id == VulnIdentifier.vulnerability_id)
        .where(
            VulnIdentifier.vulnerability_id.in_(set(vulnerability_ids)),
            VulnIdentifier.identifier != Vulnerability.key,
        )
        .order_by(VulnIdentifier.identifier)
    )
    for vulnerability_id, identifier in rows:
        found[vulnerability_id].append(identifier)
    return found


def _kev(session: Session, vulnerability_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(AdvisoryLink.vulnerability_id, Advisory.data)
        .join(Advisory, Advisory.id == AdvisoryLink.advisory_id)
        .where(
            AdvisoryLink.vulnerability_id.in_(set(vulnerability_ids)),
            Advisory.feed == "kev",
            Advisory.withdrawn.is_(None),
        )
    )
    return {vulnerability_id: data or {} for vulnerability_id, data in rows}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def threats(kev: dict[str, Any] | None) -> schemas.Threats:
    if kev is None:
        return schemas.Threats(
            exploited_in_wild=False, known_ransomware_use=None, kev_added=None, due_date=None
        )
    ransomware = kev.get("known_ransomware_use")
    return schemas.Threats(
        exploited_in_wild=True,
        # The catalog says "Known" or "Unknown".
        known_ransomware_use=isinstance(ransomware, str) and ransomware.lower() == "known",
        kev_added=_text(kev.get("date_added")),
        due_date=_text(kev.get("due_date")),
    )


def software_ref(software: Software) -> schemas.SoftwareRef:
    return schemas.SoftwareRef(
        id=software.id,
        name=software.name,
        version=software.version or None,
        source=software.source,
        vendor=software.vendor,
    )


def _item(
    finding: Finding,
    cve: str,
    software: Software,
    effective: str,
    fields: Sequence[str],
    aliases: dict[int, list[str]],
    kev: dict[int, dict[str, Any]],
) -> schemas.VulnerabilityItem:
    values: dict[str, Any] = {"id": finding.id}
    for name in fields:
        if name == "cve":
            values[name] = cve
        elif name == "aliases":
            values[name] = aliases.get(finding.vulnerability_id, [])
        elif name == "software":
            values[name] = software_ref(software)
        elif name == "threats":
            values[name] = threats(kev.get(finding.vulnerability_id))
        elif name == "match":
            values[name] = finding.status
        elif name == "status":
            values[name] = effective
        else:
            values[name] = getattr(finding, name)
    return schemas.VulnerabilityItem(**values)


def _finding(session: Session, device_id: str | None, finding_id: int) -> Finding:
    finding = session.get(Finding, finding_id)
    if finding is None or (device_id is not None and finding.device_id != device_id):
        if device_id is not None:
            _device(session, device_id)
            raise NotFound(f"device {device_id} has no finding {finding_id}")
        raise NotFound(f"no finding {finding_id}")
    return finding


def effective_status(finding: Finding, now: datetime) -> str:
    if finding.marking and (finding.marking_expires is None or finding.marking_expires > now):
        return finding.marking
    return "open"


def vulnerability_detail(
    session: Session, device_id: str | None, finding_id: int
) -> schemas.VulnerabilityDetail:
    finding = _finding(session, device_id, finding_id)
    now = utcnow()
    vulnerability = session.get(Vulnerability, finding.vulnerability_id)
    software = session.get(Software, finding.software_id)
    assert vulnerability is not None and software is not None  # foreign keys
    advisories = list(
        session.scalars(
            select(Advisory)
            .join(AdvisoryLink, AdvisoryLink.advisory_id == Advisory.id)
            .where(AdvisoryLink.vulnerability_id == vulnerability.id, Advisory.withdrawn.is_(None))
            .order_by(Advisory.feed, Advisory.record_id)
        )
    )
    kev = next((a.data or {} for a in advisories if a.feed == "kev"), None)
    marking = None
    if finding.marking and finding.marked_by and finding.marked_at:
        marking = schemas.MarkingOut(
            marking=finding.marking,  # type: ignore[arg-type]
            reason=finding.marking_reason or "",
            expires_at=finding.marking_expires,
            expired=effective_status(finding, now) == "open",
            marked_by=finding.marked_by,
            marked_at=finding.marked_at,
        )
    return schemas.VulnerabilityDetail(
        id=finding.id,
        device_id=finding.device_id,
        cve=vulnerability.key,
        aliases=_aliases(session, [vulnerability.id]).get(vulnerability.id, []),
        severity=finding.severity,  # type: ignore[arg-type]
        cvss_score=finding.cvss_score,
        cvss_vector=finding.cvss_vector,
        cvss_version=finding.cvss_version,
        software=software_ref(software),
        published=finding.published,
        updated=finding.updated,
        threats=threats(kev),
        fixed_version=finding.fixed_version,
        match=finding.status,  # type: ignore[arg-type]
        status=effective_status(finding, now),  # type: ignore[arg-type]
        first_seen=finding.first_seen,
        last_seen=finding.last_seen,
        description=evidence_text.description(advisories),
        references=evidence_text.references(advisories),
        evidence=[evidence_text.explain(e, finding.installed_version) for e in finding.evidence],
        marking=marking,
    )


def mark_finding(
    session: Session, finding_id: int, patch: schemas.FindingPatch, actor: str
) -> tuple[Finding, dict[str, Any]]:
    """Set or clear an analyst's marking; returns the finding and what changed, for audit."""
    finding = _finding(session, None, finding_id)
    now = utcnow()
    before = effective_status(finding, now)
    if patch.status == "open":
        if patch.expires_at is not None:
            raise InvalidInput(
                "an expiry applies only to a marking",
                errors=[{"field": "expires_at", "message": "only with a marking"}],
            )
        finding.marking = None
        finding.marking_reason = None
        finding.marking_expires = None
    else:
        reason = (patch.reason or "").strip()
        if not reason:
            raise InvalidInput(
                f"marking a finding {patch.status.replace('_', ' ')} needs a reason",
                errors=[{"field": "reason", "message": "required"}],
            )
        expires = patch.expires_at
        if expires is not None and expires.tzinfo is None:
            raise InvalidInput(
                "expires_at needs a time zone, e.g. 2027-01-31T00:00:00Z",
                errors=[{"field": "expires_at", "message": "no time zone"}],
            )
        if expires is not None and expires <= now:
            raise InvalidInput(
                "expires_at is in the past: give a later time, or none for no expiry",
                errors=[{"field": "expires_at", "message": "in the past"}],
            )
        finding.marking = patch.status
        finding.marking_reason = reason
        finding.marking_expires = expires
    finding.marked_by = actor
    finding.marked_at = now
    session.flush()
    # A marked finding no longer counts: recommendations and the stored exposure follow.
    recommendations.refresh_device(session, finding.device_id, now)
    changes = {
        "device_id": finding.device_id,
        "status": [before, patch.status],
        "reason": finding.marking_reason,
        "expires_at": finding.marking_expires.isoformat() if finding.marking_expires else None,
    }
    return finding, changes
