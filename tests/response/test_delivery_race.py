"""Two heartbeats of one device at once: each action is handed out once, on both engines."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine

from hostwatch.db.base import utcnow
from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.devices.models import AgentCredential, Device
from hostwatch.protocol import PendingAction
from hostwatch.response import service
from hostwatch.response.models import Action


def test_deliver_hands_an_action_out_once_to_concurrent_heartbeats(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    now = utcnow()
    with transaction(sessions) as session:
        device = Device(hostname="web01", sources=["agent"])
        session.add(device)
        session.flush()
        session.add(AgentCredential(device_id=device.id, credential_hash="x" * 64))
        session.add(
            Action(
                device_id=device.id,
                type="isolate",
                requested_by="rita",
                expires_at=now + timedelta(hours=1),
            )
        )
        device_id = device.id
    handed: list[list[PendingAction]] = []

    def second() -> None:
        with transaction(sessions) as session:
            handed.append(service.deliver(session, device_id, utcnow()))

    with transaction(sessions) as session:
        handed.append(service.deliver(session, device_id, now))
        # The second heartbeat starts while the first has not committed yet.
        other = threading.Thread(target=second)
        other.start()
        other.join(timeout=0.5)
    other.join(timeout=30)

    assert not other.is_alive()
    assert [len(batch) for batch in handed] == [1, 0]
    assert handed[0][0].type == "isolate"
