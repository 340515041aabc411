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

DISCOVERY = "evtx_attack_samples/Discovery/dicovery_4661_net_group_domain_admins_target.evtx"
ONE_CHUNK = "evtx_attack_samples/AutomatedTestingTools/Malware/rundll32_cmd_schtask.evtx"
TWO_CHUNKS = (
    "evtx_attack_samples/Command and Control/"
    "DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx"
)


def _events(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(Event).order_by(Event.id))]


def _damaged_folder(folder: Path) -> Path:
    """Copies of real logs: one cut inside its second chunk, one with bytes flipped in its
    only chunk; a file that is no EVTX at all, and one that cannot be opened."""
    folder.mkdir()
    # 228 records: 128 in chunk 0, then 100 (129 to 228) in chunk 1, cut after record 183.
    (folder / "cut.evtx").write_bytes(sample(TWO_CHUNKS).read_bytes()[: 4096 + 65536 + 30_000])
    # 50 records, five of them damaged.
    flipped = bytearray(sample(ONE_CHUNK).read_bytes())
    for offset in range(4096 + 5000, 4096 + 5200):
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
    # cut: records 1 to 183 of 228; flipped: 45 of 50; the old file: all duplicates.
    assert summary["stored"] == 183 + 45
    assert summary["duplicates"] == len(before)
    assert summary["bad_records"] == 45 + 5
    assert problems == {
        ("cut.evtx", 1, None),
        ("cut.evtx", 1, 184),
        ("flipped.evtx", 0, 2),
        ("flipped.evtx", 0, 3),
        ("flipped.evtx", 0, 5),
        ("flipped.evtx", 0, 49),
        ("flipped.evtx", 0, 50),
        ("notes $(whoami).evtx", None, None),
        ("gone.evtx", None, None),
    }
    after = _events(engine)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 183 + 45


def test_human_summary_lists_each_problem_where_it_is(hostwatch: Any, tmp_path: Path) -> None:
    folder = _damaged_folder(tmp_path / "damaged")

    result = hostwatch("import", "evtx", str(folder))

    assert result.exit_code == 3
    assert "events stored          228" in result.stdout
    assert f"{folder / 'flipped.evtx'}, chunk 0, record 49: Failed to parse" in result.stdout
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
