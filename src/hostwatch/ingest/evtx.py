"""EVTX inputs (files, folders, zip archives) read record by record, every problem located.

The file layout used here (a 4 KiB file header, then 64 KiB chunks, each with a header that
names its first and last record) is the one documented in libyal's "Windows XML Event Log
(EVTX) format" notes. Parsing the records themselves is left to the `evtx` library.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import lzma
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from evtx import PyEvtxParser

log = logging.getLogger(__name__)

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
_CHUNK_COUNT = struct.Struct("<H")  # at offset 42 of the file header
_CHUNK_RECORD_IDS = struct.Struct("<QQ")  # first and last record id, at offset 24 of a chunk
# A record takes at least 28 bytes (24 of header, 4 of trailing size) after the 512-byte
# chunk header.
MAX_RECORDS_PER_CHUNK = (CHUNK_SIZE - 512) // 28

# zipfile never inflates a member past its declared size, so limits on declared sizes bound
# the work a zip bomb can cause. Members are streamed to the parser, never written to disk,
# and their names are only shown, never used as paths.
MAX_MEMBER_BYTES = 4 * 1024**3
MAX_ARCHIVE_BYTES = 64 * 1024**3
# A file so damaged that the parser reports this many errors is abandoned.
MAX_ERRORS_PER_FILE = 10_000

_RECORD_NUMBER = re.compile(r"record number (\d+)")
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Problem:
    """Something that could not be read or stored, and where: file, chunk, record."""

    file: str
    message: str
    chunk: int | None = None
    record: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "chunk": self.chunk,
            "record": self.record,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = [self.file]
        if self.chunk is not None:
            where.append(f"chunk {self.chunk}")
        if self.record is not None:
            where.append(f"record {self.record}")
        return f"{', '.join(where)}: {self.message}"


@dataclass(frozen=True)
class EvtxSource:
    """One EVTX file: on disk at `path`, or the member `member` of the zip archive at `path`."""

    name: str
    path: Path
    size: int
    member: str | None = None
    # The member's place in the archive: names may repeat, places do not.
    member_index: int | None = None

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self.member is None:
            with open(self.path, "rb") as handle:
                yield handle
            return
        # Limitation: each member reopens the archive and reads its directory again, so an
        # archive of thousands of members takes time that grows with their square.
        with zipfile.ZipFile(self.path) as archive:
            entries = archive.infolist()
            if self.member_index is None or self.member_index >= len(entries):
                raise OSError(f"the archive no longer holds {self.member!r}")
            with archive.open(entries[self.member_index]) as handle:
                yield handle


def _shown(name: str) -> str:
    # Names from archives are untrusted: keep control characters out of terminals and JSON.
    return _CONTROL.sub("?", name)


def find_sources(paths: Iterable[Path]) -> tuple[list[EvtxSource], list[Problem]]:
    """The EVTX files named by `paths`: files, folders (searched recursively) and zip archives.

    In folders, files ending in .evtx and archives ending in .zip are taken; a file named
    directly is read as an archive if it ends in .zip, else as EVTX whatever its name.
    """
    sources: list[EvtxSource] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = _walk(path)
            if not found:
                problems.append(
                    Problem(str(path), "no .evtx files or .zip archives in this folder")
                )
        elif path.exists():
            if not _regular(path):
                problems.append(Problem(str(path), "not a regular file (a pipe or device?)"))
                continue
            found = [path]
        else:
            problems.append(Problem(str(path), "no such file or folder"))
            continue
        for file in found:
            if file.suffix.lower() == ".zip":
                _add_members(file, sources, problems)
            else:
                sources.append(EvtxSource(name=str(file), path=file, size=_size(file)))
    return sources, problems


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            # A pipe or device named *.evtx would block the import for good; a link that
            # leads nowhere is kept, so that the reader reports it.
            if name.lower().endswith((".evtx", ".zip")) and (_regular(path) or not path.exists()):
                found.append(path)
    return found


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the reader reports why it cannot open the file


def _add_members(archive: Path, sources: list[EvtxSource], problems: list[Problem]) -> None:
    try:
        with zipfile.ZipFile(archive) as opened:
            members = opened.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        problems.append(Problem(str(archive), f"cannot read the zip archive: {exc}"))
        return
    total = 0
    taken = 0
    reported = len(problems)
    for index, info in enumerate(members):
        # Limitation: archives inside the archive are not opened; only .evtx members are read.
        if info.is_dir() or not info.filename.lower().endswith(".evtx"):
            continue
        name = f"{archive}!{_shown(info.filename)}"
        if info.flag_bits & 0x1:
            problems.append(Problem(name, "the member is encrypted"))
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            problems.append(
                Problem(name, f"the member is larger than {MAX_MEMBER_BYTES} bytes; skipped")
            )
            continue
        total += info.file_size
        if total > MAX_ARCHIVE_BYTES:
            problems.append(
                Problem(name, f"the archive holds more than {MAX_ARCHIVE_BYTES} bytes; stopped")
            )
            return
        sources.append(
            EvtxSource(
                name=name,
                path=archive,
                size=info.file_size,
                member=info.filename,
                member_index=index,
            )
        )
        taken += 1
    if not taken and len(problems) == reported:
        problems.append(
            Problem(
                str(archive), "no .evtx members in this archive (archives inside it are not opened)"
            )
        )


@dataclass(slots=True)  # not frozen: made for every record, and frozen ones build slower
class RawRecord:
    """One parsed record: the `Event` element as a dict, with its place in the file."""

    record_id: int
    chunk: int | None
    event: dict[str, Any]
    # The record header's time: when the record was written. A fallback for TimeCreated.
    written: str | None
    nul_removed: bool


@dataclass
class _Chunk:
    index: int
    first_id: int
    last_id: int
    # Records returned or reported by the parser, and the highest of their numbers.
    read: int = 0
    last_seen: int = 0

    @property
    def expected(self) -> int:
        return self.last_id - self.first_id + 1


@dataclass
class _Layout:
    chunks: list[_Chunk] = field(default_factory=list)
    # Set when the file ends inside a chunk: the size to pad it to with zeros.
    padded_size: int | None = None


class NotEvtx(ValueError):
    """The input does not start with an EVTX file header."""


class EvtxReader:
    """Reads one EVTX source; records come from iteration, problems collect in `problems`.

    Every record that cannot be read becomes a problem with its chunk and record number, and
    the rest of the file is still read. Records a damaged chunk lost without the parser
    saying so are found by comparing what was read with the chunk headers.
    """

    def __init__(self, source: EvtxSource) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Records the parser returned, and records it could not return (damaged or lost).
        self.records_read = 0
        self.records_unreadable = 0
        self._chunks: list[_Chunk] = []
        self._starts: list[int] = []
        self._current: _Chunk | None = None

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
        self._index_chunks(layout.chunks)
        handle.seek(0)
        target: Any = handle
        if layout.padded_size is not None:
            target = _ZeroPadded(handle, self.source.size, layout.padded_size)
        elif self.source.member is None:
            target = str(self.source.path)  # the library reads files on disk itself, faster
        parser = PyEvtxParser(target)

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
        header = handle.read(FILE_HEADER_SIZE)
        if len(header) < 48 or header[:8] != FILE_MAGIC:
            raise NotEvtx("not an EVTX file (no ElfFile header)")
        (listed,) = _CHUNK_COUNT.unpack_from(header, 42)
        whole, partial = divmod(max(self.source.size - FILE_HEADER_SIZE, 0), CHUNK_SIZE)
        present = whole + (1 if partial else 0)

        layout = _Layout()
        for index in range(present):
            handle.seek(FILE_HEADER_SIZE + index * CHUNK_SIZE)
            chunk_header = handle.read(40)
            has_magic = chunk_header[:8] == CHUNK_MAGIC
            # When the file ends inside a chunk: unused chunks at the end are zeros, so only
            # a chunk in use (listed, or with a header) has lost data.
            if index == whole and (has_magic or index < listed):
                layout.padded_size = FILE_HEADER_SIZE + present * CHUNK_SIZE
                self._problem(
                    f"the file ends inside this chunk ({partial} of {CHUNK_SIZE} bytes); "
                    "records past the end are lost",
                    chunk=index,
                )
            if has_magic and len(chunk_header) == 40:
                first_id, last_id = _CHUNK_RECORD_IDS.unpack_from(chunk_header, 24)
                # Damaged numbers would count records no chunk can hold: not counted then.
                if 0 <= last_id - first_id < MAX_RECORDS_PER_CHUNK:
                    layout.chunks.append(_Chunk(index, first_id, last_id))
        if present < listed:
            self._problem(
                f"the file holds {present} of the {listed} chunks its header lists; "
                "the records of the missing chunks are lost",
                chunk=present,
            )
        return layout

    def _record(self, item: dict[str, Any]) -> RawRecord | None:
        record_id = int(item.get("event_record_id") or 0)
        chunk = self._chunk_of(record_id)
        if chunk is not None:
            chunk.read += 1
            chunk.last_seen = max(chunk.last_seen, record_id)
            self._current = chunk
        self.records_read += 1
        chunk_index = chunk.index if chunk else None

        data: str = item.get("data") or ""
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            self._problem(f"the parser's JSON is not valid: {exc}", chunk_index, record_id)
            return None
        event = parsed.get("Event") if isinstance(parsed, dict) else None
        if not isinstance(event, dict):
            self._problem("the record has no Event element", chunk_index, record_id)
            return None
        # JSON always escapes NUL, so the raw text tells whether any string holds one.
        nul = "\\u0000" in data
        if nul:
            event = strip_nul(event)
        return RawRecord(
            record_id=record_id,
            chunk=chunk_index,
            event=event,
            written=item.get("timestamp"),
            nul_removed=nul,
        )

    def _index_chunks(self, chunks: list[_Chunk]) -> None:
        # By first record number, not file order: a full log wraps around, so its oldest
        # chunk may sit anywhere in the file.
        self._chunks = sorted(chunks, key=lambda chunk: chunk.first_id)
        self._starts = [chunk.first_id for chunk in self._chunks]

    def _chunk_of(self, record_id: int) -> _Chunk | None:
        at = bisect.bisect_right(self._starts, record_id) - 1
        if at >= 0 and record_id <= self._chunks[at].last_id:
            return self._chunks[at]
        return None

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
        chunk_index = int(chunk_match.group(1))
        # A chunk the parser cannot read at all is reported by the parser; not again below.
        # Limitation: its records are not counted as bad records, as a damaged chunk header
        # does not say how many there were.
        self._index_chunks([c for c in self._chunks if c.index != chunk_index])
        self._problem(message, chunk_index)

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

    def _problem(self, message: str, chunk: int | None = None, record: int | None = None) -> None:
        log.debug("%r: chunk %s, record %s: %r", self.source.name, chunk, record, message)
        self.problems.append(Problem(self.source.name, message, chunk, record))


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


class _ZeroPadded(io.RawIOBase):
    """A file that ends inside a chunk, read as if zeros filled the rest of the chunk.

    The parser skips a chunk it cannot read whole; padded, the records that were fully
    written before the cut are read, and the one cut in half is reported.
    """

    def __init__(self, raw: IO[bytes], size: int, padded_size: int) -> None:
        super().__init__()
        self._raw = raw
        self._size = size
        self._padded_size = padded_size
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
        wanted = min(len(view), max(self._padded_size - self._position, 0))
        real = min(wanted, max(self._size - self._position, 0))
        if real:
            self._raw.seek(self._position)
            data = self._raw.read(real)
            real = len(data)
            view[:real] = data
        view[real:wanted] = bytes(wanted - real)
        self._position += wanted
        return wanted
