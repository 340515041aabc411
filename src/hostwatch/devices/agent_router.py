"""The agent protocol's routes. An agent's credential names its device; no route takes a
device id, so an agent can read and write only its own device."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from hostwatch import protocol
from hostwatch.api.deps import (
    AgentToken,
    AppSettings,
    Db,
    client_address,
    db_slot,
    record_failure,
    unit_of_work,
)
from hostwatch.auth import audit
from hostwatch.db.base import utcnow
from hostwatch.detection.service import Windows
from hostwatch.devices import enrollment, inventory
from hostwatch.devices.models import AgentCredential
from hostwatch.errors import HostwatchError
from hostwatch.response import service as actions

log = logging.getLogger(__name__)

router = APIRouter(tags=["agent"])

T = TypeVar("T")


async def _as_agent(
    request: Request, token: str, work: Callable[[Session, AgentCredential], T]
) -> T:
    """Authenticate the agent and do its work in one transaction, in one worker thread.

    These routes carry every agent's traffic, so they skip the per-dependency thread hops
    of the user routes.
    """

    def run() -> T:
        with unit_of_work(request.app.state, write=True) as session:
            return work(session, enrollment.authenticate_agent(session, token))

    async with db_slot(request.app.state, write=True):
        return await run_in_threadpool(run)


@router.post(protocol.ENROLL_PATH, response_model=protocol.EnrollResponse)
def enroll(
    body: protocol.EnrollRequest, request: Request, db: Db, settings: AppSettings
) -> protocol.EnrollResponse:
    address = client_address(request)
    try:
        device, credential = enrollment.enroll(db, body)
    except HostwatchError as exc:
        record_failure(
            request,
            db,
            actor=body.host.hostname,
            action="agent.enroll",
            detail={"reason": exc.detail},
        )
        raise
    audit.record(
        db,
        actor=device.hostname,
        actor_kind="device",
        action="agent.enroll",
        target=device.id,
        address=address,
        request_id=request.state.request_id,
    )
    log.info("device %s (%s) enrolled from %s", device.id, device.hostname, address)
    return protocol.EnrollResponse(
        device_id=device.id, credential=credential, heartbeat_interval=settings.heartbeat_interval
    )


@router.post(protocol.HEARTBEAT_PATH, response_model=protocol.HeartbeatResponse)
async def heartbeat(
    body: protocol.HeartbeatRequest, request: Request, token: AgentToken, settings: AppSettings
) -> protocol.HeartbeatResponse:
    return await _as_agent(
        request, token, lambda db, agent: inventory.heartbeat(db, agent, body, settings)
    )


@router.put(protocol.INVENTORY_PATH, response_model=protocol.InventoryResult)
async def upload_inventory(
    body: protocol.InventoryUpload, request: Request, token: AgentToken
) -> protocol.InventoryResult:
    return await _as_agent(
        request, token, lambda db, agent: inventory.replace_inventory(db, agent, body)
    )


@router.post(protocol.EVENTS_PATH, response_model=protocol.EventBatchResult)
async def upload_events(
    body: protocol.EventBatch, request: Request, token: AgentToken, settings: AppSettings
) -> protocol.EventBatchResult:
    store = request.app.state.event_store
    windows = Windows.from_settings(settings)
    return await _as_agent(
        request, token, lambda db, agent: inventory.store_events(db, store, agent, body, windows)
    )


@router.post(protocol.ACTION_REPORT_PATH, response_model=protocol.ActionReportResult)
async def report_action(
    action_id: Annotated[str, Path(max_length=36)],
    body: protocol.ActionReport,
    request: Request,
    token: AgentToken,
) -> protocol.ActionReportResult:
    address = client_address(request)
    request_id = request.state.request_id
    return await _as_agent(
        request,
        token,
        lambda db, agent: actions.report(
            db, agent, action_id, body, now=utcnow(), address=address, request_id=request_id
        ),
    )
