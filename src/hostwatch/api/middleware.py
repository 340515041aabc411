"""Request guard: request ids, body size limits and the audit of state-changing requests."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostwatch.api.deps import db_slot, unit_of_work
from hostwatch.auth import audit
from hostwatch.config import Settings
from hostwatch.errors import PayloadTooLarge

log = logging.getLogger(__name__)

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
AGENT_PREFIX = "/api/agent/"


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
        limit = (
            self.settings.max_agent_body_bytes
            if path.startswith(AGENT_PREFIX)
            else self.settings.max_body_bytes
        )

        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse_too_large(send, request_id, declared, limit)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
            return message

        status_holder: dict[str, int] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            if (
                scope["method"] in UNSAFE
                and path.startswith("/api/")
                and not path.startswith(AGENT_PREFIX)
                and not state.get("audited")
            ):
                status = status_holder.get("status", 500)
                async with db_slot(self.app_state, write=True):
                    await run_in_threadpool(self._audit, scope, state, status, request_id)

    def _audit(self, scope: Scope, state: dict[str, Any], status: int, request_id: str) -> None:
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
                    request_id=request_id,
                    detail={"status": status},
                )
        except Exception:
            log.exception("could not write the audit entry of request %s", request_id)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse_too_large(send: Send, request_id: str, declared: int, limit: int) -> None:
    body = json.dumps(
        {
            "type": "https://hostwatch.invalid/problems/HW-2004",
            "title": "Request too large",
            "status": 413,
            "detail": f"the request body has {declared} bytes; the limit is {limit}",
            "code": "HW-2004",
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
