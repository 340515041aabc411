"""Writes feed records into the knowledge base: incremental, alias-joining, in bulk.

A batch of records is written in the caller's transaction with a few set-based Core
statements: the stored advisories and identifiers the batch names are read once, records
whose `modified` and content hash are unchanged are skipped, and the rest are inserted or
replaced with executemany. Identifiers (an OSV record's id and aliases, a CVE) join into
one vulnerability; when a record names identifiers of two stored vulnerabilities, these
merge into the older one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.vulns.models import (
    Advisory,
    AdvisoryLink,
    Affected,
    CpeProduct,
    Finding,
    Vulnerability,
    VulnIdentifier,
)
from hostwatch.vulns.records import FeedRecord

log = logging.getLogger(__name__)

T = TypeVar("T")

_ADVISORIES = cast(Table, Advisory.__table__)
_LINKS = cast(Table, AdvisoryLink.__table__)
_AFFECTED = cast(Table, Affected.__table__)
_CPE = cast(Table, CpeProduct.__table__)
_IDENTIFIERS = cast(Table, VulnIdentifier.__table__)
_VULNS = cast(Table, Vulnerability.__table__)
_FINDINGS = cast(Table, Finding.__table__)
_ROWS = 5_000


@dataclass
class WriteResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    # Advisories added or changed, and the vulnerabilities they speak of: what a re-match
    # of devices after this import has to look at.
    changed_advisories: set[int] = field(default_factory=set)
    changed_vulnerabilities: set[int] = field(default_factory=set)
    # What changed advisories spoke of before the change (an alias dropped), and the
    # devices whose findings a merge of two vulnerabilities deleted.
    previous_vulnerabilities: set[int] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return bool(self.changed_advisories or self.devices)

    def add(self, other: WriteResult) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.withdrawn += other.withdrawn
        self.changed_advisories |= other.changed_advisories
        self.changed_vulnerabilities |= other.changed_vulnerabilities
        self.previous_vulnerabilities |= other.previous_vulnerabilities
        self.devices |= other.devices


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _preferred_key(identifiers: Iterable[str]) -> str:
    """The name a vulnerability is shown by: its oldest CVE, else its first identifier."""
    names = list(identifiers)
    cves = sorted(i for i in names if i.startswith("CVE-"))
    return cves[0] if cves else names[0]


class _Joiner:
    """Union-find over vulnerability ids: stored ones (> 0) and new ones (< 0)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self._next = -1

    def new(self) -> int:
        token = self._next
        self._next -= 1
        self.parent[token] = token
        return token

    def find(self, token: int) -> int:
        self.parent.setdefault(token, token)
        root = token
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[token] != root:
            self.parent[token], token = root, self.parent[token]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        # A stored vulnerability survives a new one; of two stored ones, the older (lower id).
        keep, drop = sorted((ra, rb), key=lambda t: (t < 0, abs(t)))
        self.parent[drop] = keep
        return keep


def write_records(session: Session, records: Sequence[FeedRecord]) -> WriteResult:
    """Store a batch of records in the session's transaction; see the module docstring."""
    result = WriteResult()
    if not records:
        return result
    connection = session.connection()
    now = utcnow()

    # The last of several records with one (feed, id) in a batch wins.
    latest: dict[tuple[str, str], FeedRecord] = {}
    for record in records:
        latest[(record.feed, record.record_id)] = record
    stored = _stored_advisories(connection, latest)

    changed: list[FeedRecord] = []
    for key, record in latest.items():
        old = stored.get(key)
        if old is not None:
            _, old_modified, old_hash = old
            same = old_hash == record.content_hash and old_modified == record.modified
            stale = (
                old_modified is not None
                and record.modified is not None
                and record.modified < old_modified
            )
            if same or stale:
                result.unchanged += 1
                continue
        changed.append(record)
    result.unchanged += len(records) - len(latest)
    if not changed:
        return result

    groups_vuln = _resolve_vulnerabilities(connection, changed, result)

    new_rows = []
    update_rows = []
    for record in changed:
        values = {
            "modified": record.modified,
            "published": record.published,
            "withdrawn": record.withdrawn,
            "content_hash": record.content_hash,
            "source": record.source,
            "summary": record.summary,
            "data": record.data,
            "configurations": record.configurations,
            "last_changed": now,
        }
        old = stored.get((record.feed, record.record_id))
        if old is None:
            new_rows.append({"feed": record.feed, "record_id": record.record_id, **values})
        else:
            update_rows.append({"advisory_pk": old[0], **values})
        if record.withdrawn is not None:
            result.withdrawn += 1
    result.added += len(new_rows)
    result.updated += len(update_rows)

    c = _ADVISORIES.c
    if update_rows:
        ids = [row["advisory_pk"] for row in update_rows]
        for part in _chunks(ids, _ROWS):
            result.previous_vulnerabilities.update(
                connection.execute(
                    select(_LINKS.c.vulnerability_id).where(_LINKS.c.advisory_id.in_(part))
                ).scalars()
            )
            connection.execute(delete(_AFFECTED).where(_AFFECTED.c.advisory_id.in_(part)))
            connection.execute(delete(_CPE).where(_CPE.c.advisory_id.in_(part)))
            connection.execute(delete(_LINKS).where(_LINKS.c.advisory_id.in_(part)))
        statement = (
            update(_ADVISORIES)
            .where(c.id == bindparam("advisory_pk"))
            .values({name: bindparam(name) for name in update_rows[0] if name != "advisory_pk"})
        )
        for updates in _chunks(update_rows, _ROWS):
            connection.execute(statement, list(updates))
    if new_rows:
        for rows in _chunks(new_rows, _ROWS):
            connection.execute(insert(_ADVISORIES).values(first_imported=now), list(rows))
    advisory_ids = {key: row[0] for key, row in _stored_advisories(connection, latest).items()}

    links: set[tuple[int, int]] = set()
    affected_rows: list[dict[str, Any]] = []
    cpe_rows: list[dict[str, Any]] = []
    for record in changed:
        advisory_id = advisory_ids[(record.feed, record.record_id)]
        result.changed_advisories.add(advisory_id)
        for group in record.groups:
            vulnerability_id = groups_vuln[group[0]]
            links.add((advisory_id, vulnerability_id))
            result.changed_vulnerabilities.add(vulnerability_id)
        if record.withdrawn is not None:
            continue  # a withdrawn advisory keeps its links and says nothing about packages
        affected_rows.extend(
            {
                "advisory_id": advisory_id,
                "ecosystem": a.ecosystem,
                "package": a.package,
                "ranges": a.ranges,
                "versions": a.versions,
            }
            for a in record.affected
        )
        cpe_rows.extend(
            {"advisory_id": advisory_id, "vendor": vendor, "product": product}
            for vendor, product in sorted(record.cpe_products)
        )
    link_rows = [{"advisory_id": a, "vulnerability_id": v} for a, v in sorted(links)]
    for table, rows_all in ((_LINKS, link_rows), (_AFFECTED, affected_rows), (_CPE, cpe_rows)):
        for rows in _chunks(rows_all, _ROWS):
            connection.execute(insert(table), list(rows))
    return result


def _stored_advisories(
    connection: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, Any, str]]:
    by_feed: dict[str, list[str]] = {}
    for feed, record_id in keys:
        by_feed.setdefault(feed, []).append(record_id)
    c = _ADVISORIES.c
    found: dict[tuple[str, str], tuple[int, Any, str]] = {}
    for feed, record_ids in by_feed.items():
        for part in _chunks(record_ids, _ROWS):
            rows = connection.execute(
                select(c.id, c.record_id, c.modified, c.content_hash).where(
                    c.feed == feed, c.record_id.in_(part)
                )
            )
            for row_id, record_id, modified, digest in rows:
                found[(feed, record_id)] = (row_id, modified, digest)
    return found


def _resolve_vulnerabilities(
    connection: Connection, records: list[FeedRecord], result: WriteResult
) -> dict[str, int]:
    """Vulnerability id of every group (by its first identifier), creating and merging."""
    names = sorted({name for r in records for group in r.groups for name in group})
    c = _IDENTIFIERS.c
    known: dict[str, int] = {}
    for part in _chunks(names, _ROWS):
        known.update(
            connection.execute(
                select(c.identifier, c.vulnerability_id).where(c.identifier.in_(part))
            ).all()
        )

    joiner = _Joiner()
    token_of: dict[str, int] = dict(known)
    for record in records:
        for group in record.groups:
            tokens = {token_of[name] for name in group if name in token_of}
            token = joiner.new() if not tokens else tokens.pop()
            for other in tokens:
                token = joiner.union(token, other)
            for name in group:
                if name in token_of:
                    joiner.union(token, token_of[name])
                else:
                    token_of[name] = token

    members: dict[int, list[str]] = {}
    for name in names:
        members.setdefault(joiner.find(token_of[name]), []).append(name)

    # New vulnerabilities, named by their best identifier.
    new_roots = [root for root in members if root < 0]
    real: dict[int, int] = {}
    if new_roots:
        keys = {root: _preferred_key(members[root]) for root in new_roots}
        for roots in _chunks(new_roots, _ROWS):
            connection.execute(insert(_VULNS), [{"key": keys[root]} for root in roots])
        vc = _VULNS.c
        by_key: dict[str, int] = {}
        for part in _chunks(list(keys.values()), _ROWS):
            by_key.update(connection.execute(select(vc.key, vc.id).where(vc.key.in_(part))).all())
        real = {root: by_key[keys[root]] for root in new_roots}

    def resolved(token: int) -> int:
        root = joiner.find(token)
        return real.get(root, root)

    # Stored vulnerabilities joined by this batch merge into the surviving one.
    for stored_id in sorted({v for v in known.values()}):
        survivor = resolved(stored_id)
        if survivor != stored_id:
            result.devices.update(_merge(connection, stored_id, survivor))
            log.info("vulnerability %s merged into %s", stored_id, survivor)

    # Stored vulnerabilities named without a CVE take one when this batch brings it.
    vc = _VULNS.c
    for root, group_names in members.items():
        if root > 0:
            cves = sorted(n for n in group_names if n.startswith("CVE-"))
            if cves:
                current = connection.execute(select(vc.key).where(vc.id == root)).scalar_one()
                if not current.startswith("CVE-"):
                    connection.execute(update(_VULNS).where(vc.id == root).values(key=cves[0]))

    new_identifiers = [
        {"identifier": name, "vulnerability_id": resolved(token_of[name])}
        for name in names
        if name not in known
    ]
    for rows in _chunks(new_identifiers, _ROWS):
        connection.execute(insert(_IDENTIFIERS), list(rows))
    return {group[0]: resolved(token_of[group[0]]) for record in records for group in record.groups}


def _merge(connection: Connection, gone: int, survivor: int) -> set[str]:
    """Moves a vulnerability's names and advisories to another one and deletes it.

    Its findings are deleted: the next match of each device finds them again under the
    surviving vulnerability. Returns those devices.
    """
    devices = set(
        connection.execute(
            select(_FINDINGS.c.device_id).where(_FINDINGS.c.vulnerability_id == gone).distinct()
        ).scalars()
    )
    connection.execute(
        update(_IDENTIFIERS)
        .where(_IDENTIFIERS.c.vulnerability_id == gone)
        .values(vulnerability_id=survivor)
    )
    already = select(_LINKS.c.advisory_id).where(_LINKS.c.vulnerability_id == survivor)
    connection.execute(
        delete(_LINKS).where(_LINKS.c.vulnerability_id == gone, _LINKS.c.advisory_id.in_(already))
    )
    connection.execute(
        update(_LINKS).where(_LINKS.c.vulnerability_id == gone).values(vulnerability_id=survivor)
    )
    connection.execute(delete(_FINDINGS).where(_FINDINGS.c.vulnerability_id == gone))
    connection.execute(delete(_VULNS).where(_VULNS.c.id == gone))
    return devices


def withdraw_missing(
    session: Session, feed: str, source_prefix: str, seen: set[str]
) -> WriteResult:
    """Withdraws the advisories last read from a complete download that no longer has them.

    A download that is the whole feed (an OSV ecosystem's all.zip, the KEV catalog, a
    tracker list) drops a record the feed deleted; it then matches nothing, like a
    record the feed marked withdrawn.
    """
    result = WriteResult()
    connection = session.connection()
    c = _ADVISORIES.c
    pattern = source_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = connection.execute(
        select(c.id, c.record_id).where(
            c.feed == feed, c.withdrawn.is_(None), c.source.like(pattern, escape="\\")
        )
    ).all()
    gone = [row_id for row_id, record_id in rows if record_id not in seen]
    if not gone:
        return result
    now = utcnow()
    for part in _chunks(gone, _ROWS):
        result.previous_vulnerabilities.update(
            connection.execute(
                select(_LINKS.c.vulnerability_id).where(_LINKS.c.advisory_id.in_(part))
            ).scalars()
        )
        connection.execute(delete(_AFFECTED).where(_AFFECTED.c.advisory_id.in_(part)))
        connection.execute(delete(_CPE).where(_CPE.c.advisory_id.in_(part)))
        connection.execute(
            update(_ADVISORIES).where(c.id.in_(part)).values(withdrawn=now, last_changed=now)
        )
    result.withdrawn = result.updated = len(gone)
    result.changed_advisories.update(gone)
    log.info("%d %s advisories no longer in %s: withdrawn", len(gone), feed, source_prefix)
    return result
