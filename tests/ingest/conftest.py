"""The shared EVTX samples, their manifests, and helpers that read records independently."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from evtx import PyEvtxParser
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import make_engine, make_session_factory
from tests.shared import shared_data

FOLDERS = ("evtx_attack_samples", "evtx_to_mitre_attack")


@dataclass(frozen=True)
class Sample:
    path: Path
    records: int


def manifest(folder: str) -> list[Sample]:
    """The folder's MANIFEST.csv: one row per EVTX file, paths relative to the folder."""
    base = shared_data(folder)
    with open(base / "MANIFEST.csv", newline="", encoding="utf-8") as handle:
        return [Sample(base / row["path"], int(row["records"])) for row in csv.DictReader(handle)]


def all_samples() -> list[Sample]:
    return [sample for folder in FOLDERS for sample in manifest(folder)]


def sample(relative: str) -> Path:
    """One shared EVTX file, by its path under shared/data."""
    return shared_data(*relative.split("/"))


def raw_events(path: Path) -> list[dict[str, Any]]:
    """Every record's Event element, read with the evtx library alone."""
    return [json.loads(r["data"])["Event"] for r in PyEvtxParser(str(path)).records_json()]


def identity(event: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two records the same event (shared/data/SOURCES.md uses this too)."""
    system = event["System"]
    return (
        system.get("Channel"),
        system.get("Computer"),
        system.get("EventRecordID"),
        system["TimeCreated"]["#attributes"]["SystemTime"],
    )


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def sqlite_sessions(_templates: dict[str, str], tmp_path: Path) -> Any:
    """A fresh SQLite database only, for the slower checks run on one engine."""
    path = tmp_path / "sqlite-only.db"
    shutil.copyfile(_templates["sqlite"], path)
    engine = make_engine(f"sqlite:///{path}")
    yield make_session_factory(engine)
    engine.dispose()
