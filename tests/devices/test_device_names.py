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


def test_names_looked_up_together_find_each_other_as_one_at_a_time(api: Api) -> None:
    names = ["PC01", "pc01.corp.example", "PC01.other.example", "ws02.corp.example", "WS02"]

    with transaction(api.sessions()) as session:
        together = registry.find_or_add_many_from_logs(session, names)
        found = {name: (device.id, created) for name, (device, created) in together.items()}
        count = session.scalar(select(func.count(Device.id)))
        fqdns = {row.id: row.fqdn for row in session.execute(select(Device.id, Device.fqdn))}

    # The bare name's device takes the first FQDN; a second domain is another machine; a
    # bare name finds the device of its FQDN.
    assert found["pc01.corp.example"] == (found["PC01"][0], False)
    assert found["PC01.other.example"][1] is True
    assert found["WS02"] == (found["ws02.corp.example"][0], False)
    assert count == 3
    assert fqdns[found["PC01"][0]] == "pc01.corp.example"
    assert fqdns[found["PC01.other.example"][0]] == "PC01.other.example"


def test_names_looked_up_together_find_existing_devices(api: Api) -> None:
    with transaction(api.sessions()) as session:
        existing, _ = registry.find_or_add_from_logs(session, "ÄPC02")
        existing_id = existing.id

    with transaction(api.sessions()) as session:
        found = registry.find_or_add_many_from_logs(session, ["ÄPC02", "NEW01", "ÄPC02"])
        results = {name: (device.id, created) for name, (device, created) in found.items()}
        tags = sorted(t.name for t in found["NEW01"][0].tags)

    assert results == {"ÄPC02": (existing_id, False), "NEW01": (results["NEW01"][0], True)}
    assert tags == ["os:windows", "source:endpoint_logs"]
