"""Routes for sign-in, users, API tokens, the audit log and the signed-in user's preferences."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hostwatch.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    AppSettings,
    Db,
    Viewer,
    client_address,
    record_audit,
)
from hostwatch.auth import audit, service
from hostwatch.auth.models import AuditEntry, User
from hostwatch.auth.roles import Role
from hostwatch.auth.secrets import verify_password
from hostwatch.auth.service import Principal
from hostwatch.errors import Forbidden, HostwatchError, NotFound, PayloadTooLarge, TooManyLogins

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    name: str
    role: Role
    disabled: bool = False
    created_at: datetime | None = None


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class MeOut(BaseModel):
    name: str
    role: Role
    csrf_token: str | None


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=1024)


class UserPatch(BaseModel):
    role: Role | None = None
    disabled: bool | None = None


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024)
    current_password: str | None = Field(
        default=None, max_length=1024, description="needed when changing your own password"
    )


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    user: str | None = Field(default=None, description="admins may create tokens for others")


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    user: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; store it now")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    target: str | None
    outcome: str
    address: str | None
    request_id: str | None
    detail: dict[str, Any]


def _user_out(user: User) -> UserOut:
    return UserOut(
        name=user.name, role=Role(user.role), disabled=user.disabled, created_at=user.created_at
    )


@router.post("/auth/login", response_model=LoginOut)
def login(body: LoginIn, request: Request, response: Response, db: Db, settings: AppSettings):
    address = client_address(request)
    request.state.audited = True
    # Limitation: the memory-hard hash is checked inside the sign-in's write transaction (so
    # the failure count cannot race); on SQLite every other writer waits for it, about 120 ms
    # per sign-in.
    try:
        user = service.authenticate(db, settings, body.username, body.password, address)
    except HostwatchError as exc:
        # Recorded in the sign-in's own transaction: nothing was written before the check,
        # and on PostgreSQL the attempt's locks must be held until the failure is counted.
        audit.record(
            db,
            actor=body.username,
            actor_kind="anonymous",
            action="auth.login",
            outcome="refused" if isinstance(exc, TooManyLogins) else "failure",
            address=address,
            request_id=request.state.request_id,
            detail={"reason": exc.code},
        )
        db.commit()
        raise
    raw, login_session = service.open_session(db, user, settings, address)
    audit.record(
        db,
        actor=user.name,
        actor_kind="user",
        action="auth.login",
        address=address,
        request_id=request.state.request_id,
    )
    cookie = {
        "httponly": True,
        "samesite": "strict",
        "secure": settings.secure_cookies,
        "path": "/",
        "max_age": settings.session_ttl_seconds,
    }
    response.set_cookie(SESSION_COOKIE, raw, **cookie)  # type: ignore[arg-type]
    response.set_cookie(
        CSRF_COOKIE,
        login_session.csrf_token,
        **{**cookie, "httponly": False},  # type: ignore[arg-type]
    )
    return LoginOut(user=_user_out(user), csrf_token=login_session.csrf_token)


@router.post("/auth/logout", status_code=204)
def logout(principal: Viewer, request: Request, response: Response, db: Db) -> Response:
    if principal.session_id:
        service.close_session(db, principal.session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=MeOut)
def me(principal: Viewer) -> MeOut:
    return MeOut(name=principal.name, role=principal.role, csrf_token=principal.csrf_token)


@router.get("/users", response_model=list[UserOut])
def list_users(_: Admin, db: Db) -> list[UserOut]:
    return [_user_out(u) for u in service.list_users(db)]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, principal: Admin, request: Request, db: Db) -> UserOut:
    user = service.create_user(db, body.name, body.role, body.password)
    record_audit(request, db, principal, "user.create", user.name, {"role": user.role})
    return _user_out(user)


@router.patch("/users/{name}", response_model=UserOut)
def update_user(name: str, body: UserPatch, principal: Admin, request: Request, db: Db) -> UserOut:
    user = service.get_user(db, name)
    service.check_admin_remains(
        db,
        user,
        body.role or Role(user.role),
        user.disabled if body.disabled is None else body.disabled,
    )
    changes: dict[str, Any] = {}
    if body.role is not None and body.role.value != user.role:
        changes["role"] = [user.role, body.role.value]
        user.role = body.role.value
    if body.disabled is not None and body.disabled != user.disabled:
        if user.id == principal.user_id and body.disabled:
            raise Forbidden("you cannot disable your own account")
        changes["disabled"] = [user.disabled, body.disabled]
        user.disabled = body.disabled
    record_audit(request, db, principal, "user.update", user.name, changes)
    return _user_out(user)


@router.post("/users/{name}/password", status_code=204)
def set_password(
    name: str, body: PasswordIn, principal: Viewer, request: Request, db: Db
) -> Response:
    own = name == principal.name
    if not own and not principal.role.allows(Role.admin):
        # Refused before the lookup, so the answer does not tell which names exist.
        raise Forbidden("only admins may set another user's password")
    user = service.get_user(db, name)
    # A stolen session alone must not be enough to take the account over.
    if own and not verify_password(user.password_hash, body.current_password or ""):
        raise Forbidden("to change your own password, send your current password too")
    service.set_password(db, user, body.password)
    record_audit(request, db, principal, "user.password", user.name)
    return Response(status_code=204)


def _token_out(token: Any, user_name: str) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "user": user_name,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(principal: Viewer, db: Db) -> list[dict[str, Any]]:
    names = {row.id: row.name for row in db.execute(select(User.id, User.name))}
    owner = None if principal.role.allows(Role.admin) else db.get(User, principal.user_id)
    return [_token_out(t, names[t.user_id]) for t in service.list_api_tokens(db, owner)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenIn, principal: Viewer, request: Request, db: Db) -> dict[str, Any]:
    if body.user and body.user != principal.name:
        if not principal.role.allows(Role.admin):
            raise Forbidden("only admins may create tokens for other users")
        user = service.get_user(db, body.user)
    else:
        user = service.get_user(db, principal.name)
    raw, token = service.create_api_token(db, user, body.name)
    record_audit(request, db, principal, "token.create", f"{user.name}/{token.name}")
    return {**_token_out(token, user.name), "token": raw}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, principal: Viewer, request: Request, db: Db) -> Response:
    token = service.revoke_api_token(db, token_id)
    if token.user_id != principal.user_id and not principal.role.allows(Role.admin):
        raise NotFound(f"no API token with id {token_id!r}")
    record_audit(request, db, principal, "token.revoke", token.id)
    return Response(status_code=204)


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    _: Admin,
    db: Db,
    action: str | None = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(db.scalars(query))


# A user's page preferences are small: a column choice per table. The cap keeps one account
# from storing megabytes in the users table through this endpoint.
PREFERENCES_MAX_BYTES = 16 * 1024
PreferenceKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9._-]{0,63}$")]


class TablePreferences(BaseModel):
    """One table's remembered choices: which columns are shown (true) or hidden (false)."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    columns: dict[PreferenceKey, bool] = Field(default_factory=dict, max_length=64)


class Preferences(BaseModel):
    """The signed-in user's page preferences, per table (such as "devices", "device.software")."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    tables: dict[PreferenceKey, TablePreferences] = Field(default_factory=dict, max_length=64)


def _stored_preferences(user: User) -> Preferences:
    try:
        return Preferences.model_validate(user.preferences or {})
    except ValidationError:
        # Written by an older version in another shape: start again rather than fail the page.
        log.warning("ignoring stored preferences of user %s: not in the current shape", user.id)
        return Preferences()


def _own_user(db: Session, principal: Principal) -> User:
    user = db.get(User, principal.user_id)
    if user is None:
        raise NotFound("the signed-in user no longer exists")
    return user


@router.get("/me/preferences", response_model=Preferences)
def get_preferences(principal: Viewer, db: Db) -> Preferences:
    return _stored_preferences(_own_user(db, principal))


@router.put("/me/preferences", response_model=Preferences)
def put_preferences(body: Preferences, principal: Viewer, request: Request, db: Db) -> Preferences:
    """Replace the signed-in user's preferences with the document sent."""
    size = len(body.model_dump_json())
    if size > PREFERENCES_MAX_BYTES:
        raise PayloadTooLarge(
            f"preferences take {size} bytes; the limit is {PREFERENCES_MAX_BYTES}"
        )
    user = _own_user(db, principal)
    user.preferences = body.model_dump()
    record_audit(request, db, principal, "user.preferences", user.name)
    return body
