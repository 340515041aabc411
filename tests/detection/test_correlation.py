"""Sigma correlation rules over real brute force, spraying and logon samples, stored for real.

The rules are in tests/detection/data; the events are the shared EVTX samples of
evtx_to_mitre_attack and evtx_attack_samples, imported with the importer or stored through
the event store with `detect_new`, as an agent upload is.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.detection import catalog
from hostwatch.detection.models import Alert, AlertEntity, AlertEvent, CorrelationMatch
from hostwatch.detection.service import DetectionResult, detect_new
from hostwatch.devices.models import Device
from hostwatch.events.models import Event
from hostwatch.events.store import SqlEventStore
from hostwatch.ingest.importer import EvtxImporter
from tests.detection.alerting import add_device
from tests.detection.shared_events import rows_of
from tests.shared import shared_data

DATA = Path(__file__).with_name("data")
BRUTE_FORCE = "6b0f3a52-7d1e-4c8b-9a3f-2e5d1c4b7a02"
FAILED_LOGON = "6b0f3a52-7d1e-4c8b-9a3f-2e5d1c4b7a01"
SPRAY = "8c2e4d61-5a3b-4f9c-8e1d-7b6a5c4d3e02"
PREAUTH_FAILED = "8c2e4d61-5a3b-4f9c-8e1d-7b6a5c4d3e01"
FAILED_THEN_SUCCESS = "9d3f5e72-6b4c-4a0d-9f2e-8c7b6d5e4f03"

BRUTE = "TA0006-Credential Access/T1110.xxx-Brut force"
# 16 failed logons (4625) on WIN within 15 ms: 8 for Admin, 8 for Administrator.
LOCAL_BRUTE_FORCE = (
    "evtx_to_mitre_attack",
    BRUTE,
    "ID 4776,4625-AccountRestore local bruteforce.evtx",
)
# 4771 from ::ffff:10.23.123.11 on rootdc1: 22 accounts once each (Kerbrute) ...
KERBRUTE = ("evtx_to_mitre_attack", BRUTE, "ID4768-4771-Kerberos user enumeration (Kerbrute).evtx")
# ... and one account 54 times.
ONE_ACCOUNT = ("evtx_to_mitre_attack", BRUTE, "ID4771-Kerberos brutforce with valid user.evtx")
# IEUser fails a logon (4625) on MSEDGEWIN10, then logs on (4624 twice) 4 s later.
FAIL_THEN_LOGON = (
    "evtx_attack_samples",
    "Credential Access",
    "CA_4624_4625_LogonType2_LogonProc_chrome.evtx",
)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _import_rules(sessions: sessionmaker[Session], *names: str) -> catalog.RuleImport:
    with transaction(sessions) as session:
        return catalog.import_paths(session, [DATA / name for name in names])


def _alerts(session: Session, rule_id: str) -> list[Alert]:
    query = select(Alert).where(Alert.rule_id == rule_id).order_by(Alert.group_key)
    return list(session.scalars(query))


def _linked(session: Session, alert: Alert) -> list[int]:
    query = select(AlertEvent.event_id).where(AlertEvent.alert_id == alert.id)
    return sorted(session.scalars(query))


def _entities(session: Session, alert: Alert, kind: str) -> list[str]:
    query = select(AlertEntity.value).where(
        AlertEntity.alert_id == alert.id, AlertEntity.kind == kind
    )
    return sorted(session.scalars(query))


def _upload(
    sessions: sessionmaker[Session], device_id: str, rows: list[dict[str, Any]]
) -> DetectionResult:
    """Store rows as one upload (one transaction) and detect on them, as the agent path does."""
    stored = [{**row, "device_id": device_id} for row in rows]
    with transaction(sessions) as session:
        SqlEventStore().add_many(session, stored)
        return detect_new(session, {device_id: stored})


def _admin_rows() -> list[dict[str, Any]]:
    """The 8 failed logons against Admin of the local brute force sample, in time order."""
    rows = [r for r in rows_of(shared_data(*LOCAL_BRUTE_FORCE)) if r["user"] == "WIN\\Admin"]
    assert len(rows) == 8
    return rows


def _spaced(rows: list[dict[str, Any]], seconds: float, tag: str) -> list[dict[str, Any]]:
    """The rows as other records `seconds` apart from the first one's time."""
    start = rows[0]["time"]
    return [
        {**row, "time": start + timedelta(seconds=seconds * i), "dedupe_key": f"{tag}{i}"}
        for i, row in enumerate(rows)
    ]


def test_brute_force_sample_raises_one_alert_per_target_account(
    sessions: sessionmaker[Session],
) -> None:
    result = _import_rules(sessions, "brute_force_local.yml")
    assert sorted(result.added) == [FAILED_LOGON, BRUTE_FORCE]
    assert result.report.rejected == []

    summary = EvtxImporter(sessions).run([shared_data(*LOCAL_BRUTE_FORCE)])

    assert summary.stored == 16
    with transaction(sessions, write=False) as session:
        alerts = _alerts(session, BRUTE_FORCE)
        assert [(a.group_key, a.event_count) for a in alerts] == [
            ("TargetUserName=Admin", 8),
            ("TargetUserName=Administrator", 8),
        ]
        first = alerts[0]
        assert (first.title, first.severity) == ("Brute Force Against One Account", "high")
        assert (first.tactics, first.techniques) == (["Credential Access"], ["T1110.001"])
        assert first.user == "WIN\\Admin"
        assert _entities(session, first, "user") == ["Admin", "WIN\\Admin"]
        assert _entities(session, first, "device") == ["WIN"]
        admin_events = session.scalars(
            select(Event.id).where(Event.user == "WIN\\Admin").order_by(Event.id)
        ).all()
        assert _linked(session, first) == list(admin_events)
        # The base rule is there to feed the correlation (generate: false): no alert of its own.
        assert _alerts(session, FAILED_LOGON) == []
        assert summary.alerts_raised == 2


def test_brute_force_threshold_is_exact(sessions: sessionmaker[Session]) -> None:
    _import_rules(sessions, "brute_force_local.yml")
    with transaction(sessions) as session:
        device_id = add_device(session, "WIN")
    rows = _admin_rows()

    seven = _upload(sessions, device_id, rows[:7])
    with transaction(sessions, write=False) as session:
        assert _alerts(session, BRUTE_FORCE) == []
        kept = session.scalar(select(func.count()).select_from(CorrelationMatch))
        assert kept == 7
    assert seven.alerts_created == []

    # The eighth failure comes in a later upload: the window spans both.
    eighth = _upload(sessions, device_id, rows[7:])
    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, BRUTE_FORCE)
        assert alert.event_count == 8
        assert eighth.alerts_created == [alert.id]


def test_timespan_bounds_the_window(sessions: sessionmaker[Session]) -> None:
    _import_rules(sessions, "brute_force_local.yml")
    with transaction(sessions) as session:
        inside = add_device(session, "WIN")
        outside = add_device(session, "WIN-2")
    rows = _admin_rows()

    # 8 failures 300 s apart end to end (timespan 5m, ends included), and 8 over 301 s.
    _upload(sessions, inside, _spaced(rows, 300 / 7, "in"))
    _upload(sessions, outside, _spaced(rows, 301 / 7, "out"))

    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, BRUTE_FORCE)
        assert (alert.device_id, alert.event_count) == (inside, 8)
        assert alert.last_activity - alert.first_activity == timedelta(seconds=300)


def test_out_of_order_events_across_uploads_fill_the_window(
    sessions: sessionmaker[Session],
) -> None:
    _import_rules(sessions, "brute_force_local.yml")
    with transaction(sessions) as session:
        device_id = add_device(session, "WIN")
    # One failure a minute over 9 minutes: no 5-minute window holds 8 until the gaps close.
    rows = _spaced(_admin_rows() + _admin_rows()[:1], 60, "min")
    assert len(rows) == 9

    # Every other minute first, newest first; then the missing minutes, in reverse too.
    _upload(sessions, device_id, rows[::2][::-1])
    with transaction(sessions, write=False) as session:
        assert _alerts(session, BRUTE_FORCE) == []
    _upload(sessions, device_id, rows[1::2][::-1])

    with transaction(sessions, write=False) as session:
        alerts = _alerts(session, BRUTE_FORCE)
        # Minutes 0..5 hold 6 and 1..6 hold 6: no window of 8 at one a minute in 5 minutes.
        assert alerts == []
    # Now at 30 s apart: minutes 0..3.5 of 8 failures, given in reverse order in two halves.
    dense = _spaced(_admin_rows(), 30, "half")
    _upload(sessions, device_id, dense[4:][::-1])
    _upload(sessions, device_id, dense[:4][::-1])
    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, BRUTE_FORCE)
        # Every per-minute failure shares a window of 8 or more with the dense ones: the
        # window from minute 3 holds dense failures at 180 and 210 s and minutes 3 to 8.
        every = session.scalars(select(Event.id).order_by(Event.id)).all()
        assert len(every) == 17
        assert _linked(session, alert) == list(every)
        assert alert.event_count == 17


def test_continuing_brute_force_widens_its_alert(sessions: sessionmaker[Session]) -> None:
    _import_rules(sessions, "brute_force_local.yml")
    with transaction(sessions) as session:
        device_id = add_device(session, "WIN")
    rows = _spaced(_admin_rows() + _admin_rows(), 10, "t")

    first = _upload(sessions, device_id, rows[:8])
    later = _upload(sessions, device_id, rows[8:12])
    again = _upload(sessions, device_id, rows[12:])

    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, BRUTE_FORCE)
        assert alert.event_count == 16
        assert first.alerts_created == [alert.id]
        assert (later.alerts_created, later.alerts_updated) == ([], [alert.id])
        assert (again.alerts_created, again.alerts_updated) == ([], [alert.id])


def test_same_events_again_change_nothing(sessions: sessionmaker[Session]) -> None:
    _import_rules(sessions, "brute_force_local.yml")
    EvtxImporter(sessions).run([shared_data(*LOCAL_BRUTE_FORCE)])

    again = EvtxImporter(sessions).run([shared_data(*LOCAL_BRUTE_FORCE)])

    assert (again.stored, again.alerts_raised) == (0, 0)
    with transaction(sessions, write=False) as session:
        assert [a.event_count for a in _alerts(session, BRUTE_FORCE)] == [8, 8]
        assert session.scalar(select(func.count()).select_from(CorrelationMatch)) == 16


def test_value_count_counts_distinct_accounts_not_events(
    sessions: sessionmaker[Session],
) -> None:
    result = _import_rules(sessions, "password_spray_kerberos.yml")
    assert sorted(result.added) == [PREAUTH_FAILED, SPRAY]

    # 54 failures for one account: many events, one value.
    EvtxImporter(sessions).run([shared_data(*ONE_ACCOUNT)])
    with transaction(sessions, write=False) as session:
        assert _alerts(session, SPRAY) == []
        assert session.scalar(select(func.count()).select_from(CorrelationMatch)) == 54

    # 22 accounts once each from the same address, on the same domain controller.
    EvtxImporter(sessions).run([shared_data(*KERBRUTE)])
    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, SPRAY)
        assert alert.group_key == "IpAddress=::ffff:10.23.123.11"
        assert alert.event_count == 22
        assert (alert.severity, alert.techniques) == ("medium", ["T1110.003"])
        # The group-by value as the log wrote it, and the events' address as stored.
        assert _entities(session, alert, "remote_address") == [
            "10.23.123.11",
            "::ffff:10.23.123.11",
        ]
        device = session.get(Device, alert.device_id)
        assert device is not None and device.hostname == "rootdc1"
        assert len(_entities(session, alert, "user")) == 22


def test_value_count_threshold_is_exact(sessions: sessionmaker[Session]) -> None:
    _import_rules(sessions, "password_spray_kerberos.yml")
    with transaction(sessions) as session:
        device_id = add_device(session, "rootdc1.offsec.lan")
    failures = [r for r in rows_of(shared_data(*KERBRUTE)) if r["event_code"] == "4771"]
    assert len({r["fields"]["EventData"]["TargetUserName"] for r in failures}) == 22

    # Nine accounts, each failing twice: 18 events, 9 values.
    nine = failures[:9]
    _upload(sessions, device_id, nine + [{**r, "dedupe_key": r["dedupe_key"] + "b"} for r in nine])
    with transaction(sessions, write=False) as session:
        assert _alerts(session, SPRAY) == []
    _upload(sessions, device_id, failures[9:10])
    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, SPRAY)
        assert alert.event_count == 19


def test_temporal_ordered_failure_then_logon_of_the_same_account(
    sessions: sessionmaker[Session],
) -> None:
    _import_rules(sessions, "failed_then_success.yml")

    EvtxImporter(sessions).run([shared_data(*FAIL_THEN_LOGON)])

    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, FAILED_THEN_SUCCESS)
        assert alert.group_key == "TargetUserName=IEUser"
        # The failure and the two logons that followed; SYSTEM's logon is another group.
        assert alert.event_count == 3
        codes = session.scalars(
            select(Event.event_code).where(Event.id.in_(_linked(session, alert)))
        ).all()
        assert sorted(codes) == ["4624", "4624", "4625"]
        assert session.scalar(select(func.count(Alert.id))) == 1


def test_temporal_ordered_needs_the_order(sessions: sessionmaker[Session]) -> None:
    _import_rules(sessions, "failed_then_success.yml")
    with transaction(sessions) as session:
        device_id = add_device(session, "MSEDGEWIN10")
    rows = rows_of(shared_data(*FAIL_THEN_LOGON))
    failure = next(r for r in rows if r["event_code"] == "4625")
    logon = next(r for r in rows if r["event_code"] == "4624" and "IEUser" in (r["user"] or ""))
    # The logon 10 s before the failure: the wrong order.
    before = {**logon, "time": failure["time"] - timedelta(seconds=10), "dedupe_key": "early"}

    _upload(sessions, device_id, [failure, before])

    with transaction(sessions, write=False) as session:
        assert _alerts(session, FAILED_THEN_SUCCESS) == []
    _upload(sessions, device_id, [logon])
    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, FAILED_THEN_SUCCESS)
        # The window opens at the failure: the earlier logon is not in it.
        assert alert.event_count == 2


def test_exclusion_of_the_correlation_keeps_its_alerts_away(
    sessions: sessionmaker[Session],
) -> None:
    _import_rules(sessions, "brute_force_local.yml")
    with transaction(sessions) as session:
        excluded = add_device(session, "WIN")
        other = add_device(session, "WIN-2")
        catalog.add_exclusion(
            session,
            BRUTE_FORCE,
            device_id=excluded,
            tag=None,
            reason="password tests run here",
            expires_at=None,
            created_by="test",
        )
    rows = _admin_rows()

    skipped = _upload(sessions, excluded, rows)
    raised = _upload(sessions, other, rows)

    assert skipped.alerts_created == []
    assert skipped.excluded == {BRUTE_FORCE: 8}
    with transaction(sessions, write=False) as session:
        [alert] = _alerts(session, BRUTE_FORCE)
        assert alert.device_id == other
        assert raised.alerts_created == [alert.id]


def test_correlation_of_stored_rules_is_accepted_and_unknown_reference_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    base, correlation = (DATA / "brute_force_local.yml").read_text().split("\n---\n")
    (tmp_path / "base.yml").write_text(base)
    (tmp_path / "correlation.yml").write_text(correlation)
    unknown = correlation.replace("hw_failed_logon", "no_such_rule").replace("7a02", "7a03")
    (tmp_path / "unknown.yml").write_text(unknown)

    with transaction(sessions) as session:
        first = catalog.import_paths(session, [tmp_path / "base.yml"])
        second = catalog.import_paths(
            session, [tmp_path / "correlation.yml", tmp_path / "unknown.yml"]
        )

    assert first.added == [FAILED_LOGON]
    assert second.added == [BRUTE_FORCE]
    assert [(Path(r.file).name, r.rule_id, r.reason) for r in second.report.rejected] == [
        (
            "unknown.yml",
            "6b0f3a52-7d1e-4c8b-9a3f-2e5d1c4b7a03",
            "refers to rule 'no_such_rule', which is neither in this import nor stored "
            "(by id or name)",
        )
    ]
    assert second.exit_code == 3
    # The correlation refers to the stored rule by name, across files, and works.
    EvtxImporter(sessions).run([shared_data(*LOCAL_BRUTE_FORCE)])
    with transaction(sessions, write=False) as session:
        assert [a.event_count for a in _alerts(session, BRUTE_FORCE)] == [8, 8]
        assert _alerts(session, FAILED_LOGON) == []


def test_generate_true_keeps_the_base_rules_own_alerts(sessions: sessionmaker[Session]) -> None:
    text = (DATA / "brute_force_local.yml").read_text()
    text = text.replace("    type: event_count\n", "    type: event_count\n    generate: true\n")
    with transaction(sessions) as session:
        result = catalog.import_texts(session, [("generating.yml", text)])
        assert sorted(result.added) == [FAILED_LOGON, BRUTE_FORCE]

    EvtxImporter(sessions).run([shared_data(*LOCAL_BRUTE_FORCE)])

    with transaction(sessions, write=False) as session:
        assert [a.event_count for a in _alerts(session, BRUTE_FORCE)] == [8, 8]
        assert sum(a.event_count for a in _alerts(session, FAILED_LOGON)) == 16
