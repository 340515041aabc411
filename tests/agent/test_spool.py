"""The SQLite spool: order, acknowledgement, inventory replacement and the size cap."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hostwatch import protocol
from hostwatch.agent.spool import Spool, SpoolFull


def _event(n: int, padding: int = 0) -> protocol.AgentEvent:
    return protocol.AgentEvent(
        key=f"key-{n:05d}",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        kind="process",
        process_id=n,
        process_command_line="x" * padding or None,
    )


def _inventory(items: int, version: str = "1.0") -> protocol.InventoryUpload:
    return protocol.InventoryUpload(
        collected_at=datetime.now(UTC),
        host=protocol.HostFacts(hostname="spool-test"),
        software=[
            protocol.SoftwareItem(source="dpkg", name=f"pkg{i}", version=version)
            for i in range(items)
        ],
    )


def test_spool_keeps_order_across_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.add_events([_event(n) for n in range(5)])
    spool.add_events([_event(n) for n in range(5, 8)])
    spool.close()

    reopened = Spool(tmp_path / "spool.db")
    batch = reopened.next_batch()
    reopened.close()

    assert [e.key for e in batch] == [f"key-{n:05d}" for n in range(8)]
    assert protocol.AgentEvent.model_validate_json(batch[3].body) == _event(3)


def test_spool_deletes_only_acknowledged_events(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.add_events([_event(n) for n in range(10)])
    sent = spool.next_batch(limit=4)
    spool.add_events([_event(10)])

    # A crash here (sent, not acknowledged) must leave the batch queued.
    unacked = spool.next_batch(limit=4)
    spool.ack_events([e.id for e in sent])
    left = spool.next_batch()

    assert [e.key for e in unacked] == [e.key for e in sent]
    assert [e.key for e in left] == [f"key-{n:05d}" for n in range(4, 11)]
    assert spool.stats().events == 7


def test_spool_batches_hold_at_most_the_protocol_limit(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.add_events([_event(n) for n in range(protocol.MAX_EVENTS_PER_BATCH + 3)])

    first = spool.next_batch(limit=10**6)
    by_bytes = spool.next_batch(max_bytes=1000)

    assert len(first) == protocol.MAX_EVENTS_PER_BATCH
    assert 1 <= len(by_bytes) < 20
    assert sum(len(e.body) for e in by_bytes) <= 1000


def test_spool_ignores_an_event_whose_key_is_queued(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")

    added = spool.add_events([_event(1), _event(2)])
    again = spool.add_events([_event(2), _event(3)])

    assert (added, again) == (2, 1)
    assert [e.key for e in spool.next_batch()] == ["key-00001", "key-00002", "key-00003"]


def test_spool_newer_inventory_replaces_the_unsent_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put_inventory(_inventory(3, version="1.0"))
    older = spool.pending_inventory()

    spool.put_inventory(_inventory(5, version="2.0"))
    newer = spool.pending_inventory()
    spool.ack_inventory(older.id)  # the ack of a send that raced with the replacement
    still = spool.pending_inventory()

    assert older is not None and newer is not None
    assert newer.item_count == 5
    assert protocol.InventoryUpload.model_validate_json(newer.body).software[0].version == "2.0"
    assert still == newer
    spool.ack_inventory(newer.id)
    assert spool.pending_inventory() is None


def test_spool_full_drops_oldest_events_but_keeps_inventory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=64 * 4096, drop_chunk=25)
    inventory = _inventory(200)
    spool.put_inventory(inventory)
    total = 1500

    with caplog.at_level(logging.WARNING, logger="hostwatch.agent.spool"):
        for n in range(0, total, 5):
            spool.add_events([_event(n + i, padding=300) for i in range(5)])
    stats = spool.stats()
    keys = [e.key for e in spool.next_batch()]

    assert stats.dropped_events > 0
    assert stats.events + stats.dropped_events == total
    assert keys == [f"key-{n:05d}" for n in range(total - stats.events, total)]
    assert stats.bytes <= 64 * 4096
    pending = spool.pending_inventory()
    assert pending is not None
    assert protocol.InventoryUpload.model_validate_json(pending.body) == inventory
    assert any("is full" in r.getMessage() for r in caplog.records)


def test_spool_full_of_inventory_refuses_a_bigger_one_and_keeps_the_old(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=64 * 4096)
    small = _inventory(100)
    spool.put_inventory(small)

    with pytest.raises(SpoolFull, match="database or disk is full"):
        spool.put_inventory(_inventory(5000))

    pending = spool.pending_inventory()
    assert pending is not None
    assert protocol.InventoryUpload.model_validate_json(pending.body) == small


def test_spool_nearly_full_of_inventory_keeps_the_newest_events_that_fit(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=64 * 4096)
    inventory = _inventory(3800)  # leaves room for a few of the events below, not all
    spool.put_inventory(inventory)

    spool.add_events([_event(n, padding=8000) for n in range(10)])
    stats = spool.stats()

    assert stats.dropped_events > 0
    assert stats.events > 0
    assert stats.events + stats.dropped_events == 10
    assert [e.key for e in spool.next_batch()] == [
        f"key-{n:05d}" for n in range(10 - stats.events, 10)
    ]
    pending = spool.pending_inventory()
    assert pending is not None
    assert protocol.InventoryUpload.model_validate_json(pending.body) == inventory


def test_spool_quarantine_takes_events_out_of_the_queue(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.add_events([_event(n) for n in range(3)])
    bad = spool.next_batch()[1]

    moved = spool.quarantine_events([bad.id], "HTTP 422: refused")

    assert moved == 1
    assert [e.key for e in spool.next_batch()] == ["key-00000", "key-00002"]
    assert spool.quarantined() == [("key-00001", "HTTP 422: refused")]
    assert spool.stats().quarantined_events == 1


def test_spool_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    Spool(tmp_path / "spool.db").close()

    mode = stat.S_IMODE((tmp_path / "spool.db").stat().st_mode)

    assert mode == 0o600


_FULL_DISK_SCRIPT = """
import json, os, sys
from datetime import UTC, datetime
from pathlib import Path
from hostwatch import protocol
from hostwatch.agent.spool import Spool

spool = Spool(Path(sys.argv[1]) / "spool.db", drop_chunk=50)  # default cap: 256 MiB
inventory = protocol.InventoryUpload(
    collected_at=datetime(2026, 1, 1, tzinfo=UTC),
    host=protocol.HostFacts(hostname="full-disk"),
    software=[protocol.SoftwareItem(source="dpkg", name=f"p{i}", version="1") for i in range(500)],
)
spool.put_inventory(inventory)
total = 4000
for n in range(total):
    spool.add_events([protocol.AgentEvent(
        key=f"key-{n:05d}", time=datetime(2026, 1, 1, tzinfo=UTC), kind="process",
        process_command_line="x" * 500,
    )])
disk = os.statvfs(sys.argv[1])
stats = spool.stats()
print(json.dumps({
    "total": total,
    "events": stats.events,
    "dropped": stats.dropped_events,
    "keys": [e.key for e in spool.next_batch()],
    "inventory_intact": protocol.InventoryUpload.model_validate_json(
        spool.pending_inventory().body) == inventory,
    "disk_free": disk.f_bavail * disk.f_frsize,
}))
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare to mount a private 1 MiB tmpfs",
)
def test_spool_on_a_genuinely_full_disk_drops_oldest_events_and_keeps_inventory(
    tmp_path: Path,
) -> None:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()

    # A private mount namespace: the 1 MiB tmpfs exists only for the child and dies with it.
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount -t tmpfs -o size=1m tmpfs "$1" && exec "$2" -c "$3" "$1"',
            "sh",
            str(mount_point),
            sys.executable,
            _FULL_DISK_SCRIPT,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)

    assert result["disk_free"] < 64 * 1024
    assert result["dropped"] > 0
    assert result["events"] + result["dropped"] == result["total"]
    assert result["keys"] == [
        f"key-{n:05d}" for n in range(result["total"] - result["events"], result["total"])
    ]
    assert result["inventory_intact"] is True
