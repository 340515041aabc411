"""Worker processes that read EVTX files: every file ends once, and a worker that dies is told."""

from __future__ import annotations

import os
import signal

import pytest

from hostwatch.ingest import pipeline
from hostwatch.ingest.evtx import find_sources
from hostwatch.ingest.pipeline import FILES_AHEAD, FileEnd, Part, Workers, read_here
from tests.ingest.conftest import all_samples
from tests.shared import shared_data


def test_workers_send_each_file_whole_and_once() -> None:
    sources, _ = find_sources([shared_data("evtx_attack_samples")])

    with Workers(sources, 2, "sqlite", 100) as workers:
        messages = list(workers)

    ends = [m for m in messages if isinstance(m, FileEnd)]
    rows = [row for m in messages if isinstance(m, Part) for row in m.rows]
    here = [row for m in read_here(sources, "sqlite", 100) if isinstance(m, Part) for row in m.rows]
    assert sorted(end.file for end in ends) == list(range(len(sources)))
    assert all(len(m.rows) <= 100 for m in messages if isinstance(m, Part))
    expected = {str(s.path): s.records for s in all_samples()}
    assert {sources[end.file].name: end.records for end in ends} == {
        source.name: expected[source.name] for source in sources
    }
    assert sorted(map(tuple, rows)) == sorted(map(tuple, here))
    assert workers.died == []
    assert workers.cpu_seconds > 0


@pytest.mark.timeout(60)
def test_a_worker_that_dies_is_told_and_the_other_reads_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Files handed out by count only, so that few are in the dying worker's hands.
    monkeypatch.setattr(pipeline, "BYTES_AHEAD", 0)
    sources, _ = find_sources([shared_data("evtx_attack_samples")])

    with Workers(sources, 2, "sqlite", 100) as workers:
        os.kill(workers._processes[0].pid or 0, signal.SIGKILL)
        messages = list(workers)

    ended = {m.file for m in messages if isinstance(m, FileEnd)}
    assert workers.died == [-signal.SIGKILL]
    # Only the files handed to the killed worker are missing, the others all ended.
    assert len(sources) - FILES_AHEAD <= len(ended) <= len(sources)
