"""Read side of security recommendations, the detail with how to apply one, and its triage.

A filed exception whose expiry has passed reads as active everywhere, before any refresh
stores it so: the list filter, the list and the detail all judge it by the time of asking.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from hostwatch.db import paging
from hostwatch.db.base import utcnow
from hostwatch.devices.models import Device
from hostwatch.errors import InvalidInput, NotFound
from hostwatch.vulns import recommendation_schemas as schemas
from hostwatch.vulns import recommendations
from hostwatch.vulns.recommendation_model import ACTIVE, EXCEPTION, RESOLVED, Recommendation

MAX_OFFSET = 100_000
FIELDS = (
    "title",
    "source",
    "component",
    "vendor",
    "software_source",
    "installed_versions",
    "fixed_version",
    "weakness_count",
    "weaknesses",
    "threats",
    "exploited_count",
    "highest_cvss",
    "exposure_reduction",
    "status",
    "exception_expires",
    "first_seen",
    "updated_at",
    "resolved_at",
)
_STATUS_ORDER = case({ACTIVE: 0, EXCEPTION: 1, RESOLVED: 2}, value=Recommendation.status, else_=3)


def parse_fields(given: Sequence[str] | None) -> tuple[str, ...]:
    return paging.parse_fields(given, FIELDS)


def _in_force(now: datetime) -> Any:
    return and_(
        Recommendation.status == EXCEPTION,
        or_(Recommendation.exception_expires.is_(None), Recommendation.exception_expires > now),
    )


def status_condition(status: str, now: datetime) -> Any:
    if status == EXCEPTION:
        return _in_force(now)
    if status == ACTIVE:
        lapsed = and_(Recommendation.status == EXCEPTION, Recommendation.exception_expires <= now)
        return or_(Recommendation.status == ACTIVE, lapsed)
    return Recommendation.status == RESOLVED


def effective_status(row: Recommendation, now: datetime) -> str:
    if row.status == EXCEPTION and row.exception_expires and row.exception_expires <= now:
        return ACTIVE
    return row.status


def _sort_key(sort: str) -> paging.SortKey:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name in ("exposure_reduction", "weakness_count"):
        return paging.SortKey(getattr(Recommendation, name), Recommendation.id, descending)
    if name == "highest_cvss":
        expression = func.coalesce(Recommendation.highest_cvss, -1.0)
        return paging.SortKey(expression, Recommendation.id, descending, value_type=float)
    if name == "title":
        title = func.lower(Recommendation.title)
        return paging.SortKey(title, Recommendation.id, descending, value_type=str)
    if name == "status":
        return paging.SortKey(_STATUS_ORDER, Recommendation.id, descending, value_type=int)
    if name == "updated_at":
        updated = Recommendation.updated_at
        return paging.SortKey(updated, Recommendation.id, descending, is_time=True)
    raise InvalidInput(
        f"sort {sort!r} is not supported", errors=[{"field": "sort", "message": "unsupported sort"}]
    )


def _threats(row: Recommendation) -> list[str]:
    found = []
    if row.exploited_count:
        found.append("exploited")
    if row.ransomware_count:
        found.append("ransomware")
    return found


def _installed(row: Recommendation) -> list[str]:
    return sorted({item.get("version") or "" for item in row.components or []} - {""})


def _value(row: Recommendation, name: str, now: datetime) -> Any:
    if name == "status":
        return effective_status(row, now)
    if name == "threats":
        return _threats(row)
    if name == "weaknesses":
        return [w["key"] for w in row.weaknesses or []]
    if name == "installed_versions":
        return _installed(row)
    if name == "exception_expires":
        return row.exception_expires if row.status == EXCEPTION else None
    return getattr(row, name)


def list_recommendations(
    session: Session,
    device_id: str,
    *,
    statuses: Sequence[str] = (),
    fields: Sequence[str] = FIELDS,
    sort: str = "-exposure_reduction",
    limit: int = 30,
    cursor: str | None = None,
    offset: int | None = None,
) -> schemas.RecommendationPage:
    paging.check_position(cursor, offset)
    if session.get(Device, device_id) is None:
        raise NotFound(f"no device with id {device_id!r}")
    now = utcnow()
    key = _sort_key(sort)
    conditions: list[Any] = [Recommendation.device_id == device_id]
    if statuses:
        conditions.append(or_(*(status_condition(s, now) for s in sorted(set(statuses)))))
    total = session.scalar(select(func.count(Recommendation.id)).where(*conditions)) or 0
    query = paging.apply(
        select(Recommendation, key.expression.label("sort_value")).where(*conditions),
        key,
        cursor,
        limit,
    )
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    items = [
        schemas.RecommendationItem(id=row.id, **{name: _value(row, name, now) for name in fields})
        for row, _ in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last, value = rows[limit - 1]
        next_cursor = paging.encode_cursor(value, last.id)
    return schemas.RecommendationPage(items=items, next_cursor=next_cursor, total=total)


def get_recommendation(session: Session, recommendation_id: int) -> Recommendation:
    row = session.get(Recommendation, recommendation_id)
    if row is None:
        raise NotFound(f"no recommendation with id {recommendation_id}")
    return row


# Where Debian and Ubuntu (dist-packages) and Fedora-like systems (/usr/lib*/python3.*)
# install the Python packages of their own package manager.
_DISTRIBUTION_PYTHON = (
    "/usr/lib/python3/dist-packages",
    "/usr/lib/python3.",
    "/usr/lib64/python3.",
)


def _distribution_managed(path: str) -> bool:
    return path.startswith(_DISTRIBUTION_PYTHON)


def how_to_apply(row: Recommendation) -> list[str]:
    """Steps an administrator follows on the device. Names come from the device, so they
    are shell-quoted wherever they go into a command."""
    fix = row.fixed_version
    if fix is None:
        return [
            f"No released version of {row.component} fixes every weakness listed. Limit its "
            "use, watch the vendor's advisories, or remove it if it is not needed; file an "
            "exception with the reason if the risk is accepted."
        ]
    components = row.components or []
    names = sorted({item["name"] for item in components})
    steps: list[str] = []
    if row.software_source == "pip":
        for item in components:
            where = item.get("install_path") or "the Python environment it is installed in"
            if _distribution_managed(where):
                # pip refuses these (PEP 668), and the distribution may have backported the
                # fix into the version it ships.
                steps.append(
                    f"In {where}, {item['name']} belongs to the operating system's packages: "
                    "update it with the system's package manager (apt-get install "
                    "--only-upgrade, dnf upgrade), not pip, and check the distribution's "
                    "advisories, which may fix it without changing the version"
                )
                continue
            command = f"python -m pip install {shlex.quote(item['name'] + '>=' + fix)}"
            steps.append(f"In {where}: {command}")
    elif row.software_source == "npm":
        for item in components:
            where = item.get("install_path") or "the project it is installed in"
            steps.append(f"In {where}: npm install {shlex.quote(item['name'] + '@' + fix)}")
    elif row.software_source == "dpkg":
        packages = " ".join(shlex.quote(name) for name in names)
        steps.append(f"apt-get update && apt-get install --only-upgrade {packages}")
        steps.append(f"Check that {row.component} is at {fix} or later: dpkg -l {packages}")
    elif row.software_source == "rpm":
        packages = " ".join(shlex.quote(name) for name in names)
        steps.append(f"dnf upgrade {packages}")
    else:
        steps.append(f"Install {row.component} {fix} or later from its vendor.")
    steps.append(
        "The recommendation resolves on its own once the device's next inventory shows "
        f"{row.component} at {fix} or later."
    )
    return steps


def recommendation_detail(session: Session, recommendation_id: int) -> schemas.RecommendationDetail:
    row = get_recommendation(session, recommendation_id)
    device = session.get(Device, row.device_id)
    assert device is not None  # recommendations go with their device
    now = utcnow()
    exception = None
    if row.status == EXCEPTION and row.exception_justification:
        exception = schemas.ExceptionOut(
            justification=row.exception_justification,
            expires_at=row.exception_expires,
            created_by=row.exception_by,
            created_at=row.exception_at,
            expired=effective_status(row, now) != EXCEPTION,
        )
    return schemas.RecommendationDetail(
        id=row.id,
        device_id=row.device_id,
        device_name=device.hostname,
        source=row.source,
        title=row.title,
        component=row.component,
        vendor=row.vendor,
        software_source=row.software_source,
        fixed_version=row.fixed_version,
        status=effective_status(row, now),  # type: ignore[arg-type]
        weakness_count=row.weakness_count,
        exploited_count=row.exploited_count,
        ransomware_count=row.ransomware_count,
        threats=_threats(row),  # type: ignore[arg-type]
        highest_cvss=row.highest_cvss,
        exposure_reduction=row.exposure_reduction,
        installed_versions=_installed(row),
        components=[
            schemas.ComponentOut(
                software_id=item["software_id"],
                name=item["name"],
                version=item.get("version") or None,
                arch=item.get("arch"),
                install_path=item.get("install_path"),
            )
            for item in row.components or []
        ],
        weaknesses=[schemas.WeaknessOut(**w) for w in row.weaknesses or []],
        how_to_apply=how_to_apply(row),
        exception=exception,
        first_seen=row.first_seen,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
    )


def update_status(
    session: Session, recommendation_id: int, patch: schemas.RecommendationPatch, actor: str
) -> tuple[Recommendation, dict[str, list[Any]]]:
    """File an exception or make a recommendation active again; returns each changed field's
    [before, after]. The device's exposure is recomputed, since exceptions do not count."""
    row = get_recommendation(session, recommendation_id)
    now = utcnow()
    if row.status == RESOLVED:
        raise InvalidInput(
            "a resolved recommendation can not be changed: it reopens by itself when a "
            "vulnerable version is seen again",
            errors=[{"field": "status", "message": "recommendation is resolved"}],
        )
    before = {
        "status": effective_status(row, now),
        "justification": row.exception_justification,
        "expires_at": row.exception_expires,
    }
    if patch.status == EXCEPTION:
        if not patch.justification or not patch.justification.strip():
            raise InvalidInput(
                "an exception needs a justification",
                errors=[{"field": "justification", "message": "required for an exception"}],
            )
        if patch.expires_at is not None and patch.expires_at <= now:
            raise InvalidInput(
                "the exception's expiry must be in the future",
                errors=[{"field": "expires_at", "message": "in the past"}],
            )
        row.status = EXCEPTION
        row.exception_justification = patch.justification.strip()
        row.exception_expires = patch.expires_at
        row.exception_by, row.exception_at = actor, now
    else:
        if patch.justification is not None or patch.expires_at is not None:
            raise InvalidInput(
                "only an exception takes a justification and an expiry",
                errors=[{"field": "status", "message": "active takes no justification"}],
            )
        row.status = ACTIVE
        row.exception_justification = row.exception_by = None
        row.exception_expires = row.exception_at = None
    after = {
        "status": row.status,
        "justification": row.exception_justification,
        "expires_at": row.exception_expires,
    }
    changed = {
        name: [_json(before[name]), _json(after[name])]
        for name in before
        if before[name] != after[name]
    }
    if changed:
        row.updated_at = now
        session.flush()
        recommendations.refresh_device(session, row.device_id, now)
    return row, changed


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
