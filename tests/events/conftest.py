"""Fixtures of the timeline tests: a viewer's credentials and an enrolled device."""

from __future__ import annotations

import pytest

from hostwatch.auth.roles import Role
from tests.helpers import Api, enroll


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.token_for("vera", Role.viewer)


@pytest.fixture
def device(api: Api) -> str:
    device_id, _ = enroll(api, "ws01")
    return device_id
