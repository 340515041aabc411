"""A small real HTTP server on 127.0.0.1 that speaks the agent protocol, with failure switches."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from hostwatch import protocol


class ProtocolServer:
    """Answers the four agent calls like the real server would, and records what it got."""

    credential = "hwd_testdevice_s3cr3t-credential-value"
    enroll_token = "hwe_t0ken-for-tests-only"
    device_id = "dev-0001"

    def __init__(self, port: int = 0) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        # Body sizes as they crossed the wire, before any gzip was undone.
        self.wire_sizes: list[int] = []
        self.enrolls = 0
        self.heartbeats: list[dict[str, Any]] = []
        self.inventories: list[dict[str, Any]] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.inventory_due = True
        self.heartbeat_interval = 1
        # Switches a test flips: answer everything with this status, refuse events whose
        # command line holds this marker, or answer with a fixed (status, body).
        self.fail_status: int | None = None
        self.refuse_marker: str | None = None
        self.fixed: tuple[int, Any] | None = None
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address, also while stopped: a restart comes back on the same port."""
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> ProtocolServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner._handle(self)

            def do_PUT(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def event_keys_with(self, marker: str) -> list[str]:
        with self.lock:
            return [
                key
                for key, event in self.events.items()
                if marker in (event.get("process_command_line") or "")
            ]

    # Request handling

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        self.wire_sizes.append(len(body))
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)  # as the real server's request guard does
        with self.lock:
            self.requests.append((request.command, request.path, dict(request.headers), body))
        status, answer = self._answer(request.command, request.path, request.headers, body)
        payload = json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        if self.fixed is not None:
            return self.fixed
        if self.fail_status is not None:
            return self.fail_status, {"title": "failure", "detail": "switched on by the test"}
        if path == protocol.ENROLL_PATH:
            return self._enroll(body)
        if headers.get("Authorization") != f"Bearer {self.credential}":
            return 401, {"title": "Device credential refused", "detail": "unknown credential"}
        if path == protocol.HEARTBEAT_PATH:
            with self.lock:
                self.heartbeats.append(json.loads(body))
            return 200, {
                "server_time": datetime.now(UTC).isoformat(),
                "heartbeat_interval": self.heartbeat_interval,
                "inventory_due": self.inventory_due,
                "actions": [],
            }
        if path == protocol.INVENTORY_PATH and method == "PUT":
            upload = protocol.InventoryUpload.model_validate_json(body)
            with self.lock:
                self.inventories.append(upload.model_dump(mode="json"))
                self.inventory_due = False
            return 200, {
                "software_added": len(upload.software),
                "software_removed": 0,
                "software_unchanged": 0,
            }
        if path == protocol.EVENTS_PATH:
            return self._events(body)
        return 404, {"title": "Not found", "detail": path}

    def _enroll(self, body: bytes) -> tuple[int, Any]:
        request = protocol.EnrollRequest.model_validate_json(body)
        if request.enroll_token != self.enroll_token:
            return 401, {"title": "Enrollment token refused", "detail": "unknown token"}
        with self.lock:
            self.enrolls += 1
        return 200, {
            "device_id": self.device_id,
            "credential": self.credential,
            "heartbeat_interval": self.heartbeat_interval,
        }

    def _events(self, body: bytes) -> tuple[int, Any]:
        try:
            batch = protocol.EventBatch.model_validate_json(body)
        except ValidationError as exc:
            return 422, {"title": "Invalid input", "detail": f"{exc.error_count()} errors"}
        marker = self.refuse_marker
        if marker and any(marker in (e.process_command_line or "") for e in batch.events):
            return 422, {"title": "Invalid input", "detail": "event refused by test marker"}
        stored = duplicates = 0
        with self.lock:
            for event in batch.events:
                if event.key in self.events:
                    duplicates += 1
                else:
                    stored += 1
                    self.events[event.key] = event.model_dump(mode="json")
        return 200, {"stored": stored, "duplicates": duplicates}


@pytest.fixture
def protocol_server() -> Iterator[ProtocolServer]:
    server = ProtocolServer().start()
    yield server
    server.stop()
