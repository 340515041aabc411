"""`hostwatch feeds import`: feed files into the knowledge base, batch by batch, with a summary.

A batch is one transaction. A malformed record is skipped with a problem naming its file
and the reason; the other records of the file are imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
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
from hostwatch.vulns.sources import FeedInput, NotAFeed, find_inputs, parse_input

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

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def problems(self) -> list[Problem]:
        return self.input_problems + [p for f in self.files for p in f.problems]

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

    def run(self, paths: Sequence[Path]) -> FeedSummary:
        started = time.monotonic()
        inputs, problems = find_inputs(paths)
        summary = FeedSummary(input_problems=list(problems))
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
        self._progress(len(inputs), len(inputs), records)
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
            for item in parsed:
                if isinstance(item, RecordError):
                    file.skipped += 1
                    file.problems.append(Problem(source.name, f"skipped: {item}"))
                    log.warning("%s: advisory skipped: %s", source.name, item)
                    continue
                file.records += 1
                batch.append((item, file))
                if len(batch) >= self.batch_size:
                    self._store(batch, summary)
                    batch.clear()
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
    rate = summary.records / summary.seconds if summary.seconds else 0.0
    table = Table("", "", show_header=False, box=None)
    feeds = ", ".join(f"{feed} {count:,}" for feed, count in sorted(summary.by_feed().items()))
    for label, value in (
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
    ):
        table.add_row(label, str(value))
    console.print(table)
    problems = summary.problems
    if not problems:
        return
    console.print(f"\n{len(problems)} problems:")
    for problem in problems[:problems_shown]:
        # File names and messages come from the input: print them as text, not markup.
        console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    if len(problems) > problems_shown:
        console.print(f"  ... and {len(problems) - problems_shown} more (--json lists them)")
