"""EVTX import into a real database: counts, idempotence, devices, and batches that fail."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.devices.models import Device
from hostwatch.events.models import Event, EventCountMark, EventHourCount
from hostwatch.events.store import FIELDS, SqlEventStore, StoreResult
from hostwatch.ingest.importer import EvtxImporter, Progress
from hostwatch.ingest.summary import ImportSummary
from tests.helpers import Api, enroll
from tests.ingest.conftest import FOLDERS, all_samples, identity, raw_events, sample
from tests.shared import shared_data

DISCOVERY = "evtx_attack_samples/Discovery/dicovery_4661_net_group_domain_admins_target.evtx"
SERVICE = "evtx_attack_samples/Lateral Movement/LM_Remote_Service02_7045.evtx"
RDP_TUNNEL = "evtx_attack_samples/Command and Control/DE_sysmon-3-rdp-tun.evtx"
ONE_CHUNK = "evtx_attack_samples/AutomatedTestingTools/Malware/rundll32_cmd_schtask.evtx"


def _import(sessions: sessionmaker[Session], *paths: Path, **options: Any) -> ImportSummary:
    return EvtxImporter(sessions, **options).run(list(paths))


def _count(sessions: sessionmaker[Session], device_id: str | None = None) -> int:
    query = select(func.count()).select_from(Event)
    if device_id is not None:
        query = query.where(Event.device_id == device_id)
    with transaction(sessions, write=False) as session:
        return session.scalar(query) or 0


def _device(sessions: sessionmaker[Session], fqdn: str) -> Device:
    with transaction(sessions, write=False) as session:
        device = session.scalars(select(Device).where(Device.fqdn == fqdn)).one()
        _ = device.tags, device.agent
        return device


def _times(relatives: Sequence[str], computer: str) -> tuple[datetime, datetime]:
    times = [
        datetime.fromisoformat(event["System"]["TimeCreated"]["#attributes"]["SystemTime"])
        for relative in relatives
        for event in raw_events(sample(relative))
        if event["System"]["Computer"] == computer
    ]
    return min(times), max(times)


def test_import_of_every_shared_file_stores_each_event_once(
    sessions: sessionmaker[Session],
) -> None:
    samples = all_samples()
    unique = {identity(e) for s in samples for e in raw_events(s.path)}
    folders = [shared_data(folder) for folder in FOLDERS]

    first = _import(sessions, *folders)
    again = _import(sessions, *folders)

    # Some records appear in two files of the shared data (a "GLOBAL" file repeats the
    # single-technique files, and a few samples were exported twice): stored once.
    assert first.status == "complete"
    assert first.records == sum(s.records for s in samples) == 7516
    assert first.stored == len(unique) == 7486
    assert first.duplicates == 30
    assert (first.devices_created, first.devices_updated) == (44, 0)
    assert {f.name: f.records for f in first.files} == {str(s.path): s.records for s in samples}
    assert _count(sessions) == len(unique)
    assert (again.stored, again.duplicates, again.devices_created) == (0, 7516, 0)
    assert again.devices_updated == 0


def test_each_shared_file_stores_its_manifest_count(sqlite_sessions: sessionmaker[Session]) -> None:
    # One file at a time into one database (SQLite only, to keep the suite quick): a file
    # stores every record of its manifest count except those an earlier file stored.
    seen: set[tuple[Any, ...]] = set()
    stored = {}
    expected = {}
    for entry in all_samples():
        identities = [identity(e) for e in raw_events(entry.path)]
        expected[entry.path] = len(set(identities) - seen)
        seen |= set(identities)
        summary = _import(sqlite_sessions, entry.path)
        assert summary.status == "complete"
        assert summary.records == entry.records
        stored[entry.path] = summary.stored

    assert stored == expected
    assert sum(1 for e in all_samples() if expected[e.path] < e.records) == 14
    assert _count(sqlite_sessions) == 7486


def test_devices_are_created_from_the_computer_names(sessions: sessionmaker[Session]) -> None:
    summary = _import(sessions, sample(DISCOVERY), sample(SERVICE), sample(RDP_TUNNEL))

    server = _device(sessions, "WIN-77LTAPHIQ1R.example.corp")
    workstation = _device(sessions, "PC01.example.corp")
    assert summary.devices_created == 2
    assert (server.hostname, server.domain, server.os_family) == (
        "WIN-77LTAPHIQ1R",
        "example.corp",
        "windows",
    )
    assert server.sources == ["endpoint_logs"]
    assert sorted(t.name for t in server.tags) == ["os:windows", "source:endpoint_logs"]
    assert (server.first_seen, server.last_seen) == _times(
        [DISCOVERY, SERVICE], "WIN-77LTAPHIQ1R.example.corp"
    )
    assert [
        (u["name"], u["logon_type"], u["host"], u["source"]) for u in server.logged_on_users
    ] == [("EXAMPLE\\user01", 3, "10.0.2.17", "evtx")]
    assert server.logged_on_users[0]["started"] == "2019-03-18T23:23:52.491923+00:00"
    # Only the outbound connection's own end, not the peer nor loopback.
    assert workstation.ip_addresses == ["10.0.2.17"]
    assert _count(sessions, server.id) + _count(sessions, workstation.id) == summary.stored


def test_agent_device_with_the_same_fqdn_gets_the_events(
    api: Api, sessions: sessionmaker[Session]
) -> None:
    device_id, _ = enroll(
        api,
        "WIN-77LTAPHIQ1R",
        fqdn="win-77ltaphiq1r.example.corp",
        domain="example.corp",
        os_family="windows",
    )
    enrolled = _device(sessions, "win-77ltaphiq1r.example.corp")

    summary = _import(sessions, sample(DISCOVERY), sample(SERVICE))

    merged = _device(sessions, "win-77ltaphiq1r.example.corp")
    first, _ = _times([DISCOVERY, SERVICE], "WIN-77LTAPHIQ1R.example.corp")
    assert (summary.devices_created, summary.devices_updated) == (0, 1)
    assert merged.id == device_id
    assert merged.sources == ["agent", "endpoint_logs"]
    assert sorted(t.name for t in merged.tags) == [
        "os:windows",
        "source:agent",
        "source:endpoint_logs",
    ]
    assert merged.first_seen == first
    assert merged.last_seen == enrolled.last_seen
    assert merged.agent is not None
    assert _count(sessions, device_id) == summary.stored == summary.records


def test_a_device_that_gets_only_lost_events_back_counts_as_updated(
    sessions: sessionmaker[Session],
) -> None:
    _import(sessions, sample(DISCOVERY))
    with transaction(sessions) as session:
        lost = session.scalars(select(Event).order_by(Event.id).limit(3)).all()
        for event in lost:
            session.delete(event)

    again = _import(sessions, sample(DISCOVERY))

    # Its seen times, users and addresses are as they were: only the events are new.
    assert (again.stored, again.devices_created, again.devices_updated) == (3, 0, 1)


def test_device_from_logs_is_taken_over_by_an_agent_that_enrolls_later(
    api: Api, sessions: sessionmaker[Session]
) -> None:
    _import(sessions, sample(DISCOVERY))
    from_logs = _device(sessions, "WIN-77LTAPHIQ1R.example.corp")

    device_id, _ = enroll(
        api, "WIN-77LTAPHIQ1R", fqdn="WIN-77LTAPHIQ1R.example.corp", os_family="windows"
    )

    assert device_id == from_logs.id
    assert _device(sessions, "WIN-77LTAPHIQ1R.example.corp").sources == [
        "endpoint_logs",
        "agent",
    ]


def test_seen_times_and_users_only_grow(sessions: sessionmaker[Session]) -> None:
    first, last = _times([DISCOVERY], "WIN-77LTAPHIQ1R.example.corp")
    earlier, later = first - timedelta(days=400), last + timedelta(days=400)
    agent_user = {
        "name": "root",
        "terminal": "pts/0",
        "host": None,
        "started": None,
        "source": "utmp",
    }
    with transaction(sessions) as session:
        session.add(
            Device(
                hostname="WIN-77LTAPHIQ1R",
                fqdn="WIN-77LTAPHIQ1R.example.corp",
                first_seen=earlier,
                last_seen=later,
                logged_on_users=[agent_user],
                ip_addresses=["192.0.2.10"],
                sources=["directory"],
            )
        )

    _import(sessions, sample(DISCOVERY))

    device = _device(sessions, "WIN-77LTAPHIQ1R.example.corp")
    assert (device.first_seen, device.last_seen) == (earlier, later)
    assert device.sources == ["directory", "endpoint_logs"]
    assert device.os_family == "windows"
    assert [u["name"] for u in device.logged_on_users] == ["root", "EXAMPLE\\user01"]
    assert device.ip_addresses == ["192.0.2.10"]


def test_zip_and_folder_inputs_import_the_same_events(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    folder = tmp_path / "logs" / "nested folder"
    folder.mkdir(parents=True)
    (folder / "one (copy).evtx").write_bytes(sample(DISCOVERY).read_bytes())
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("a/discovery.evtx", sample(DISCOVERY).read_bytes())
        out.writestr("b/service.evtx", sample(SERVICE).read_bytes())

    from_folder = _import(sessions, tmp_path / "logs")
    from_zip = _import(sessions, archive)

    discovery_records = len(raw_events(sample(DISCOVERY)))
    assert (from_folder.stored, from_folder.records) == (discovery_records, discovery_records)
    assert from_zip.records == discovery_records + len(raw_events(sample(SERVICE)))
    assert from_zip.duplicates == discovery_records
    assert from_zip.stored == len(raw_events(sample(SERVICE)))
    assert [f.name for f in from_zip.files] == [
        f"{archive}!a/discovery.evtx",
        f"{archive}!b/service.evtx",
    ]


class _FailingStore(SqlEventStore):
    """The real store, except that chosen calls fail like a lost database connection."""

    def __init__(self, fail_on_calls: set[int]) -> None:
        self.calls = 0
        self.fail_on_calls = fail_on_calls

    def add_prepared(
        self, session: Session, by_device: Mapping[str, Sequence[list[Any]]]
    ) -> StoreResult:
        self.calls += 1
        if self.calls in self.fail_on_calls:
            raise sa_exc.OperationalError("INSERT INTO events", {}, ConnectionError("gone"))
        return super().add_prepared(session, by_device)


class _RefusingStore(SqlEventStore):
    """The real store, except that the database refuses one record's event."""

    def __init__(self, record_id: int) -> None:
        self.record_id = record_id

    def add_prepared(
        self, session: Session, by_device: Mapping[str, Sequence[list[Any]]]
    ) -> StoreResult:
        fields = [json.loads(row[FIELDS]) for rows in by_device.values() for row in rows]
        if any(each["event_record_id"] == self.record_id for each in fields):
            raise sa_exc.DataError("INSERT INTO events", {}, ValueError("value refused"))
        return super().add_prepared(session, by_device)


def test_a_failed_batch_loses_neither_earlier_nor_later_batches(
    sessions: sessionmaker[Session],
) -> None:
    # 50 records in batches of 20: the second batch fails as a whole.
    summary = _import(sessions, sample(ONE_CHUNK), store=_FailingStore({2}), batch_size=20)

    (file,) = summary.files
    assert summary.status == "partial"
    assert (summary.stored, file.not_stored) == (30, 20)
    assert [(p.chunk, p.record) for p in file.problems] == [(0, None)]
    assert file.problems[0].message.startswith("records 21 to 40 were not stored:")
    assert _count(sessions) == 30

    retry = _import(sessions, sample(ONE_CHUNK))
    assert (retry.stored, retry.duplicates, _count(sessions)) == (20, 30, 50)


def test_a_refused_record_is_found_and_the_rest_of_its_batch_stored(
    sessions: sessionmaker[Session],
) -> None:
    refused = raw_events(sample(ONE_CHUNK))[16]["System"]["EventRecordID"]

    summary = _import(sessions, sample(ONE_CHUNK), store=_RefusingStore(refused))

    (file,) = summary.files
    assert (summary.stored, file.not_stored, summary.status) == (49, 1, "partial")
    assert [(p.chunk, p.record) for p in file.problems] == [(0, 17)]
    assert file.problems[0].message.startswith("the database refused the event:")


def test_no_device_is_left_behind_by_a_failed_batch(sessions: sessionmaker[Session]) -> None:
    summary = _import(sessions, sample(SERVICE), store=_FailingStore({1}))

    with transaction(sessions, write=False) as session:
        devices = session.scalar(select(func.count()).select_from(Device))
    assert (summary.status, summary.devices_created, devices) == ("failed", 0, 0)


def test_times_are_stored_as_utc(sessions: sessionmaker[Session]) -> None:
    _import(sessions, sample(SERVICE))

    with transaction(sessions, write=False) as session:
        times = session.scalars(select(Event.time)).all()
    assert times and all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    assert min(times) >= datetime(2019, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("batch_size", [7, 5000])
def test_batch_size_changes_nothing_stored(
    sessions: sessionmaker[Session], batch_size: int
) -> None:
    summary = _import(sessions, sample(DISCOVERY), sample(SERVICE), batch_size=batch_size)

    assert summary.stored == _count(sessions) == summary.records


def _events_by_device(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    columns = (
        Event.dedupe_key,
        Event.time,
        Event.kind,
        Event.action_type,
        Event.user,
        Event.process_id,
        Event.process_image,
        Event.process_command_line,
        Event.target_file,
        Event.remote_address,
        Event.fields,
    )
    with transaction(sessions, write=False) as session:
        rows = session.execute(select(Device.hostname, *columns).join(Device)).all()
    return sorted(tuple(row) for row in rows)


def _device_facts(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with transaction(sessions, write=False) as session:
        devices = session.scalars(select(Device)).all()
        # Addresses in the order they were found, which depends on the order files are read.
        return sorted(
            (
                d.hostname,
                d.fqdn,
                d.first_seen,
                d.last_seen,
                d.logged_on_users,
                sorted(d.ip_addresses),
            )
            for d in devices
        )


def test_worker_processes_store_what_one_process_stores(
    sessions: sessionmaker[Session], sqlite_sessions: sessionmaker[Session]
) -> None:
    folders = [shared_data(folder) for folder in FOLDERS]

    # Batches smaller than the import, so that workers' parts are cut across batches.
    with_workers = _import(sessions, *folders, workers=2, batch_size=3000)
    in_process = _import(sqlite_sessions, *folders, workers=0)

    assert with_workers.to_dict() | {"seconds": 0} == in_process.to_dict() | {"seconds": 0}
    assert (with_workers.stored, with_workers.devices_created) == (7486, 44)
    assert _events_by_device(sessions) == _events_by_device(sqlite_sessions)
    assert _device_facts(sessions) == _device_facts(sqlite_sessions)


def test_an_interrupted_import_keeps_its_committed_batches_and_stops_its_workers(
    sessions: sessionmaker[Session],
) -> None:
    folders = [shared_data(folder) for folder in FOLDERS]
    seen: list[int] = []

    def interrupt(progress: Progress) -> None:
        if progress.records >= 4000:
            seen.append(progress.records)
            raise KeyboardInterrupt

    importer = EvtxImporter(sessions, batch_size=1000, workers=2, on_progress=interrupt)
    with pytest.raises(KeyboardInterrupt):
        importer.run(folders)
    kept = _count(sessions)
    again = _import(sessions, *folders)

    assert multiprocessing.active_children() == []
    # Batches of 1,000 were committed; the one open at the interruption was not.
    assert 0 < kept <= seen[0] < 7516
    assert (again.status, again.stored + kept, _count(sessions)) == ("complete", 7486, 7486)
    with transaction(sessions, write=False) as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 44


def _waiting_for_a_lock(sessions: sessionmaker[Session]) -> bool:
    with transaction(sessions, write=False) as session:
        return bool(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        )


def test_two_imports_at_once_of_a_new_computer_create_one_device(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite lets one writer in at a time")
    other_engine = make_engine(db_url)
    other_sessions = make_session_factory(other_engine)
    in_commit, go_on = threading.Event(), threading.Event()

    def hold(session: Session) -> None:
        in_commit.set()
        go_on.wait(30)

    # The first import stops just before it commits its device and events; the second
    # starts then, and either waits for the first (a lock) or, without one, ends on its own.
    event.listen(sessions, "before_commit", hold)
    summaries: dict[str, ImportSummary] = {}
    first = threading.Thread(
        target=lambda: summaries.update(first=_import(sessions, sample(SERVICE), workers=0))
    )
    second = threading.Thread(
        target=lambda: summaries.update(second=_import(other_sessions, sample(SERVICE)))
    )
    first.start()
    assert in_commit.wait(30)
    second.start()
    for _ in range(300):
        if not second.is_alive() or _waiting_for_a_lock(other_sessions):
            break
        time.sleep(0.05)
    go_on.set()
    first.join(30)
    second.join(30)
    event.remove(sessions, "before_commit", hold)
    other_engine.dispose()

    records = len(raw_events(sample(SERVICE)))
    with transaction(sessions, write=False) as session:
        names = session.scalars(select(Device.hostname)).all()
    assert names == ["WIN-77LTAPHIQ1R"]
    assert summaries["first"].devices_created + summaries["second"].devices_created == 1
    assert summaries["first"].stored + summaries["second"].stored == records
    assert _count(sessions) == records


def test_an_import_leaves_the_histogram_rollup_counting_every_event(
    sqlite_sessions: sessionmaker[Session],
) -> None:
    """On SQLite the rollup is folded at the end of the import, not by the first chart."""
    summary = _import(sqlite_sessions, sample(DISCOVERY), sample(SERVICE))

    with transaction(sqlite_sessions, write=False) as session:
        mark = session.scalar(select(EventCountMark.last_id))
        newest = session.scalar(select(func.max(Event.id)))
        rolled = session.scalar(select(func.sum(EventHourCount.events)))
    assert summary.stored > 0
    assert mark == newest
    assert rolled == summary.stored


def test_a_prepared_row_reads_back_whole_for_the_detector_even_with_a_lone_surrogate() -> None:
    from hostwatch.events.store import prepare
    from hostwatch.ingest.importer import _event_row

    fields = {"EventData": {"CommandLine": "cmd /c a\ud800b", "Count": 18446744073709551615}}
    row = {
        "dedupe_key": "k",
        "time": datetime(2026, 1, 1, tzinfo=UTC),
        "source": "evtx",
        "kind": "process",
        "fields": fields,
    }

    back = _event_row(prepare(row, "sqlite"))

    assert back["fields"] == fields
    assert (back["dedupe_key"], back["kind"]) == ("k", "process")
