"""Users, sign-in, sessions and API tokens, independent of HTTP."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from hostwatch.auth import audit
from hostwatch.auth.models import ApiToken, LoginSession, User
from hostwatch.auth.roles import Role
from hostwatch.auth.secrets import (
    hash_password,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)
from hostwatch.config import Settings
from hostwatch.db.base import utcnow
from hostwatch.errors import Conflict, InvalidCredentials, InvalidInput, NotFound, TooManyLogins

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
SESSION_PREFIX = "hws"
API_TOKEN_PREFIX = "hwt"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user through a session or an API token."""

    user_id: str
    name: str
    role: Role
    via: str  # "session" or "token"
    session_id: str | None = None
    csrf_token: str | None = None
    token_id: str | None = None


def _check_name(name: str) -> None:
    if not USER_NAME.fullmatch(name):
        raise InvalidInput(
            f"user name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_', '@' or '-'",
            errors=[{"field": "name", "message": "invalid user name"}],
        )


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem, errors=[{"field": "password", "message": problem}])


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(
            f"role {value!r} is not one of: {allowed}",
            errors=[{"field": "role", "message": "unknown role"}],
        ) from None


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def create_user(session: Session, name: str, role: Role, password: str) -> User:
    _check_name(name)
    _check_password(password)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"a user named {name!r} exists already")
    user = User(name=name, role=role.value, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    _check_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    # A new password ends every open browser session of that user.
    for login in session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        session.delete(login)


def check_admin_remains(session: Session, user: User, role: Role, disabled: bool) -> None:
    """Refuse a change that would leave no enabled admin to manage users."""
    loses_admin = user.role == Role.admin.value and not user.disabled
    keeps_admin = role is Role.admin and not disabled
    if not loses_admin or keeps_admin:
        return
    others = session.scalar(
        select(func.count(User.id)).where(
            User.role == Role.admin.value, User.disabled.is_(False), User.id != user.id
        )
    )
    if not others:
        raise Conflict(f"{user.name} is the last enabled admin; make another admin first")


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def authenticate(
    session: Session, settings: Settings, name: str, password: str, address: str | None
) -> User:
    """Check a password, refusing once too many recent sign-ins failed.

    Failures are read back from the audit log, so the limits hold across server processes.
    Only failures count: a refused attempt (429) is not one, so a locked-out address cannot
    keep the window open by knocking. The account-wide limit, against guesses spread over
    many addresses, refuses only addresses that have themselves failed for that account, so
    an attacker cannot lock the real user out from a clean address.
    """
    since = utcnow() - timedelta(seconds=settings.login_failure_window_seconds)
    actor = name[:128]
    _serialize_attempts(session, actor, address)

    def failures(**where: str | None) -> int:
        return audit.count_since(
            session, action="auth.login", since=since, outcome="failure", **where
        )

    refusal = None
    here = failures(actor=actor, address=address) if address else 0
    if here >= settings.login_failures_per_user:
        refusal = "too many failed sign-ins for this account from this address"
    elif address and failures(address=address) >= settings.login_failures_per_address:
        refusal = "too many failed sign-ins from this address"
    elif (here > 0 or not address) and failures(actor=actor) >= settings.login_failures_per_account:
        refusal = "too many failed sign-ins for this account"
    if refusal:
        minutes = max(1, settings.login_failure_window_seconds // 60)
        raise TooManyLogins(
            f"{refusal}; try again in {minutes} minutes",
            retry_after=settings.login_failure_window_seconds,
        )

    user = session.scalar(select(User).where(User.name == name))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        raise InvalidCredentials("wrong user name or password, or the account is disabled")
    return user


def _serialize_attempts(session: Session, actor: str, address: str | None) -> None:
    """Make concurrent sign-ins for one account or address take turns until they commit.

    Otherwise parallel guesses all read the failure count before any of them adds to it, and
    a burst gets many more tries than the limit. SQLite needs nothing: a sign-in is a write
    transaction there, and writers already take turns. PostgreSQL gets transaction-scoped
    advisory locks, always address first, then account, so two attempts cannot deadlock.
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    lock = text("SELECT pg_advisory_xact_lock(:kind, hashtext(:key))")
    if address:
        session.execute(lock, {"kind": 7301, "key": address})
    session.execute(lock, {"kind": 7302, "key": actor})


def open_session(
    session: Session, user: User, settings: Settings, address: str | None
) -> tuple[str, LoginSession]:
    raw = new_token(SESSION_PREFIX)
    login = LoginSession(
        user_id=user.id,
        token_hash=token_hash(raw),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(seconds=settings.session_ttl_seconds),
        address=address,
    )
    session.add(login)
    session.flush()
    return raw, login


def principal_from_session(session: Session, raw: str) -> Principal | None:
    row = session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == token_hash(raw))
    ).first()
    if row is None:
        return None
    login, user = row
    if login.expires_at <= utcnow() or user.disabled:
        return None
    return Principal(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        via="session",
        session_id=login.id,
        csrf_token=login.csrf_token,
    )


def close_session(session: Session, session_id: str) -> None:
    login = session.get(LoginSession, session_id)
    if login is not None:
        session.delete(login)


def create_api_token(session: Session, user: User, name: str) -> tuple[str, ApiToken]:
    if not name or len(name) > 128:
        raise InvalidInput("token name must have 1 to 128 characters")
    raw = new_token(API_TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=name, token_hash=token_hash(raw), prefix=raw[:8])
    session.add(token)
    session.flush()
    return raw, token


def principal_from_api_token(session: Session, raw: str) -> tuple[Principal, bool] | None:
    """The token's principal, and whether its last-use time is due for an update."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(raw))
    ).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or user.disabled:
        return None
    # Last use is recorded at most once a minute, to keep reads cheap.
    stale = token.last_used_at is None or utcnow() - token.last_used_at > timedelta(minutes=1)
    principal = Principal(
        user_id=user.id, name=user.name, role=Role(user.role), via="token", token_id=token.id
    )
    return principal, stale


def touch_api_token(session: Session, token_id: str) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


def list_api_tokens(session: Session, user: User | None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.created_at)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def revoke_api_token(session: Session, token_id: str) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token with id {token_id!r}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
