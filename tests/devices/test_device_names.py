"""Devices found again by name from logs, whatever letters their names use."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hostwatch.db.engine import transaction
from hostwatch.devices import registry
from hostwatch.devices.models import Device
from tests.helpers import Api


@pytest.mark.parametrize("computer", ["ÄPC02", "İSTANBUL-PC", "ws01.ÉCOLE.example", "PC01"])
def test_the_same_computer_name_finds_its_device_again(api: Api, computer: str) -> None:
    with transaction(api.sessions()) as session:
        first, created = registry.find_or_add_from_logs(session, computer)
        first_id = first.id
    with transaction(api.sessions()) as session:
        again, created_again = registry.find_or_add_from_logs(session, computer)
        count = session.scalar(select(func.count(Device.id)))

    assert (created, created_again) == (True, False)
    assert again.id == first_id
    assert count == 1


def test_ascii_names_match_ignoring_case(api: Api) -> None:
    with transaction(api.sessions()) as session:
        first, _ = registry.find_or_add_from_logs(session, "ws01.corp.example")
        first_id = first.id
    with transaction(api.sessions()) as session:
        again, created = registry.find_or_add_from_logs(session, "WS01.CORP.EXAMPLE")

    assert (again.id, created) == (first_id, False)
