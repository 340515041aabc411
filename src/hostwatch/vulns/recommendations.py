"""Security recommendations from a device's findings, and its exposure, refreshed together.

One recommendation per vulnerable product on the device: "Update <product> to <version>",
where the version is the lowest one that fixes every vulnerability the device has in it,
in the ecosystem's own ordering (see `lowest_fix`), or no fix available. A product is a
package as advisories name it (PyPI jinja2, Debian:11 openssl: every binary package of one
source package is one product), or, for programs without a package ecosystem, its name.

Status: active; exception (an analyst accepts the risk, with a justification and an
optional expiry, after which it is active again); resolved, set here when the product is no
longer vulnerable (a fixed version or no version at all is seen), and reopened when a
vulnerable version returns. Exceptions survive refreshes; their products do not count in
the device's exposure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.devices.models import Device, Software
from hostwatch.vulns import coverage, exposure, packages, ranges, versions
from hostwatch.vulns.models import Advisory, AdvisoryLink, Affected, Finding
from hostwatch.vulns.recommendation_model import (
    ACTIVE,
    EXCEPTION,
    RESOLVED,
    SOURCE_VULNERABILITY,
    Recommendation,
)

log = logging.getLogger(__name__)


@dataclass
class Product:
    """The vulnerable installs of one product on a device, and what they are exposed to."""

    subject: str
    component: str
    software_source: str
    vendor: str | None
    # (ecosystem, package) when advisories name it by package; None for programs.
    package: tuple[str, str] | None
    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    weaknesses: list[exposure.Weakness] = field(default_factory=list)
    # Each finding's fixed version, by finding id, as matching stored it.
    fixes: dict[int, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RefreshResult:
    active: int
    exception: int
    resolved: int
    exposure: exposure.Exposure


def _program_subject(source: str, name: str) -> str:
    return f"{source}/{' '.join(name.lower().split())}"


def group_products(
    release: packages.DeviceRelease,
    weaknesses: Iterable[exposure.Weakness],
    software: dict[int, Software],
    fixes: dict[int, str | None],
) -> dict[str, Product]:
    """The device's counted findings, grouped into one product each."""
    products: dict[str, Product] = {}
    for weakness in weaknesses:
        item = software[weakness.software_id]
        key = packages.package_key(item.source, item.name, item.source_package, release)
        subject = f"{key[0]}/{key[1]}" if key else _program_subject(item.source, item.name)
        product = products.get(subject)
        if product is None:
            # Distribution packages are updated by their source package; pip and npm ones
            # keep the name they were installed under.
            shown = key[1] if key and item.source in ("dpkg", "rpm") else item.name
            product = products[subject] = Product(
                subject=subject,
                component=shown,
                software_source=item.source,
                vendor=item.vendor,
                package=key,
            )
        product.items[item.id] = {
            "software_id": item.id,
            "name": item.name,
            "version": item.version,
            "arch": item.arch or None,
            "install_path": item.install_path,
        }
        product.weaknesses.append(weakness)
        product.fixes[weakness.finding_id] = fixes.get(weakness.finding_id)
    return products


def _fixed_events(entries: Iterable[tuple[list[dict[str, Any]], list[str]]]) -> set[str]:
    found: set[str] = set()
    for entry_ranges, _ in entries:
        for entry in entry_ranges:
            if entry.get("type") not in ranges.VERSION_RANGE_TYPES:
                continue
            for event in entry.get("events") or []:
                if isinstance(event, dict) and isinstance(event.get("fixed"), str):
                    found.add(event["fixed"])
    return found


def lowest_fix(
    scheme: str,
    installed: Sequence[str],
    entries_by_vulnerability: dict[int, list[tuple[list[dict[str, Any]], list[str]]]],
    known_fixes: Iterable[str] = (),
) -> str | None:
    """The lowest version above every installed one that none of the vulnerabilities affects.

    The candidates are the `fixed` bounds the advisories name (a fix is always released as
    one of them). Taking the highest per-advisory fix is not enough: with advisory A fixed
    in 2.0.1 on one branch and reintroduced in 2.1.0 until 2.1.3, and advisory B fixed in
    2.1.0, the answer is 2.1.3, which is what evaluating each candidate against every range
    finds. A candidate a range can not decide (a bound of another scheme) is not taken.

    Limitation: only the advisories of the vulnerabilities the device has now are consulted;
    the version named can be affected by another known vulnerability introduced after the
    installed one (the recommendation then reopens once the device reports that version).
    """
    floor = max(
        (value for value in (versions.parse(scheme, v) for v in installed) if value is not None),
        default=None,
    )
    texts = _fixed_events(e for entries in entries_by_vulnerability.values() for e in entries)
    texts.update(known_fixes)
    candidates = []
    for text in texts:
        value = versions.parse(scheme, text)
        if value is not None and (floor is None or value > floor):
            candidates.append((value, text))
    candidates.sort(key=lambda pair: pair[0])
    for _, text in candidates:
        if all(
            ranges.evaluate(scheme, text, entry_ranges, listed).status == ranges.NOT_AFFECTED
            for entries in entries_by_vulnerability.values()
            for entry_ranges, listed in entries
        ):
            return text
    return None


Entries = dict[int, list[tuple[list[dict[str, Any]], list[str]]]]
_IN_CHUNK = 2_000


def package_entries(session: Session, products: Iterable[Product]) -> dict[str, Entries]:
    """The affected entries (ranges, versions) of each package product, by vulnerability:
    only the vulnerabilities the product has, read with one query per ecosystem chunk."""
    wanted: dict[tuple[str, str], tuple[str, set[int]]] = {}
    for product in products:
        if product.package is not None:
            ids = {w.vulnerability_id for w in product.weaknesses}
            wanted[product.package] = (product.subject, ids)
    by_ecosystem: dict[str, list[str]] = {}
    for ecosystem, package in wanted:
        by_ecosystem.setdefault(ecosystem, []).append(package)
    found: dict[str, Entries] = {}
    for ecosystem, names in by_ecosystem.items():
        for start in range(0, len(names), _IN_CHUNK):
            rows = session.execute(
                select(
                    Affected.package,
                    AdvisoryLink.vulnerability_id,
                    Affected.ranges,
                    Affected.versions,
                )
                .join(Advisory, Advisory.id == Affected.advisory_id)
                .join(AdvisoryLink, AdvisoryLink.advisory_id == Advisory.id)
                .where(
                    Affected.ecosystem == ecosystem,
                    Affected.package.in_(names[start : start + _IN_CHUNK]),
                    Advisory.withdrawn.is_(None),
                )
            )
            for package, vulnerability_id, entry_ranges, listed in rows:
                subject, ids = wanted[(ecosystem, package)]
                if vulnerability_id in ids:
                    entries = found.setdefault(subject, {})
                    entries.setdefault(vulnerability_id, []).append(
                        (entry_ranges or [], listed or [])
                    )
    return found


def product_fix(product: Product, entries: Entries | None) -> str | None:
    """The version to update the product to, or None when no fix is known."""
    installed = sorted({w.version for w in product.weaknesses if w.version})
    known = [fix for fix in product.fixes.values() if fix]
    if product.package is not None:
        scheme = versions.scheme_for(product.package[0])
        if entries:
            return lowest_fix(scheme, installed, entries, known)
    # Programs matched by CPE: each finding's fix is the end of the range it fell in; a
    # finding without one leaves the product without a known fix.
    # Limitation: the highest range end is not checked against the other CPE ranges of the
    # same CVEs, as package fixes are; NVD ranges for desktop programs rarely reopen.
    if not known or len(known) < len(product.fixes):
        return None
    return max(known, key=lambda text: versions.vendor_key(text) or ())


def _title(product: Product, fix: str | None) -> str:
    if fix is None:
        return f"Update {product.component}: no fix available"
    return f"Update {product.component} to {fix}"


def _weakness_list(
    product: Product,
) -> tuple[list[dict[str, Any]], int, int, float | None]:
    by_vulnerability: dict[int, dict[str, Any]] = {}
    for weakness in product.weaknesses:
        entry = by_vulnerability.setdefault(
            weakness.vulnerability_id,
            {
                "vulnerability_id": weakness.vulnerability_id,
                "key": weakness.key,
                "cvss": weakness.cvss,
                "exploited": weakness.exploited,
                "ransomware": weakness.ransomware,
                "fixed_version": product.fixes.get(weakness.finding_id),
                "installed_versions": [],
            },
        )
        if weakness.version not in entry["installed_versions"]:
            entry["installed_versions"].append(weakness.version)
    listed = sorted(by_vulnerability.values(), key=lambda w: (-(w["cvss"] or 0.0), w["key"]))
    exploited = sum(1 for w in listed if w["exploited"])
    ransomware = sum(1 for w in listed if w["ransomware"])
    highest = max((w["cvss"] for w in listed if w["cvss"] is not None), default=None)
    return listed, exploited, ransomware, highest


def _in_force(row: Recommendation, now: datetime) -> bool:
    return row.status == EXCEPTION and (
        row.exception_expires is None or row.exception_expires > now
    )


def refresh_device(session: Session, device_id: str, now: datetime | None = None) -> RefreshResult:
    """Bring the device's vulnerability recommendations and exposure up to its findings."""
    now = now or utcnow()
    device = session.get(Device, device_id)
    if device is None:
        raise LookupError(f"no device {device_id}")
    release = packages.DeviceRelease(device.os_family, device.os_name, device.os_version)
    weaknesses = exposure.open_weaknesses(session, device_id, now)
    software_ids = sorted({w.software_id for w in weaknesses})
    software = {
        s.id: s for s in session.scalars(select(Software).where(Software.id.in_(software_ids)))
    }
    fixes = dict(
        session.execute(
            select(Finding.id, Finding.fixed_version).where(Finding.device_id == device_id)
        ).all()
    )
    products = group_products(release, weaknesses, software, fixes)
    stored = {
        row.subject: row
        for row in session.scalars(
            select(Recommendation).where(
                Recommendation.device_id == device_id,
                Recommendation.source == SOURCE_VULNERABILITY,
            )
        )
    }

    entries = package_entries(session, products.values())
    for subject, product in products.items():
        fix = product_fix(product, entries.get(subject))
        listed, exploited, ransomware, highest = _weakness_list(product)
        row = stored.get(subject)
        if row is None:
            row = Recommendation(
                device_id=device_id,
                source=SOURCE_VULNERABILITY,
                subject=subject,
                status=ACTIVE,
                first_seen=now,
            )
            session.add(row)
            stored[subject] = row
        elif row.status == RESOLVED:
            log.info("recommendation %s of device %s reopened: %s", row.id, device_id, subject)
            row.status, row.resolved_at = ACTIVE, None
            row.exception_justification = row.exception_by = None
            row.exception_expires = row.exception_at = None
        elif row.status == EXCEPTION and not _in_force(row, now):
            row.status = ACTIVE
        row.title = _title(product, fix)
        row.component = product.component
        row.vendor = product.vendor
        row.software_source = product.software_source
        row.fixed_version = fix
        row.weakness_count = len(listed)
        row.exploited_count = exploited
        row.ransomware_count = ransomware
        row.highest_cvss = highest
        row.components = sorted(product.items.values(), key=lambda i: i["software_id"])
        row.weaknesses = listed
        row.updated_at = now
    for subject, row in stored.items():
        if subject not in products and row.status != RESOLVED:
            log.info("recommendation %s of device %s resolved: %s", row.id, device_id, subject)
            row.status, row.resolved_at, row.exposure_reduction = RESOLVED, now, 0
            row.updated_at = now
    session.flush()

    found = exposure.assess(session, device_id, now, weaknesses)
    excepted = exposure.excepted_software(session, device_id, now)
    total = exposure.Untouched.of(w.likelihood for w in weaknesses if w.software_id not in excepted)
    for subject, product in products.items():
        row = stored[subject]
        mine = exposure.Untouched.of(w.likelihood for w in product.weaknesses)
        if _in_force(row, now):
            # Outside the score now: what it would add back if the exception were lifted.
            row.exposure_reduction = total.plus(mine).score() - found.score
        else:
            row.exposure_reduction = found.score - total.minus(mine).score()
    if not coverage.is_assessed(session, device):
        # No imported feed speaks about any of its software: not assessed, which is not low.
        device.exposure_score = device.exposure_level = None
    else:
        device.exposure_score = found.score
        device.exposure_level = found.level
    session.flush()

    statuses = [row.status for row in stored.values()]
    log.info(
        "recommendations of device %s: %d active, %d exception, %d resolved; exposure %s",
        device_id,
        statuses.count(ACTIVE),
        statuses.count(EXCEPTION),
        statuses.count(RESOLVED),
        f"{found.level} ({found.score})"
        if device.exposure_level
        else "not assessed (no feed covers its software)",
    )
    return RefreshResult(
        statuses.count(ACTIVE), statuses.count(EXCEPTION), statuses.count(RESOLVED), found
    )
