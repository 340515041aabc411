"""A real EVTX import raises its alerts as it stores the events; detecting again adds nothing."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.detection import catalog
from hostwatch.detection.cache import CACHE
from hostwatch.detection.models import Alert, AlertEvent, Incident
from hostwatch.detection.service import detect_batch, stored_rows
from hostwatch.devices.models import Device
from hostwatch.events.models import Event
from hostwatch.ingest.importer import EvtxImporter
from tests.shared import shared_data

# A SigmaHQ regression case with more than one expected match.
RULE_ID = "7c3a5b1d-9e2f-4a8c-b5d7-1e0f3c6a9b2d"


def _case() -> dict[str, str]:
    with open(shared_data("sigma", "REGRESSION_INDEX.csv"), newline="") as handle:
        [case] = [row for row in csv.DictReader(handle) if row["rule_id"] == RULE_ID]
    return case


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def test_imported_sample_raises_its_rules_alert_with_the_expected_matches(
    sessions: sessionmaker[Session],
) -> None:
    case = _case()
    with transaction(sessions) as session:
        result = catalog.import_paths(session, [shared_data("sigma", case["rule_path"])])
        assert result.added == [RULE_ID]
    summary = EvtxImporter(sessions).run([shared_data("sigma", case["evtx"])])
    assert summary.stored > 0

    # The import itself raised the alerts, in the ingest path.
    with transaction(sessions, write=False) as session:
        alerts = session.scalars(select(Alert).where(Alert.rule_id == RULE_ID)).all()
        linked = session.scalar(
            select(func.count()).select_from(AlertEvent).join(Alert).where(Alert.rule_id == RULE_ID)
        )
        assert sum(alert.event_count for alert in alerts) == int(case["match_count"]) == linked
        assert summary.alerts_raised == len(alerts) >= 1
        assert all(alert.title == case["rule_title"] for alert in alerts)
        assert session.scalar(select(func.count(Incident.id))) >= 1
        device = session.get(Device, alerts[0].device_id)
        assert device is not None
        assert device.risk_level != "none"

    # Running the rules over every stored event again finds the same matches, raises nothing.
    with transaction(sessions) as session:
        keys = session.execute(select(Event.device_id, Event.dedupe_key)).all()
        rows = []
        for device_id in sorted({device_id for device_id, _ in keys}):
            rows += stored_rows(session, device_id, [k for d, k in keys if d == device_id])
        results = detect_batch(session, rows)
    assert sum(r.matches for r in results.values()) == int(case["match_count"])
    assert [a for r in results.values() for a in r.alerts_created] == []
    with transaction(sessions, write=False) as session:
        assert session.scalar(select(func.count()).select_from(AlertEvent)) == linked

    # A second import of the same file stores nothing and raises nothing.
    again = EvtxImporter(sessions).run([shared_data("sigma", case["evtx"])])
    assert (again.stored, again.alerts_raised) == (0, 0)


def test_the_detector_is_built_before_the_import_takes_the_write_lock(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Compiling the rules takes seconds; inside SQLite's write lock it made the server's
    agent uploads fail with "database is locked" while an import ran."""
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite has one writer at a time")
    case = _case()
    with transaction(sessions) as session:
        catalog.import_paths(session, [shared_data("sigma", case["rule_path"])])
    database = str(engine.url)
    CACHE.forget(database)
    held_at_write: list[bool] = []

    def on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            held_at_write.append(CACHE.holds(database))

    event.listen(engine, "begin", on_begin)
    try:
        summary = EvtxImporter(sessions).run([shared_data("sigma", case["evtx"])])
    finally:
        event.remove(engine, "begin", on_begin)
    assert summary.stored > 0
    assert held_at_write and all(held_at_write)
