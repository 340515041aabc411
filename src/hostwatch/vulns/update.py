"""`hostwatch feeds update`: the feeds from their official locations, each on its own.

OSV (one all.zip per ecosystem), the CISA KEV catalog and the Debian tracker's DSA and DLA
lists are whole files fetched with If-None-Match / If-Modified-Since, so an unchanged feed
costs a 304; NVD is read from its CVE API 2.0, every page on the first run, then only the
CVEs changed since the last run's mark (lastModStartDate/lastModEndDate). Microsoft's
security updates are one document a month: the API's month list is read, and only the
months not stored or revised since are fetched, each a source of its own ("msrc:2024-Jan").
Each source succeeds or fails alone: a failure is reported with its URL and leaves what is
stored untouched; the validators and the mark advance only when the source was read whole.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.config import Settings
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.ingest.evtx import Problem
from hostwatch.vulns import msrc_index, nvd, store
from hostwatch.vulns.download import USER_AGENT, FetchError, fetch, shown
from hostwatch.vulns.feed_state import FeedSource
from hostwatch.vulns.importer import (
    EXIT_COMPLETE,
    EXIT_FAILED,
    EXIT_PARTIAL,
    FeedImporter,
    FeedSummary,
    Progress,
    print_problems,
    summary_rows,
)
from hostwatch.vulns.msrc import month_order
from hostwatch.vulns.records import DEBIAN, KEV, MSRC, NVD, OSV, RecordError
from hostwatch.vulns.sources import find_inputs

log = logging.getLogger(__name__)

FEED_CHOICES = (OSV, NVD, KEV, DEBIAN, MSRC)
DEBIAN_LISTS = ("DSA", "DLA")
# NVD's API serves at most 2,000 CVEs a page and a lastModified window of at most 120 days
# (https://nvd.nist.gov/developers/vulnerabilities).
NVD_MAX_PAGE = 2000
NVD_MAX_WINDOW = timedelta(days=120)
NVD_RETRIES = 3
NVD_MAX_WAIT = 60.0

UPDATED = "updated"
NOT_MODIFIED = "not modified"
PARTIAL = "partial"
FAILED = "failed"


@dataclass(frozen=True)
class Source:
    """One download location: its state key, the feed it holds and where it is."""

    name: str
    feed: str
    url: str
    # The file name the download is read as (sources.py tells feeds by content and suffix).
    filename: str = ""
    # The Accept header: Microsoft's API serves each document as XML or JSON by it.
    accept: str | None = None
    # An MSRC month: the revision (CurrentReleaseDate) this fetch stores once read whole.
    mark: datetime | None = None


@dataclass
class SourceResult:
    name: str
    url: str
    status: str
    message: str | None = None
    bytes: int = 0
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.name,
            "url": self.url,
            "status": self.status,
            "message": self.message,
            "bytes": self.bytes,
            "records": self.records,
        }


@dataclass
class UpdateSummary:
    feeds: FeedSummary = field(default_factory=FeedSummary)
    sources: list[SourceResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.sources and all(s.status == FAILED for s in self.sources):
            return "failed"
        return "partial" if self.feeds.problems else "complete"

    @property
    def exit_code(self) -> int:
        return {"complete": EXIT_COMPLETE, "partial": EXIT_PARTIAL}.get(self.status, EXIT_FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.feeds.to_dict(),
            "status": self.status,
            "sources": [s.to_dict() for s in self.sources],
        }


class UnknownSource(ValueError):
    """A --source value that names no feed."""


def plan(settings: Settings, chosen: Iterable[str] = ()) -> list[Source]:
    """The sources to update: all, or those `chosen` names (a feed, or 'osv:<ecosystem>')."""
    every: list[Source] = [
        Source(
            f"osv:{ecosystem}",
            OSV,
            f"{settings.feeds_osv_url}/{quote(ecosystem, safe='')}/all.zip",
            "all.zip",
        )
        for ecosystem in settings.feeds_osv_ecosystems
    ]
    every.append(Source("nvd", NVD, settings.feeds_nvd_url))
    every.append(Source("kev", KEV, settings.feeds_kev_url, "known_exploited_vulnerabilities.json"))
    every.extend(
        Source(f"debian:{kind}", DEBIAN, f"{settings.feeds_debian_url}/{kind}/list", "list")
        for kind in DEBIAN_LISTS
    )
    every.append(Source("msrc", MSRC, f"{settings.feeds_msrc_url}/updates"))
    wanted = [c.strip() for c in chosen if c.strip()]
    if not wanted:
        return every
    picked: list[Source] = []
    for choice in wanted:
        found = [s for s in every if choice.lower() in (s.feed, s.name.lower()) and s not in picked]
        if not found and not any(choice.lower() in (s.feed, s.name.lower()) for s in every):
            names = ", ".join([*FEED_CHOICES, *(s.name for s in every if ":" in s.name)])
            raise UnknownSource(f"unknown feed source {choice!r}; choose from {names}")
        picked.extend(found)
    return picked


class FeedUpdater:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        on_progress: Callable[[Progress], None] | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.on_progress = on_progress
        self.client = client
        self.sleep = sleep

    def run(self, sources: list[Source]) -> UpdateSummary:
        started = time.monotonic()
        summary = UpdateSummary()
        client = self.client or httpx.Client(
            timeout=self.settings.feeds_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )
        try:
            for done, source in enumerate(sources):
                self._progress(len(sources), done, summary.feeds.records)
                if source.feed == MSRC:
                    summary.sources.extend(self._msrc(client, source, summary, len(sources), done))
                else:
                    summary.sources.append(
                        self._update(client, source, summary, len(sources), done)
                    )
            self._progress(len(sources), len(sources), summary.feeds.records)
        finally:
            if self.client is None:
                client.close()
        summary.feeds.seconds = time.monotonic() - started
        log.info(
            "feeds updated: %s; %d added, %d updated, %d withdrawn",
            ", ".join(f"{s.name} {s.status}" for s in summary.sources),
            summary.feeds.written.added,
            summary.feeds.written.updated,
            summary.feeds.written.withdrawn,
        )
        return summary

    def _update(
        self,
        client: httpx.Client,
        source: Source,
        summary: UpdateSummary,
        total: int,
        done: int,
    ) -> SourceResult:
        state = self._state(source)
        part = FeedSummary()
        before = summary.feeds.records

        def progress(p: Progress) -> None:
            self._progress(total, done, before + p.records)

        importer = FeedImporter(self.sessions, on_progress=progress)
        importer.seen = set()
        result = SourceResult(source.name, shown(source.url), FAILED)
        validators: dict[str, Any] = {}
        try:
            if source.feed == NVD:
                result.bytes, validators = self._nvd(client, source, state, importer, part)
            else:
                fetched = self._file(client, source, state, importer, part)
                if fetched is None:
                    result.status = NOT_MODIFIED
                else:
                    result.bytes, validators = fetched
        except FetchError as exc:
            where = shown(source.url)
            part.input_problems.append(Problem(where, str(exc).removeprefix(f"{where}: ")))
            result.message = str(exc)
            log.warning("feed source %s failed: %s", source.name, exc)

        if result.status != NOT_MODIFIED:
            result.records = part.records
            # Read whole: downloaded, every file parsed and every record stored. Malformed
            # records do not stop that: downloading again would bring them back unchanged.
            whole = (
                bool(validators)
                and not part.input_problems
                and part.not_stored == 0
                and all(f.feed is not None for f in part.files)
            )
            if whole and validators.get("complete") and part.skipped == 0:
                # The whole feed was read: what it no longer holds, it deleted.
                # Limitation: an OSV record published in two ecosystems' archives is
                # remembered with the archive it was last changed in; if it leaves that one
                # but stays in the other, it is withdrawn until it next changes.
                with transaction(self.sessions) as session:
                    part.written.add(
                        store.withdraw_missing(
                            session, source.feed, shown(source.url), importer.seen
                        )
                    )
            if whole:
                result.status = UPDATED
                if part.skipped:
                    result.message = f"{part.skipped} malformed records skipped"
            else:
                result.status = PARTIAL if part.records or part.written.changed else FAILED
                result.message = result.message or str(part.problems[0])
        self._save_state(source, result, validators)
        summary.feeds.merge(part)
        return result

    def _msrc(
        self,
        client: httpx.Client,
        source: Source,
        summary: UpdateSummary,
        total: int,
        done: int,
    ) -> list[SourceResult]:
        """The month list, then each month not stored or revised since, as a source of its own.

        The list's validators are kept only when every month due was read, so a month that
        failed is tried again on the next run even when the list has not changed since.

        Limitation: the first run fetches every month the list names (Microsoft's goes back
        to 2016, about a hundred documents of 1-2 MB); there is no setting for the earliest
        month wanted yet.
        """
        state = self._state(source)
        where = shown(source.url)
        index = SourceResult(source.name, where, FAILED)
        headers = {"Accept": "application/json"}
        if state.get("url") == source.url:
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("last_modified"):
                headers["If-Modified-Since"] = state["last_modified"]
        base = source.url.removesuffix("/updates")
        try:
            fetched = fetch(
                client, source.url, max_bytes=self.settings.feeds_max_bytes, headers=headers
            )
            if fetched.status == 304:
                log.info("feed source %s not modified", source.name)
                index.status = NOT_MODIFIED
                self._save_state(source, index, {})
                return [index]
            try:
                months, problems = msrc_index.read_index(fetched.body or b"", base, where)
            except msrc_index.MonthListError as exc:
                raise FetchError(f"{where}: {exc}") from exc
        except FetchError as exc:
            summary.feeds.input_problems.append(Problem(where, str(exc).removeprefix(f"{where}: ")))
            index.message = str(exc)
            log.warning("feed source %s failed: %s", source.name, exc)
            self._save_state(source, index, {})
            return [index]

        summary.feeds.input_problems.extend(problems)
        index.bytes = fetched.size
        results: list[SourceResult] = []
        for month in sorted(months, key=lambda m: month_order(m.document_id)):
            month_source = Source(
                f"msrc:{month.document_id}",
                MSRC,
                month.url,
                f"{month.document_id}.xml",
                accept="application/xml",
                mark=month.revised,
            )
            stored = self._state(month_source)
            if msrc_index.wanted(month, stored.get("url"), stored.get("nvd_mark")):
                results.append(self._update(client, month_source, summary, total, done))
        failed = [r.name for r in results if r.status not in (UPDATED, NOT_MODIFIED)]
        fetched_count = sum(1 for r in results if r.status != NOT_MODIFIED)
        if failed:
            index.status = PARTIAL
            index.message = f"{len(failed)} of {len(results)} months failed: {', '.join(failed)}"
        else:
            index.status = UPDATED
            index.message = f"{fetched_count} of {len(months)} months fetched" + (
                f"; {len(problems)} list entries skipped" if problems else ""
            )
        self._save_state(
            source,
            index,
            {"etag": fetched.etag, "last_modified": fetched.last_modified},
        )
        return [index, *results]

    def _file(
        self,
        client: httpx.Client,
        source: Source,
        state: dict[str, Any],
        importer: FeedImporter,
        part: FeedSummary,
    ) -> tuple[int, dict[str, Any]] | None:
        headers: dict[str, str] = {"Accept": source.accept} if source.accept else {}
        if state.get("url") == source.url:
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("last_modified"):
                headers["If-Modified-Since"] = state["last_modified"]
        with tempfile.TemporaryDirectory(prefix="hostwatch-feed-") as folder:
            path = Path(folder) / source.filename
            fetched = fetch(
                client,
                source.url,
                max_bytes=self.settings.feeds_max_bytes,
                headers=headers,
                into=path,
            )
            if fetched.status == 304:
                log.info("feed source %s not modified", source.name)
                return None
            where = shown(source.url)
            inputs, problems = find_inputs([path])
            # Records remember the URL they came from, not the temporary file.
            inputs = [replace(i, name=i.name.replace(str(path), where, 1)) for i in inputs]
            part.input_problems.extend(
                Problem(p.file.replace(str(path), where, 1), p.message.replace(str(path), where))
                for p in problems
            )
            importer.import_inputs(inputs, part)
        validators = {
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
            "complete": True,
        }
        return fetched.size, validators

    def _nvd(
        self,
        client: httpx.Client,
        source: Source,
        state: dict[str, Any],
        importer: FeedImporter,
        part: FeedSummary,
    ) -> tuple[int, dict[str, Any]]:
        """Every page of every window; the mark moves to this run's start when all were read."""
        run_started = utcnow()
        mark = state.get("nvd_mark") if state.get("url") == source.url else None
        windows: list[tuple[datetime | None, datetime | None]] = [(None, None)]
        if mark is not None:
            windows = []
            start = mark
            while start < run_started:
                end = min(start + NVD_MAX_WINDOW, run_started)
                windows.append((start, end))
                start = end
        headers = {"apiKey": self.settings.feeds_nvd_api_key}
        headers = {k: v for k, v in headers.items() if v}
        page_size = min(self.settings.feeds_nvd_page_size, NVD_MAX_PAGE)
        size = 0
        requests = 0
        for start, end in windows:
            index = 0
            while True:
                params: dict[str, str | int] = {"startIndex": index, "resultsPerPage": page_size}
                if start is not None and end is not None:
                    params["lastModStartDate"] = _nvd_time(start)
                    params["lastModEndDate"] = _nvd_time(end)
                url = str(httpx.URL(source.url, params=params))
                body = self._nvd_page(client, url, headers, requests)
                requests += 1
                size += len(body)
                name = shown(url)
                try:
                    doc = json.loads(body)
                except ValueError as exc:
                    raise FetchError(f"{name}: not valid JSON: {exc}") from exc
                if not nvd.looks_like_nvd(doc):
                    raise FetchError(f"{name}: not an NVD CVE API 2.0 response")
                try:
                    items = nvd.check_nvd_envelope(doc)
                except RecordError as exc:
                    raise FetchError(f"{name}: {exc}") from exc
                importer.import_records(name, NVD, nvd.parse_nvd(doc, name), part)
                total = doc.get("totalResults")
                index += len(items)
                if not items or not isinstance(total, int) or index >= total:
                    break
        return size, {"nvd_mark": run_started}

    def _nvd_page(
        self, client: httpx.Client, url: str, headers: dict[str, str], requests: int
    ) -> bytes:
        """One API page, after the pause NVD's rate limit asks for; a 403, 429 or 503 (the
        API's answers when it is over its limit) is tried again after a longer pause."""
        delay = self.settings.nvd_delay
        for attempt in range(NVD_RETRIES + 1):
            if requests or attempt:
                self.sleep(delay * (2**attempt) if attempt else delay)
            try:
                fetched = fetch(
                    client, url, max_bytes=self.settings.feeds_max_bytes, headers=headers
                )
            except FetchError as exc:
                if exc.status in (403, 429, 503) and attempt < NVD_RETRIES:
                    if exc.retry_after:
                        self.sleep(min(exc.retry_after, NVD_MAX_WAIT))
                    log.info("NVD asked to slow down (%s); trying again", exc.status)
                    continue
                raise
            if fetched.body is None:
                raise FetchError(f"{shown(url)}: HTTP {fetched.status} with no body")
            return fetched.body
        raise FetchError(f"{shown(url)}: no answer after {NVD_RETRIES} tries")

    def _state(self, source: Source) -> dict[str, Any]:
        with self.sessions() as session:
            row = session.get(FeedSource, source.name)
            if row is None:
                return {}
            return {
                "url": row.url,
                "etag": row.etag,
                "last_modified": row.last_modified,
                "nvd_mark": row.nvd_mark,
            }

    def _save_state(self, source: Source, result: SourceResult, validators: dict[str, Any]) -> None:
        now = utcnow()
        with transaction(self.sessions) as session:
            row = session.get(FeedSource, source.name)
            if row is None:
                row = FeedSource(name=source.name, url=source.url)
                session.add(row)
            row.last_attempt = now
            row.last_status = result.status
            row.last_error = result.message
            if source.mark is not None and result.status in (NOT_MODIFIED, UPDATED):
                row.url = source.url
                row.nvd_mark = source.mark
            if result.status == NOT_MODIFIED:
                row.last_success = now
            elif result.status == UPDATED:
                row.url = source.url
                row.last_success = now
                if source.feed == NVD:
                    row.nvd_mark = validators["nvd_mark"]
                else:
                    row.etag = validators.get("etag")
                    row.last_modified = validators.get("last_modified")

    def _progress(self, total: int, done: int, records: int) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(files_total=total, files_done=done, records=records))


def _nvd_time(moment: datetime) -> str:
    """NVD's extended ISO 8601 with milliseconds and an offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def render(summary: UpdateSummary, console: Console, problems_shown: int = 50) -> None:
    """Each source with its outcome, then the import totals, then the problems."""
    sources = Table("source", "status", "records", "url", box=None)
    for result in summary.sources:
        sources.add_row(result.name, result.status, f"{result.records:,}", escape(result.url))
    console.print(sources)
    table = Table("", "", show_header=False, box=None)
    for label, value in summary_rows(summary.feeds):
        table.add_row(label, value if label != "status" else summary.status)
    console.print(table)
    print_problems(summary.feeds.problems, console, problems_shown)
