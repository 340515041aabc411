"""osqueryd results logs (the filesystem logger's JSON lines) read into query results.

osquery writes three shapes of line (https://osquery.readthedocs.io/en/stable/deployment/logging/):
batch lines with `diffResults` {added, removed}, event lines with one row in `columns` and
an `action` of added or removed, and snapshot lines with the whole result in `snapshot`.
A differential result with `counter` 0 is the first run of its query in that `epoch`: its
added rows are the whole result, so it counts as a snapshot. Event lines of one such run
(same host, query, epoch and time) are joined into one snapshot.

Values are untrusted: they are only ever compared and stored through bound parameters.
"""

from __future__ import annotations

import fnmatch
import gzip
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from hostwatch.ingest.evtx import Problem

TABLES = (
    "programs",
    "deb_packages",
    "rpm_packages",
    "python_packages",
    "npm_packages",
    "os_version",
    "patches",
    "logged_in_users",
)
# A query's table from its name: the name ends with the table's, after a pack delimiter
# ("pack_inventory_programs", "pack/inventory/deb_packages", "programs").
DEFAULT_NAME_PATTERN = re.compile(r"(?:^|[_/:.\-])(" + "|".join(TABLES) + r")$", re.IGNORECASE)
# Columns that only one table's rows have, for queries named otherwise ("installed_sw").
_SIGNATURES = (
    ("programs", {"name", "install_location", "identifying_number"}),
    ("deb_packages", {"name", "version", "revision", "arch", "status"}),
    ("rpm_packages", {"name", "version", "release", "epoch"}),
    ("python_packages", {"name", "version", "summary", "path"}),
    ("npm_packages", {"name", "version", "description", "path"}),
    ("os_version", {"name", "version", "major", "minor", "platform"}),
    ("patches", {"hotfix_id"}),
    ("logged_in_users", {"user", "tty", "type", "time"}),
)
# One line of the log: a snapshot of a large inventory is a few MB; more is not osquery's.
MAX_LINE_BYTES = 32 * 1024**2
# A file after decompression.
MAX_FILE_BYTES = 16 * 1024**3
_LOG_NAME = re.compile(r"\.(log|json|jsonl|ndjson)(\.\d+)?(\.gz)?$|results", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_UUID_KEYS = ("host_uuid", "uuid", "hardware_uuid", "system_uuid")
_NAME_KEYS = ("hostname", "host_name", "computer_name", "local_hostname")


class BadLine(ValueError):
    """A line that holds no usable result; the message says which field is wrong."""


@dataclass(frozen=True)
class Identity:
    """What names the host a result came from: its hardware UUID, its host name or FQDN."""

    uuid: str | None
    name: str | None


@dataclass
class Result:
    """One query result for one host: a snapshot, or rows added and removed."""

    file: int
    line: int
    query: str
    table: str
    identity: Identity
    time: datetime
    snapshot: bool
    added: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)


@dataclass
class QueryMap:
    """Which table a query's results come from: explicit `patterns` (shell-style globs on
    the query name, first match wins), then the default name pattern, then the columns."""

    patterns: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> QueryMap:
        """From "GLOB=TABLE" texts, as `--query` takes them."""
        patterns = []
        for spec in specs:
            glob, sep, table = spec.partition("=")
            if not sep or not glob or table not in TABLES:
                raise ValueError(
                    f"--query {spec!r}: expected QUERY_GLOB=TABLE with TABLE one of "
                    + ", ".join(TABLES)
                )
            patterns.append((glob, table))
        return cls(patterns)

    def table_for(self, name: str, columns: Iterable[str] | None) -> str | None:
        for glob, table in self.patterns:
            if fnmatch.fnmatchcase(name, glob):
                return table
        found = DEFAULT_NAME_PATTERN.search(name)
        if found:
            return found.group(1).lower()
        if columns is not None:
            present = set(columns)
            for table, needed in _SIGNATURES:
                if needed <= present:
                    return table
        return None


@dataclass(frozen=True)
class LogInput:
    name: str
    path: Path


def find_inputs(paths: Iterable[Path]) -> tuple[list[LogInput], list[Problem]]:
    """Files named, and the log files in folders (searched recursively, in name order)."""
    inputs: list[LogInput] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found += [Path(root) / f for f in sorted(files) if _LOG_NAME.search(f)]
            if not found:
                problems.append(Problem(str(path), "no osquery results logs in this folder"))
            inputs += [LogInput(str(f), f) for f in found if _regular(f)]
        elif path.exists():
            if _regular(path):
                inputs.append(LogInput(str(path), path))
            else:
                problems.append(Problem(str(path), "not a regular file (a pipe or device?)"))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    return inputs, problems


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def open_log(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (told by its magic, not its name)."""
    handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if handle.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def read_lines(
    handle: IO[bytes], limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for each line; None for a line longer than `limit` bytes, which
    is skipped without being held in memory."""
    number = 0
    total = 0
    while True:
        data = handle.readline(limit + 1)
        if not data:
            return
        number += 1
        total += len(data)
        if total > MAX_FILE_BYTES:
            raise BadLine(f"the file is larger than {MAX_FILE_BYTES} bytes decompressed")
        if len(data) > limit and not data.endswith(b"\n"):
            while data and not data.endswith(b"\n"):
                data = handle.readline(1024**2)
                total += len(data)
            yield number, None
            continue
        yield number, data


@dataclass
class LineParser:
    """Turns lines into results; joins the event lines of one first run into a snapshot."""

    queries: QueryMap
    # Event lines of first runs, by (host, query, epoch, time): the snapshot they build.
    _runs: dict[tuple[Any, ...], Result] = field(default_factory=dict)

    def parse(self, file: int, number: int, data: bytes) -> Result | None:
        """The line's result, None when it joined an earlier line's snapshot."""
        try:
            line = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadLine(f"not JSON: {exc}") from None
        if not isinstance(line, dict):
            raise BadLine("not a JSON object")
        query = _text(line, "name")
        identity = _identity(line)
        when = _time(line)
        first_run = _counter(line) == 0

        if isinstance(line.get("snapshot"), list):
            rows = _rows(line["snapshot"], "snapshot")
            return self._result(file, number, query, identity, when, True, rows, [])
        diff = line.get("diffResults")
        if isinstance(diff, dict):
            added = _rows(diff.get("added") or [], "diffResults.added")
            removed = _rows(diff.get("removed") or [], "diffResults.removed")
            if first_run:
                removed = []
            return self._result(file, number, query, identity, when, first_run, added, removed)
        if isinstance(line.get("columns"), dict):
            action = line.get("action")
            if action not in ("added", "removed"):
                raise BadLine(f"field 'action' is {str(action)[:40]!r}, not added or removed")
            row = _row(line["columns"], "columns")
            if first_run and action == "added":
                key = (identity, query, line.get("epoch"), when)
                run = self._runs.get(key)
                if run is not None:
                    run.added.append(row)
                    return None
                result = self._result(file, number, query, identity, when, True, [row], [])
                self._runs[key] = result
                return result
            pair = ([row], []) if action == "added" else ([], [row])
            return self._result(file, number, query, identity, when, False, *pair)
        raise BadLine("no 'snapshot', 'diffResults' or 'columns': not an osquery result")

    def _result(
        self,
        file: int,
        number: int,
        query: str,
        identity: Identity,
        when: datetime,
        snapshot: bool,
        added: list[dict[str, str]],
        removed: list[dict[str, str]],
    ) -> Result:
        rows = added or removed
        table = self.queries.table_for(query, rows[0].keys() if rows else None)
        if table is None:
            raise UnknownQuery(query)
        return Result(file, number, query, table, identity, when, snapshot, added, removed)


class UnknownQuery(BadLine):
    """A result of a query that maps to no inventory table."""

    def __init__(self, query: str) -> None:
        super().__init__(f"query {query!r} maps to no inventory table")
        self.query = query


# Control characters, terminal escapes and the marks that hide or reorder text.
UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


def _text(line: dict[str, Any], key: str, limit: int = 255) -> str:
    value = line.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadLine(f"field {key!r} is missing or not text")
    if len(value) > limit:
        raise BadLine(f"field {key!r} is {len(value)} characters long, the most is {limit}")
    if UNPRINTABLE.search(value):
        raise BadLine(f"field {key!r} holds control characters")
    return value


def _identity(line: dict[str, Any]) -> Identity:
    decorations = line.get("decorations")
    decorations = decorations if isinstance(decorations, dict) else {}
    host = line.get("hostIdentifier")
    uuid = next((decorations[k] for k in _UUID_KEYS if decorations.get(k)), None)
    name = next((decorations[k] for k in _NAME_KEYS if decorations.get(k)), None)
    if isinstance(host, str) and host.strip():
        if _UUID.match(host.strip()):
            uuid = uuid or host.strip()
        else:
            name = name or host.strip()
    for label, value in (("uuid", uuid), ("host name", name)):
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 255 or UNPRINTABLE.search(value):
            raise BadLine(f"the host's {label} is not text of at most 255 printable characters")
    if not uuid and not name:
        raise BadLine(
            "no host identity: field 'hostIdentifier' is missing and no decoration names the host"
        )
    return Identity(uuid.lower() if uuid else None, name)


def _time(line: dict[str, Any]) -> datetime:
    unix = line.get("unixTime")
    try:
        if unix is not None and not isinstance(unix, bool):
            return datetime.fromtimestamp(int(unix), UTC)
        calendar = line.get("calendarTime")
        if isinstance(calendar, str):
            return datetime.strptime(calendar.replace(" UTC", ""), "%a %b %d %H:%M:%S %Y").replace(
                tzinfo=UTC
            )
    except (ValueError, OverflowError, OSError):
        raise BadLine("field 'unixTime' or 'calendarTime' is not a time") from None
    raise BadLine("field 'unixTime' (or 'calendarTime') is missing")


def _counter(line: dict[str, Any]) -> int | None:
    counter = line.get("counter")
    if isinstance(counter, int) and not isinstance(counter, bool):
        return counter
    if isinstance(counter, str) and counter.isdigit():
        return int(counter)
    return None


def _rows(rows: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(rows, list):
        raise BadLine(f"field {where!r} is not a list")
    return [_row(row, where) for row in rows]


def _row(row: Any, where: str) -> dict[str, str]:
    """A row's columns as text (osquery writes text, or numbers with numeric logging)."""
    if not isinstance(row, dict):
        raise BadLine(f"a row of {where!r} is not an object")
    out: dict[str, str] = {}
    for key, value in row.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = str(value)
        elif value is None:
            out[key] = ""
        else:
            raise BadLine(f"column {key[:64]!r} of {where!r} is not a text or number")
    return out
