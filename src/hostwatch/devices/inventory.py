"""Agent uploads: heartbeats, inventory snapshots and event batches."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from hostwatch import protocol
from hostwatch.config import Settings
from hostwatch.db.base import utcnow
from hostwatch.detection import blocked
from hostwatch.detection.service import Windows, detect_new
from hostwatch.devices import registry
from hostwatch.devices.models import AgentCredential, Device, Software
from hostwatch.events.store import EventStore
from hostwatch.response import service as actions
from hostwatch.vulns import findings

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    device_id = credential.device_id
    values: dict[str, Any] = {"last_seen": now}
    if request.containment is not None:
        values["containment"] = request.containment.model_dump(mode="json")
    collected = session.scalar(
        update(Device)
        .where(Device.id == device_id)
        .values(**values)
        .returning(Device.inventory_collected_at)
    )
    if request.containment is not None:
        registry.sync_containment_tags(session, device_id, request.containment)
    due = collected is None or now - collected > timedelta(
        seconds=settings.inventory_interval_seconds
    )
    return protocol.HeartbeatResponse(
        server_time=now,
        heartbeat_interval=settings.heartbeat_interval,
        inventory_due=due,
        # Handed out once: they are marked delivered in this transaction.
        actions=actions.deliver(session, device_id, now),
    )


# A software item's identity: the unique key of its row. Unknown version and arch are stored
# as empty strings (see Software), so None and "" name the same item.
SoftwareKey = tuple[str, str, str, str]
# What an upload may change about an item it names: vendor, source package, path, status.
SoftwareDetails = tuple[str | None, str | None, str | None, str | None]

_SOFTWARE = cast(Table, Software.__table__)
_DETAIL_COLUMNS = ("vendor", "source_package", "install_path", "status")
# Rows per executemany call: bounds the memory of one batch, whatever the driver does.
_ROWS_PER_BATCH = 5_000


def _software_key(item: protocol.SoftwareItem) -> SoftwareKey:
    return (item.source, item.name, item.version or "", item.arch or "")


def _chunks(values: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def replace_inventory(
    session: Session, credential: AgentCredential, upload: protocol.InventoryUpload
) -> protocol.InventoryResult:
    """Replace the device's inventory with the snapshot, in the caller's transaction.

    Every item in the snapshot has last-seen set to now; items seen before keep their
    first-seen time, new ones start at now; items gone from the snapshot are removed. An
    item listed twice in one snapshot counts once, with the details of its first listing.

    The software rows are diffed against the snapshot and written with a few set-based
    statements (Core, not ORM objects): a snapshot of 50,000 items is one round of reads
    and a handful of bulk writes.
    """
    now = utcnow()
    device_id = credential.device_id
    # Two uploads of one device at once would diff against the same rows and then collide
    # on the unique key. Lock the device row first (PostgreSQL; SQLite has one writer).
    session.execute(select(Device.id).where(Device.id == device_id).with_for_update())
    device: Device = credential.device
    release = findings.device_release(device)
    registry.apply_host_facts(device, upload.host)
    registry.sync_system_tags(session, device)
    device.logged_on_users = [u.model_dump(mode="json") for u in upload.logged_on_users]
    device.inventory_collected_at = upload.collected_at
    device.last_seen = now

    incoming: dict[SoftwareKey, SoftwareDetails] = {}
    for item in upload.software:
        key = _software_key(item)
        if key not in incoming:
            incoming[key] = (item.vendor, item.source_package, item.install_path, item.status)

    software = _SOFTWARE
    c = software.c
    connection = session.connection()
    existing: dict[SoftwareKey, tuple[int, SoftwareDetails]] = {
        (source, name, version, arch): (row_id, (vendor, source_package, install_path, status))
        for (
            row_id,
            source,
            name,
            version,
            arch,
            vendor,
            source_package,
            install_path,
            status,
        ) in connection.execute(
            select(
                c.id,
                c.source,
                c.name,
                c.version,
                c.arch,
                *(c[name] for name in _DETAIL_COLUMNS),
            ).where(c.device_id == device_id)
        ).all()
    }

    gone = [row_id for key, (row_id, _) in existing.items() if key not in incoming]
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, details in incoming.items():
        found = existing.get(key)
        if found is None:
            added.append(
                {
                    "device_id": device_id,
                    "source": key[0],
                    "name": key[1],
                    "version": key[2],
                    "arch": key[3],
                    **dict(zip(_DETAIL_COLUMNS, details, strict=True)),
                }
            )
        elif found[1] != details:
            changed.append({"row_id": found[0], **dict(zip(_DETAIL_COLUMNS, details, strict=True))})

    if gone and len(gone) == len(existing):
        connection.execute(delete(software).where(c.device_id == device_id))
    else:
        # One bind parameter per id: stay under the engine's limit per statement (PostgreSQL
        # 65,535; SQLite 32,766, or 999 before 3.32), which the dialect knows.
        for ids in _chunks(gone, connection.dialect.insertmanyvalues_max_parameters):
            connection.execute(delete(software).where(c.id.in_(ids)))
    if len(existing) > len(gone):
        # Every item kept from the last snapshot was seen now.
        connection.execute(update(software).where(c.device_id == device_id).values(last_seen=now))
    if changed:
        by_id = update(software).where(c.id == bindparam("row_id"))
        for rows in _chunks(changed, _ROWS_PER_BATCH):
            connection.execute(by_id, rows)
    if added:
        add = insert(software).values(first_seen=now, last_seen=now)
        for rows in _chunks(added, _ROWS_PER_BATCH):
            connection.execute(add, rows)

    log.info(
        "inventory of device %s: %d items (%d added, %d removed, %d changed)",
        device_id,
        len(incoming),
        len(added),
        len(gone),
        len(changed),
    )
    if added or gone or changed or release != findings.device_release(device):
        # The device's findings follow its software (and its OS release, which decides the
        # Debian advisories), in this transaction: no finding outlives its package.
        session.flush()
        findings.refresh_device(session, device_id)
    return protocol.InventoryResult(
        software_added=len(added),
        software_removed=len(gone),
        software_unchanged=len(incoming) - len(added),
    )


def store_events(
    session: Session,
    store: EventStore,
    credential: AgentCredential,
    batch: protocol.EventBatch,
    windows: Windows | None = None,
) -> protocol.EventBatchResult:
    """Stores an agent's events and runs the enabled rules over them, in one transaction."""
    device_id = credential.device_id
    rows: list[dict[str, Any]] = []
    for event in batch.events:
        row = event.model_dump(exclude={"key"})
        row["device_id"] = device_id
        row["dedupe_key"] = event.key
        rows.append(row)
    result = store.add_many(session, rows)
    if result.stored:
        detect_new(session, {device_id: rows}, windows=windows)
        blocked.alert_on_blocked(session, device_id, rows, windows)
    session.execute(update(Device).where(Device.id == device_id).values(last_seen=utcnow()))
    return protocol.EventBatchResult(stored=result.stored, duplicates=result.duplicates)
