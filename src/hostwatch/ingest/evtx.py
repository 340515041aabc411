"""EVTX files read record by record, each chunk checked, every problem located.

The file layout used here (a 4 KiB file header, then 64 KiB chunks, each with a 512-byte
header that names its first and last record and holds two CRC32 checksums: one of the header,
one of the records) is the one documented in libyal's "Windows XML Event Log (EVTX) format"
notes. Parsing the records and checking each chunk's checksums is left to the `evtx` library.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import lzma
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from evtx import PyEvtxParser

from hostwatch.ingest.evtx_sources import EvtxSource, Problem, find_sources

__all__ = ["EvtxReader", "EvtxSource", "NotEvtx", "Problem", "RawRecord", "find_sources"]

log = logging.getLogger(__name__)

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
_CHUNK_COUNT = struct.Struct("<H")  # at offset 42 of the file header
_FLAGS_AND_CRC = struct.Struct("<II")  # at offset 120 of the file header and of a chunk header
_CHUNK_RECORD_IDS = struct.Struct("<QQ")  # first and last record id, at offset 24 of a chunk
_CHUNK_FREE_SPACE = struct.Struct("<I")  # end of the records, at offset 48 of a chunk
_RECORD_HEADER = struct.Struct("<4sIQ")  # magic, size, record id
_SIZE_COPY = struct.Struct("<I")  # a record's size again, in its last 4 bytes
# File header flags: a log not closed cleanly (still open when copied), and files and chunks
# written without checksums (theirs read 0).
DIRTY = 0x1
NO_CRC32 = 0x4
# A record takes at least 28 bytes (24 of header, 4 of trailing size) after the chunk header.
MIN_RECORD_SIZE = 28
MAX_RECORDS_PER_CHUNK = (CHUNK_SIZE - CHUNK_HEADER_SIZE) // MIN_RECORD_SIZE
# A file so damaged that the parser reports this many errors is abandoned.
MAX_ERRORS_PER_FILE = 10_000

_RECORD_NUMBER = re.compile(r"record number (\d+)")
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")
_CHECKSUM = re.compile(r"CRC32|checksum", re.IGNORECASE)


@dataclass(slots=True)  # not frozen: made for every record, and frozen ones build slower
class RawRecord:
    """One parsed record: the `Event` element as a dict, with its place in the file."""

    record_id: int
    chunk: int | None
    event: dict[str, Any]
    # The record header's time: when the record was written. A fallback for TimeCreated.
    written: str | None
    nul_removed: bool


@dataclass(slots=True)
class _Chunk:
    index: int
    first_id: int
    last_id: int
    # Whether the header's own checksum matches, so that its record numbers can be trusted.
    header_intact: bool = True
    # Records returned or reported by the parser, and the highest of their numbers.
    read: int = 0
    last_seen: int = 0

    @property
    def expected(self) -> int:
        return self.last_id - self.first_id + 1


@dataclass
class _Layout:
    chunks: list[_Chunk] = field(default_factory=list)
    # What the parser must see instead of the file's bytes: the size to pad the file to with
    # zeros when it ends inside a chunk, and byte ranges replaced (offset -> bytes).
    padded_size: int | None = None
    patches: dict[int, bytes] = field(default_factory=dict)


class NotEvtx(ValueError):
    """The input does not start with an EVTX file header."""


class EvtxReader:
    """Reads one EVTX source; records come from iteration, problems collect in `problems`.

    Every record that cannot be read becomes a problem with its chunk and record number, and
    the rest of the file is still read. A chunk whose checksums do not match is refused whole:
    no checksum covers a single record, so the damaged records cannot be told from the intact
    ones, and a flipped byte can leave a record that parses but says something else. Records
    lost without the parser saying so are found by comparing what was read with the chunk
    headers.
    """

    def __init__(self, source: EvtxSource) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Records the parser returned, and records that could not be used: damaged, lost, cut
        # short, or naming no computer they could be attributed to.
        self.records_read = 0
        self.records_unreadable = 0
        self._chunks: list[_Chunk] = []
        self._by_index: dict[int, _Chunk] = {}
        # Chunks by first record number; copies of one chunk share a first number.
        self._starts: list[int] = []
        self._groups: list[list[_Chunk]] = []
        self._current: _Chunk | None = None
        self._dirty = False

    def __iter__(self) -> Iterator[RawRecord]:
        try:
            with self.source.open() as handle:
                yield from self._read(handle)
        except NotEvtx as exc:
            self._problem(str(exc))
        except (
            OSError,
            EOFError,
            zipfile.BadZipFile,
            zlib.error,
            lzma.LZMAError,
            NotImplementedError,
            RuntimeError,
        ) as exc:
            self._problem(f"cannot read the file: {_reason(exc)}")
        self._report_missing()

    def _read(self, handle: IO[bytes]) -> Iterator[RawRecord]:
        layout = self._layout(handle)
        self._by_index = {chunk.index: chunk for chunk in layout.chunks}
        self._index_chunks(layout.chunks)
        handle.seek(0)
        target: Any = handle
        if layout.padded_size is not None or layout.patches:
            target = _Patched(handle, self.source.size, layout)
        elif self.source.member is None:
            target = str(self.source.path)  # the library reads files on disk itself, faster
        parser = PyEvtxParser(target, validate_checksums=True)

        records = parser.records_json()
        errors = 0
        while True:
            try:
                item = next(records)
            except StopIteration:
                return
            except RuntimeError as exc:
                errors += 1
                self._parser_error(str(exc))
                if errors >= MAX_ERRORS_PER_FILE:
                    self._problem(f"more than {MAX_ERRORS_PER_FILE} errors; the rest is skipped")
                    return
                continue
            record = self._record(item) if isinstance(item, dict) else None
            if record is not None:
                yield record

    def _layout(self, handle: IO[bytes]) -> _Layout:
        layout = _Layout()
        header = handle.read(FILE_HEADER_SIZE)
        listed = self._file_header(header, layout, handle)
        whole, partial = divmod(max(self.source.size - FILE_HEADER_SIZE, 0), CHUNK_SIZE)
        present = whole + (1 if partial else 0)

        for index in range(present):
            handle.seek(FILE_HEADER_SIZE + index * CHUNK_SIZE)
            chunk_header = handle.read(CHUNK_HEADER_SIZE)
            has_magic = chunk_header[:8] == CHUNK_MAGIC
            # When the file ends inside a chunk: unused chunks at the end are zeros, so only
            # a chunk in use (listed, or with a header) has lost data.
            if index == whole and (has_magic or index < listed):
                layout.padded_size = FILE_HEADER_SIZE + present * CHUNK_SIZE
                chunk_header += handle.read(partial - len(chunk_header))
                self._cut_chunk(index, chunk_header, layout)
                continue
            if has_magic and len(chunk_header) == CHUNK_HEADER_SIZE:
                chunk = _chunk(index, chunk_header)
                if chunk is not None:
                    layout.chunks.append(chunk)
        if present < listed:
            self._problem(
                f"the file holds {present} of the {listed} chunks its header lists; "
                "the records of the missing chunks are lost",
                chunk=present,
            )
        return layout

    def _file_header(self, header: bytes, layout: _Layout, handle: IO[bytes]) -> int:
        """Checks the file header; returns the number of chunks it lists (0 if damaged)."""
        if not header:
            raise NotEvtx("the file is empty")
        if header[:8] == FILE_MAGIC and len(header) < FILE_HEADER_SIZE:
            raise NotEvtx(f"the file ends inside its header ({len(header)} of 4096 bytes)")
        if header[:8] != FILE_MAGIC:
            if len(header) == FILE_HEADER_SIZE and handle.read(8) == CHUNK_MAGIC:
                # The parser only needs the signature: given it, it reads the chunks.
                layout.patches[0] = FILE_MAGIC
                self._problem(
                    "the file header is damaged (no ElfFile signature), but chunks follow it: "
                    "they are read by their own headers"
                )
                return 0
            raise NotEvtx("not an EVTX file (no ElfFile header)")
        flags, stored = _FLAGS_AND_CRC.unpack_from(header, 120)
        if (flags & NO_CRC32 and stored == 0) or zlib.crc32(header[:120]) == stored:
            self._dirty = bool(flags & DIRTY)
            return int(_CHUNK_COUNT.unpack_from(header, 42)[0])
        self._problem(
            "the file header is damaged (its checksum does not match): its chunk count is "
            "ignored, and chunks are read by their own headers"
        )
        return 0

    def _cut_chunk(self, index: int, data: bytes, layout: _Layout) -> None:
        """A chunk the file ends inside: its whole records are read, the one cut is reported.

        The parser would read the cut record padded with zeros, and that can parse into an
        event with fields missing; it is shown a chunk that ends before it instead.
        """
        whole_header = len(data) >= CHUNK_HEADER_SIZE and data[:8] == CHUNK_MAGIC
        chunk = _chunk(index, data) if whole_header else None
        lost = f"the file ends inside this chunk ({len(data)} of {CHUNK_SIZE} bytes)"
        at = FILE_HEADER_SIZE + index * CHUNK_SIZE
        if chunk is None or not chunk.header_intact:
            layout.patches[at] = bytes(CHUNK_SIZE)
            self._problem(f"{lost}, and its header is damaged or cut: the chunk is not read", index)
            return
        layout.chunks.append(chunk)
        (free_space,) = _CHUNK_FREE_SPACE.unpack_from(data, 48)
        offset, last_whole, cut = _whole_records(data, min(free_space, CHUNK_SIZE))
        if cut is None and offset >= free_space:
            # Only unused space is missing; the checksums cover everything that is there.
            self._problem(f"{lost}, after its last record: no record is lost", index)
            return
        if last_whole is None:
            layout.patches[at] = bytes(CHUNK_SIZE)
        else:
            layout.patches[at] = _ended_at(data, offset, last_whole)
        self._problem(
            f"{lost}: the records wholly before the end are read, though the chunk's checksum "
            "cannot vouch for them, and the rest are lost",
            index,
        )
        if cut is not None:
            record_id, size = cut
            chunk.read += 1
            chunk.last_seen = record_id
            self.records_unreadable += 1
            self._problem(
                f"the record is cut short by the end of the file ({len(data) - offset} of "
                f"its {size} bytes are there); not imported",
                index,
                record_id,
            )

    def _record(self, item: dict[str, Any]) -> RawRecord | None:
        record_id = int(item.get("event_record_id") or 0)
        # Records mostly follow each other in one chunk: that is checked first, inline.
        chunk = self._current
        if chunk is None or not (
            chunk.first_id <= record_id <= chunk.last_id
            and chunk.read <= chunk.last_id - chunk.first_id
        ):
            chunk = self._chunk_of(record_id)
        if chunk is not None:
            chunk.read += 1
            if record_id > chunk.last_seen:
                chunk.last_seen = record_id
            self._current = chunk
        self.records_read += 1
        chunk_index = chunk.index if chunk else None

        data: str = item.get("data") or ""
        try:
            parsed = _decode(data)
        except ValueError as exc:
            self._refuse(f"the parser's JSON is not valid: {exc}", chunk_index, record_id)
            return None
        event = parsed.get("Event") if isinstance(parsed, dict) else None
        if not isinstance(event, dict):
            self._refuse("the record has no Event element", chunk_index, record_id)
            return None
        # JSON always escapes NUL, so the raw text tells whether any string holds one.
        nul = "\\u0000" in data
        if nul:
            event = strip_nul(event)
        system = event.get("System")
        computer = system.get("Computer") if system.__class__ is dict else None
        if computer.__class__ is str and computer.lstrip().startswith("."):
            # Such a name has no host part: it would merge records of unrelated machines
            # into one device (and "." and "..." into one called "unknown").
            self._refuse(
                f"the Computer name {computer!r} names no host; not imported",
                chunk_index,
                record_id,
            )
            return None
        return RawRecord(
            record_id=record_id,
            chunk=chunk_index,
            event=event,
            written=item.get("timestamp"),
            nul_removed=nul,
        )

    def _index_chunks(self, chunks: list[_Chunk]) -> None:
        # By first record number, not file order: a full log wraps around, so its oldest
        # chunk may sit anywhere in the file. Copies of a chunk (the same numbers twice) are
        # grouped, in file order, so that each copy is credited with its own records.
        self._chunks = sorted(chunks, key=lambda chunk: (chunk.first_id, chunk.index))
        self._starts, self._groups = [], []
        for chunk in self._chunks:
            if self._starts and self._starts[-1] == chunk.first_id:
                self._groups[-1].append(chunk)
            else:
                self._starts.append(chunk.first_id)
                self._groups.append([chunk])

    def _chunk_of(self, record_id: int) -> _Chunk | None:
        current = self._current
        if (
            current is not None
            and current.first_id <= record_id <= current.last_id
            and current.read < current.expected
        ):
            return current
        at = bisect.bisect_right(self._starts, record_id) - 1
        if at < 0:
            return None
        holding = [chunk for chunk in self._groups[at] if record_id <= chunk.last_id]
        for chunk in holding:
            if chunk.read < chunk.expected:
                return chunk
        return holding[-1] if holding else None

    def _parser_error(self, message: str) -> None:
        record_match = _RECORD_NUMBER.search(message)
        if record_match:
            record_id = int(record_match.group(1))
            chunk = self._chunk_of(record_id)
            if chunk is not None:
                # Accounted for here, so it is not reported again as missing.
                chunk.read += 1
                chunk.last_seen = max(chunk.last_seen, record_id)
            self.records_unreadable += 1
            self._problem(message, chunk.index if chunk else None, record_id)
            return
        chunk_match = _CHUNK_NUMBER.search(message)
        if chunk_match is None:
            # Some errors (a record header the parser cannot read) name no place, and the
            # parser leaves the rest of that chunk: the records it skipped are counted below.
            reading = self._reading()
            self._problem(message, reading.index if reading else None)
            return
        self._chunk_refused(int(chunk_match.group(1)), message)

    def _chunk_refused(self, index: int, message: str) -> None:
        """The parser refused a whole chunk: a damaged header, or checksums that do not match."""
        chunk = self._by_index.get(index)
        if chunk is not None and chunk.read:
            # Some of its records came before: the rest are counted below as missing.
            self._problem(f"{message}; the rest of its records are not imported", index)
            return
        # Reported here with its records, so not again below as missing.
        self._index_chunks([c for c in self._chunks if c.index != index])
        if _CHECKSUM.search(message):
            # Limitation: a log copied while Windows was writing to it can hold a chunk whose
            # checksums lag behind its records; it is refused like a damaged one.
            if self._dirty:
                message += (
                    " (the chunk is damaged, or was being written when the log was copied: the "
                    "log was not closed cleanly; no record of it can be trusted)"
                )
            else:
                message += " (the chunk is damaged, and no record of it can be trusted)"
        if chunk is None or not chunk.header_intact:
            # Limitation: with its header damaged, how many records a chunk held is unknown,
            # so they are not counted as bad records.
            self._problem(f"{message}; its records are not imported", index)
            return
        lost = chunk.expected
        self.records_unreadable += lost
        self._problem(
            f"{message}; its {lost} records ({chunk.first_id} to {chunk.last_id}) are not imported",
            index,
        )

    def _reading(self) -> _Chunk | None:
        """The chunk the parser was in: the last record's, or the next one if that was done."""
        current = self._current
        if current is not None and current.read < current.expected:
            return current
        later = [c for c in self._chunks if current is None or c.index > current.index]
        return min(later, key=lambda chunk: chunk.index) if later else None

    def _report_missing(self) -> None:
        for chunk in sorted(self._chunks, key=lambda chunk: chunk.index):
            missing = chunk.expected - chunk.read
            if missing <= 0:
                continue
            self.records_unreadable += missing
            message = f"{missing} of {chunk.expected} records could not be read"
            if chunk.last_id - max(chunk.last_seen, chunk.first_id - 1) == missing:
                first_lost = max(chunk.last_seen + 1, chunk.first_id)
                message += f" (records {first_lost} to {chunk.last_id})"
            self._problem(message, chunk.index)

    def _refuse(self, message: str, chunk: int | None, record: int) -> None:
        self.records_unreadable += 1
        self._problem(message, chunk, record)

    def _problem(self, message: str, chunk: int | None = None, record: int | None = None) -> None:
        log.debug("%r: chunk %s, record %s: %r", self.source.name, chunk, record, message)
        self.problems.append(Problem(self.source.name, message, chunk, record))


def _chunk(index: int, header: bytes) -> _Chunk | None:
    """A chunk's record numbers from its header, or None if they are past belief."""
    first_id, last_id = _CHUNK_RECORD_IDS.unpack_from(header, 24)
    flags, stored = _FLAGS_AND_CRC.unpack_from(header, 120)
    view = memoryview(header)
    computed = zlib.crc32(view[128:CHUNK_HEADER_SIZE], zlib.crc32(view[:120]))
    intact = computed == stored or bool(flags & NO_CRC32 and stored == 0)
    # Damaged numbers would count records no chunk can hold: not counted then.
    if 0 <= last_id - first_id < MAX_RECORDS_PER_CHUNK:
        return _Chunk(index, first_id, last_id, header_intact=intact)
    return None


def _whole_records(data: bytes, end: int) -> tuple[int, tuple[int, int] | None, Any]:
    """Walks the records of a chunk cut short, up to `end` (where its records end): where the
    whole records end, the last whole one (offset, id), and the one cut (id, size) or None.

    No checksum can be verified for such a chunk, so the walk stops at the first record that
    breaks the structure: a bad signature or size, a trailing size copy that differs, a
    record number out of sequence. Those after it are reported as not read.
    """
    offset = CHUNK_HEADER_SIZE
    last_whole = None
    (expected_id,) = struct.unpack_from("<Q", data, 24)
    while offset < end:
        if offset + _RECORD_HEADER.size > len(data):
            break  # the cut fell inside a record header: its number is gone with it
        magic, size, record_id = _RECORD_HEADER.unpack_from(data, offset)
        if (
            magic != RECORD_MAGIC
            or size < MIN_RECORD_SIZE
            or offset + size > end
            or record_id != expected_id
        ):
            break
        if offset + size > len(data):
            return offset, last_whole, (record_id, size)
        if _SIZE_COPY.unpack_from(data, offset + size - 4)[0] != size:
            break
        last_whole = (offset, record_id)
        offset += size
        expected_id += 1
    # Limitation: a flipped byte inside a record that keeps this structure goes unnoticed
    # here, as nothing covers the records of a chunk cut short but its checksum.
    return offset, last_whole, None


def _ended_at(data: bytes, end: int, last_whole: tuple[int, int]) -> bytes:
    """The chunk as if its records ended at `end`: zeros after, the header and its checksums
    rewritten to match. Only made from a chunk whose header checksum matched."""
    chunk = bytearray(CHUNK_SIZE)
    chunk[:end] = data[:end]
    last_offset, last_id = last_whole
    first_number, _ = _CHUNK_RECORD_IDS.unpack_from(data, 8)
    first_id, _ = _CHUNK_RECORD_IDS.unpack_from(data, 24)
    # Record numbers (offset 8) run beside record ids (offset 24): both last ones change.
    struct.pack_into("<Q", chunk, 16, first_number + last_id - first_id)
    struct.pack_into("<Q", chunk, 32, last_id)
    struct.pack_into("<II", chunk, 44, last_offset, end)
    struct.pack_into("<I", chunk, 52, zlib.crc32(chunk[CHUNK_HEADER_SIZE:end]))
    view = memoryview(chunk)
    struct.pack_into("<I", chunk, 124, zlib.crc32(view[128:512], zlib.crc32(view[:120])))
    return bytes(chunk)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def strip_nul(value: Any) -> Any:
    """The value with NUL characters removed from every string in it, keys included."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


class _Patched(io.RawIOBase):
    """A file as the parser should see it: padded with zeros to a whole chunk where it ends
    inside one, and with some byte ranges replaced (a chunk cut short, a damaged signature).
    """

    def __init__(self, raw: IO[bytes], size: int, layout: _Layout) -> None:
        super().__init__()
        self._raw = raw
        self._size = size
        self._padded_size = layout.padded_size or size
        self._patches = sorted(layout.patches.items())
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._padded_size}
        self._position = max(base[whence] + offset, 0)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        start = self._position
        wanted = min(len(view), max(self._padded_size - start, 0))
        real = min(wanted, max(self._size - start, 0))
        if real:
            self._raw.seek(start)
            data = self._raw.read(real)
            real = len(data)
            view[:real] = data
        view[real:wanted] = bytes(wanted - real)
        for at, patch in self._patches:
            low, high = max(at, start), min(at + len(patch), start + wanted)
            if low < high:
                view[low - start : high - start] = patch[low - at : high - at]
        self._position += wanted
        return wanted


def _decode(data: str) -> Any:
    """The parser's JSON text as objects: orjson first (a third faster on these records),
    the standard library for what orjson refuses and Python reads (a lone surrogate from a
    damaged string, a number out of a double's range), so a record is never refused for
    the decoder's sake. orjson reads an integer past 64 bits as a float, but the parser
    writes none: binary XML holds at most unsigned 64-bit integers."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
