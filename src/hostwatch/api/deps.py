"""Request dependencies: the database session, the caller, their role, and agent credentials.

Ownership and role checks live here once, so routes declare what they need instead of
repeating the check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hostwatch.auth import audit, service
from hostwatch.auth.roles import Role
from hostwatch.auth.secrets import same
from hostwatch.auth.service import Principal
from hostwatch.config import Settings
from hostwatch.db.engine import begin_write
from hostwatch.errors import CsrfFailed, Forbidden, NotAuthenticated

log = logging.getLogger(__name__)

SESSION_COOKIE = "hw_session"
CSRF_COOKIE = "hw_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@asynccontextmanager
async def db_slot(app_state: Any, write: bool) -> AsyncIterator[None]:
    """Wait, on the event loop, for a turn at the database.

    A request's transaction spans several worker-thread steps. If every worker thread
    waited on a database lock or a pooled connection, the request holding it could never
    get a thread to finish, and everything would stall. So requests queue here instead:
    at most as many hold a session as the pool has connections (fewer than the worker
    threads), and on SQLite, which allows one writer, writers also queue one at a time.
    """
    lock: asyncio.Lock | None = app_state.write_lock if write else None
    async with AsyncExitStack() as stack:
        if lock is not None:
            await stack.enter_async_context(lock)
        await stack.enter_async_context(app_state.db_slots)
        yield


def open_session(app_state: Any, write: bool) -> Session:
    session: Session = app_state.sessions()
    if write:
        begin_write(session)
    return session


@contextmanager
def unit_of_work(app_state: Any, write: bool) -> Iterator[Session]:
    """A session in one transaction, committed at the end of the block or rolled back.

    Blocking: call it from a worker thread, inside `db_slot`.
    """
    session = open_session(app_state, write)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One transaction per request; requests that change state are writers.

    Every database call runs in a worker thread, never on the event loop.
    """
    state = request.app.state
    write = request.method not in SAFE_METHODS
    async with db_slot(state, write):
        session = await run_in_threadpool(open_session, state, write)
        try:
            yield session
            await run_in_threadpool(session.commit)
        except BaseException:
            await run_in_threadpool(session.rollback)
            raise
        finally:
            await run_in_threadpool(session.close)


# Function scope: the commit happens before the response is sent, so a failed commit
# is a 500, never a 200 for lost work.
Db = Annotated[Session, Depends(get_db, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def _touch(request: Request, db: Session, principal: Principal) -> None:
    """Record a token's use. A reading request must not write in its own transaction
    (on SQLite it holds no write turn), so it writes in a short one of its own."""
    assert principal.token_id is not None
    if request.method not in SAFE_METHODS:
        service.touch_api_token(db, principal.token_id)
        return
    try:
        with unit_of_work(request.app.state, write=True) as side:
            service.touch_api_token(side, principal.token_id)
    except OperationalError:
        # Losing one last-use update is better than failing the request.
        log.warning("could not record the use of API token %s", principal.token_id)


def get_principal(request: Request, db: Db) -> Principal:
    token = _bearer(request)
    if token is not None:
        found = service.principal_from_api_token(db, token)
        if found is None:
            raise NotAuthenticated("the API token is unknown, revoked or its user is disabled")
        principal, stale = found
        if stale:
            _touch(request, db, principal)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        from_session = service.principal_from_session(db, cookie) if cookie else None
        if from_session is None:
            raise NotAuthenticated("sign in first: no valid session or API token was sent")
        principal = from_session
        # Cookies ride along on cross-site requests; a state change also needs the CSRF
        # token, which only our own pages can read.
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not same(sent, principal.csrf_token or ""):
                request.state.principal = principal
                raise CsrfFailed("the X-CSRF-Token header is missing or does not match")
    request.state.principal = principal
    return principal


def require(role: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise Forbidden(
                f"this needs the {role.value} role; {principal.name} is a {principal.role.value}"
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Analyst = Annotated[Principal, Depends(require(Role.analyst))]
Responder = Annotated[Principal, Depends(require(Role.responder))]
Admin = Annotated[Principal, Depends(require(Role.admin))]


async def agent_token(request: Request) -> str:
    """The device credential sent; checked against the database by the agent routes.

    As a dependency it runs before the body is validated, so anonymous calls get 401.
    """
    token = _bearer(request)
    if token is None:
        raise NotAuthenticated("agent calls need 'Authorization: Bearer <device credential>'")
    return token


AgentToken = Annotated[str, Depends(agent_token)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def record_audit(
    request: Request,
    db: Session,
    principal: Principal,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a state change in the request's transaction, in place of the generic entry."""
    audit.record(
        db,
        actor=principal.name,
        actor_kind=principal.via,
        action=action,
        target=target,
        address=client_address(request),
        request_id=request.state.request_id,
        detail=detail,
    )
    request.state.audited = True


def record_failure(
    request: Request,
    db: Session,
    *,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a refused request: undo its work, then commit only the audit entry."""
    db.rollback()
    audit.record(
        db,
        actor=actor,
        actor_kind="anonymous",
        action=action,
        outcome="failure",
        address=client_address(request),
        request_id=request.state.request_id,
        detail=detail,
    )
    db.commit()
    request.state.audited = True
