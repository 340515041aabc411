"""`hostwatch import osquery`: osqueryd results logs into devices, software, hotfixes and users.

Files are read first (osquery_log), then each host's results are applied in one
transaction of their own, in time order (rotated logs imported together sort themselves).
Results carry the time osquery ran the query, and that time rules what they may change, so
that an older snapshot never removes what was seen after it, and the same log imported
twice changes nothing:

- a snapshot at time T replaces the items of its table last seen at or before T; items
  seen later (by a later differential result or by the agent) stay;
- a differential result adds its added rows and removes its removed rows unless they were
  seen after T;
- first and last seen are the earliest and latest times osquery saw an item.

After a host's software changed, its findings are refreshed from the knowledge base.

Limitations (marked where they live): results are held in memory until the files are
read; an older log imported after a newer one sets OS facts and logged-on users back, and
brings back items a newer differential result removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import begin_write
from hostwatch.devices import registry
from hostwatch.devices.models import Device
from hostwatch.ingest.evtx import Problem
from hostwatch.ingest.osquery_log import (
    BadLine,
    Identity,
    LineParser,
    QueryMap,
    Result,
    UnknownQuery,
    find_inputs,
    open_log,
    read_lines,
)
from hostwatch.ingest.osquery_store import Applied, apply
from hostwatch.ingest.osquery_summary import OsqueryFileSummary, OsquerySummary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    files_total: int
    files_done: int
    records: int


class OsqueryImporter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        queries: QueryMap | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.queries = queries or QueryMap()
        self.on_progress = on_progress

    def run(self, paths: Sequence[Path]) -> OsquerySummary:
        started = time.monotonic()
        inputs, input_problems = find_inputs(paths)
        summary = OsquerySummary(input_problems=list(input_problems))
        summary.files = [OsqueryFileSummary(i.name) for i in inputs]
        parser = LineParser(self.queries)
        # Limitation: every result is held in memory until all files are read (about the
        # size of the logs' inventory rows), so that each host's results apply in time order.
        results: list[Result] = []
        self._progress(summary, 0)
        for number, source in enumerate(inputs):
            results += self._read(number, source.path, summary.files[number], parser)
            self._progress(summary, number + 1)

        by_host: dict[Identity, list[Result]] = {}
        for result in results:
            by_host.setdefault(result.identity, []).append(result)
        created: set[str] = set()
        updated: set[str] = set()
        for identity, host_results in by_host.items():
            host_results.sort(key=lambda r: (r.time, r.file, r.line))
            self._apply_host(identity, host_results, summary, created, updated)
        for file in summary.files:
            # Rows refused while applying come after the lines refused while reading.
            file.problems.sort(key=lambda p: (p.record is None, p.record or 0))
        summary.devices_created = len(created)
        summary.devices_updated = len(updated - created)
        summary.seconds = time.monotonic() - started
        log.info(
            "imported %d osquery logs: %d lines, %d results applied, %d problems",
            len(summary.files),
            summary.lines,
            summary.results_applied,
            len(summary.problems),
        )
        return summary

    def _read(
        self, number: int, path: Path, file: OsqueryFileSummary, parser: LineParser
    ) -> list[Result]:
        results: list[Result] = []
        unknown: dict[str, list[int]] = {}
        try:
            with open_log(path) as handle:
                for line, data in read_lines(handle):
                    file.lines += 1
                    if data is None:
                        file.bad_lines += 1
                        file.problems.append(Problem(file.name, "line too long", record=line))
                        continue
                    if not data.strip():
                        continue
                    try:
                        result = parser.parse(number, line, data)
                    except UnknownQuery as exc:
                        unknown.setdefault(exc.query, []).append(line)
                        continue
                    except BadLine as exc:
                        file.bad_lines += 1
                        file.problems.append(Problem(file.name, str(exc), record=line))
                        continue
                    if result is not None:
                        results.append(result)
        except (OSError, EOFError, BadLine) as exc:
            # Unreadable, or a damaged gzip stream: what came before stays.
            file.problems.append(Problem(file.name, f"reading stopped: {exc}"))
        for query, lines in unknown.items():
            file.skipped_results += len(lines)
            message = (
                f"query {query!r} maps to no inventory table: {len(lines)} results skipped "
                "(name its table with --query)"
            )
            file.problems.append(Problem(file.name, message, record=lines[0]))
        file.problems.sort(key=lambda p: (p.record is None, p.record or 0))
        file.results = len(results)
        return results

    def _apply_host(
        self,
        identity: Identity,
        results: list[Result],
        summary: OsquerySummary,
        created: set[str],
        updated: set[str],
    ) -> None:
        with self.sessions() as session:
            try:
                session.begin()
                begin_write(session)
                device, is_new = _device(session, identity)
                # Two imports of one host at once would diff against the same rows and then
                # collide on the unique keys: the second waits here (PostgreSQL; SQLite has
                # one writer).
                session.flush()
                session.execute(select(Device.id).where(Device.id == device.id).with_for_update())
                device_id = device.id
                applied = Applied()
                stored = apply(session, device, results, summary, applied)
                session.commit()
            except sa_exc.SQLAlchemyError as exc:
                session.rollback()
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                for result in results:
                    summary.files[result.file].not_stored += 1
                first = results[0]
                summary.files[first.file].problems.append(
                    Problem(
                        summary.files[first.file].name,
                        f"the {len(results)} results of this host were not stored: {reason}",
                        record=first.line,
                    )
                )
                return
        summary.results_applied += stored
        summary.software_added += applied.software_added
        summary.software_removed += applied.software_removed
        summary.software_changed += applied.software_changed
        summary.hotfixes_added += applied.hotfixes_added
        summary.hotfixes_removed += applied.hotfixes_removed
        if is_new:
            created.add(device_id)
            # %r: the name comes from the log.
            log.info("device %s created from the osquery results of %r", device_id, identity)
        if applied.changed:
            updated.add(device_id)

    def _progress(self, summary: OsquerySummary, done: int) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(len(summary.files), done, summary.lines))


def _device(session: Session, identity: Identity) -> tuple[Device, bool]:
    """The host's device: by its hardware UUID, then its FQDN or host name (registry)."""
    if identity.uuid is not None:
        device = session.scalar(
            select(Device)
            .where(registry.same_text(Device.machine_id, identity.uuid))
            .order_by(Device.created_at, Device.id)
            .limit(1)
        )
        if device is not None:
            registry.add_source(device, "osquery")
            registry.sync_system_tags(session, device)
            return device, False
    name = identity.name or identity.uuid or "unknown"
    found = registry.find_or_add_many_from_logs(session, [name], source="osquery", os_family=None)
    device, is_new = found[name]
    if identity.uuid is not None and device.machine_id is None:
        device.machine_id = identity.uuid
    return device, is_new
