"""Replacing a device's software inventory: exact rows after a large diff, duplicates within
one snapshot, atomicity, and two uploads of one device at once. Runs on both engines."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from hostwatch import protocol
from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.devices import inventory
from hostwatch.devices.models import AgentCredential, Device, Software
from tests.helpers import Api, enroll

FIRST = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SECOND = datetime(2026, 3, 2, 12, 0, 0, 654321, tzinfo=UTC)
THIRD = datetime(2026, 3, 3, 12, 0, 0, tzinfo=UTC)

Row = tuple[str, str, str, str, str | None, str | None, str | None, str | None]


def _device(engine: Engine, hostname: str = "box") -> str:
    with transaction(make_session_factory(engine)) as session:
        device = Device(hostname=hostname, sources=["agent"])
        session.add(device)
        session.flush()
        session.add(AgentCredential(device_id=device.id, credential_hash=secrets.token_hex(32)))
        return device.id


def _upload(software: list[dict[str, Any]]) -> protocol.InventoryUpload:
    return protocol.InventoryUpload.model_validate(
        {"collected_at": FIRST, "host": {"hostname": "box"}, "software": software}
    )


def _replace(
    engine: Engine,
    device_id: str,
    software: list[dict[str, Any]],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> protocol.InventoryResult:
    monkeypatch.setattr(inventory, "utcnow", lambda: now)
    upload = _upload(software)
    with transaction(make_session_factory(engine)) as session:
        credential = session.get(AgentCredential, device_id)
        assert credential is not None
        return inventory.replace_inventory(session, credential, upload)


def _rows(engine: Engine, device_id: str) -> dict[Row, tuple[datetime, datetime]]:
    """The device's software: each row's identity and details -> (first seen, last seen)."""
    s = Software
    query = select(
        s.source,
        s.name,
        s.version,
        s.arch,
        s.vendor,
        s.source_package,
        s.install_path,
        s.status,
        s.first_seen,
        s.last_seen,
    ).where(s.device_id == device_id)
    with make_session_factory(engine)() as session:
        stored = session.execute(query).all()
    rows = {(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]): (r[8], r[9]) for r in stored}
    assert len(rows) == len(stored)
    return rows


def _item(i: int, **changes: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "source": ("dpkg", "rpm", "pip", "npm")[i % 4],
        "name": f"pkg-{i}",
        # Some items without version or arch: stored as "", still one identity.
        "version": None if i % 97 == 0 else f"{i % 9}.{i % 31}",
        "arch": None if i % 89 == 0 else ("amd64", "arm64", "all")[i % 3],
        "vendor": f"vendor-{i % 11}",
        "source_package": f"src-{i // 3}",
        "install_path": f"/opt/pkg-{i}",
        "status": "installed",
    }
    item.update(changes)
    return item


def _row(item: dict[str, Any]) -> Row:
    return (
        item["source"],
        item["name"],
        item["version"] or "",
        item["arch"] or "",
        item["vendor"],
        item["source_package"],
        item["install_path"],
        item["status"],
    )


def test_replacing_a_50000_item_snapshot_leaves_exactly_the_new_rows(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = _device(engine)
    other = _device(engine, "other")
    other_items = [_item(i) for i in range(0, 600, 3)]  # overlaps the device's identities
    _replace(engine, other, other_items, FIRST, monkeypatch)
    other_before = _rows(engine, other)

    first = [_item(i) for i in range(protocol.MAX_SOFTWARE_ITEMS)]
    result = _replace(engine, device, first, FIRST, monkeypatch)
    assert result == protocol.InventoryResult(
        software_added=50_000, software_removed=0, software_unchanged=0
    )
    assert _rows(engine, device) == {_row(item): (FIRST, FIRST) for item in first}

    # Next snapshot: 1,000 removed, 1,000 with new details (each detail column changes,
    # including to and from null), 1,000 new, the rest (47,000) as they were.
    second: list[dict[str, Any]] = []
    expected: dict[Row, tuple[datetime, datetime]] = {}
    for i in range(protocol.MAX_SOFTWARE_ITEMS):
        if i % 50 == 0:
            continue
        if i % 50 == 1:
            change = ("vendor", "source_package", "install_path", "status")[(i // 50) % 4]
            item = _item(i, **{change: None if i % 3 else f"new-{change}"})
            expected[_row(item)] = (FIRST, SECOND)
        else:
            item = _item(i)
            expected[_row(item)] = (FIRST, SECOND)
        second.append(item)
    for i in range(1_000):
        item = _item(100_000 + i)
        second.append(item)
        expected[_row(item)] = (SECOND, SECOND)
    assert len(second) == len(expected) == 50_000

    result = _replace(engine, device, second, SECOND, monkeypatch)

    assert result == protocol.InventoryResult(
        software_added=1_000, software_removed=1_000, software_unchanged=49_000
    )
    assert _rows(engine, device) == expected
    assert _rows(engine, other) == other_before

    # An empty snapshot removes everything, and only this device's software.
    result = _replace(engine, device, [], THIRD, monkeypatch)
    assert result == protocol.InventoryResult(
        software_added=0, software_removed=50_000, software_unchanged=0
    )
    assert _rows(engine, device) == {}
    assert _rows(engine, other) == other_before


def test_an_item_listed_twice_in_one_snapshot_is_stored_once_with_its_first_listing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = _device(engine)
    curl = {"source": "dpkg", "name": "curl", "version": "8.0", "arch": "amd64"}
    bash = {"source": "dpkg", "name": "bash", "version": None, "arch": None}
    software: list[dict[str, Any]] = [
        {**curl, "vendor": "first", "status": "installed"},
        {**bash, "vendor": "first"},
        {**curl, "vendor": "second", "status": "half-installed"},
        {**bash, "version": "", "arch": "", "vendor": "second"},  # same identity as None
        {**curl, "source": "rpm"},  # another source: another item
        {**curl, "vendor": "third"},
    ]

    result = _replace(engine, device, software, FIRST, monkeypatch)

    assert result == protocol.InventoryResult(
        software_added=3, software_removed=0, software_unchanged=0
    )
    assert _rows(engine, device) == {
        ("dpkg", "curl", "8.0", "amd64", "first", None, None, "installed"): (FIRST, FIRST),
        ("dpkg", "bash", "", "", "first", None, None, None): (FIRST, FIRST),
        ("rpm", "curl", "8.0", "amd64", None, None, None, None): (FIRST, FIRST),
    }

    # Again, with the duplicates in another order: the first listing wins again.
    result = _replace(engine, device, software[::-1], SECOND, monkeypatch)

    assert result == protocol.InventoryResult(
        software_added=0, software_removed=0, software_unchanged=3
    )
    assert _rows(engine, device) == {
        ("dpkg", "curl", "8.0", "amd64", "third", None, None, None): (FIRST, SECOND),
        ("dpkg", "bash", "", "", "second", None, None, None): (FIRST, SECOND),
        ("rpm", "curl", "8.0", "amd64", None, None, None, None): (FIRST, SECOND),
    }


def test_duplicate_items_through_the_agent_route(api: Api) -> None:
    device, agent = enroll(api, "box")
    item = {"source": "pip", "name": "requests", "version": "2.32.3"}
    body = {
        "collected_at": FIRST.isoformat(),
        "host": {"hostname": "box"},
        "software": [item, item, {**item, "status": "broken"}],
    }

    for _ in range(2):
        response = api.client.put("/api/agent/inventory", headers=agent, json=body)
        assert response.status_code == 200, response.text

    assert response.json() == {"software_added": 0, "software_removed": 0, "software_unchanged": 1}
    with api.sessions()() as session:
        rows = session.scalars(select(Software).where(Software.device_id == device)).all()
    assert [(s.name, s.version, s.status) for s in rows] == [("requests", "2.32.3", None)]


def test_a_failed_replacement_leaves_the_previous_snapshot(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = _device(engine)
    _replace(engine, device, [_item(i) for i in range(2_000)], FIRST, monkeypatch)
    before = _rows(engine, device)
    changed = [_item(i, status="changed") for i in range(1_000, 2_500)]
    monkeypatch.setattr(inventory, "utcnow", lambda: SECOND)

    with (
        pytest.raises(RuntimeError, match="later in the same transaction"),
        transaction(make_session_factory(engine)) as session,
    ):
        credential = session.get(AgentCredential, device)
        assert credential is not None
        inventory.replace_inventory(session, credential, _upload(changed))
        raise RuntimeError("later in the same transaction")

    assert _rows(engine, device) == before


def test_two_uploads_of_one_device_at_once_both_apply_in_turn(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = _device(engine)
    # The device's facts already match the uploads', so that nothing about the device
    # itself is written (and row-locked) before the software is diffed.
    _replace(engine, device, [], FIRST, monkeypatch)
    factory = make_session_factory(engine)
    first_done = threading.Event()
    errors: list[BaseException] = []

    def second_upload() -> None:
        try:
            first_done.wait(10)
            with transaction(factory) as session:
                credential = session.get(AgentCredential, device)
                assert credential is not None
                inventory.replace_inventory(
                    session, credential, _upload([_item(i) for i in range(500, 1_500)])
                )
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    # The first upload holds its transaction open while the second one starts: the second
    # must wait for it and then diff against its rows, not collide with them.
    thread = threading.Thread(target=second_upload)
    thread.start()
    try:
        with transaction(factory) as session:
            credential = session.get(AgentCredential, device)
            assert credential is not None
            inventory.replace_inventory(
                session, credential, _upload([_item(i) for i in range(1_000)])
            )
            first_done.set()
            time.sleep(0.5)
    finally:
        first_done.set()
        thread.join(30)

    assert not thread.is_alive()
    assert errors == []
    assert set(_rows(engine, device)) == {_row(_item(i)) for i in range(500, 1_500)}
