"""Small rules written in the test, compiled by the real loader, matched by the real engine."""

from __future__ import annotations

import uuid
from typing import Any

import yaml

from hostwatch.detection.engine import Detector
from hostwatch.detection.rules import RuleLoader
from hostwatch.detection.view import View


def rule_text(detection: dict[str, Any], logsource: dict[str, str] | None = None) -> str:
    return yaml.safe_dump(
        {
            "title": "test rule",
            "id": str(uuid.uuid4()),
            "logsource": logsource or {"category": "test"},
            "detection": detection,
            "level": "high",
        },
        allow_unicode=True,
    )


def detector_for(detection: dict[str, Any], logsource: dict[str, str] | None = None) -> Detector:
    loader = RuleLoader()
    loader.load_text("test.yml", rule_text(detection, logsource))
    assert loader.report.rejected == [], loader.report.rejected
    return Detector(loader.rules)


def matches(detection: dict[str, Any], view: View) -> bool:
    return bool(detector_for(detection).match_view(view))


def sigma_escape(text: str) -> str:
    """`text` as a Sigma string value that means exactly `text`, wildcards included."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
