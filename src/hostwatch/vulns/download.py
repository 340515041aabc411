"""HTTP downloads of feed files: conditional, size-capped, redirects kept on one host.

A feed location is trusted for what it serves, not for where it sends us: a redirect to
another scheme, host or port is refused (a feed mirror that moved is a setting to change,
and a hijacked one must not hand us a file from elsewhere). Bodies are streamed to a file
or memory and cut off past the cap, whatever Content-Length claims.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

MAX_REDIRECTS = 5
USER_AGENT = "hostwatch-feeds/1 (+https://github.com/hostwatch)"


class FetchError(Exception):
    """A download that failed; the message names the URL (without secrets) and why."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Fetched:
    # 200, or 304 when the validators sent still hold.
    status: int
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0
    body: bytes | None = None


def shown(url: str) -> str:
    """The URL as reports show it: no user name or password, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def fetch(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    into: Path | None = None,
) -> Fetched:
    """GET `url`; the body goes to `into` if given, else into `Fetched.body`."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with client.stream("GET", current, headers=headers or {}) as response:
                if response.has_redirect_location:
                    target = urljoin(current, response.headers.get("location", ""))
                    if _origin(target) != _origin(current):
                        # The query of a redirect may hold a signed token: leave it out.
                        where = urlunsplit((*urlsplit(shown(target))[:3], "", ""))
                        raise FetchError(
                            f"{shown(url)}: redirected to another host ({where}); not followed"
                        )
                    current = target
                    continue
                if response.status_code == 304:
                    return Fetched(304)
                if response.status_code != 200:
                    retry = response.headers.get("retry-after", "")
                    raise FetchError(
                        f"{shown(current)}: HTTP {response.status_code} "
                        f"{response.reason_phrase}".rstrip(),
                        status=response.status_code,
                        retry_after=float(retry) if retry.isdigit() else None,
                    )
                size, body = _receive(response, current, max_bytes, into)
                return Fetched(
                    200,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    size=size,
                    body=body,
                )
        except httpx.HTTPError as exc:
            raise FetchError(f"{shown(current)}: {_reason(exc)}") from exc
    raise FetchError(f"{shown(url)}: more than {MAX_REDIRECTS} redirects")


def _receive(
    response: httpx.Response, url: str, max_bytes: int, into: Path | None
) -> tuple[int, bytes | None]:
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{shown(url)}: the body ({int(length)} bytes) is over {max_bytes} bytes")
    sink: BinaryIO = open(into, "wb") if into is not None else io.BytesIO()  # noqa: SIM115
    size = 0
    try:
        # Decoded bytes (after any Content-Encoding) count against the cap.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"{shown(url)}: the body is over {max_bytes} bytes; cut off")
            sink.write(chunk)
        return size, sink.getvalue() if isinstance(sink, io.BytesIO) else None
    finally:
        sink.close()


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the download broke off (the server closed the connection early)"
    return type(exc).__name__
