"""Matches a device's installed software against the knowledge base; every match says how.

Packages with an ecosystem (pip, npm, dpkg, rpm) are matched by OSV-style ranges and
version lists, Debian advisories included (by the device's release and the package's source
package). Programs without one (Windows programs, osquery) are matched by NVD CPE
configurations through products.py. A product without a version is never "affected by all
versions": it is reported as unknown, with the reason.

A Python package the distribution installed (under /usr/lib/python3/...) is matched as
PyPI's release of its version, but the distribution's advisories for the package that
ships it decide where they name the vulnerability; elsewhere the finding is unknown, saying
it may be fixed by a distribution backport (see _distribution_decides).

Only the candidates are read from the database: the affected rows of the packages
installed (each evaluated once per advisory, then linked to its vulnerabilities), and the
NVD advisories naming the CPE products installed, whose configurations are prepared once
per content and kept for the next device (cpe.Configurations, _PREPARED). After a feed
change only the devices it concerns are re-matched (rematch.py), but each of them matches
its whole inventory again.

Limitation: the first match in a fresh process prepares every candidate configuration and
parses every version anew; for the 3,000-item Windows device of bench/vulns.py that is
about 0.6 s of CPU, over 1 s of wall time on a loaded machine (later devices: about 0.25 s
of CPU). See bench/RESULTS.md.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from hostwatch.vulns import cpe, packages, products, ranges, versions
from hostwatch.vulns.models import Advisory, AdvisoryLink, Affected, CpeProduct
from hostwatch.vulns.packages import DeviceRelease

log = logging.getLogger(__name__)

AFFECTED = "affected"
UNKNOWN = "unknown"
_IN_CHUNK = 5_000
_UNDECIDED = "the distribution's package, and no imported advisory of the distribution decides it"


@dataclass(frozen=True)
class InstalledItem:
    software_id: int
    source: str
    name: str
    version: str  # "" when unknown
    vendor: str | None = None
    source_package: str | None = None
    install_path: str | None = None


@dataclass(frozen=True)
class Match:
    software_id: int
    vulnerability_id: int
    status: str
    installed_version: str
    fixed_version: str | None
    # feed, advisory, how (range, versions or cpe), the range or CPE, reason if unknown
    evidence: dict[str, Any]
    # The ordering scheme of `fixed_version`, to pick the highest of several fixes.
    scheme: str | None = None


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block, back on (if it was) after.

    A match allocates a million or so containers that live until it returns (decoded
    configurations and ranges, verdicts, evidence) and form no cycles; the collector would
    walk that growing heap over and over, which is half of a cold match's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def match_items(
    session: Session, release: DeviceRelease, items: Sequence[InstalledItem]
) -> list[Match]:
    """Every match of every item, one per (item, advisory, vulnerability)."""
    with _collector_paused():
        return _match_items(session, release, items)


def _match_items(
    session: Session, release: DeviceRelease, items: Sequence[InstalledItem]
) -> list[Match]:
    by_key: dict[tuple[str, str], list[InstalledItem]] = {}
    programs: list[InstalledItem] = []
    for item in items:
        key = packages.package_key(item.source, item.name, item.source_package, release)
        if key is not None:
            by_key.setdefault(key, []).append(item)
        elif item.source not in ("pip", "npm", "dpkg", "rpm"):
            programs.append(item)
    found, named = _match_packages(session, by_key)
    found = _distribution_decides(found, items, named, release)
    if programs:
        found.extend(_match_programs(session, release, programs))
    return found


def _distribution_decides(
    found: list[Match],
    items: Sequence[InstalledItem],
    named: dict[tuple[str, str], set[int]],
    release: DeviceRelease,
) -> list[Match]:
    """PyPI matches of Python packages the distribution installed, decided by its advisories.

    Distributions backport fixes without changing the upstream version, so PyPI's verdict
    on such a package can be wrong. Where the package that ships it (python3-<name>) is in
    the inventory and the distribution's advisories for its source package name the
    vulnerability, they decide: the PyPI match stays only if they find that package
    affected (or can not tell) too. Otherwise the match is unknown, not affected: its evidence
    says the package is the distribution's and may be fixed by a backport.
    """
    managed = [
        item
        for item in items
        if item.source == "pip" and packages.distribution_python(item.install_path)
    ]
    if not managed:
        return found
    system = {item.name.lower(): item for item in items if item.source in ("dpkg", "rpm")}
    notes: dict[int, tuple[dict[str, Any], InstalledItem | None]] = {}
    for item in managed:
        provider = system.get(packages.python_provider(item.name))
        note: dict[str, Any] = {"path": item.install_path}
        if provider is not None:
            note.update(package=provider.name, version=provider.version)
        notes[item.software_id] = (note, provider)
    # What the distribution's advisories found for the providing packages.
    providing = {provider.software_id for _, provider in notes.values() if provider}
    said = {(m.software_id, m.vulnerability_id) for m in found if m.software_id in providing}

    kept: list[Match] = []
    for match in found:
        if match.software_id not in notes or match.evidence.get("ecosystem") != "PyPI":
            kept.append(match)
            continue
        note, provider = notes[match.software_id]
        key = None
        if provider is not None:
            key = packages.package_key(
                provider.source, provider.name, provider.source_package, release
            )
        if provider and key and match.vulnerability_id in named.get(key, ()):
            if (provider.software_id, match.vulnerability_id) not in said:
                continue  # the distribution's advisory finds its package fixed
            note = {**note, "decided": f"{key[0]} advisories find {provider.name} affected too"}
        else:
            # PyPI's version says nothing of the distribution's patches, and no advisory of
            # the distribution decides: unknown, listed with why, never counted as affected.
            note = {**note, "backport": "may be fixed by a distribution backport"}
            undecided = {**match.evidence, "distribution": note, "reason": _UNDECIDED}
            kept.append(replace(match, status=UNKNOWN, evidence=undecided))
            continue
        kept.append(replace(match, evidence={**match.evidence, "distribution": note}))
    return kept


def _match_packages(
    session: Session, by_key: dict[tuple[str, str], list[InstalledItem]]
) -> tuple[list[Match], dict[tuple[str, str], set[int]]]:
    """The matches, and per (ecosystem, package) every vulnerability its advisories name
    (whether the installed versions are affected or not)."""
    by_ecosystem: dict[str, list[str]] = {}
    for ecosystem, package in by_key:
        by_ecosystem.setdefault(ecosystem, []).append(package)
    found: list[Match] = []
    named: dict[tuple[str, str], set[int]] = {}
    for ecosystem, names in by_ecosystem.items():
        try:
            scheme = versions.scheme_for(ecosystem)
        except versions.UnknownScheme:
            log.debug("no version ordering for %s; its packages are not matched", ecosystem)
            continue
        for part in _chunks(names):
            # The affected rows alone, then their advisories' vulnerabilities: a Debian
            # advisory naming twenty CVEs is read and evaluated once, not twenty times.
            rows = session.execute(
                select(
                    Affected.advisory_id,
                    Affected.package,
                    Affected.ranges,
                    Affected.versions,
                    Advisory.feed,
                    Advisory.record_id,
                )
                .join(Advisory, Advisory.id == Affected.advisory_id)
                .where(
                    Affected.ecosystem == ecosystem,
                    Affected.package.in_(part),
                    Advisory.withdrawn.is_(None),
                )
            ).all()
            linked = _vulnerabilities(session, {row[0] for row in rows})
            for advisory_id, package, entry_ranges, listed, feed, record_id in rows:
                entry = ranges.Entry(scheme, entry_ranges, listed)
                matched = [
                    match
                    for item in by_key[(ecosystem, package)]
                    if (match := _match_package(item, ecosystem, entry, feed, record_id))
                ]
                vulnerabilities = linked.get(advisory_id, [])
                named.setdefault((ecosystem, package), set()).update(vulnerabilities)
                for vulnerability_id in vulnerabilities:
                    found.extend(_with_vulnerability(match, vulnerability_id) for match in matched)
    return found, named


def _vulnerabilities(session: Session, advisory_ids: set[int]) -> dict[int, list[int]]:
    """The vulnerabilities each advisory is linked to, in vulnerability order."""
    linked: dict[int, list[int]] = {}
    for part in _chunks(sorted(advisory_ids)):
        for advisory_id, vulnerability_id in session.execute(
            select(AdvisoryLink.advisory_id, AdvisoryLink.vulnerability_id)
            .where(AdvisoryLink.advisory_id.in_(part))
            .order_by(AdvisoryLink.advisory_id, AdvisoryLink.vulnerability_id)
        ):
            linked.setdefault(advisory_id, []).append(vulnerability_id)
    return linked


def _with_vulnerability(match: Match, vulnerability_id: int) -> Match:
    return Match(
        match.software_id,
        vulnerability_id,
        match.status,
        match.installed_version,
        match.fixed_version,
        match.evidence,
        match.scheme,
    )


def _match_package(
    item: InstalledItem,
    ecosystem: str,
    entry: ranges.Entry,
    feed: str,
    record_id: str,
) -> Match | None:
    scheme = entry.scheme
    evidence: dict[str, Any] = {
        "feed": feed,
        "advisory": record_id,
        "ecosystem": ecosystem,
        "package": item.source_package or item.name,
    }
    if not item.version:
        evidence["reason"] = "the installed package has no version"
        return Match(item.software_id, 0, UNKNOWN, "", None, evidence, scheme)
    verdict = entry.evaluate(item.version)
    if verdict.status == ranges.NOT_AFFECTED:
        return None
    evidence.update(verdict.evidence)
    if verdict.status == ranges.UNKNOWN:
        evidence["reason"] = verdict.reason
        return Match(item.software_id, 0, UNKNOWN, item.version, None, evidence, scheme)
    evidence["fixed"] = verdict.fixed
    return Match(item.software_id, 0, AFFECTED, item.version, verdict.fixed, evidence, scheme)


def _match_programs(
    session: Session, release: DeviceRelease, items: Sequence[InstalledItem]
) -> list[Match]:
    mapped: list[tuple[InstalledItem, products.Mapping]] = []
    for item in items:
        mapping = products.map_program(
            item.name, item.vendor, item.version or None, item.software_id
        )
        if mapping is not None:
            mapped.append((item, mapping))
    if not mapped:
        return []
    installed = [product for _, mapping in mapped for product in mapping.products]
    platform = products.os_products(release)
    pairs = sorted({(p.vendor, p.product) for p in installed})

    advisory_ids: set[int] = set()
    for vendor in sorted({v for v, _ in pairs}):
        names = [p for v, p in pairs if v == vendor]
        advisory_ids.update(
            session.scalars(
                select(CpeProduct.advisory_id).where(
                    CpeProduct.vendor == vendor, CpeProduct.product.in_(names)
                )
            )
        )
    how = {item.software_id: mapping.how for item, mapping in mapped}
    version_of = {item.software_id: item.version for item, _ in mapped}
    index = cpe.index_products(installed + platform)
    memo: cpe.Memo = {}
    found: list[Match] = []
    for part in _chunks(sorted(advisory_ids)):
        rows = session.execute(
            select(
                Advisory.id,
                Advisory.record_id,
                Advisory.content_hash,
                AdvisoryLink.vulnerability_id,
            )
            .join(AdvisoryLink, AdvisoryLink.advisory_id == Advisory.id)
            .where(Advisory.id.in_(part), Advisory.withdrawn.is_(None))
        ).all()
        prepared = _configurations(session, {row[:3] for row in rows})
        for advisory_id, record_id, _, vulnerability_id in rows:
            for hit in prepared[advisory_id].evaluate(index, memo):
                software_id = hit.product.software_id
                if software_id is None:
                    continue  # the operating system: its CVEs are MSRC's, not a program's
                status = AFFECTED if hit.truth is True else UNKNOWN
                evidence = {
                    "feed": "nvd",
                    "advisory": record_id,
                    "cpe": hit.entry["criteria"],
                    "mapping": how[software_id],
                    **{k: v for k, v in hit.entry.items() if k.startswith("version")},
                }
                if hit.reason:
                    evidence["reason"] = hit.reason
                fixed = hit.entry.get("versionEndExcluding") if status == AFFECTED else None
                found.append(
                    Match(
                        software_id,
                        vulnerability_id,
                        status,
                        version_of[software_id],
                        fixed,
                        evidence,
                        versions.VENDOR,
                    )
                )
    return found


class _PreparedCache:
    """Prepared NVD configurations by (record id, content hash), for every match in the
    process: reading and preparing them is most of a Windows device's match, and the
    same advisories serve every device. A changed record has a new content hash."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], cpe.Configurations] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> cpe.Configurations | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: cpe.Configurations) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# Limitation: an advisory's prepared configurations hold its cpeMatch entries; 20,000 of the
# largest (Firefox CVEs list hundreds of entries) take a few hundred MB. A device whose
# candidate advisories outnumber the cache prepares the rest on every match.
_PREPARED = _PreparedCache(20_000)


def _configurations(
    session: Session, advisories: set[tuple[int, str, str]]
) -> dict[int, cpe.Configurations]:
    """The prepared configurations of (advisory id, record id, content hash) advisories:
    from the cache, else read (as text, decoded by orjson) and prepared."""
    prepared: dict[int, cpe.Configurations] = {}
    missing: dict[int, tuple[str, str]] = {}
    for advisory_id, record_id, content_hash in advisories:
        found = _PREPARED.get((record_id, content_hash))
        if found is None:
            missing[advisory_id] = (record_id, content_hash)
        else:
            prepared[advisory_id] = found
    for part in _chunks(sorted(missing)):
        for advisory_id, text in session.execute(
            select(Advisory.id, cast(Advisory.configurations, Text)).where(Advisory.id.in_(part))
        ):
            configurations = cpe.Configurations(_json(text) or [])
            prepared[advisory_id] = configurations
            _PREPARED.put(missing[advisory_id], configurations)
    return prepared


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # Python reads what orjson refuses (integers past 64 bits).
        return json.loads(text)


def combine(matches: Iterable[Match]) -> dict[tuple[int, int], dict[str, Any]]:
    """One finding per (software, vulnerability): affected if any advisory says so, the
    highest fixed version any affected match names, and every match as evidence."""
    with _collector_paused():
        return _combine(matches)


def _combine(matches: Iterable[Match]) -> dict[tuple[int, int], dict[str, Any]]:
    findings: dict[tuple[int, int], dict[str, Any]] = {}
    for match in matches:
        key = (match.software_id, match.vulnerability_id)
        finding = findings.get(key)
        if finding is None:
            finding = findings[key] = {
                "software_id": match.software_id,
                "vulnerability_id": match.vulnerability_id,
                "status": match.status,
                "installed_version": match.installed_version,
                "fixed_version": None,
                "evidence": [],
                "_fixed": None,
            }
        elif match.status == AFFECTED:
            finding["status"] = AFFECTED
        if match.evidence not in finding["evidence"]:
            finding["evidence"].append(match.evidence)
        if match.status == AFFECTED and match.fixed_version and match.scheme:
            value = versions.parse(match.scheme, match.fixed_version)
            best = finding["_fixed"]
            if value is not None and (best is None or value > best):
                finding["_fixed"] = value
                finding["fixed_version"] = match.fixed_version
    for finding in findings.values():
        del finding["_fixed"]
        finding["evidence"].sort(key=lambda e: (e.get("feed", ""), e.get("advisory", "")))
    return findings
