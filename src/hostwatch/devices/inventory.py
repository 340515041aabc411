"""Agent uploads: heartbeats, inventory snapshots and event batches."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hostwatch import protocol
from hostwatch.config import Settings
from hostwatch.db.base import utcnow
from hostwatch.devices import registry
from hostwatch.devices.models import AgentCredential, Device, Software
from hostwatch.events.store import EventStore

log = logging.getLogger(__name__)


def heartbeat(
    session: Session,
    credential: AgentCredential,
    request: protocol.HeartbeatRequest,
    settings: Settings,
) -> protocol.HeartbeatResponse:
    # The hottest write path: plain UPDATEs, without loading the device.
    now = utcnow()
    session.execute(
        update(AgentCredential)
        .where(AgentCredential.device_id == credential.device_id)
        .values(
            last_heartbeat=now, version=request.agent_version, status=request.status.model_dump()
        )
    )
    collected = session.scalar(
        update(Device)
        .where(Device.id == credential.device_id)
        .values(last_seen=now)
        .returning(Device.inventory_collected_at)
    )
    due = collected is None or now - collected > timedelta(
        seconds=settings.inventory_interval_seconds
    )
    return protocol.HeartbeatResponse(
        server_time=now,
        heartbeat_interval=settings.heartbeat_interval,
        inventory_due=due,
        # Limitation: no action types exist yet, so no work is ever pending; response
        # actions (issue 9) fill this list from the action queue.
        actions=[],
    )


def _software_key(source: str, name: str, version: str, arch: str) -> tuple[str, str, str, str]:
    return (source, name, version, arch)


def replace_inventory(
    session: Session, credential: AgentCredential, upload: protocol.InventoryUpload
) -> protocol.InventoryResult:
    """Replace the device's inventory with the snapshot, in the caller's transaction.

    Items seen before keep their first-seen time; items gone from the snapshot are removed.
    """
    now = utcnow()
    device: Device = credential.device
    registry.apply_host_facts(device, upload.host)
    registry.sync_system_tags(session, device)
    device.logged_on_users = [u.model_dump(mode="json") for u in upload.logged_on_users]
    device.inventory_collected_at = upload.collected_at
    device.last_seen = now

    incoming: dict[tuple[str, str, str, str], protocol.SoftwareItem] = {}
    for item in upload.software:
        key = _software_key(item.source, item.name, item.version or "", item.arch or "")
        incoming.setdefault(key, item)

    existing = {
        _software_key(s.source, s.name, s.version, s.arch): s
        for s in session.scalars(select(Software).where(Software.device_id == device.id))
    }
    gone = [s.id for key, s in existing.items() if key not in incoming]
    for start in range(0, len(gone), 500):
        session.execute(delete(Software).where(Software.id.in_(gone[start : start + 500])))

    added = 0
    for key, item in incoming.items():
        row = existing.get(key)
        if row is None:
            session.add(
                Software(
                    device_id=device.id,
                    source=item.source,
                    name=item.name,
                    version=key[2],
                    arch=key[3],
                    vendor=item.vendor,
                    source_package=item.source_package,
                    install_path=item.install_path,
                    status=item.status,
                    first_seen=now,
                    last_seen=now,
                )
            )
            added += 1
        else:
            row.vendor = item.vendor
            row.source_package = item.source_package
            row.install_path = item.install_path
            row.status = item.status
            row.last_seen = now
    log.info(
        "inventory of device %s: %d items (%d added, %d removed)",
        device.id,
        len(incoming),
        added,
        len(gone),
    )
    return protocol.InventoryResult(
        software_added=added,
        software_removed=len(gone),
        software_unchanged=len(incoming) - added,
    )


def store_events(
    session: Session,
    store: EventStore,
    credential: AgentCredential,
    batch: protocol.EventBatch,
) -> protocol.EventBatchResult:
    device_id = credential.device_id
    rows: list[dict[str, Any]] = []
    for event in batch.events:
        row = event.model_dump(exclude={"key"})
        row["device_id"] = device_id
        row["dedupe_key"] = event.key
        rows.append(row)
    result = store.add_many(session, rows)
    session.execute(update(Device).where(Device.id == device_id).values(last_seen=utcnow()))
    return protocol.EventBatchResult(stored=result.stored, duplicates=result.duplicates)
