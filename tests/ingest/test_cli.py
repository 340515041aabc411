"""`hostwatch import evtx` as a user runs it: summaries, exit statuses, damaged input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from hostwatch.events.models import Event
from tests.ingest.conftest import raw_events, sample
from tests.ingest.evtx_fixtures import DISCOVERY, ONE_CHUNK, TWO_CHUNKS, chunk_at


def _events(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(Event).order_by(Event.id))]


def _damaged_folder(folder: Path) -> Path:
    """Copies of real logs: one cut inside its second chunk, one with bytes flipped in its
    first chunk; a file that is no EVTX at all, and one that cannot be opened."""
    folder.mkdir()
    # 228 records: 128 in chunk 0, then 100 (129 to 228) in chunk 1, cut inside record 184.
    (folder / "cut.evtx").write_bytes(sample(TWO_CHUNKS).read_bytes()[: 4096 + 65536 + 30_000])
    # The same 228 records; the first chunk's 128 fail its checksum.
    flipped = bytearray(sample(TWO_CHUNKS).read_bytes())
    for offset in range(chunk_at(0) + 5000, chunk_at(0) + 5200):
        flipped[offset] ^= 0xFF
    (folder / "flipped.evtx").write_bytes(bytes(flipped))
    (folder / "notes $(whoami).evtx").write_text("not an event log")
    # Unreadable even for root, unlike a chmod 000 file (see the test that needs non-root).
    (folder / "gone.evtx").symlink_to(folder / "deleted-meanwhile.evtx")
    return folder


def test_import_prints_a_json_summary_and_exits_0(hostwatch: Any) -> None:
    result = hostwatch("import", "evtx", str(sample(DISCOVERY)), "--json")

    summary = json.loads(result.stdout)
    records = len(raw_events(sample(DISCOVERY)))
    assert result.exit_code == 0, result.output
    assert {k: summary[k] for k in ("status", "files", "records", "stored", "duplicates")} == {
        "status": "complete",
        "files": 1,
        "records": records,
        "stored": records,
        "duplicates": 0,
    }
    assert (summary["bad_records"], summary["devices_created"]) == (0, 1)
    assert summary["per_file"] == [
        {
            "file": str(sample(DISCOVERY)),
            "records": records,
            "bad_records": 0,
            "not_stored": 0,
            "problems": [],
            "problems_not_listed": 0,
        }
    ]


def test_damaged_input_imports_what_is_good_and_exits_3(
    hostwatch: Any, engine: Engine, tmp_path: Path
) -> None:
    hostwatch("import", "evtx", str(sample(DISCOVERY)))
    before = _events(engine)
    folder = _damaged_folder(tmp_path / "damaged")

    result = hostwatch("import", "evtx", str(folder), str(sample(DISCOVERY)), "--json")

    summary = json.loads(result.stdout)
    problems = {
        (Path(p["file"]).name, p["chunk"], p["record"])
        for f in summary["per_file"]
        for p in f["problems"]
    }
    assert result.exit_code == 3, result.output
    assert summary["status"] == "partial"
    # cut: records 1 to 183 of 228; flipped: its second chunk, 129 to 228, which the cut
    # copy lacks from 184 on; the old file: all duplicates.
    assert summary["stored"] == 183 + (228 - 183)
    assert summary["duplicates"] == len(before) + (183 - 128)
    assert summary["bad_records"] == 45 + 128
    assert problems == {
        ("cut.evtx", 1, None),
        ("cut.evtx", 1, 184),
        ("flipped.evtx", 0, None),
        ("notes $(whoami).evtx", None, None),
        ("gone.evtx", None, None),
    }
    after = _events(engine)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 228


def test_human_summary_lists_each_problem_where_it_is(hostwatch: Any, tmp_path: Path) -> None:
    folder = _damaged_folder(tmp_path / "damaged")

    result = hostwatch("import", "evtx", str(folder))

    assert result.exit_code == 3
    assert "events stored          228" in result.stdout
    assert (
        f"{folder / 'flipped.evtx'}, chunk 0: Failed to parse chunk number 0: chunk data CRC32 "
        "invalid (the chunk is damaged, and no record of it can be trusted); its 128 records "
        "(1 to 128) are not imported" in result.stdout
    )
    assert f"{folder / 'cut.evtx'}, chunk 1, record 184: the record is cut short" in result.stdout
    assert (
        f"{folder / 'cut.evtx'}, chunk 1: 44 of 100 records could not be read (records 185 to 228)"
        in result.stdout
    )
    assert f"{folder / 'notes $(whoami).evtx'}: not an EVTX file" in result.stdout
    assert f"{folder / 'gone.evtx'}: cannot read the file: No such file" in result.stdout


def test_nothing_importable_exits_1(hostwatch: Any, tmp_path: Path) -> None:
    (tmp_path / "notes.evtx").write_text("not an event log")

    result = hostwatch("import", "evtx", str(tmp_path / "notes.evtx"), str(tmp_path / "nowhere"))

    summary = json.loads(hostwatch("import", "evtx", str(tmp_path / "notes.evtx"), "--json").stdout)
    assert result.exit_code == 1
    assert (summary["status"], summary["stored"]) == ("failed", 0)
    assert "no such file or folder" in result.stdout


def test_empty_file_and_folder_named_like_a_log_are_reported(
    hostwatch: Any, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    folder = tmp_path / "x.evtx"
    folder.mkdir()

    alone = hostwatch("import", "evtx", str(empty), str(folder), "--json")
    beside = hostwatch("import", "evtx", str(empty), str(folder), str(sample(ONE_CHUNK)), "--json")

    summary = json.loads(alone.stdout)
    assert (alone.exit_code, summary["status"], summary["stored"]) == (1, "failed", 0)
    assert [p["message"] for p in summary["per_file"][0]["problems"]] == ["the file is empty"]
    assert [(p["file"], p["message"]) for p in summary["input_problems"]] == [
        (str(folder), "no .evtx files or .zip archives in this folder")
    ]
    assert (beside.exit_code, json.loads(beside.stdout)["stored"]) == (3, 50)


def test_file_names_are_escaped_in_text_and_exact_in_json(hostwatch: Any, tmp_path: Path) -> None:
    # A file name can carry a terminal escape, a carriage return and a newline that fakes a
    # line of the summary, and a right-to-left override that reverses what follows it.
    name = "evil\x1b]0;owned\x07\x1b[2J\r\n  status complete\u202etxt.evtx"
    (tmp_path / name).write_text("not an event log")

    text = hostwatch("import", "evtx", str(tmp_path / name))
    as_json = hostwatch("import", "evtx", str(tmp_path / name), "--json")

    assert text.exit_code == as_json.exit_code == 1
    assert not {"\x1b", "\x07", "\r", "\u202e"} & set(text.stdout)
    assert (
        f"{tmp_path}/evil\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0a  status complete\\u202etxt.evtx: "
        "not an EVTX file" in text.stdout
    )
    assert json.loads(as_json.stdout)["per_file"][0]["file"] == str(tmp_path / name)
    assert "\x1b" not in as_json.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_file_is_reported_and_the_rest_imported(hostwatch: Any, tmp_path: Path) -> None:
    locked = tmp_path / "locked.evtx"
    locked.write_bytes(sample(ONE_CHUNK).read_bytes())
    locked.chmod(0)

    result = hostwatch("import", "evtx", str(locked), str(sample(DISCOVERY)), "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 3
    assert summary["per_file"][0]["problems"][0]["message"] == (
        "cannot read the file: Permission denied"
    )
    assert summary["stored"] == len(raw_events(sample(DISCOVERY)))


def test_import_without_paths_shows_usage(hostwatch: Any) -> None:
    result = hostwatch("import", "evtx")

    assert result.exit_code == 2
