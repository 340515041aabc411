"""An osquery host's results applied to its device, in time order (rules: see osquery.py).

Each table's items are read once, replayed through the results in memory, and written as
the difference: so a result that changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from hostwatch.devices import registry
from hostwatch.devices.models import Device, Hotfix, Software
from hostwatch.ingest import osquery_tables as tables
from hostwatch.ingest.evtx import Problem
from hostwatch.ingest.osquery_log import Result
from hostwatch.ingest.osquery_summary import OsquerySummary
from hostwatch.vulns import findings
from hostwatch.vulns.packages import DeviceRelease

_SOFTWARE = cast(Table, Software.__table__)
_HOTFIXES = cast(Table, Hotfix.__table__)
_DETAILS = ("vendor", "source_package", "install_path", "status", "product_code")
MAX_LOGGED_ON_USERS = 50


@dataclass
class _Item:
    """An item as stored, or as the results leave it: its details and seen times."""

    row_id: int | None
    details: tuple[Any, ...]
    first_seen: datetime
    last_seen: datetime


@dataclass
class Applied:
    software_added: int = 0
    software_removed: int = 0
    software_changed: int = 0
    hotfixes_added: int = 0
    hotfixes_removed: int = 0
    changed: bool = False
    # The OS facts changed: packages match by the device's release, so findings may too.
    os_changed: bool = False


def apply(
    session: Session,
    device: Device,
    results: list[Result],
    summary: OsquerySummary,
    applied: Applied,
) -> int:
    """Applies a host's results (in time order) to its device; returns how many applied."""
    software: dict[str, list[Result]] = {}
    hotfixes: list[Result] = []
    users: list[Result] = []
    stored = 0
    for result in results:
        if result.table == "os_version":
            stored += _apply_os(device, result, summary, applied)
        elif result.table == "patches":
            hotfixes.append(result)
        elif result.table == "logged_in_users":
            users.append(result)
        else:
            software.setdefault(tables.SOFTWARE_SOURCES[result.table], []).append(result)
    first = min(r.time for r in results)
    last = max(r.time for r in results)
    if device.first_seen is None or first < device.first_seen:
        device.first_seen = first
        applied.changed = True
    if device.last_seen is None or last > device.last_seen:
        device.last_seen = last
        applied.changed = True
    release = DeviceRelease(device.os_family, device.os_name, device.os_version)
    for source, source_results in software.items():
        stored += _apply_software(
            session, device.id, source, source_results, release, summary, applied
        )
    if software:
        # The profile's overview reads the inventory's time from here, as for the agent's.
        collected = max(r.time for results_of in software.values() for r in results_of)
        if device.inventory_collected_at is None or collected > device.inventory_collected_at:
            device.inventory_collected_at = collected
            applied.changed = True
    if hotfixes:
        stored += _apply_hotfixes(session, device.id, hotfixes, summary, applied)
    if users:
        stored += _apply_users(device, users, summary, applied)
    # The OS family tag follows os_version.
    registry.sync_system_tags(session, device)
    session.flush()
    if (
        applied.software_added
        or applied.software_removed
        or applied.software_changed
        or applied.os_changed
        # Installed updates decide which Windows updates are missing (windows_findings.py).
        or applied.hotfixes_added
        or applied.hotfixes_removed
    ):
        findings.refresh_device(session, device.id)
    return stored


# Limitation: OS facts and logged-on users follow the newest result of this import; a log
# older than one imported before sets them back to its older state.
def _apply_os(device: Device, result: Result, summary: OsquerySummary, applied: Applied) -> int:
    rows = result.added
    if not rows:
        return 1  # a removed row alone says nothing of the OS now
    try:
        facts = tables.os_facts(rows[-1])
    except tables.BadRow as exc:
        _bad_row(summary, result, exc)
        return 0
    values = {
        "os_family": facts.family,
        "os_name": facts.name,
        "os_version": facts.version,
        "os_build": facts.build,
        "os_release": facts.release,
        "os_edition": facts.edition,
        "os_arch": facts.arch,
    }
    for column, value in values.items():
        if getattr(device, column) != value:
            setattr(device, column, value)
            applied.changed = applied.os_changed = True
    return 1


def _bad_row(summary: OsquerySummary, result: Result, exc: Exception) -> None:
    file = summary.files[result.file]
    file.bad_rows += 1
    file.problems.append(
        Problem(
            file.name, f"a row of query {result.query!r} was skipped: {exc}", record=result.line
        )
    )


def _rows(
    result: Result,
    rows: list[dict[str, str]],
    make: Callable[[dict[str, str]], Any],
    summary: OsquerySummary,
) -> list[Any]:
    made = []
    for row in rows:
        try:
            made.append(make(row))
        except tables.BadRow as exc:
            _bad_row(summary, result, exc)
    return made


# Limitation: the agent's inventory snapshot (devices/inventory.py) replaces all of a device's
# software, so on a device with both an agent and osquery, the agent's next snapshot removes
# what only osquery reported (until osquery reports it again).
def _apply_software(
    session: Session,
    device_id: str,
    source: str,
    results: list[Result],
    release: DeviceRelease,
    summary: OsquerySummary,
    applied: Applied,
) -> int:
    c = _SOFTWARE.c
    connection = session.connection()
    stored: dict[tuple[str, ...], _Item] = {
        (row.source, row.name, row.version, row.arch): _Item(
            row.id, tuple(row._mapping[d] for d in _DETAILS), row.first_seen, row.last_seen
        )
        for row in connection.execute(
            select(
                c.id,
                c.source,
                c.name,
                c.version,
                c.arch,
                *(c[d] for d in _DETAILS),
                c.first_seen,
                c.last_seen,
            ).where(c.device_id == device_id, c.source == source)
        )
    }

    def make(row: dict[str, str]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        item = tables.software(results[0].table, row)
        return item.key, (*item.details, tables.product_code(item, release))

    state = _replay(results, stored, make, summary)
    added, removed, changed = _diff(stored, state)
    for ids in _chunks([stored[k].row_id for k in removed], 1000):
        connection.execute(delete(_SOFTWARE).where(c.id.in_(ids)))
    if changed:
        connection.execute(
            update(_SOFTWARE).where(c.id == bindparam("row_id")),
            [_values(state[k], row_id=stored[k].row_id) for k in changed],
        )
    if added:
        connection.execute(
            insert(_SOFTWARE),
            [
                {
                    "device_id": device_id,
                    "source": k[0],
                    "name": k[1],
                    "version": k[2],
                    "arch": k[3],
                    **_values(state[k]),
                }
                for k in added
            ],
        )
    applied.software_added += len(added)
    applied.software_removed += len(removed)
    applied.software_changed += len(changed)
    applied.changed |= bool(added or removed or changed)
    return len(results)


def _apply_hotfixes(
    session: Session,
    device_id: str,
    results: list[Result],
    summary: OsquerySummary,
    applied: Applied,
) -> int:
    c = _HOTFIXES.c
    connection = session.connection()
    stored: dict[tuple[str, ...], _Item] = {
        (row.hotfix_id,): _Item(
            row.id, (row.description, row.installed_on), row.first_seen, row.last_seen
        )
        for row in connection.execute(
            select(
                c.id, c.hotfix_id, c.description, c.installed_on, c.first_seen, c.last_seen
            ).where(c.device_id == device_id)
        )
    }

    def make(row: dict[str, str]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        found = tables.hotfix(row)
        return (found.hotfix_id,), (found.description, found.installed_on)

    state = _replay(results, stored, make, summary)
    added, removed, changed = _diff(stored, state)

    def values(item: _Item) -> dict[str, Any]:
        description, installed_on = item.details
        return {
            "description": description,
            "installed_on": installed_on,
            "first_seen": item.first_seen,
            "last_seen": item.last_seen,
        }

    for ids in _chunks([stored[k].row_id for k in removed], 1000):
        connection.execute(delete(_HOTFIXES).where(c.id.in_(ids)))
    if changed:
        connection.execute(
            update(_HOTFIXES).where(c.id == bindparam("row_id")),
            [{"row_id": stored[k].row_id, **values(state[k])} for k in changed],
        )
    if added:
        connection.execute(
            insert(_HOTFIXES),
            [
                {"device_id": device_id, "hotfix_id": k[0], "source": "osquery", **values(state[k])}
                for k in added
            ],
        )
    applied.hotfixes_added += len(added)
    applied.hotfixes_removed += len(removed)
    applied.changed |= bool(added or removed or changed)
    return len(results)


def _replay(
    results: list[Result],
    stored: dict[tuple[str, ...], _Item],
    make: Callable[[dict[str, str]], tuple[tuple[str, ...], tuple[Any, ...]]],
    summary: OsquerySummary,
) -> dict[tuple[str, ...], _Item]:
    """The items as the results, in time order, leave them (see the module's rules)."""
    # Limitation: nothing remembers what was removed, so an item a differential result removed
    # comes back if an older log that added it is imported afterwards.
    state = {
        key: _Item(item.row_id, item.details, item.first_seen, item.last_seen)
        for key, item in stored.items()
    }
    for result in results:
        at = result.time
        added = dict(_rows(result, result.added, make, summary))
        removed = dict(_rows(result, result.removed, make, summary))
        if result.snapshot:
            for key in [k for k, item in state.items() if k not in added and item.last_seen <= at]:
                del state[key]
        for key in removed:
            item = state.get(key)
            if item is not None and item.last_seen <= at and key not in added:
                del state[key]
        for key, details in added.items():
            item = state.get(key)
            if item is None:
                state[key] = _Item(None, details, at, at)
                continue
            if at >= item.last_seen:
                item.details = details
                item.last_seen = at
            item.first_seen = min(item.first_seen, at)
    return state


def _diff(
    stored: dict[tuple[str, ...], _Item], state: dict[tuple[str, ...], _Item]
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], list[tuple[str, ...]]]:
    added = [key for key in state if key not in stored]
    removed = [key for key in stored if key not in state]
    changed = [
        key
        for key, item in state.items()
        if key in stored
        and (item.details, item.first_seen, item.last_seen)
        != (stored[key].details, stored[key].first_seen, stored[key].last_seen)
    ]
    return added, removed, changed


def _values(item: _Item, **extra: Any) -> dict[str, Any]:
    return {
        **dict(zip(_DETAILS, item.details, strict=True)),
        "first_seen": item.first_seen,
        "last_seen": item.last_seen,
        **extra,
    }


def _chunks(values: list[Any], size: int) -> list[list[Any]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def _apply_users(
    device: Device, results: list[Result], summary: OsquerySummary, applied: Applied
) -> int:
    """osquery's entries of the device's logged-on users: the newest snapshot, then changes.
    Entries from the agent and from event logs are kept as they are."""
    ours: dict[tuple[Any, ...], dict[str, Any]] = {}
    current = list(device.logged_on_users or [])
    for entry in current:
        if entry.get("source") == "osquery":
            ours[_user_key(entry)] = entry
    for result in results:
        added = [e for e in _rows(result, result.added, tables.logon, summary) if e is not None]
        removed = [e for e in _rows(result, result.removed, tables.logon, summary) if e is not None]
        if result.snapshot:
            ours = {}
        for entry in removed:
            ours.pop(_user_key(entry), None)
        for entry in added:
            ours[_user_key(entry)] = entry
    others = [entry for entry in current if entry.get("source") != "osquery"]
    latest = sorted(ours.values(), key=lambda e: str(e.get("started") or ""), reverse=True)
    users = others + latest[:MAX_LOGGED_ON_USERS]
    if users != current:
        device.logged_on_users = users
        applied.changed = True
    return len(results)


def _user_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (str(entry.get("name", "")).lower(), entry.get("terminal"), entry.get("host"))
