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


@pytest.mark.timeout(60)
def test_files_meant_for_a_dead_worker_go_to_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BYTES_AHEAD", 0)
    sources, _ = find_sources([shared_data("evtx_attack_samples")])

    with Workers(sources, 2, "sqlite", 100) as workers:
        dead = workers._processes[0]
        os.kill(dead.pid or 0, signal.SIGKILL)
        dead.join(10)
        handed_to_dead = workers._assigned[0]
        # As if its files had ended just before it died: the next hand-out meets a broken pipe.
        workers._assigned[0] = workers._assigned_bytes[0] = 0
        next_file = workers._next
        workers._hand_out(0)
        assert 0 in workers._gone
        assert workers._next == next_file  # nothing was counted as handed out
        messages = list(workers)

    ended = {m.file for m in messages if isinstance(m, FileEnd)}
    assert workers.died == [-signal.SIGKILL]
    # Every file not yet handed out when the worker died was read by the other one; of the
    # dead worker's own, those it finished before it died ended too.
    assert set(range(next_file, len(sources))) <= ended
    assert len(sources) - handed_to_dead <= len(ended) <= len(sources)
