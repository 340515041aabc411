"""`hostwatch feeds import`: feed files into the knowledge base, batch by batch, with a summary.

A batch is one transaction. A malformed record is skipped with a problem naming its file
and the reason; the other records of the file are imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import transaction
from hostwatch.ingest.evtx import Problem
from hostwatch.vulns import store
from hostwatch.vulns.records import FeedRecord, RecordError
from hostwatch.vulns.rematch import RematchSummary
from hostwatch.vulns.sources import (
    FeedInput,
    NotAFeed,
    close_archives,
    find_inputs,
    parse_input,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 2_000
EXIT_COMPLETE = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3
MAX_PROBLEMS_LISTED = 1000


@dataclass(frozen=True)
class Progress:
    files_total: int
    files_done: int
    records: int


@dataclass
class FeedFileSummary:
    name: str
    feed: str | None = None
    records: int = 0
    skipped: int = 0  # malformed records
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "feed": self.feed,
            "records": self.records,
            "skipped": self.skipped,
            "problems": [p.to_dict() for p in self.problems[:MAX_PROBLEMS_LISTED]],
            "problems_not_listed": max(len(self.problems) - MAX_PROBLEMS_LISTED, 0),
        }


@dataclass
class FeedSummary:
    files: list[FeedFileSummary] = field(default_factory=list)
    input_problems: list[Problem] = field(default_factory=list)
    # Files in folders and archives that hold no feed (licences, schemas).
    not_feeds: list[str] = field(default_factory=list)
    written: store.WriteResult = field(default_factory=store.WriteResult)
    not_stored: int = 0
    seconds: float = 0.0
    # The devices re-matched after the import, when that ran.
    rematch: RematchSummary | None = None

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def problems(self) -> list[Problem]:
        found = self.input_problems + [p for f in self.files for p in f.problems]
        return found + (self.rematch.problems if self.rematch else [])

    def merge(self, other: FeedSummary) -> None:
        """Adds another summary's files, problems and writes to this one."""
        self.files.extend(other.files)
        self.input_problems.extend(other.input_problems)
        self.not_feeds.extend(other.not_feeds)
        self.written.add(other.written)
        self.not_stored += other.not_stored

    @property
    def status(self) -> str:
        if not self.problems:
            return "complete"
        stored = self.written.added + self.written.updated + self.written.unchanged
        return "partial" if stored > 0 else "failed"

    @property
    def exit_code(self) -> int:
        return {"complete": EXIT_COMPLETE, "partial": EXIT_PARTIAL}.get(self.status, EXIT_FAILED)

    def by_feed(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            if f.feed:
                counts[f.feed] = counts.get(f.feed, 0) + f.records
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "files": len(self.files),
            "records": self.records,
            "records_by_feed": self.by_feed(),
            "added": self.written.added,
            "updated": self.written.updated,
            "unchanged": self.written.unchanged,
            "withdrawn": self.written.withdrawn,
            "skipped": self.skipped,
            "not_stored": self.not_stored,
            "vulnerabilities_changed": len(self.written.changed_vulnerabilities),
            "seconds": round(self.seconds, 3),
            "not_feed_files": self.not_feeds,
            "input_problems": [p.to_dict() for p in self.input_problems],
            "per_file": [f.to_dict() for f in self.files],
            "rematch": self.rematch.to_dict() if self.rematch else None,
        }


class FeedImporter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        batch_size: int = BATCH_SIZE,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.batch_size = batch_size
        self.on_progress = on_progress
        # When set, the id of every record read is added: what a complete download holds.
        self.seen: set[str] | None = None

    def run(self, paths: Sequence[Path]) -> FeedSummary:
        started = time.monotonic()
        inputs, problems = find_inputs(paths)
        summary = FeedSummary(input_problems=list(problems))
        self.import_inputs(inputs, summary)
        summary.seconds = time.monotonic() - started
        log.info(
            "imported %d feed files: %d records, %d added, %d updated, %d unchanged, %d problems",
            len(summary.files),
            summary.records,
            summary.written.added,
            summary.written.updated,
            summary.written.unchanged,
            len(summary.problems),
        )
        return summary

    def import_inputs(self, inputs: Sequence[FeedInput], summary: FeedSummary) -> None:
        """Reads and stores every input, adding to `summary`."""
        batch: list[tuple[FeedRecord, FeedFileSummary]] = []
        records = 0
        for done, source in enumerate(inputs):
            self._progress(len(inputs), done, records)
            file = self._read(source, summary, batch)
            if file is None:
                continue
            summary.files.append(file)
            records += file.records
        self._store(batch, summary)
        close_archives()
        self._progress(len(inputs), len(inputs), records)

    def import_records(
        self,
        name: str,
        feed: str,
        parsed: Iterable[FeedRecord | RecordError],
        summary: FeedSummary,
    ) -> FeedFileSummary:
        """Stores records parsed elsewhere (an NVD API page) as one file of `summary`."""
        file = FeedFileSummary(name, feed=feed)
        batch: list[tuple[FeedRecord, FeedFileSummary]] = []
        self._take(name, parsed, file, summary, batch)
        self._store(batch, summary)
        summary.files.append(file)
        return file

    def _take(
        self,
        name: str,
        parsed: Iterable[FeedRecord | RecordError],
        file: FeedFileSummary,
        summary: FeedSummary,
        batch: list[tuple[FeedRecord, FeedFileSummary]],
    ) -> None:
        for item in parsed:
            if isinstance(item, RecordError):
                file.skipped += 1
                file.problems.append(Problem(name, f"skipped: {item}"))
                log.warning("%s: advisory skipped: %s", name, item)
                continue
            file.records += 1
            if self.seen is not None:
                self.seen.add(item.record_id)
            batch.append((item, file))
            if len(batch) >= self.batch_size:
                self._store(batch, summary)
                batch.clear()

    def _read(
        self,
        source: FeedInput,
        summary: FeedSummary,
        batch: list[tuple[FeedRecord, FeedFileSummary]],
    ) -> FeedFileSummary | None:
        file = FeedFileSummary(source.name)
        try:
            feed, parsed = parse_input(source)
            file.feed = feed
            self._take(source.name, parsed, file, summary, batch)
        except NotAFeed as exc:
            if not source.explicit:
                summary.not_feeds.append(source.name)
                return None
            file.problems.append(Problem(source.name, f"not a feed file: {exc}"))
        except RecordError as exc:
            file.skipped += 1
            file.problems.append(Problem(source.name, f"skipped: {exc}"))
            log.warning("%s: file skipped: %s", source.name, exc)
        return file

    def _store(self, batch: list[tuple[FeedRecord, FeedFileSummary]], summary: FeedSummary) -> None:
        if not batch:
            return
        try:
            with transaction(self.sessions) as session:
                written = store.write_records(session, [record for record, _ in batch])
        except sa_exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            summary.not_stored += len(batch)
            files: dict[int, FeedFileSummary] = {id(f): f for _, f in batch}
            for file in files.values():
                file.problems.append(Problem(file.name, f"records not stored: {reason}"))
            log.error("a batch of %d feed records was not stored: %s", len(batch), reason)
            return
        summary.written.add(written)

    def _progress(self, total: int, done: int, records: int) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(files_total=total, files_done=done, records=records))


def render(summary: FeedSummary, console: Console, problems_shown: int = 50) -> None:
    """The summary for people: totals by feed, then each problem with its file."""
    table = Table("", "", show_header=False, box=None)
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    console.print(table)
    print_problems(summary.problems, console, problems_shown)


def summary_rows(summary: FeedSummary) -> list[tuple[str, str]]:
    rate = summary.records / summary.seconds if summary.seconds else 0.0
    feeds = ", ".join(f"{feed} {count:,}" for feed, count in sorted(summary.by_feed().items()))
    rows: list[tuple[str, object]] = [
        ("status", summary.status),
        ("files", len(summary.files)),
        ("records read", f"{summary.records:,}" + (f" ({feeds})" if feeds else "")),
        ("added", summary.written.added),
        ("updated", summary.written.updated),
        ("unchanged (skipped)", summary.written.unchanged),
        ("withdrawn", summary.written.withdrawn),
        ("malformed (skipped)", summary.skipped),
        ("not stored (database)", summary.not_stored),
        ("files that are no feed", len(summary.not_feeds)),
        ("time", f"{summary.seconds:.1f} s ({rate:,.0f} records/s)"),
    ]
    if summary.rematch is not None:
        rematch = summary.rematch
        rows.append(("devices re-matched", f"{rematch.devices} in {rematch.seconds:.1f} s"))
        rows.append(
            (
                "findings added / removed",
                f"{rematch.added} / {rematch.removed} ({rematch.changed} changed)",
            )
        )
    return [(label, str(value)) for label, value in rows]


def print_problems(problems: list[Problem], console: Console, shown: int = 50) -> None:
    if not problems:
        return
    console.print(f"\n{len(problems)} problems:")
    for problem in problems[:shown]:
        # File names and messages come from the input: print them as text, not markup.
        console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    if len(problems) > shown:
        console.print(f"  ... and {len(problems) - shown} more (--json lists them)")
