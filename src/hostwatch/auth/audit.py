"""The audit log: who did what, to what, from where, and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hostwatch.auth.models import AuditEntry

# Keys whose values never go into the audit log, whatever a caller passes.
_SECRET_KEYS = {"password", "token", "credential", "enroll_token", "secret", "csrf_token"}


def _scrub(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if k in _SECRET_KEYS else v) for k, v in detail.items()}


def record(
    session: Session,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    target: str | None = None,
    outcome: str = "success",
    address: str | None = None,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor[:128],
        actor_kind=actor_kind,
        action=action,
        target=target[:255] if target else None,
        outcome=outcome,
        address=address,
        request_id=request_id,
        detail=_scrub(detail or {}),
    )
    session.add(entry)
    return entry


def count_since(
    session: Session,
    *,
    action: str,
    since: datetime,
    outcome: str,
    actor: str | None = None,
    address: str | None = None,
) -> int:
    query = select(func.count(AuditEntry.id)).where(
        AuditEntry.action == action, AuditEntry.at >= since, AuditEntry.outcome == outcome
    )
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if address is not None:
        query = query.where(AuditEntry.address == address)
    return session.scalar(query) or 0
