"""Agent enrollment: enrollment tokens, device credentials and identity merge on enroll."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hostwatch import protocol
from hostwatch.auth.secrets import new_token, token_hash
from hostwatch.db.base import utcnow
from hostwatch.devices import registry
from hostwatch.devices.models import AgentCredential, Device, EnrollToken
from hostwatch.errors import AgentAuthFailed, EnrollRefused, InvalidInput, NotFound

ENROLL_PREFIX = "hwe"
DEVICE_PREFIX = "hwd"


def create_enroll_token(
    session: Session,
    created_by: str,
    valid_for: timedelta | None = timedelta(days=7),
    max_uses: int | None = None,
    note: str | None = None,
) -> tuple[str, EnrollToken]:
    if max_uses is not None and max_uses < 1:
        raise InvalidInput("max_uses must be at least 1")
    raw = new_token(ENROLL_PREFIX)
    token = EnrollToken(
        token_hash=token_hash(raw),
        prefix=raw[:8],
        created_by=created_by,
        expires_at=utcnow() + valid_for if valid_for else None,
        max_uses=max_uses,
        note=note,
    )
    session.add(token)
    session.flush()
    return raw, token


def _claim_enroll_token(session: Session, raw: str, now: datetime) -> EnrollToken:
    token = session.scalar(select(EnrollToken).where(EnrollToken.token_hash == token_hash(raw)))
    if token is None or token.revoked_at is not None:
        raise EnrollRefused("the enrollment token is unknown or revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise EnrollRefused("the enrollment token has expired")
    # Count the use in one conditional UPDATE so two agents cannot both take the last use.
    claimed = session.execute(
        update(EnrollToken)
        .where(
            EnrollToken.id == token.id,
            or_(EnrollToken.max_uses.is_(None), EnrollToken.uses < EnrollToken.max_uses),
        )
        .values(uses=EnrollToken.uses + 1)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise EnrollRefused("the enrollment token has no uses left")
    return token


def enroll(session: Session, request: protocol.EnrollRequest) -> tuple[Device, str]:
    """Create or re-attach the device of an enrolling agent and give it a new credential.

    A device already known by the same machine id (a re-installed agent) or, failing that,
    by FQDN or host name from a source other than an agent, is the same device: its
    history stays with it.
    """
    now = utcnow()
    token = _claim_enroll_token(session, request.enroll_token, now)

    device = registry.find_for_agent(session, request.host)
    if device is None:
        device = Device(hostname=request.host.hostname, first_seen=now)
        session.add(device)
    registry.apply_host_facts(device, request.host)
    registry.add_source(device, "agent")
    device.last_seen = now
    if device.first_seen is None:
        device.first_seen = now
    session.flush()

    raw = f"{DEVICE_PREFIX}_{device.id}_{new_token('k')[2:]}"
    credential = session.get(AgentCredential, device.id)
    if credential is None:
        credential = AgentCredential(device_id=device.id, credential_hash=token_hash(raw))
        session.add(credential)
    else:
        credential.credential_hash = token_hash(raw)
        credential.revoked_at = None
    credential.enrolled_at = now
    credential.enroll_token_id = token.id
    credential.version = request.agent_version
    registry.sync_system_tags(session, device)
    session.flush()
    return device, raw


def authenticate_agent(session: Session, raw: str) -> AgentCredential:
    credential = session.scalar(
        select(AgentCredential).where(AgentCredential.credential_hash == token_hash(raw))
    )
    if credential is None or credential.revoked_at is not None:
        raise AgentAuthFailed("the device credential is unknown or revoked")
    return credential


def revoke_agent(session: Session, device_id: str) -> None:
    credential = session.get(AgentCredential, device_id)
    if credential is not None and credential.revoked_at is None:
        credential.revoked_at = utcnow()


def revoke_enroll_token(session: Session, token_id: str) -> None:
    token = session.get(EnrollToken, token_id)
    if token is None:
        raise NotFound(f"no enrollment token with id {token_id!r}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
