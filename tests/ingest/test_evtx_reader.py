"""Reading EVTX files: every record, or a problem that says where (file, chunk, record)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from evtx import PyEvtxParser

from hostwatch.ingest import evtx
from hostwatch.ingest.evtx import EvtxReader, EvtxSource, find_sources
from tests.ingest.conftest import all_samples, raw_events, sample
from tests.ingest.evtx_fixtures import (
    CHUNK,
    ONE_CHUNK,
    TWO_CHUNKS,
    WRAPPING,
    chunk_at,
    chunks_of,
    record_spans,
)


def _read(path: Path) -> tuple[EvtxReader, list[evtx.RawRecord]]:
    reader = EvtxReader(EvtxSource(name=path.name, path=path, size=path.stat().st_size))
    return reader, list(reader)


def _copy(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _where(reader: EvtxReader) -> list[tuple[int | None, int | None]]:
    return [(p.chunk, p.record) for p in reader.problems]


def test_reader_reads_every_shared_file_to_its_manifest_count() -> None:
    # Every chunk of every sample passes its checksums: none is refused by mistake.
    counts = {}
    problems = []
    for entry in all_samples():
        reader, records = _read(entry.path)
        counts[entry.path] = len(records)
        problems += reader.problems

    assert problems == []
    assert counts == {entry.path: entry.records for entry in all_samples()}


def test_reader_keeps_whole_records_before_a_cut_and_reports_the_cut_one(tmp_path: Path) -> None:
    # Record 26 runs from 29008 to 30784 in the chunk: the file ends inside it.
    data = sample(ONE_CHUNK).read_bytes()
    path = _copy(tmp_path, "cut.evtx", data[: 4096 + 30_000])

    reader, records = _read(path)

    assert [r.record_id for r in records] == list(range(1, 26))
    assert reader.records_unreadable == 25
    assert [(p.chunk, p.record, p.message) for p in reader.problems] == [
        (
            0,
            None,
            "the file ends inside this chunk (30000 of 65536 bytes): the records wholly before "
            "the end are read, though the chunk's checksum cannot vouch for them, and the rest "
            "are lost",
        ),
        (
            0,
            26,
            "the record is cut short by the end of the file (992 of its 1776 bytes are there); "
            "not imported",
        ),
        (0, None, "24 of 50 records could not be read (records 27 to 50)"),
    ]


def test_reader_never_returns_a_record_the_file_ends_inside(tmp_path: Path) -> None:
    # Read padded with zeros, a cut record often parses into an event with fields missing.
    data = sample(ONE_CHUNK).read_bytes()
    # The sample's records are numbered 1 to 50 in their headers, in file order.
    original = dict(enumerate(raw_events(sample(ONE_CHUNK)), start=1))
    spans = record_spans(data, 0)
    returned_cut = []
    for record_id, (start, end) in spans.items():
        for cut in {start + 24, (start + end) // 2, end - 1}:
            reader, records = _read(_copy(tmp_path, "cut.evtx", data[:cut]))

            if [r.record_id for r in records] != list(range(1, record_id)):
                returned_cut.append((record_id, cut))
            assert all(r.event == original[r.record_id] for r in records)
            assert (0, record_id) in _where(reader)
            assert reader.records_unreadable == 50 - (record_id - 1)

    assert returned_cut == []


def test_reader_reports_a_cut_inside_a_record_header_as_records_lost(tmp_path: Path) -> None:
    data = sample(ONE_CHUNK).read_bytes()
    start, _ = record_spans(data, 0)[10]
    path = _copy(tmp_path, "cut.evtx", data[: start + 10])

    reader, records = _read(path)

    assert [r.record_id for r in records] == list(range(1, 10))
    assert reader.problems[-1].message == "41 of 50 records could not be read (records 10 to 50)"
    assert reader.records_unreadable == 41


@pytest.mark.parametrize(("field", "offset"), [("record number", 8), ("trailing size", -4)])
def test_reader_stops_at_a_broken_record_in_a_chunk_cut_short(
    tmp_path: Path, field: str, offset: int
) -> None:
    # No checksum covers a chunk cut short: a record that breaks the structure ends it.
    data = bytearray(sample(ONE_CHUNK).read_bytes()[: 4096 + 30_000])
    start, end = record_spans(sample(ONE_CHUNK).read_bytes(), 0)[10]
    data[(start if offset > 0 else end) + offset] ^= 0x01
    path = _copy(tmp_path, "cut.evtx", bytes(data))

    reader, records = _read(path)

    assert [r.record_id for r in records] == list(range(1, 10)), field
    assert reader.records_unreadable == 41
    assert reader.problems[-1].message == "41 of 50 records could not be read (records 10 to 50)"


def test_reader_reads_a_file_cut_in_the_unused_end_of_its_last_chunk(tmp_path: Path) -> None:
    # The second chunk's records end at 51288; the rest of it is unused.
    data = sample(TWO_CHUNKS).read_bytes()
    path = _copy(tmp_path, "cut.evtx", data[: chunk_at(1) + 60_000])

    reader, records = _read(path)

    assert len(records) == 228
    assert reader.records_unreadable == 0
    assert [(p.chunk, p.message) for p in reader.problems] == [
        (
            1,
            "the file ends inside this chunk (60000 of 65536 bytes), after its last record: "
            "no record is lost",
        )
    ]


def test_reader_refuses_a_chunk_whose_records_fail_their_checksum(tmp_path: Path) -> None:
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    for offset in range(chunk_at(0) + 5000, chunk_at(0) + 5200):
        data[offset] ^= 0xFF
    path = _copy(tmp_path, "flipped.evtx", bytes(data))

    reader, records = _read(path)

    assert [r.record_id for r in records] == list(range(129, 229))
    assert reader.records_unreadable == 128
    assert [(p.chunk, p.record, p.message) for p in reader.problems] == [
        (
            0,
            None,
            "Failed to parse chunk number 0: chunk data CRC32 invalid (the chunk is damaged, "
            "and no record of it can be trusted); its 128 records (1 to 128) are not imported",
        )
    ]


def test_reader_says_when_a_refused_chunk_may_have_been_in_the_writing(tmp_path: Path) -> None:
    # The log is marked as not closed cleanly (still open when it was copied).
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    data[120] |= 0x01
    struct.pack_into("<I", data, 124, zlib.crc32(data[:120]))
    data[chunk_at(0) + 5000] ^= 0xFF
    path = _copy(tmp_path, "dirty.evtx", bytes(data))

    reader, records = _read(path)

    assert len(records) == 100
    assert [p.message for p in reader.problems] == [
        "Failed to parse chunk number 0: chunk data CRC32 invalid (the chunk is damaged, or was "
        "being written when the log was copied: the log was not closed cleanly; no record of "
        "it can be trusted); its 128 records (1 to 128) are not imported"
    ]


def test_reader_refuses_a_record_changed_by_one_flipped_bit(tmp_path: Path) -> None:
    # One bit in a command line ("wmiprvse.exe -secured -Embedding"): the record still
    # parses, but says something else. Only the chunk's checksum tells, and it covers all 50
    # records: none is imported.
    data = bytearray(sample(ONE_CHUNK).read_bytes())
    start, end = record_spans(bytes(data), 0)[1]
    data[start + data[start:end].index("Embedding".encode("utf-16-le"))] ^= 0x01
    path = _copy(tmp_path, "bit.evtx", bytes(data))
    unchecked = [json.loads(r["data"]) for r in PyEvtxParser(str(path)).records_json()]

    reader, records = _read(path)

    assert unchecked[0]["Event"]["EventData"]["CommandLine"].endswith("-secured -Dmbedding")
    assert records == []
    assert reader.records_unreadable == 50
    assert _where(reader) == [(0, None)]
    assert "its 50 records (1 to 50) are not imported" in reader.problems[0].message


def test_reader_refuses_a_chunk_whose_header_fails_its_checksum(tmp_path: Path) -> None:
    # Byte 200 of a chunk header is in its table of string offsets, which the parser uses.
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    data[chunk_at(0) + 200] ^= 0x01
    path = _copy(tmp_path, "header.evtx", bytes(data))

    reader, records = _read(path)

    assert len(records) == 100
    assert _where(reader) == [(0, None)]
    assert "CRC32 invalid" in reader.problems[0].message
    assert reader.problems[0].message.endswith("; its records are not imported")


def test_reader_ignores_damage_in_the_unused_end_of_a_chunk(tmp_path: Path) -> None:
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    for offset in range(chunk_at(1) + 60_000, chunk_at(1) + 60_100):
        data[offset] ^= 0xFF
    path = _copy(tmp_path, "slack.evtx", bytes(data))

    reader, records = _read(path)

    assert (len(records), reader.problems) == (228, [])


def test_reader_skips_a_chunk_with_a_broken_signature_and_reads_the_next(tmp_path: Path) -> None:
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    data[chunk_at(0) : chunk_at(0) + 8] = b"XXXXXXXX"
    path = _copy(tmp_path, "bad-chunk.evtx", bytes(data))

    reader, records = _read(path)

    assert len(records) == 100
    assert {r.chunk for r in records} == {1}
    assert _where(reader) == [(0, None)]
    assert "chunk header magic" in reader.problems[0].message


def test_reader_reads_the_chunks_of_a_file_whose_header_fails_its_checksum(
    tmp_path: Path,
) -> None:
    # Byte 42 holds the number of chunks: not to be believed once the checksum fails.
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    data[42] ^= 0x07
    path = _copy(tmp_path, "file-header.evtx", bytes(data))

    reader, records = _read(path)

    assert len(records) == 228
    assert [(p.chunk, p.message) for p in reader.problems] == [
        (
            None,
            "the file header is damaged (its checksum does not match): its chunk count is "
            "ignored, and chunks are read by their own headers",
        )
    ]


def test_reader_reads_the_chunks_of_a_file_whose_signature_is_damaged(tmp_path: Path) -> None:
    data = bytearray(sample(TWO_CHUNKS).read_bytes())
    data[0:8] = bytes(8)
    path = _copy(tmp_path, "signature.evtx", bytes(data))

    reader, records = _read(path)

    assert len(records) == 228
    assert [p.message for p in reader.problems] == [
        "the file header is damaged (no ElfFile signature), but chunks follow it: they are "
        "read by their own headers"
    ]


def test_reader_counts_a_chunk_that_appears_twice_without_reporting_it(tmp_path: Path) -> None:
    # A wrapped log can hold an old copy of a chunk: its records are there twice, not missing.
    header, chunks = chunks_of(sample(WRAPPING).read_bytes())
    path = _copy(tmp_path, "twice.evtx", header + b"".join(chunks) + chunks[3])
    first, last = struct.unpack_from("<QQ", chunks[3], 24)

    reader, records = _read(path)

    assert reader.problems == []
    assert reader.records_unreadable == 0
    assert len(records) == len(raw_events(sample(WRAPPING))) + (last - first + 1)
    assert {r.chunk for r in records if first <= r.record_id <= last} == {3, len(chunks)}


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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"MZ" + bytes(5000), "not an EVTX file (no ElfFile header)"),
        (b"ElfFile", "not an EVTX file (no ElfFile header)"),
        (b"ElfFile\x00" + bytes(100), "the file ends inside its header (108 of 4096 bytes)"),
    ],
)
def test_reader_refuses_a_file_that_is_not_evtx(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = _copy(tmp_path, "not-a-log.evtx", content)

    reader, records = _read(path)

    assert records == []
    assert [p.message for p in reader.problems] == [message]


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


def test_reader_reports_a_folder_opened_as_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "x.evtx"
    folder.mkdir()

    reader, records = _read(folder)

    assert records == []
    assert [p.message for p in reader.problems] == ["cannot read the file: Is a directory"]


def test_find_sources_walks_folders_and_names_what_is_missing(tmp_path: Path) -> None:
    nested = tmp_path / "logs" / "a b" / "c"
    nested.mkdir(parents=True)
    (nested / "Security.EVTX").write_bytes(sample(ONE_CHUNK).read_bytes())
    (nested / "notes.txt").write_text("not a log")
    (tmp_path / "logs" / "folder.evtx").mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    named_like_a_log = tmp_path / "x.evtx"
    named_like_a_log.mkdir()

    sources, problems = find_sources(
        [tmp_path / "logs", empty, tmp_path / "nowhere.evtx", named_like_a_log]
    )

    assert [s.path for s in sources] == [nested / "Security.EVTX"]
    assert [(p.file, p.message) for p in problems] == [
        (str(empty), "no .evtx files or .zip archives in this folder"),
        (str(tmp_path / "nowhere.evtx"), "no such file or folder"),
        (str(named_like_a_log), "no .evtx files or .zip archives in this folder"),
    ]


def test_the_fast_decoder_reads_every_shared_record_as_the_standard_library_does() -> None:
    texts = [
        record["data"]
        for shared in all_samples()
        for record in PyEvtxParser(str(shared.path)).records_json()
    ]

    assert len(texts) == sum(shared.records for shared in all_samples())
    assert all(evtx._decode(text) == json.loads(text) for text in texts)


def test_the_fast_decoder_falls_back_for_what_only_the_standard_library_reads() -> None:
    # A lone surrogate, as a damaged UTF-16 string in a log gives, and a number past a double.
    assert evtx._decode('{"s": "a\\ud800b"}') == {"s": "a\ud800b"}
    assert evtx._decode('{"n": 1e400}') == {"n": float("inf")}
    with pytest.raises(ValueError):
        evtx._decode('{"s": ')
