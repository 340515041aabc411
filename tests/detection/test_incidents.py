"""New alerts correlate into incidents by device and by user, each link with its reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.detection.incidents import correlates_by_user, describe_gap
from hostwatch.detection.models import Alert, Incident
from hostwatch.detection.service import Windows, detect
from tests.detection.alerting import add_device, at, import_test_rules, process_event, store

WINDOWS = Windows(alert=timedelta(hours=24), incident=timedelta(hours=2))


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        import_test_rules(session)
    return factory


def _raise(session: Session, device_id: str, minutes: float, image: str, **kw: str) -> Alert:
    rows = store(session, device_id, process_event(minutes, image, **kw))
    result = detect(session, device_id, rows, windows=WINDOWS)
    [alert_id] = result.alerts_created
    alert = session.get(Alert, alert_id)
    assert alert is not None
    return alert


def test_alerts_on_one_device_within_the_window_share_an_incident(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        first = _raise(session, device_id, 0, "whoami.exe", user="CORP\\svc1")
        second = _raise(session, device_id, 100, "net.exe", user="CORP\\svc2")
        third = _raise(session, device_id, 400, "net.exe", guid="{other}", user="CORP\\svc3")

        assert first.incident_id == second.incident_id
        assert first.incident_reason == "first alert of the incident"
        assert second.incident_reason == (
            f"same device app-01 within 2 h of alert 'Whoami Run' ({first.id[:8]})"
        )
        # Five hours after the last: a new incident.
        assert third.incident_id != first.incident_id
        incident = session.get(Incident, first.incident_id)
        assert incident is not None
        assert (incident.title, incident.status) == ("Whoami Run on app-01", "active")
        assert (incident.first_activity, incident.last_activity) == (at(0), at(100))
        assert incident.severity == "high"


def test_alerts_of_one_user_on_two_devices_share_an_incident(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        app = add_device(session, "app-01")
        db = add_device(session, "db-01")
        first = _raise(session, app, 0, "whoami.exe", user="CORP\\mallory")
        second = _raise(session, db, 35, "net.exe", user="CORP\\mallory")

        assert second.incident_id == first.incident_id
        assert second.incident_reason == (
            f"same user CORP\\mallory within 35 min of alert 'Whoami Run' ({first.id[:8]})"
        )


def test_service_accounts_do_not_correlate_devices(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        app = add_device(session, "app-01")
        db = add_device(session, "db-01")
        first = _raise(session, app, 0, "whoami.exe", user="NT AUTHORITY\\SYSTEM")
        second = _raise(session, db, 1, "whoami.exe", user="NT AUTHORITY\\SYSTEM")

        assert second.incident_id != first.incident_id


def test_an_alert_relating_two_incidents_merges_them(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        app = add_device(session, "app-01")
        db = add_device(session, "db-01")
        on_app = _raise(session, app, 0, "whoami.exe", user="CORP\\alice")
        on_db = _raise(session, db, 10, "whoami.exe", user="CORP\\bob")
        assert on_app.incident_id != on_db.incident_id

        # Bob on app-01: the same device as the first, the same user as the second.
        bridge = _raise(session, app, 20, "net.exe", user="CORP\\bob")

        session.expire_all()
        incidents = session.scalars(select(Incident)).all()
        assert len(incidents) == 1
        members = session.scalars(select(Alert.id).where(Alert.incident_id == incidents[0].id))
        assert set(members) == {on_app.id, on_db.id, bridge.id}
        assert bridge.incident_reason == (
            f"same device app-01 within 20 min of alert 'Whoami Run' ({on_app.id[:8]}); also "
            f"same user CORP\\bob within 10 min of alert 'Whoami Run' ({on_db.id[:8]}), "
            "whose incident merged into this one"
        )


def test_correlates_by_user_leaves_out_service_and_machine_accounts() -> None:
    assert correlates_by_user("CORP\\alice")
    assert not correlates_by_user("NT AUTHORITY\\SYSTEM")
    assert not correlates_by_user("CORP\\APP-01$")
    assert not correlates_by_user(None)


@pytest.mark.parametrize(
    ("minutes", "text"), [(0, "1 min"), (59, "59 min"), (61, "2 h"), (60 * 50, "3 d")]
)
def test_describe_gap_rounds_up(minutes: int, text: str) -> None:
    assert describe_gap(timedelta(minutes=minutes)) == text


def test_alert_that_widens_toward_another_incident_merges_it(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        whoami = _raise(session, device_id, 0, "whoami.exe")
        net = _raise(session, device_id, 300, "net.exe", guid="{other}")
        old_incident = net.incident_id
        assert old_incident != whoami.incident_id

        # The whoami process runs again at 200 min: its alert now ends 100 min before net's.
        rows = store(session, device_id, process_event(200, "whoami.exe"))
        result = detect(session, device_id, rows, windows=WINDOWS)

        assert (result.alerts_created, result.alerts_updated) == ([], [whoami.id])
        assert result.incidents == [whoami.incident_id]
        assert net.incident_id == whoami.incident_id
        assert session.get(Incident, old_incident) is None
        assert whoami.incident_reason == (
            "first alert of the incident; also same device app-01 within 2 h of alert "
            f"'Net Run' ({net.id[:8]}), whose incident merged into this one as the alert grew"
        )
        incident = session.get(Incident, whoami.incident_id)
        assert incident is not None
        assert (incident.first_activity, incident.last_activity) == (at(0), at(300))
        assert incident.severity == "high"


def test_alert_that_widens_within_its_bounds_merges_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        whoami = _raise(session, device_id, 0, "whoami.exe")
        detect(session, device_id, store(session, device_id, process_event(60, "whoami.exe")))
        net = _raise(session, device_id, 250, "net.exe", guid="{other}")

        # An event inside the alert's activity (30 min): it grows in count, not in time.
        rows = store(session, device_id, process_event(30, "whoami.exe"))
        result = detect(session, device_id, rows, windows=WINDOWS)

        assert result.alerts_updated == [whoami.id]
        assert whoami.event_count == 3
        assert net.incident_id != whoami.incident_id
