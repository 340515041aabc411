"""The timeline histogram: bucket sizes from the ladder, and counts per kind per bucket."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from hostwatch.db import migrate
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.devices.models import Device
from hostwatch.errors import RangeTooLong
from hostwatch.events.histogram import EPOCH, MAX_BUCKETS, buckets_for, fold_sqlite, histogram
from hostwatch.events.models import Event
from hostwatch.events.store import SqlEventStore
from hostwatch.events.timeline import make_filters
from tests.events.data import BASE, add_events, at, ev, iso
from tests.helpers import Api, enroll


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (timedelta(minutes=30), "1m"),
        (timedelta(hours=3, minutes=19), "1m"),
        (timedelta(hours=3, minutes=20), "5m"),
        (timedelta(hours=4), "5m"),
        (timedelta(hours=24), "15m"),
        (timedelta(days=7), "1h"),
        (timedelta(days=30), "6h"),
        (timedelta(days=90), "12h"),
        (timedelta(days=180), "1d"),
        (timedelta(days=365), "7d"),
    ],
)
def test_histogram_bucket_is_the_smallest_rung_within_the_bucket_limit(
    span: timedelta, bucket: str
) -> None:
    start = BASE + timedelta(seconds=17)

    name, size, starts = buckets_for(start, start + span)

    assert name == bucket
    assert len(starts) <= MAX_BUCKETS
    assert starts[0] <= start < starts[0] + size
    assert starts[-1] < start + span <= starts[-1] + size


def test_histogram_of_a_range_beyond_the_ladder_is_refused() -> None:
    with pytest.raises(RangeTooLong):
        buckets_for(BASE, BASE + timedelta(days=7 * MAX_BUCKETS + 7))


def test_histogram_counts_equal_the_events_per_kind_and_bucket(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    rand = random.Random(4)
    kinds = ["process", "network", "file", "dns"]
    # Minutes 0 to 24 hours, including events exactly on bucket edges (every 15 minutes).
    minutes = [rand.randrange(0, 24 * 60) for _ in range(300)] + [0, 15, 30, 24 * 60 - 1]
    events = [ev(m, rand.choice(kinds)) for m in minutes]
    add_events(api, device, *events)
    expected: Counter[tuple[int, str]] = Counter(
        (int(e["time"].timestamp()) // 900, e["kind"]) for e in events
    )

    response = api.client.get(
        f"/api/devices/{device}/timeline/histogram?from={iso(at(0))}&to={iso(at(24 * 60))}",
        headers=viewer,
    )

    body = response.json()
    assert response.status_code == 200, response.text
    assert (body["bucket"], body["bucket_seconds"]) == ("15m", 900)
    assert len(body["buckets"]) == 96
    counted: Counter[tuple[int, str]] = Counter()
    for bucket in body["buckets"]:
        slot = int(datetime.fromisoformat(bucket["start"]).timestamp()) // 900
        for kind, n in bucket["counts"].items():
            counted[(slot, kind)] += n
    assert counted == expected
    assert body["totals"] == dict(sorted(Counter(e["kind"] for e in events).items()))


def test_histogram_applies_the_filters_and_cuts_edge_buckets_to_the_range(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    add_events(
        api,
        device,
        ev(0, "process", process_command_line="whoami"),
        ev(1, "process", process_command_line="WHOAMI /all"),
        ev(2, "process", process_command_line="hostname"),
        ev(3, "dns", dns_name="whoami.example"),
        ev(70, "dns", dns_name="whoami.example"),
    )
    # From minute 1 to 61: one-minute buckets from minute 1; the event at minute 0 is out.
    url = f"/api/devices/{device}/timeline/histogram?from={iso(at(1))}&to={iso(at(61))}"

    everything = api.client.get(url, headers=viewer).json()
    searched = api.client.get(url + "&q=whoami&kinds=process", headers=viewer).json()

    assert everything["totals"] == {"dns": 1, "process": 2}
    assert searched["totals"] == {"process": 1}
    assert searched["buckets"][0] == {"start": iso(at(1)), "counts": {"process": 1}}


def test_histogram_of_a_device_without_events_has_empty_buckets(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    body = api.client.get(f"/api/devices/{device}/timeline/histogram", headers=viewer).json()

    assert body["bucket"] == "1h"
    assert body["totals"] == {}
    assert all(bucket["counts"] == {} for bucket in body["buckets"])


def test_histogram_of_too_long_a_range_is_a_400_problem(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    span = "from=1990-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"

    response = api.client.get(f"/api/devices/{device}/timeline/histogram?{span}", headers=viewer)

    assert response.status_code == 400
    assert response.json()["code"] == "HW-2006"


def _histogram_counts(
    api: Api, device: str, headers: dict[str, str], start: datetime, end: datetime, extra: str = ""
) -> tuple[str, Counter[tuple[str, str]]]:
    url = f"/api/devices/{device}/timeline/histogram?from={iso(start)}&to={iso(end)}{extra}"
    response = api.client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    counted: Counter[tuple[str, str]] = Counter()
    for bucket in body["buckets"]:
        for kind, n in bucket["counts"].items():
            counted[(bucket["start"], kind)] += n
    return body["bucket"], counted


def _expected(
    events: list[dict[str, object]], start: datetime, end: datetime, size: timedelta
) -> Counter[tuple[str, str]]:
    first = EPOCH + (start - EPOCH) // size * size
    expected: Counter[tuple[str, str]] = Counter()
    for event in events:
        moment = event["time"]
        assert isinstance(moment, datetime)
        if start <= moment < end:
            expected[(iso(first + (moment - first) // size * size), str(event["kind"]))] += 1
    return expected


@pytest.mark.parametrize(
    ("days", "bucket", "size"),
    [(3, "1h", timedelta(hours=1)), (20, "3h", timedelta(hours=3))],
)
def test_histogram_of_hour_buckets_counts_every_event_as_events_arrive(
    api: Api, viewer: dict[str, str], device: str, days: int, bucket: str, size: timedelta
) -> None:
    rand = random.Random(days)
    kinds = ["process", "network", "file", "dns"]
    span = days * 24 * 60
    # Events on and next to hour edges, and at random, with the range's ends mid-hour.
    minutes = [60 * h + d for h in range(0, days * 24, 7) for d in (-0.001, 0, 0.001)]
    minutes += [rand.uniform(-90, span + 90) for _ in range(400)]
    first = [ev(m, rand.choice(kinds)) for m in minutes]
    later = [ev(rand.uniform(0, span), rand.choice(kinds)) for _ in range(150)]
    other_device, _ = enroll(api, "ws02")
    add_events(api, other_device, *[ev(m, "file") for m in minutes[:50]])
    start, end = at(37.5), at(span - 13.25)

    add_events(api, device, *first)
    before = _histogram_counts(api, device, viewer, start, end)
    # The later batch repeats some of the first: those are not stored, nor counted, twice.
    add_events(api, device, *later, *first[:40])
    after = _histogram_counts(api, device, viewer, start, end)
    again = _histogram_counts(api, device, viewer, start, end)
    dns_only = _histogram_counts(api, device, viewer, start, end, "&kinds=dns")

    assert before == (bucket, _expected(first, start, end, size))
    everything = _expected(first + later, start, end, size)
    assert after == (bucket, everything)
    assert again == after
    assert dns_only == (bucket, Counter({k: n for k, n in everything.items() if k[1] == "dns"}))


def test_histogram_stays_exact_when_events_are_deleted_and_ids_freed(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    events = [ev(m * 17.0, "file" if m % 3 else "dns") for m in range(200)]
    ids = add_events(api, device, *events)
    start, end = at(0), at(200 * 17)
    _histogram_counts(api, device, viewer, start, end)
    # The newest ids go, so the next events get them again on SQLite.
    newest = sorted(ids.values())[-30:]
    with transaction(api.sessions()) as session:
        session.execute(delete(Event).where(Event.id.in_(newest)))
    kept = [e for e in events if ids[str(e["dedupe_key"])] not in newest]
    fresh = [ev(m * 11.0 + 5, "network") for m in range(50)]

    after_delete = _histogram_counts(api, device, viewer, start, end)
    add_events(api, device, *fresh)
    after_insert = _histogram_counts(api, device, viewer, start, end)

    assert after_delete == ("1h", _expected(kept, start, end, timedelta(hours=1)))
    assert after_insert == ("1h", _expected(kept + fresh, start, end, timedelta(hours=1)))


def test_histogram_on_sqlite_stays_exact_while_another_writer_holds_the_lock(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'busy.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    device_id = "00000000-0000-4000-8000-0000000000bb"
    with transaction(sessions) as session:
        session.add(Device(id=device_id, hostname="ws-busy"))
        session.flush()
        SqlEventStore().add_many(
            session,
            [
                {"device_id": device_id, "dedupe_key": f"b{m}", "source": "test", **ev(m * 7.0)}
                for m in range(300)
            ],
        )
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)

    other.execute("BEGIN IMMEDIATE")
    skipped = fold_sqlite(engine, wait_ms=50)
    with sessions() as session:
        filters = make_filters(session, device_id, start=at(0), end=at(300 * 7))
        while_locked = histogram(session, filters).totals
    other.execute("ROLLBACK")
    folded = fold_sqlite(engine)
    with sessions() as session:
        after_fold = histogram(session, filters).totals
    other.close()
    engine.dispose()

    assert skipped == -1
    assert while_locked == after_fold == {"file": 300}
    assert folded == 300
