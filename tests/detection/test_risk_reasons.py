"""The risk level's reasons: the alerts that set it, one line per rule title."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from hostwatch.db.base import utcnow
from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.detection.models import Alert
from hostwatch.detection.risk import MAX_REASONS, security_info
from hostwatch.devices.models import Device


def test_reasons_name_each_rule_once_newest_first(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    now = utcnow()
    with transaction(sessions) as session:
        device = Device(hostname="risk-01")
        session.add(device)
        session.flush()

        def alert(title: str, severity: str, minutes_ago: int, rule: str) -> Alert:
            at = now - timedelta(minutes=minutes_ago)
            row = Alert(
                device_id=device.id,
                rule_id=rule,
                title=title,
                severity=severity,
                first_activity=at,
                last_activity=at,
            )
            session.add(row)
            return row

        # The same rule on three processes, the newest first in time.
        repeated = [alert("Shell In Tmp", "high", m, "r1") for m in (1, 5, 9)]
        other = alert("Whoami Run", "critical", 3, "r2")
        alert("Quiet", "low", 0, "r3")  # below the level: not a reason
        extra = [alert(f"Rule {i}", "high", 20 + i, f"x{i}") for i in range(6)]
        session.flush()
        device_id = device.id
        newest_repeated, other_id = repeated[0].id, other.id
        extra_ids = [e.id for e in extra]

    with transaction(sessions, write=False) as session:
        found = security_info(session, device_id)

    assert found.risk_level == "high"
    assert [(r.alert_id, r.title) for r in found.risk_reasons] == [
        (newest_repeated, "Shell In Tmp"),
        (other_id, "Whoami Run"),
        *((extra_ids[i], f"Rule {i}") for i in range(MAX_REASONS - 2)),
    ]
