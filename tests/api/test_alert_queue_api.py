"""The all-devices alert queue's filters: device name search and activity time range."""

from __future__ import annotations

import pytest

from hostwatch.auth.roles import Role
from hostwatch.db.engine import transaction
from hostwatch.detection.service import detect
from hostwatch.devices.models import Device
from tests.detection.alerting import add_device, at, import_test_rules, process_event, store
from tests.helpers import Api


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    """A viewer, with whoami on APP-01 at 08:00 and net on db-02 at 11:00 (same day)."""
    with transaction(api.sessions()) as session:
        import_test_rules(session)
        app = add_device(session, "APP-01")
        db = add_device(session, "db-02")
        session.get(Device, db).fqdn = "db-02.corp.example"  # type: ignore[union-attr]
        detect(session, app, store(session, app, process_event(0, "whoami.exe", guid="{a}")))
        detect(session, db, store(session, db, process_event(180, "net.exe", guid="{b}")))
    return api.token_for("vera", Role.viewer)


def _titles(api: Api, headers: dict[str, str], **params: str) -> list[str]:
    response = api.client.get("/api/alerts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


def test_alert_queue_searches_device_names_ignoring_case(api: Api, viewer: dict[str, str]) -> None:
    assert _titles(api, viewer, device_search="app") == ["Whoami Run"]
    assert _titles(api, viewer, device_search="CORP.example") == ["Net Run"]
    assert _titles(api, viewer, device_search="DB-0") == ["Net Run"]
    assert _titles(api, viewer, device_search="-0") == ["Net Run", "Whoami Run"]
    # The search is text, not a pattern.
    assert _titles(api, viewer, device_search="%") == []


def test_alert_queue_filters_by_activity_range(api: Api, viewer: dict[str, str]) -> None:
    morning = {"from": at(-60).isoformat(), "to": at(60).isoformat()}
    after_nine = {"from": at(60).isoformat()}
    # The end is exclusive: an alert active exactly at `to` is outside.
    until_net = {"to": at(180).isoformat()}

    assert _titles(api, viewer, **morning) == ["Whoami Run"]
    assert _titles(api, viewer, **after_nine) == ["Net Run"]
    assert _titles(api, viewer, **until_net) == ["Whoami Run"]


def test_alert_queue_refuses_a_backwards_or_zoneless_range(
    api: Api, viewer: dict[str, str]
) -> None:
    backwards = {"from": at(60).isoformat(), "to": at(0).isoformat()}
    zoneless = {"from": "2026-03-01T08:00:00"}

    assert api.client.get("/api/alerts", params=backwards, headers=viewer).status_code == 422
    assert api.client.get("/api/alerts", params=zoneless, headers=viewer).status_code == 422
