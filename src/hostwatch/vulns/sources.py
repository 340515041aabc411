"""Feed files: found in folders and zip archives, decompressed, recognized and parsed.

Which feed a file holds is told by its content: a Debian tracker list by its first header
line, Microsoft's security updates by the CVRF root element (XML) or tracking object
(JSON), NVD by `"format": "NVD_CVE"`, KEV by `catalogVersion`, OSV by `id` with
`modified` or `affected`. YAML files are OSV (no other feed uses YAML). A file named on the command
line must be a feed file; in folders and archives, files that are no feed (a licence, a
JSON schema) are passed over and counted.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hostwatch.ingest.evtx import Problem
from hostwatch.vulns import debian, msrc, nvd, osv
from hostwatch.vulns.records import DEBIAN, KEV, MSRC, NVD, OSV, FeedRecord, RecordError

# A feed file, after decompression; the largest NVD yearly file is about 200 MB of JSON.
MAX_FILE_BYTES = 1024 * 1024 * 1024
MAX_ARCHIVE_BYTES = 4 * MAX_FILE_BYTES
_FEED_SUFFIXES = (".json", ".yaml", ".yml", ".xml", ".gz", ".zip")


@dataclass(frozen=True)
class FeedInput:
    """A file, or a member of a zip archive, that may hold feed records."""

    name: str
    path: Path
    member: str | None = None
    # Named on the command line: not being a feed file is then a problem.
    explicit: bool = False


class NotAFeed(Exception):
    """The input holds no feed this importer knows."""


def find_inputs(paths: Iterable[Path]) -> tuple[list[FeedInput], list[Problem]]:
    inputs: list[FeedInput] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = [(p, False) for p in _walk(path)]
            if not found:
                problems.append(Problem(str(path), "no feed files in this folder"))
        elif path.exists():
            if not _regular(path):
                problems.append(Problem(str(path), "not a regular file (a pipe or device?)"))
                continue
            found = [(path, True)]
        else:
            problems.append(Problem(str(path), "no such file or folder"))
            continue
        for file, explicit in found:
            if file.suffix.lower() == ".zip":
                _add_members(file, inputs, problems)
            else:
                inputs.append(FeedInput(str(file), file, explicit=explicit))
    return inputs, problems


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            # Files without a suffix may be tracker lists ("list"); others are looked at
            # only with a feed suffix.
            if (name.lower().endswith(_FEED_SUFFIXES) or "." not in name) and _regular(path):
                found.append(path)
    return found


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _add_members(archive: Path, inputs: list[FeedInput], problems: list[Problem]) -> None:
    try:
        with zipfile.ZipFile(archive) as opened:
            members = opened.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        problems.append(Problem(str(archive), f"cannot read the zip archive: {exc}"))
        return
    total = 0
    for info in members:
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or not (base.lower().endswith(_FEED_SUFFIXES[:5]) or "." not in base):
            # Limitation: archives inside the archive are not opened.
            continue
        name = f"{archive}!{info.filename!r}"
        if info.flag_bits & 0x1:
            problems.append(Problem(name, "the member is encrypted"))
            continue
        total += info.file_size
        if info.file_size > MAX_FILE_BYTES or total > MAX_ARCHIVE_BYTES:
            problems.append(Problem(name, "the member or archive is too large; skipped"))
            continue
        inputs.append(FeedInput(name, archive, member=info.filename))


class _OpenArchive:
    """The archive last read from, kept open: members are read one after another, and
    opening the archive again for each would read its whole directory each time (an OSV
    all.zip holds tens of thousands of members)."""

    def __init__(self) -> None:
        self.key: tuple[Path, int, int] | None = None
        self.archive: zipfile.ZipFile | None = None

    def get(self, path: Path) -> zipfile.ZipFile:
        info = path.stat()
        key = (path, info.st_mtime_ns, info.st_size)
        if self.archive is None or self.key != key:
            self.close()
            self.archive = zipfile.ZipFile(path)
            self.key = key
        return self.archive

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()
        self.archive, self.key = None, None


_archive = _OpenArchive()


def close_archives() -> None:
    """Lets go of the archive kept open between members (before it is deleted)."""
    _archive.close()


def read_bytes(source: FeedInput) -> bytes:
    """The input's content, gunzipped if it is gzip (by content, not by name)."""
    if source.member is not None:
        with _archive.get(source.path).open(source.member) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    else:
        with open(source.path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            data = unpacked.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise RecordError(f"larger than {MAX_FILE_BYTES} bytes")
    return data


def _is_yaml(name: str) -> bool:
    name = name.lower().removesuffix(".gz").rstrip("'")
    return name.endswith((".yaml", ".yml"))


def parse_input(source: FeedInput) -> tuple[str, Iterator[FeedRecord | RecordError]]:
    """(feed, records) of one input. NotAFeed if it holds none; RecordError if unreadable."""
    try:
        data = read_bytes(source)
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise RecordError(f"cannot read the file: {exc}") from exc
    if debian.looks_like_tracker_list(data):
        return DEBIAN, debian.parse_list(_text(data), source.name)
    if msrc.is_cvrf(data[:4096]):
        # Parsed here, not lazily: a document that can not be read is a file that failed
        # (feed unknown), not a file whose records were all skipped.
        try:
            document = msrc.parse(data, source.name)
        except msrc.MsrcError as exc:
            raise RecordError(exc.reason) from exc
        return MSRC, _msrc(document, source.name)
    if _is_yaml(source.name):
        return OSV, _osv_yaml(_yaml_documents(data), source.name)
    stripped = data.lstrip()
    if not stripped.startswith((b"{", b"[")):
        raise NotAFeed("not JSON, YAML or a Debian tracker list")
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise RecordError(f"not valid JSON: {exc}") from exc
    if nvd.looks_like_nvd(doc):
        nvd.check_nvd_envelope(doc)
        return NVD, nvd.parse_nvd(doc, source.name)
    if nvd.looks_like_kev(doc):
        return KEV, nvd.parse_kev(doc, source.name)
    if isinstance(doc, list) and doc and all(osv.looks_like_osv(d) for d in doc):
        return OSV, _osv_many(doc, source.name)
    if osv.looks_like_osv(doc):
        return OSV, _osv_many([doc], source.name)
    raise NotAFeed("JSON that is no OSV record, NVD response or KEV catalog")


def _msrc(document: msrc.Document, name: str) -> Iterator[FeedRecord | RecordError]:
    for reason in document.skipped:
        yield RecordError(reason)
    yield from msrc.to_records(document, name)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 text: {exc}") from exc


def _yaml_documents(data: bytes) -> list[Any]:
    """The YAML file's documents if they are OSV records; NotAFeed if they are something else."""
    try:
        # The base loader keeps every scalar a string: 1.10 stays "1.10", not the float 1.1.
        docs = [d for d in yaml.load_all(_text(data), Loader=yaml.CBaseLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise RecordError(f"not valid YAML: {_first_line(str(exc))}") from exc
    if not docs:
        raise RecordError("empty YAML document")
    if not any(osv.looks_like_osv(d) for d in docs):
        raise NotAFeed("YAML that is no OSV record (no affected, aliases or schema_version)")
    return docs


def _osv_yaml(docs: list[Any], name: str) -> Iterator[FeedRecord | RecordError]:
    yield from _osv_many(docs, name)


def _osv_many(docs: list[Any], name: str) -> Iterator[FeedRecord | RecordError]:
    for doc in docs:
        try:
            yield osv.parse_record(doc, name)
        except RecordError as exc:
            yield exc


def _first_line(text: str) -> str:
    return " ".join(text.split())
