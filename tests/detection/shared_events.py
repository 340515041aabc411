"""Shared EVTX files read with the project's own reader and normalizer, as event rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostwatch.ingest.evtx import EvtxReader, EvtxSource, find_sources
from hostwatch.ingest.normalize import normalize
from hostwatch.ingest.windows_values import RecordError
from tests.shared import shared_data

EVTX_SETS = ("evtx_attack_samples", "evtx_to_mitre_attack")
RULE_FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting")


def rows_of(path: Path) -> list[dict[str, Any]]:
    """The event rows of one EVTX file; a record the normalizer refuses fails the caller."""
    reader = EvtxReader(EvtxSource(name=str(path), path=path, size=path.stat().st_size))
    rows = [normalize(record.event, record.written).row for record in reader]
    assert not reader.problems, reader.problems
    return rows


def shared_rows() -> list[dict[str, Any]]:
    """Every event of the shared EVTX sets, in file order."""
    sources, problems = find_sources([shared_data(name) for name in EVTX_SETS])
    assert not problems, problems
    rows = []
    for source in sources:
        for record in EvtxReader(source):
            try:
                rows.append(normalize(record.event, record.written).row)
            except RecordError:
                continue  # records without a computer or time are not events
    return rows


def rule_folders(*names: str) -> list[Path]:
    return [shared_data("sigma", name) for name in names or RULE_FOLDERS]
