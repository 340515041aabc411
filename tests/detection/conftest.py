"""Rules and events read once per test session: loading every shared rule takes seconds."""

from __future__ import annotations

from typing import Any

import pytest

from hostwatch.detection.engine import Detector
from hostwatch.detection.rules import CompiledRule, LoadReport, load_rules
from tests.detection.shared_events import rule_folders, shared_rows


@pytest.fixture(scope="session")
def all_rules() -> tuple[list[CompiledRule], LoadReport]:
    return load_rules(rule_folders())


@pytest.fixture(scope="session")
def detector(all_rules: tuple[list[CompiledRule], LoadReport]) -> Detector:
    return Detector(all_rules[0])


@pytest.fixture(scope="session")
def events() -> list[dict[str, Any]]:
    return shared_rows()
