"""Builds the FastAPI app: the domain routers, the guard middleware and the web pages."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostwatch import __version__
from hostwatch.api import problems
from hostwatch.api.deps import Viewer
from hostwatch.api.middleware import RequestGuard
from hostwatch.auth.router import router as auth_router
from hostwatch.config import Settings
from hostwatch.db.engine import make_engine, make_session_factory, pool_capacity
from hostwatch.detection.router import router as detection_router
from hostwatch.devices.agent_router import router as agent_router
from hostwatch.devices.router import router as devices_router
from hostwatch.errors import NotFound
from hostwatch.events.router import router as events_router
from hostwatch.events.store import SqlEventStore
from hostwatch.response.router import router as response_router
from hostwatch.vulns.recommendation_router import router as recommendations_router
from hostwatch.vulns.router import router as vulns_router
from hostwatch.vulns.updates_router import router as updates_router

log = logging.getLogger(__name__)

WEB_DIST = Path(__file__).resolve().parent.parent / "web_dist"

# Fluent UI writes its styles at run time, hence 'unsafe-inline' for styles only.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/assets/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    h for h in _SECURITY_HEADERS if not (static and h[0] == b"cache-control")
                ]
                if static:
                    # Built assets carry a content hash in their names.
                    headers.append((b"cache-control", b"public, max-age=31536000, immutable"))
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    engine = engine or make_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)

    app = FastAPI(
        title="Hostwatch",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.event_store = SqlEventStore()
    # Requests holding a session never outnumber the pool's connections (see db_slot).
    app.state.db_slots = asyncio.Semaphore(pool_capacity(engine))
    # Only SQLite needs writers queued; PostgreSQL handles concurrent writers itself.
    app.state.write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    problems.install(app)
    app.include_router(auth_router)
    app.include_router(devices_router)
    app.include_router(agent_router)
    app.include_router(events_router)
    app.include_router(detection_router)
    app.include_router(vulns_router)
    app.include_router(recommendations_router)
    app.include_router(updates_router)
    app.include_router(response_router)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(_: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.api_route(
        "/api/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def unknown_api(rest: str, _: Viewer) -> Response:
        # Signed-in callers learn the path is wrong; anonymous ones get 401 first.
        raise NotFound(f"no API endpoint at /api/{rest}")

    _mount_web(app)
    app.add_middleware(RequestGuard, settings=settings, app_state=app.state)
    app.add_middleware(SecurityHeaders)
    return app


def _mount_web(app: FastAPI) -> None:
    index = WEB_DIST / "index.html"
    if (WEB_DIST / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=WEB_DIST / "assets"), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    def page(path: str) -> Any:
        # Files at the top of the build (favicon and the like), else the app's index page,
        # which routes on the client.
        candidate = (WEB_DIST / path).resolve()
        if path and candidate.is_file() and candidate.parent == WEB_DIST:
            return FileResponse(candidate)
        if index.is_file():
            return FileResponse(index)
        return PlainTextResponse(
            "The web app is not built. Run the README's start command, or "
            "'npm ci && npm run build' in web/.",
            status_code=503,
        )
