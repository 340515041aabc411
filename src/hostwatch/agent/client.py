"""The agent's HTTP client for the protocol calls, sorting failures by what to do next."""

from __future__ import annotations

import gzip
import logging
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from hostwatch import __version__, protocol

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"hostwatch-agent/{__version__}"
# Bodies this long or longer go gzip-compressed; below it the header costs more than it saves.
COMPRESS_FROM = 1024

M = TypeVar("M", bound=BaseModel)


class AgentClientError(Exception):
    """A protocol call that did not succeed. The message never holds a secret.

    ServerUnavailable: try again later. CredentialRejected: the device credential (or the
    enrollment token) is wrong or revoked. RequestRejected: sending it again will not help.
    """


class ServerUnavailable(AgentClientError):
    """No answer, a 5xx or 429, or an answer the agent cannot read: retry later."""


class CredentialRejected(AgentClientError):
    """401 or 403: the server does not accept the device credential or enrollment token."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RequestRejected(AgentClientError):
    """Another 4xx (or a redirect): the server refused this request as it is."""

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def problem_detail(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """The `detail` of a problem-details body, field errors included, with secrets masked.

    Only `loc` and `msg` of field errors are kept: their `input` may echo a token back.
    """
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        text = response.text[:500] if response.text else response.reason_phrase
    else:
        detail = body.get("detail")
        parts: list[str] = []
        if isinstance(detail, str):
            parts.append(detail)
        errors = body.get("errors") if isinstance(body.get("errors"), list) else None
        if isinstance(detail, list):
            errors = detail
        for error in errors or []:
            if isinstance(error, dict):
                loc = ".".join(str(p) for p in error.get("loc", []) if p != "body")
                parts.append(f"{loc}: {error.get('msg', '')}" if loc else str(error.get("msg")))
        text = "; ".join(p for p in parts if p) or str(body.get("title") or response.reason_phrase)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:2000]


class AgentClient:
    """One server, one device credential (None until enrolled)."""

    def __init__(
        self,
        server_url: str,
        credential: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        verify: bool | str = True,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.credential = credential
        self._http = httpx.Client(
            base_url=self.server_url,
            timeout=timeout,
            verify=verify,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        content: str,
        answer: type[M],
        *,
        secrets: tuple[str, ...] = (),
        authenticated: bool = True,
        timeout: float | None = None,
        compress: bool = False,
    ) -> M:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        body: str | bytes = content
        if compress and len(content) >= COMPRESS_FROM:
            # Event batches are repetitive JSON: gzip makes them several times smaller.
            body = gzip.compress(content.encode(), compresslevel=5, mtime=0)
            headers["Content-Encoding"] = "gzip"
        if authenticated:
            if not self.credential:
                raise CredentialRejected(f"{method} {path}: the agent is not enrolled", 401)
            headers["Authorization"] = f"Bearer {self.credential}"
            secrets = (*secrets, self.credential)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, content=body, headers=headers, **extra)
        except httpx.TransportError as exc:
            # Connection refused, DNS failure, TLS failure, timeout: nothing reached the server
            # (or its answer never came back), so the call can be repeated as it is.
            raise ServerUnavailable(
                f"{method} {path}: {self.server_url} unreachable: {type(exc).__name__}: {exc}"
            ) from exc

        status = response.status_code
        if status in (401, 403):
            raise CredentialRejected(
                f"{method} {path}: {status} {problem_detail(response, secrets)}", status
            )
        if status == 429 or status >= 500:
            raise ServerUnavailable(
                f"{method} {path}: {status} {problem_detail(response, secrets)}"
            )
        if status >= 300:
            detail = problem_detail(response, secrets)
            if 300 <= status < 400:
                detail = f"redirected to {response.headers.get('location', '?')}"
            raise RequestRejected(f"{method} {path}: {status} {detail}", status, detail)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise ServerUnavailable(
                f"{method} {path}: the server's answer does not match the agent protocol "
                f"({exc.error_count()} errors)"
            ) from exc

    # The calls

    def enroll(self, request: protocol.EnrollRequest) -> protocol.EnrollResponse:
        return self._call(
            "POST",
            protocol.ENROLL_PATH,
            request.model_dump_json(),
            protocol.EnrollResponse,
            secrets=(request.enroll_token,),
            authenticated=False,
        )

    def heartbeat(
        self, request: protocol.HeartbeatRequest, timeout: float | None = None
    ) -> protocol.HeartbeatResponse:
        return self._call(
            "POST",
            protocol.HEARTBEAT_PATH,
            request.model_dump_json(),
            protocol.HeartbeatResponse,
            timeout=timeout,
        )

    def put_inventory(
        self, body: str | protocol.InventoryUpload, timeout: float | None = None
    ) -> protocol.InventoryResult:
        """Send a snapshot, given as a model or as its JSON (as the spool keeps it)."""
        content = body if isinstance(body, str) else body.model_dump_json(exclude_none=True)
        return self._call(
            "PUT",
            protocol.INVENTORY_PATH,
            content,
            protocol.InventoryResult,
            timeout=timeout,
            compress=True,
        )

    def post_events(
        self, events: list[str] | protocol.EventBatch, timeout: float | None = None
    ) -> protocol.EventBatchResult:
        """Send a batch, given as a model or as the events' JSON texts (as the spool keeps them)."""
        if isinstance(events, protocol.EventBatch):
            content = events.model_dump_json(exclude_none=True)
        else:
            if len(events) > protocol.MAX_EVENTS_PER_BATCH:
                raise ValueError(f"at most {protocol.MAX_EVENTS_PER_BATCH} events per batch")
            content = '{"events":[' + ",".join(events) + "]}"
        return self._call(
            "POST",
            protocol.EVENTS_PATH,
            content,
            protocol.EventBatchResult,
            timeout=timeout,
            compress=True,
        )

    def report_action(
        self, action_id: str, report: protocol.ActionReport, timeout: float | None = None
    ) -> protocol.ActionReportResult:
        path = protocol.ACTION_REPORT_PATH.format(action_id=quote(action_id, safe=""))
        return self._call(
            "POST",
            path,
            report.model_dump_json(),
            protocol.ActionReportResult,
            timeout=timeout,
        )
