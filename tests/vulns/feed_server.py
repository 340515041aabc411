"""A feed server on 127.0.0.1 for `feeds update` tests: files with ETag and Last-Modified,
an NVD CVE API 2.0 endpoint paging real records, and the failures real servers have."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

NVD_PATH = "/nvd/cves/2.0"


@dataclass
class Broken:
    """How a path misbehaves: a status, a redirect, a cut-off or unsized body."""

    status: int = 200
    body: bytes = b""
    location: str | None = None
    # Send no Content-Length and close the connection after the body.
    unsized: bool = False


@dataclass
class FeedServer:
    files: dict[str, bytes] = field(default_factory=dict)
    nvd: list[dict[str, Any]] = field(default_factory=list)
    broken: dict[str, Broken] = field(default_factory=dict)
    # (path with query, request headers) of every request, in order.
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    _modified: dict[str, str] = field(default_factory=dict)
    _stamp: int = 1_700_000_000

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def put(self, path: str, body: bytes) -> None:
        """Serves `body` at `path` from now on, with a new ETag and Last-Modified."""
        self.files[path] = body
        self._stamp += 60
        self._modified[path] = formatdate(self._stamp, usegmt=True)

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha256(self.files[path]).hexdigest()[:20] + '"'

    def answer(self, path: str, query: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        self.requests.append((path + ("?" + query if query else ""), headers))
        if path in self.broken:
            broken = self.broken[path]
            extra = {"Location": broken.location} if broken.location else {}
            return broken.status, extra, broken.body
        if path == NVD_PATH:
            return 200, {"Content-Type": "application/json"}, self._nvd_page(query)
        if path not in self.files:
            return 404, {}, b"not found"
        etag = self.etag(path)
        validators = {"ETag": etag, "Last-Modified": self._modified[path]}
        if headers.get("if-none-match") == etag:
            return 304, validators, b""
        if (
            "if-none-match" not in headers
            and headers.get("if-modified-since") == (self._modified[path])
        ):
            return 304, validators, b""
        return 200, validators, self.files[path]

    def _nvd_page(self, query: str) -> bytes:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        start, size = int(params.get("startIndex", 0)), int(params.get("resultsPerPage", 2000))
        records = self.nvd
        if "lastModStartDate" in params:
            low = datetime.fromisoformat(params["lastModStartDate"])
            high = datetime.fromisoformat(params["lastModEndDate"])
            records = [r for r in records if low <= _modified(r) <= high]
        doc = {
            "resultsPerPage": len(records[start : start + size]),
            "startIndex": start,
            "totalResults": len(records),
            "format": "NVD_CVE",
            "version": "2.0",
            "timestamp": "2026-12-04T00:00:00.000",
            "vulnerabilities": records[start : start + size],
        }
        return json.dumps(doc).encode()


def _modified(record: dict[str, Any]) -> datetime:
    text = record["cve"]["lastModified"]
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else datetime.fromisoformat(text + "+00:00")


def start(server: FeedServer) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, body = server.answer(parts.path, parts.query, headers)
            broken = server.broken.get(parts.path)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            if broken is not None and broken.unsized:
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread
