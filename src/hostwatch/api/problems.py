"""The one place where errors become HTTP responses, as RFC 9457 problem details.

No traceback ever reaches a client: unexpected errors are logged with the request id,
and the response carries only that id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hostwatch.errors import HostwatchError, TooManyLogins

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    code: str,
    *,
    hint: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://hostwatch.invalid/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id_of(request),
    }
    if hint:
        body["hint"] = hint
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _hostwatch_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HostwatchError)
    headers = None
    if isinstance(exc, TooManyLogins):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(
        request,
        exc.status,
        exc.title,
        exc.detail,
        exc.code,
        hint=exc.hint,
        errors=exc.errors,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors()[:50]:
        if e.get("type") == "json_invalid":
            position = e.get("loc", ("body", "?"))[-1]
            errors.append({"field": "body", "message": f"not valid JSON (at character {position})"})
        else:
            errors.append({"field": _field(e.get("loc", ())), "message": str(e.get("msg"))})
    names = ", ".join(dict.fromkeys(e["field"] for e in errors)) or "request"
    return problem(
        request,
        422,
        "Invalid input",
        f"the request is not valid: {names}",
        "HW-2003",
        hint="Correct the fields listed in 'errors' and send again.",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "HW-2001", 405: "HW-2005", 413: "HW-2004"}
    return problem(
        request,
        exc.status_code,
        str(exc.detail) if exc.status_code != 404 else "Not found",
        str(exc.detail),
        codes.get(exc.status_code, f"HW-HTTP-{exc.status_code}"),
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in request %s %s", request_id_of(request), request.url.path)
    return problem(
        request,
        500,
        "Internal error",
        "the server failed to handle the request; the log has the details under this request id",
        "HW-0000",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(HostwatchError, _hostwatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
