"""Where EVTX input comes from: files, folders searched recursively, and zip archive members.

An archive is opened once for all its members and closed after the last one is read; members
are streamed to the reader, never written to disk, and their names are only shown, never used
as paths.
"""

from __future__ import annotations

import logging
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

# zipfile never inflates a member past its declared size, so limits on declared sizes bound
# the work a zip bomb can cause. 4 GiB is the largest log Windows lets one configure.
MAX_MEMBER_BYTES = 4 * 1024**3
MAX_ARCHIVE_BYTES = 64 * 1024**3
# Deflate cannot pack even zeros tighter than about 1030:1, and a real log never comes close
# to that (the shared samples: at most 145:1, for logs that are mostly empty chunks). A large
# member declared to inflate further is a zip bomb (bzip2 and LZMA reach millions to one).
MAX_COMPRESSION_RATIO = 1100
RATIO_CHECKED_ABOVE = 16 * 1024**2


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
        # Raw: names come from disks and archives, so text output escapes this (summary.py).
        where = [self.file]
        if self.chunk is not None:
            where.append(f"chunk {self.chunk}")
        if self.record is not None:
            where.append(f"record {self.record}")
        return f"{', '.join(where)}: {self.message}"


class _Archive:
    """A zip archive shared by its members' sources: opened at the first member read, closed
    once every member has been read (one archive open at a time, however many are listed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unread: set[int] = set()
        self._zip: zipfile.ZipFile | None = None
        self._entries: list[zipfile.ZipInfo] = []

    @contextmanager
    def member(self, index: int, name: str) -> Iterator[IO[bytes]]:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.path)
            self._entries = self._zip.infolist()
        try:
            if index >= len(self._entries) or self._entries[index].filename != name:
                raise OSError(f"the archive no longer holds {name!r}")
            with self._zip.open(self._entries[index]) as handle:
                yield handle
        finally:
            self.unread.discard(index)
            if not self.unread:
                self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
            self._entries = []


@dataclass(frozen=True)
class EvtxSource:
    """One EVTX file: on disk at `path`, or the member `member` of the zip archive at `path`."""

    name: str
    path: Path
    size: int
    member: str | None = None
    # The member's place in the archive: names may repeat, places do not.
    member_index: int | None = None
    archive: _Archive | None = field(default=None, compare=False, repr=False)

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self.member is None:
            with open(self.path, "rb") as handle:
                yield handle
            return
        if self.member_index is None:
            raise OSError(f"no place in the archive is known for {self.member!r}")
        archive = self.archive or _Archive(self.path)
        with archive.member(self.member_index, self.member) as handle:
            yield handle


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


def _add_members(path: Path, sources: list[EvtxSource], problems: list[Problem]) -> None:
    try:
        with zipfile.ZipFile(path) as opened:
            members = opened.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        problems.append(Problem(str(path), f"cannot read the zip archive: {exc}"))
        return
    archive = _Archive(path)
    total = 0
    reported = len(problems)
    for index, info in enumerate(members):
        # Limitation: archives inside the archive are not opened; only .evtx members are read.
        if info.is_dir() or not info.filename.lower().endswith(".evtx"):
            continue
        name = f"{path}!{info.filename}"
        refusal = _refusal(info)
        if refusal is not None:
            problems.append(Problem(name, refusal))
            continue
        total += info.file_size
        if total > MAX_ARCHIVE_BYTES:
            problems.append(
                Problem(name, f"the archive holds more than {MAX_ARCHIVE_BYTES} bytes; stopped")
            )
            break
        archive.unread.add(index)
        sources.append(
            EvtxSource(
                name=name,
                path=path,
                size=info.file_size,
                member=info.filename,
                member_index=index,
                archive=archive,
            )
        )
    if not archive.unread and len(problems) == reported:
        problems.append(
            Problem(
                str(path), "no .evtx members in this archive (archives inside it are not opened)"
            )
        )


def _refusal(info: zipfile.ZipInfo) -> str | None:
    """Why a member is not read, or None."""
    if info.flag_bits & 0x1:
        return "the member is encrypted"
    if info.file_size > MAX_MEMBER_BYTES:
        return f"the member is larger than {MAX_MEMBER_BYTES} bytes; skipped"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_CHECKED_ABOVE and ratio > MAX_COMPRESSION_RATIO:
        return (
            f"the member would inflate {info.compress_size} bytes to {info.file_size}, "
            f"{ratio:,.0f} to 1, beyond the {MAX_COMPRESSION_RATIO} to 1 any event log "
            "compresses to; skipped as a likely zip bomb"
        )
    return None
