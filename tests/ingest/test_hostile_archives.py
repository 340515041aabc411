"""Input built to trip the importer: hostile zip archives (odd names, bombs, many members,
corrupt streams), pipes named like event logs, logs that wrapped around or repeat a chunk,
and computer names that name no computer."""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from hostwatch.devices.models import Device
from hostwatch.ingest import evtx_sources
from hostwatch.ingest.evtx import EvtxReader, find_sources
from tests.ingest.conftest import raw_events, sample
from tests.ingest.evtx_fixtures import (
    DISCOVERY,
    ONE_CHUNK,
    TWO_CHUNKS,
    WRAPPING,
    chunks_of,
    rename_computer,
)


def _open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since it was listed
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return count


def test_zip_members_are_read_in_place_whatever_their_names(tmp_path: Path) -> None:
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("../../escape.evtx", sample(ONE_CHUNK).read_bytes())
        out.writestr("dir/\x1b[31mred.evtx", sample(TWO_CHUNKS).read_bytes())
        out.writestr("readme.txt", "not a log")
    before = sorted(p.name for p in tmp_path.rglob("*"))

    sources, problems = find_sources([archive])
    counts = {s.name: len(list(EvtxReader(s))) for s in sources}

    # Names are kept exact here (and in --json); the text summary escapes them.
    assert problems == []
    assert counts == {
        f"{archive}!../../escape.evtx": 50,
        f"{archive}!dir/\x1b[31mred.evtx": 228,
    }
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_zip_archive_is_opened_once_for_all_its_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for number in range(40):
            out.writestr(f"logs/{number:02}.evtx", sample(ONE_CHUNK).read_bytes())
    opened: list[str] = []

    class CountingZipFile(zipfile.ZipFile):
        def __init__(self, file: Any, *args: Any, **kwargs: Any) -> None:
            opened.append(str(file))
            super().__init__(file, *args, **kwargs)

    monkeypatch.setattr(evtx_sources.zipfile, "ZipFile", CountingZipFile)

    sources, problems = find_sources([archive])
    open_while_reading = []
    counts = []
    for source in sources:
        reader = EvtxReader(source)
        counts.append(len(list(reader)))
        open_while_reading.append(_open_descriptors(archive))

    # Once to list the members, once to read them all; closed after the last one.
    assert (problems, counts) == ([], [50] * 40)
    assert opened == [str(archive)] * 2
    assert open_while_reading == [1] * 39 + [0]


def test_zip_member_cut_short_is_read_like_a_cut_file(tmp_path: Path) -> None:
    archive = tmp_path / "cut.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("cut.evtx", sample(ONE_CHUNK).read_bytes()[: 4096 + 30_000])

    sources, _ = find_sources([archive])
    reader = EvtxReader(sources[0])
    records = list(reader)

    assert len(records) == 25
    assert reader.records_unreadable == 25
    assert (0, 26) in [(p.chunk, p.record) for p in reader.problems]


def test_zip_refuses_members_above_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("small.evtx", sample(ONE_CHUNK).read_bytes()[:4096])
        out.writestr("large.evtx", sample(TWO_CHUNKS).read_bytes())
    monkeypatch.setattr(evtx_sources, "MAX_MEMBER_BYTES", 100_000)

    sources, problems = find_sources([archive])

    assert [s.member for s in sources] == ["small.evtx"]
    assert [(p.file, p.message) for p in problems] == [
        (f"{archive}!large.evtx", "the member is larger than 100000 bytes; skipped")
    ]


def test_zip_refuses_a_member_that_inflates_like_a_bomb(tmp_path: Path) -> None:
    # A real log followed by 64 MiB of zeros: LZMA packs it about 6,000 to 1.
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_LZMA) as out:
        with out.open("bomb.evtx", "w") as member:
            member.write(sample(ONE_CHUNK).read_bytes())
            for _ in range(64):
                member.write(bytes(1024**2))
        out.write(sample(DISCOVERY), "real.evtx")
    with zipfile.ZipFile(archive) as opened:
        bomb = opened.getinfo("bomb.evtx")

    sources, problems = find_sources([archive])

    assert [s.member for s in sources] == ["real.evtx"]
    assert [p.file for p in problems] == [f"{archive}!bomb.evtx"]
    assert problems[0].message == (
        f"the member would inflate {bomb.compress_size} bytes to {bomb.file_size}, "
        f"{bomb.file_size / bomb.compress_size:,.0f} to 1, beyond the 1100 to 1 any event log "
        "compresses to; skipped as a likely zip bomb"
    )


def test_zip_keeps_a_large_log_of_mostly_empty_chunks(tmp_path: Path) -> None:
    # The most compressible shape a real log takes: one chunk in use, then empty ones (here
    # 32 MiB of them). Deflate cannot pack that past the limit.
    archive = tmp_path / "sparse.zip"
    with (
        zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out,
        out.open("sparse.evtx", "w") as member,
    ):
        member.write(sample(ONE_CHUNK).read_bytes())
        for _ in range(32):
            member.write(bytes(1024**2))
    with zipfile.ZipFile(archive) as opened:
        info = opened.getinfo("sparse.evtx")

    sources, problems = find_sources([archive])
    reader = EvtxReader(sources[0])
    records = list(reader)

    assert info.file_size / info.compress_size > 500
    assert (problems, reader.problems, len(records)) == ([], [], 50)


def test_a_broken_zip_is_reported(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")

    sources, problems = find_sources([archive])

    assert sources == []
    assert [p.file for p in problems] == [str(archive)]
    assert problems[0].message.startswith("cannot read the zip archive")


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


def test_a_log_that_repeats_a_chunk_imports_complete(hostwatch: Any, tmp_path: Path) -> None:
    # An old copy of a chunk left in a wrapped log: its records are there twice, not missing.
    header, chunks = chunks_of(sample(WRAPPING).read_bytes())
    twice = tmp_path / "twice.evtx"
    twice.write_bytes(header + b"".join(chunks) + chunks[3])
    in_chunk_3 = len(list(EvtxReader(find_sources([twice])[0][0]))) - len(
        raw_events(sample(WRAPPING))
    )

    result = hostwatch("import", "evtx", str(twice), "--json")

    summary = json.loads(result.stdout)
    assert (result.exit_code, summary["status"]) == (0, "complete"), summary
    assert summary["bad_records"] == 0
    assert summary["stored"] == len(raw_events(sample(WRAPPING)))
    assert summary["duplicates"] == in_chunk_3 > 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (".", "the Computer name '.' names no host; not imported"),
        ("...", "the Computer name '...' names no host; not imported"),
        (".corp", "the Computer name '.corp' names no host; not imported"),
        ("", "the record names no Computer"),
    ],
)
def test_records_whose_computer_names_no_host_are_refused_one_by_one(
    hostwatch: Any, engine: Engine, tmp_path: Path, name: str, message: str
) -> None:
    # In the first chunk, 78 records come from IEWIN7 and 50 from PC01.example.corp.
    odd = tmp_path / "odd.evtx"
    odd.write_bytes(rename_computer(sample(TWO_CHUNKS).read_bytes(), 0, "IEWIN7", name))

    result = hostwatch("import", "evtx", str(odd), "--json")

    summary = json.loads(result.stdout)
    problems = summary["per_file"][0]["problems"]
    with engine.connect() as conn:
        devices = conn.execute(select(Device.hostname, Device.fqdn)).all()
    assert result.exit_code == 3
    assert (summary["stored"], summary["bad_records"]) == (150, 78)
    assert len({p["record"] for p in problems}) == 78
    assert {(p["file"], p["chunk"], p["message"]) for p in problems} == {(str(odd), 0, message)}
    assert devices == [("PC01", "PC01.example.corp")]
