"""Rule matches in stored events become alerts: facts from the rule, aggregation, exclusions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.base import utcnow
from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.detection import catalog
from hostwatch.detection.models import Alert, AlertEntity, AlertEvent, RuleExclusion
from hostwatch.detection.service import Windows, detect
from hostwatch.devices.models import Device
from tests.detection.alerting import (
    NET_RULE,
    WHOAMI_RULE,
    add_device,
    at,
    import_test_rules,
    process_event,
    store,
)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        import_test_rules(session)
    return factory


def _alerts(session: Session, device_id: str) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert).where(Alert.device_id == device_id).order_by(Alert.first_activity)
        )
    )


def test_detect_raises_alert_with_the_rules_facts(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        rows = store(
            session,
            device_id,
            process_event(0, "whoami.exe", target="C:\\out.txt"),
            process_event(1, "notepad.exe"),
        )

        result = detect(session, device_id, rows)

        assert result.matches == 1
        [alert] = _alerts(session, device_id)
        assert alert.rule_id == WHOAMI_RULE
        assert (alert.title, alert.severity, alert.status) == ("Whoami Run", "high", "new")
        assert alert.description == "Runs whoami.exe."
        assert alert.tactics == ["Discovery"]
        assert alert.techniques == ["T1033"]
        assert alert.first_activity == alert.last_activity == at(0)
        assert alert.event_count == 1
        linked = session.scalars(select(AlertEvent.event_id).where(AlertEvent.alert_id == alert.id))
        assert list(linked) == [rows[0]["id"]]
        entities = {
            tuple(row)
            for row in session.execute(
                select(AlertEntity.kind, AlertEntity.value).where(AlertEntity.alert_id == alert.id)
            )
        }
        assert entities == {
            ("device", "app-01"),
            ("user", "CORP\\alice"),
            ("process", "C:\\Windows\\System32\\whoami.exe"),
            ("file", "C:\\out.txt"),
        }
        assert result.alerts_created == [alert.id]
        assert result.risk_level == "high"
        assert session.get(Device, device_id).risk_level == "high"  # type: ignore[union-attr]


def test_detect_joins_one_process_within_the_window_into_one_alert(
    sessions: sessionmaker[Session],
) -> None:
    windows = Windows(alert=timedelta(hours=1))
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        first = store(
            session,
            device_id,
            process_event(0, "whoami.exe", guid="{a}"),
            process_event(30, "whoami.exe", guid="{a}"),
            process_event(31, "whoami.exe", guid="{b}"),
        )
        detect(session, device_id, first, windows=windows)
        # A later batch: within the hour of the open alert, and well after it.
        later = store(
            session,
            device_id,
            process_event(80, "whoami.exe", guid="{a}"),
            process_event(200, "whoami.exe", guid="{a}"),
        )

        result = detect(session, device_id, later, windows=windows)

        alerts = _alerts(session, device_id)
        summary = [(a.group_key, a.event_count, a.first_activity, a.last_activity) for a in alerts]
        assert summary == [
            ("{a}", 3, at(0), at(80)),
            ("{b}", 1, at(31), at(31)),
            ("{a}", 1, at(200), at(200)),
        ]
        assert len(result.alerts_created) == 1
        assert result.alerts_updated == [alerts[0].id]


def test_detect_groups_by_image_when_no_process_guid(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        events = [process_event(m, "whoami.exe", guid="") for m in (0, 5, 10)]
        for event in events:
            event["process_guid"] = None

        detect(session, device_id, store(session, device_id, *events))

        [alert] = _alerts(session, device_id)
        assert alert.group_key == "c:\\windows\\system32\\whoami.exe"
        assert alert.event_count == 3


def test_detect_twice_over_the_same_events_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        rows = store(session, device_id, process_event(0, "whoami.exe"))
        detect(session, device_id, rows)

        again = detect(session, device_id, rows)

        assert again.matches == 1
        assert again.alerts_created == again.alerts_updated == []
        [alert] = _alerts(session, device_id)
        assert alert.event_count == 1


def test_exclusion_for_a_device_holds_until_it_expires(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        exclusion = catalog.add_exclusion(
            session,
            WHOAMI_RULE,
            device_id=device_id,
            tag=None,
            reason="admins run whoami here",
            expires_at=utcnow() + timedelta(hours=1),
            created_by="test",
        )
        excluded = detect(
            session, device_id, store(session, device_id, process_event(0, "whoami.exe"))
        )
        assert excluded.excluded == {WHOAMI_RULE: 1}
        assert _alerts(session, device_id) == []

        exclusion.expires_at = utcnow() - timedelta(seconds=1)
        session.flush()
        result = detect(
            session, device_id, store(session, device_id, process_event(5, "whoami.exe"))
        )

        assert result.excluded == {}
        assert [a.rule_id for a in _alerts(session, device_id)] == [WHOAMI_RULE]


def test_exclusion_for_a_tag_spares_only_tagged_devices(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        tagged = add_device(session, "build-01", "build-servers")
        other = add_device(session, "app-01")
        catalog.add_exclusion(
            session,
            WHOAMI_RULE,
            device_id=None,
            tag="build-servers",
            reason="build scripts",
            expires_at=None,
            created_by="test",
        )

        detect(session, tagged, store(session, tagged, process_event(0, "whoami.exe")))
        detect(session, other, store(session, other, process_event(0, "whoami.exe")))

        assert _alerts(session, tagged) == []
        assert len(_alerts(session, other)) == 1


def test_exclusion_refuses_a_past_expiry_and_a_missing_reason(
    sessions: sessionmaker[Session],
) -> None:
    from hostwatch.errors import InvalidInput

    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        with pytest.raises(InvalidInput, match="in the past"):
            catalog.add_exclusion(
                session,
                WHOAMI_RULE,
                device_id=device_id,
                tag=None,
                reason="r",
                expires_at=utcnow() - timedelta(minutes=1),
                created_by="test",
            )
        with pytest.raises(InvalidInput, match="reason"):
            catalog.add_exclusion(
                session,
                WHOAMI_RULE,
                device_id=device_id,
                tag=None,
                reason="  ",
                expires_at=None,
                created_by="test",
            )
        assert session.scalars(select(RuleExclusion)).all() == []


def test_disabled_rule_raises_nothing_until_enabled(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        device_id = add_device(session, "app-01")
        detect(session, device_id, [])  # builds the detector for the current rules
        assert catalog.set_enabled(session, [WHOAMI_RULE], False) == [WHOAMI_RULE]

        off = detect(session, device_id, store(session, device_id, process_event(0, "whoami.exe")))
        catalog.set_enabled(session, [WHOAMI_RULE], True)
        on = detect(session, device_id, store(session, device_id, process_event(1, "whoami.exe")))

        assert off.matches == 0
        assert on.matches == 1
        assert on.rules_version == off.rules_version + 1


def test_reimport_of_unchanged_rules_keeps_the_version_and_switches(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        catalog.set_enabled(session, [NET_RULE], False)
        device_id = add_device(session, "app-01")
        before = detect(session, device_id, []).rules_version

        import_test_rules(session)

        assert detect(session, device_id, []).rules_version == before
        assert catalog.get_rule(session, NET_RULE).enabled is False
