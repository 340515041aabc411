"""Input built to trip the importer: corrupt compressed members, repeated member names,
archives without event logs, pipes named like event logs, and logs that wrapped around."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hostwatch.ingest.evtx import find_sources
from tests.ingest.conftest import raw_events, sample

DISCOVERY = "evtx_attack_samples/Discovery/dicovery_4661_net_group_domain_admins_target.evtx"
ONE_CHUNK = "evtx_attack_samples/AutomatedTestingTools/Malware/rundll32_cmd_schtask.evtx"
WRAPPING = "evtx_attack_samples/Lateral Movement/LM_5145_Remote_FileCopy.evtx"


def _corrupt_deflate(path: Path) -> Path:
    """A valid zip whose one member has a damaged compressed stream."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(sample(ONE_CHUNK), "logs/broken.evtx")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
    # The member's data follows its 30-byte local header, name and extra field.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start] ^= 0xFF
    data[start + 1] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_compressed_member_is_a_problem_and_the_rest_is_imported(
    hostwatch: Any, tmp_path: Path
) -> None:
    archive = _corrupt_deflate(tmp_path / "broken.zip")

    result = hostwatch("import", "evtx", str(sample(DISCOVERY)), str(archive), "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 3
    assert summary["stored"] == len(raw_events(sample(DISCOVERY)))
    problems = [p for f in summary["per_file"] for p in f["problems"]]
    assert any("broken.evtx" in json.dumps(f) for f in summary["per_file"]), summary
    assert problems, summary


def test_members_with_the_same_name_are_each_read(hostwatch: Any, tmp_path: Path) -> None:
    archive = tmp_path / "same.zip"
    with zipfile.ZipFile(archive, "w") as opened:
        opened.write(sample(DISCOVERY), "same.evtx")
        with pytest.warns(UserWarning, match="Duplicate name"):
            opened.write(sample(ONE_CHUNK), "same.evtx")

    result = hostwatch("import", "evtx", str(archive), "--json")

    summary = json.loads(result.stdout)
    expected = len(raw_events(sample(DISCOVERY))) + len(raw_events(sample(ONE_CHUNK)))
    assert result.exit_code == 0
    assert summary["records"] == expected


def test_an_archive_without_event_logs_is_reported(hostwatch: Any, tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as opened:
        opened.write(sample(DISCOVERY), "a.evtx")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as opened:
        opened.write(inner, "inner.zip")
        opened.writestr("readme.txt", "nothing here")

    result = hostwatch("import", "evtx", str(outer), "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 1
    assert "no .evtx members" in json.dumps(summary["input_problems"])


def test_a_pipe_named_like_an_event_log_is_skipped_not_waited_on(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    os.mkfifo(folder / "pipe.evtx")
    (folder / "real.evtx").write_bytes(sample(DISCOVERY).read_bytes())
    os.mkfifo(tmp_path / "named.evtx")

    sources, problems = find_sources([folder, tmp_path / "named.evtx"])

    assert [Path(s.name).name for s in sources] == ["real.evtx"]
    assert [p.file for p in problems] == [str(tmp_path / "named.evtx")]


def test_a_full_log_that_wrapped_around_imports_complete(hostwatch: Any, tmp_path: Path) -> None:
    # A full log is circular: its oldest chunk may sit anywhere in the file. Rotating the
    # chunks of a real 10-chunk log gives one that wrapped.
    data = sample(WRAPPING).read_bytes()
    header, body = data[:4096], data[4096:]
    chunks = [body[at : at + 65536] for at in range(0, len(body), 65536)]
    assert len(chunks) > 2
    half = len(chunks) // 2
    wrapped = tmp_path / "wrapped.evtx"
    wrapped.write_bytes(header + b"".join(chunks[half:] + chunks[:half]))

    result = hostwatch("import", "evtx", str(wrapped), "--json")

    summary = json.loads(result.stdout)
    assert (result.exit_code, summary["status"]) == (0, "complete"), summary
    assert summary["bad_records"] == 0
    assert summary["stored"] == len(raw_events(sample(WRAPPING)))


def test_a_computer_name_with_control_characters_reaches_the_log_escaped(
    sessions: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from hostwatch.ingest.importer import EvtxImporter

    importer = EvtxImporter(sessions)
    with caplog.at_level("INFO", logger="hostwatch.ingest.importer"), sessions() as session:
        importer._device_id(session, "PC\x1b[31m\r\nINJECTED", set())
        session.commit()

    created = [r.getMessage() for r in caplog.records if "created from the logs" in r.getMessage()]
    assert len(created) == 1
    assert "\x1b" not in created[0] and "\n" not in created[0]
    assert "\\x1b[31m\\r\\nINJECTED" in created[0]
