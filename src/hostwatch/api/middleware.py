"""Request guard: request ids, body limits, early refusals and the audit of state changes.

The guard reads a request's whole body before the app sees it, so an oversized body gets a
413 whether or not it declared its length, and the app never works on half a request.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import zlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostwatch import protocol
from hostwatch.api.deps import db_slot, unit_of_work
from hostwatch.auth import audit
from hostwatch.config import Settings
from hostwatch.errors import (
    AgentAuthFailed,
    HostwatchError,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedEncoding,
)

log = logging.getLogger(__name__)

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
AGENT_PREFIX = "/api/agent/"
DEVICE_BEARER = b"bearer hwd_"

# A JSON \u0000 escape that is not itself escaped (an even run of backslashes before it).
# No stored text may hold NUL: PostgreSQL refuses it and no real name or path has one.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class _Refusal(Exception):
    """Answer the request with this error's problem, without calling the app."""

    def __init__(self, error: HostwatchError) -> None:
        super().__init__(error.detail)
        self.error = error


class _Disconnected(Exception):
    """The client went away while sending its body."""


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings, app_state: Any) -> None:
        self.app = app
        self.settings = settings
        self.app_state = app_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        path: str = scope["path"]
        started: dict[str, int] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                started["status"] = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            self._check_head(scope, path)
            body = await self._read_body(scope, receive, path)
            body = _decoded(scope, body, self._limit(path))
            _check_no_nul(body)
        except _Refusal as refusal:
            await _send_problem(send_with_id, request_id, refusal)
            return
        except _Disconnected:
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, send_with_id)
        except Exception:
            # Answered here rather than by the server's last-resort handler, so the
            # response still carries the request id and the security headers.
            log.exception("unhandled error in request %s %s", request_id, path)
            if "status" not in started:
                failure = HostwatchError(
                    "the server failed to handle the request; "
                    "the log has the details under this request id"
                )
                await _send_problem(send_with_id, request_id, _Refusal(failure))
        finally:
            await self._audit_if_needed(scope, state, path, started.get("status", 500))

    def _check_head(self, scope: Scope, path: str) -> None:
        query: bytes = scope.get("query_string", b"")
        raw_path: bytes = scope.get("raw_path") or path.encode()
        if b"%00" in query or b"%00" in raw_path or "\x00" in path:
            raise _Refusal(
                InvalidInput("the URL contains a NUL character (%00), which no value may hold")
            )
        if path.startswith(AGENT_PREFIX) and path != protocol.ENROLL_PATH:
            # Refuse anything that is not even shaped like a device credential before
            # reading a body of up to the agent limit.
            auth = dict(scope.get("headers", [])).get(b"authorization", b"")
            if not auth.lower().startswith(DEVICE_BEARER):
                raise _Refusal(
                    AgentAuthFailed("agent calls need 'Authorization: Bearer <device credential>'")
                )

    def _limit(self, path: str) -> int:
        if path.startswith(AGENT_PREFIX) and path != protocol.ENROLL_PATH:
            return self.settings.max_agent_body_bytes
        return self.settings.max_body_bytes

    async def _read_body(self, scope: Scope, receive: Receive, path: str) -> bytes:
        limit = self._limit(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            raise _too_large(f"the request body has {declared} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(f"the request body is larger than the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _audit_if_needed(
        self, scope: Scope, state: dict[str, Any], path: str, status: int
    ) -> None:
        if (
            scope["method"] not in UNSAFE
            or not path.startswith("/api/")
            or path.startswith(AGENT_PREFIX)
            or state.get("audited")
        ):
            return
        principal = state.get("principal")
        if principal is None and status == 401:
            # Anonymous knocking is not a state change; writing each one down would let
            # anyone fill the audit log. The access log still has it.
            return
        async with db_slot(self.app_state, write=True):
            await run_in_threadpool(self._audit, scope, state, status)

    def _audit(self, scope: Scope, state: dict[str, Any], status: int) -> None:
        principal = state.get("principal")
        client = scope.get("client")
        try:
            with unit_of_work(self.app_state, write=True) as session:
                audit.record(
                    session,
                    actor=principal.name if principal else "anonymous",
                    actor_kind=principal.via if principal else "anonymous",
                    action="api.request",
                    target=f"{scope['method']} {scope['path']}",
                    outcome="success" if status < 400 else "failure",
                    address=client[0] if client else None,
                    request_id=state["request_id"],
                    detail={"status": status},
                )
        except Exception:
            log.exception("could not write the audit entry of request %s", state["request_id"])


def _check_no_nul(body: bytes) -> None:
    # Limitation: every body is treated as JSON text; a route taking binary uploads will
    # need to be exempted here.
    if _JSON_NUL.search(body):
        raise _Refusal(
            InvalidInput(
                "the request body contains a NUL character (\\u0000), which no value may hold"
            )
        )


def _decoded(scope: Scope, body: bytes, limit: int) -> bytes:
    """The body as the app reads it: a gzip body (the agent sends its batches so) inflated,
    within the same limit as a plain body, so that a small bomb cannot grow past it."""
    encodings = [v for n, v in scope.get("headers", []) if n == b"content-encoding"]
    encoding = b",".join(encodings).strip().lower()
    if encoding in (b"", b"identity"):
        return body
    if encoding != b"gzip":
        shown = encoding.decode("ascii", "replace")[:40]
        raise _Refusal(UnsupportedEncoding(f"the content encoding {shown!r} is not accepted"))
    inflater = zlib.decompressobj(wbits=31)  # a gzip member, header and trailer checked
    try:
        plain = inflater.decompress(body, limit + 1)
        if len(plain) > limit:
            raise _too_large(f"the request body inflates past the limit of {limit} bytes")
        if not inflater.eof or inflater.unused_data:
            raise zlib.error("the gzip stream is cut short or followed by other data")
    except zlib.error as exc:
        raise _Refusal(InvalidInput(f"the gzip request body is corrupt: {exc}")) from None
    # The app sees a plain body of the new length.
    scope["headers"] = [
        (n, str(len(plain)).encode() if n == b"content-length" else v)
        for n, v in scope.get("headers", [])
        if n != b"content-encoding"
    ]
    return plain


def _too_large(detail: str) -> _Refusal:
    return _Refusal(PayloadTooLarge(detail))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_problem(send: Send, request_id: str, refusal: _Refusal) -> None:
    error = refusal.error
    problem: dict[str, Any] = {
        "type": f"https://hostwatch.invalid/problems/{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "request_id": request_id,
    }
    if error.hint:
        problem["hint"] = error.hint
    body = json.dumps(problem).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if error.status == 413:
        # The rest of the body is never read, so the connection cannot be reused.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
