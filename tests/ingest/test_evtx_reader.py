"""Reading EVTX files, folders and zip archives: every record, or a problem that says where."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from hostwatch.ingest import evtx
from hostwatch.ingest.evtx import EvtxReader, EvtxSource, find_sources
from tests.ingest.conftest import all_samples, sample

# 50 records in one chunk, ids 1 to 50.
ONE_CHUNK = "evtx_attack_samples/AutomatedTestingTools/Malware/rundll32_cmd_schtask.evtx"
# Two chunks in use: 128 records, then 100.
TWO_CHUNKS = (
    "evtx_attack_samples/Command and Control/"
    "DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx"
)
CHUNK = 65536


def _read(path: Path) -> tuple[EvtxReader, list[evtx.RawRecord]]:
    reader = EvtxReader(EvtxSource(name=path.name, path=path, size=path.stat().st_size))
    return reader, list(reader)


def _copy(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reader_reads_every_shared_file_to_its_manifest_count() -> None:
    counts = {}
    problems = []
    for entry in all_samples():
        reader, records = _read(entry.path)
        counts[entry.path] = len(records)
        problems += reader.problems

    assert problems == []
    assert counts == {entry.path: entry.records for entry in all_samples()}


def test_reader_keeps_records_before_a_cut_inside_a_chunk(tmp_path: Path) -> None:
    data = sample(ONE_CHUNK).read_bytes()
    path = _copy(tmp_path, "cut.evtx", data[: 4096 + 30_000])

    reader, records = _read(path)

    assert [r.record_id for r in records] == list(range(1, 27))
    assert reader.records_unreadable == 24
    assert [(p.chunk, p.record, p.message) for p in reader.problems] == [
        (
            0,
            None,
            "the file ends inside this chunk (30000 of 65536 bytes); records past the end are lost",
        ),
        (0, None, "24 of 50 records could not be read (records 27 to 50)"),
    ]


def test_reader_reports_each_damaged_record_by_chunk_and_number(tmp_path: Path) -> None:
    data = bytearray(sample(ONE_CHUNK).read_bytes())
    for offset in range(4096 + 5000, 4096 + 5200):
        data[offset] ^= 0xFF
    path = _copy(tmp_path, "flipped.evtx", bytes(data))

    reader, records = _read(path)

    damaged = [(p.chunk, p.record) for p in reader.problems]
    assert damaged == [(0, 2), (0, 3), (0, 5), (0, 49), (0, 50)]
    assert all(p.message.startswith("Failed to parse record number") for p in reader.problems)
    assert len(records) == 45
    assert reader.records_unreadable == 5
    assert {r.record_id for r in records} == set(range(1, 51)) - {2, 3, 5, 49, 50}


def test_reader_counts_the_records_a_damaged_record_header_takes_along(tmp_path: Path) -> None:
    # Here the flipped bytes hit a record header; the parser gives up on the rest of the
    # chunk without naming it, and the chunk header tells how many records that was.
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    for offset in range(4096 + 5000, 4096 + 5200):
        data[offset] ^= 0xFF
    path = _copy(tmp_path, "flipped.evtx", bytes(data))

    reader, records = _read(path)

    assert len(records) == 5 + 100
    assert reader.records_unreadable == 123
    assert [(p.chunk, p.record) for p in reader.problems] == [(0, None), (0, None)]
    assert "out-of-range date" in reader.problems[0].message
    assert reader.problems[1].message == "123 of 128 records could not be read (records 6 to 128)"


def test_reader_skips_a_chunk_with_a_broken_header_and_reads_the_next(tmp_path: Path) -> None:
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    data[4096 : 4096 + 8] = b"XXXXXXXX"
    path = _copy(tmp_path, "bad-chunk.evtx", bytes(data))

    reader, records = _read(path)

    assert len(records) == 100
    assert {r.chunk for r in records} == {1}
    assert [(p.chunk, p.record) for p in reader.problems] == [(0, None)]
    assert "chunk header magic" in reader.problems[0].message


def test_reader_reports_chunks_missing_from_a_file_cut_between_chunks(tmp_path: Path) -> None:
    data = sample(TWO_CHUNKS).read_bytes()
    path = _copy(tmp_path, "first-chunk-only.evtx", data[: 4096 + CHUNK])

    reader, records = _read(path)

    assert len(records) == 128
    assert [(p.chunk, p.message) for p in reader.problems] == [
        (
            1,
            "the file holds 1 of the 2 chunks its header lists; the records of the missing "
            "chunks are lost",
        )
    ]


@pytest.mark.parametrize("content", [b"", b"MZ" + bytes(5000), b"ElfFile"])
def test_reader_refuses_a_file_that_is_not_evtx(tmp_path: Path, content: bytes) -> None:
    path = _copy(tmp_path, "not-a-log.evtx", content)

    reader, records = _read(path)

    assert records == []
    assert [p.message for p in reader.problems] == ["not an EVTX file (no ElfFile header)"]


def test_reader_reports_a_file_it_cannot_open(tmp_path: Path) -> None:
    # A dangling link in a folder is unreadable even for root, unlike a chmod 000 file.
    (tmp_path / "gone.evtx").symlink_to(tmp_path / "missing-target.evtx")
    (source,), _ = find_sources([tmp_path])

    reader = EvtxReader(source)
    records = list(reader)

    assert records == []
    assert [p.message for p in reader.problems] == [
        "cannot read the file: No such file or directory"
    ]


def test_find_sources_walks_folders_and_names_what_is_missing(tmp_path: Path) -> None:
    nested = tmp_path / "logs" / "a b" / "c"
    nested.mkdir(parents=True)
    (nested / "Security.EVTX").write_bytes(sample(ONE_CHUNK).read_bytes())
    (nested / "notes.txt").write_text("not a log")
    empty = tmp_path / "empty"
    empty.mkdir()

    sources, problems = find_sources([tmp_path / "logs", empty, tmp_path / "nowhere.evtx"])

    assert [s.path for s in sources] == [nested / "Security.EVTX"]
    assert [(p.file, p.message) for p in problems] == [
        (str(empty), "no .evtx files or .zip archives in this folder"),
        (str(tmp_path / "nowhere.evtx"), "no such file or folder"),
    ]


def test_zip_members_are_read_in_place_whatever_their_names(tmp_path: Path) -> None:
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("../../escape.evtx", sample(ONE_CHUNK).read_bytes())
        out.writestr("dir/\x1b[31mred.evtx", sample(TWO_CHUNKS).read_bytes())
        out.writestr("readme.txt", "not a log")
    before = sorted(p.name for p in tmp_path.rglob("*"))

    sources, problems = find_sources([archive])
    counts = {s.name: len(list(EvtxReader(s))) for s in sources}

    assert problems == []
    assert counts == {
        f"{archive}!../../escape.evtx": 50,
        f"{archive}!dir/?[31mred.evtx": 228,
    }
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_zip_member_cut_short_is_read_like_a_cut_file(tmp_path: Path) -> None:
    archive = tmp_path / "cut.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("cut.evtx", sample(ONE_CHUNK).read_bytes()[: 4096 + 30_000])

    sources, _ = find_sources([archive])
    reader = EvtxReader(sources[0])
    records = list(reader)

    assert len(records) == 26
    assert reader.records_unreadable == 24


def test_zip_refuses_members_above_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("small.evtx", sample(ONE_CHUNK).read_bytes()[:4096])
        out.writestr("large.evtx", sample(TWO_CHUNKS).read_bytes())
    monkeypatch.setattr(evtx, "MAX_MEMBER_BYTES", 100_000)

    sources, problems = find_sources([archive])

    assert [s.member for s in sources] == ["small.evtx"]
    assert [(p.file, p.message) for p in problems] == [
        (f"{archive}!large.evtx", "the member is larger than 100000 bytes; skipped")
    ]


def test_a_broken_zip_is_reported(tmp_path: Path) -> None:
    archive = _copy(tmp_path, "broken.zip", b"PK\x03\x04 not really a zip")

    sources, problems = find_sources([archive])

    assert sources == []
    assert [p.file for p in problems] == [str(archive)]
    assert problems[0].message.startswith("cannot read the zip archive")
