"""Domain errors. Each has a stable code, an HTTP status and a hint on what to do.

Domain code raises these; `hostwatch.api.problems` is the one place that turns them
into HTTP responses.
"""

from __future__ import annotations

from typing import Any


class HostwatchError(Exception):
    code = "HW-0000"
    status = 500
    title = "Internal error"
    hint: str | None = None

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotAuthenticated(HostwatchError):
    code = "HW-1001"
    status = 401
    title = "Authentication required"
    hint = "Sign in, or send 'Authorization: Bearer <API token>'."


class Forbidden(HostwatchError):
    code = "HW-1002"
    status = 403
    title = "Not allowed"
    hint = "Ask an admin for a role that allows this."


class CsrfFailed(HostwatchError):
    code = "HW-1003"
    status = 403
    title = "CSRF check failed"
    hint = "Send the X-CSRF-Token header with the token returned at sign-in."


class TooManyLogins(HostwatchError):
    code = "HW-1004"
    status = 429
    title = "Too many failed sign-ins"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidCredentials(HostwatchError):
    code = "HW-1005"
    status = 401
    title = "Sign-in failed"
    hint = "Check the user name and password."


class NotFound(HostwatchError):
    code = "HW-2001"
    status = 404
    title = "Not found"


class Conflict(HostwatchError):
    code = "HW-2002"
    status = 409
    title = "Conflict"


class InvalidInput(HostwatchError):
    code = "HW-2003"
    status = 422
    title = "Invalid input"
    hint = "Correct the fields listed in 'errors' and send again."


class PayloadTooLarge(HostwatchError):
    code = "HW-2004"
    status = 413
    title = "Request too large"


class UnsupportedEncoding(HostwatchError):
    code = "HW-2007"
    status = 415
    title = "Unsupported content encoding"
    hint = "Send the body as it is, or compressed with 'Content-Encoding: gzip'."


class RangeTooLong(HostwatchError):
    code = "HW-2006"
    status = 400
    title = "Time range too long"
    hint = "Choose a shorter range with 'from' and 'to'."


class AgentAuthFailed(HostwatchError):
    code = "HW-3001"
    status = 401
    title = "Device credential refused"
    hint = "The agent must enroll again with a new enrollment token."


class EnrollRefused(HostwatchError):
    code = "HW-3002"
    status = 401
    title = "Enrollment token refused"
    hint = "Create a new one with 'hostwatch enroll-token create'."
