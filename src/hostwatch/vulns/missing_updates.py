"""A device's missing updates: Windows KBs from Microsoft's documents, and on Debian and
Ubuntu the distribution advisories not yet applied.

Microsoft's updates are stored as affected packages of ecosystem MSRC (see
`hostwatch.vulns.msrc.to_records`): the package is the product's full name and each range
is one update with its KB, fixed build and supersedence. This module collects the
updates of the device's product, folds the CVEs of each KB together, and applies the rule
of `hostwatch.vulns.missing_kbs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hostwatch.devices.models import Device, Hotfix, Software
from hostwatch.vulns.missing_kbs import Assessment, KnownUpdate, MissingUpdate, assess
from hostwatch.vulns.models import Advisory, Affected, Finding, Vulnerability
from hostwatch.vulns.msrc import ECOSYSTEM, Update, month_order
from hostwatch.vulns.windows_products import WindowsBuild, msrc_product


@dataclass
class CveFacts:
    cve: str
    title: str
    severity: str | None
    exploited: bool
    publicly_disclosed: bool


@dataclass
class DeviceUpdates:
    """What the missing-updates tab shows for one device."""

    status: Literal["assessed", "unknown", "not_windows"]
    reason: str
    product: str | None
    build: str | None
    missing: list[MissingUpdate] = field(default_factory=list)
    cves: dict[str, CveFacts] = field(default_factory=dict)
    covered: dict[str, str] = field(default_factory=dict)

    @property
    def cve_count(self) -> int:
        return len({cve for update in self.missing for cve in update.cves})

    @property
    def exploited_count(self) -> int:
        seen = {cve for update in self.missing for cve in update.cves}
        return sum(1 for cve in seen if self.cves.get(cve) and self.cves[cve].exploited)


def known_updates_of(
    session: Session, product: str
) -> tuple[list[KnownUpdate], dict[str, CveFacts]]:
    """Every update the knowledge base holds for one product, with the CVEs each fixes."""
    rows = session.execute(
        select(Affected.ranges, Advisory.record_id, Advisory.data)
        .join(Advisory, Advisory.id == Affected.advisory_id)
        .where(
            Affected.ecosystem == ECOSYSTEM,
            Affected.package == product,
            Advisory.withdrawn.is_(None),
        )
    )
    updates: dict[str, tuple[Update, str]] = {}
    cves_of: dict[str, set[str]] = {}
    facts: dict[str, CveFacts] = {}
    for ranges, record_id, data in rows:
        cve = record_id.partition(":")[2]
        facts[cve] = _cve_facts(cve, data, product)
        for entry in ranges:
            update = _update(entry)
            if update is None:
                continue
            month = str(entry.get("month") or "")
            known = updates.get(update.kb)
            # A KB named by several months (a re-release) keeps its latest month's facts.
            if known is None or month_order(month) > month_order(known[1]):
                updates[update.kb] = (update, month)
            cves_of.setdefault(update.kb, set()).add(cve)
    known_list = [
        KnownUpdate(update, month, product, tuple(sorted(cves_of[kb])))
        for kb, (update, month) in sorted(updates.items())
    ]
    return known_list, facts


def _update(entry: Any) -> Update | None:
    if not isinstance(entry, dict) or entry.get("type") != "MSRC_UPDATE":
        return None
    kb = entry.get("kb")
    if not isinstance(kb, str):
        return None
    return Update(
        kb=kb,
        product_id="",
        fixed_build=entry.get("fixed_build"),
        supersedes=tuple(str(s) for s in entry.get("supersedes") or ()),
        sub_type=str(entry.get("sub_type") or ""),
        restart_required=entry.get("restart_required"),
        url=entry.get("url"),
    )


def _cve_facts(cve: str, data: Any, product: str) -> CveFacts:
    data = data if isinstance(data, dict) else {}
    per_product = (data.get("products") or {}).get(product) or {}
    return CveFacts(
        cve=cve,
        title=str(data.get("title") or ""),
        severity=per_product.get("severity"),
        exploited=bool(data.get("exploited")),
        publicly_disclosed=bool(data.get("publicly_disclosed")),
    )


def for_device(
    session: Session,
    device: Device,
    hotfixes: Iterable[str] = (),
    *,
    server_core: bool = False,
    hotpatch: bool = False,
) -> DeviceUpdates:
    """The device's missing Windows updates, or why they can not be told.

    Limitation: no source reports a Server Core installation yet (osquery's os_version
    does not say), so a server is judged as the full installation. Microsoft ships the
    same KBs and builds to both, so the list is the same; only the product name differs.
    """
    if (device.os_family or "").lower() != "windows" and "windows" not in (
        device.os_name or ""
    ).lower():
        return DeviceUpdates("not_windows", "not a Windows device", None, None)
    # osquery keeps the full build apart (10.0.19045.3803); the agent's version may hold it.
    version = device.os_build or device.os_version
    build = WindowsBuild.parse(version)
    product = msrc_product(device.os_name, version, device.os_arch, server_core=server_core)
    if product is None:
        return DeviceUpdates(
            "unknown",
            "the Windows product is not known from the device's name, build and architecture",
            None,
            str(build) if build else None,
        )
    known, facts = known_updates_of(session, product)
    if not known:
        return DeviceUpdates(
            "unknown",
            f"no security update documents for {product} are imported",
            product,
            str(build) if build else None,
        )
    result: Assessment = assess(product, build, hotfixes, known, hotpatch=hotpatch)
    return DeviceUpdates(
        "assessed" if result.status == "assessed" else "unknown",
        result.reason,
        product,
        str(build) if build else None,
        missing=result.missing,
        cves=facts,
        covered=result.covered,
    )


# --- Linux: the distribution's advisories not yet applied --------------------------------

# Advisory ids that name a distribution update a user installs: Debian's DSA and DLA, and
# Ubuntu's USN (which reach the knowledge base through OSV's Ubuntu ecosystem).
_DISTRIBUTION_ADVISORY = ("DSA-", "DLA-", "USN-")


@dataclass
class MissingAdvisory:
    advisory: str
    package: str  # the source package the advisory names
    installed_version: str
    fixed_version: str | None
    cves: list[str]
    binary_packages: list[str]


def missing_advisories(session: Session, device_id: str) -> list[MissingAdvisory]:
    """The device's affected findings that a Debian or Ubuntu advisory fixes, per advisory.

    A finding records every advisory that matched it (its evidence); each one that is a
    distribution advisory becomes a row, with the CVEs of all findings it covers. Newest
    advisory first (by its number).
    """
    rows = session.execute(
        select(Finding.evidence, Finding.installed_version, Vulnerability.key, Software.name)
        .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
        .join(Software, Software.id == Finding.software_id)
        .where(
            Finding.device_id == device_id,
            Finding.status == "affected",
            # A false positive is not a missing update; an accepted risk still is one.
            or_(Finding.marking.is_(None), Finding.marking != "false_positive"),
        )
    )
    found: dict[tuple[str, str], MissingAdvisory] = {}
    for evidence, installed, key, binary in rows:
        for entry in evidence or ():
            advisory = str(entry.get("advisory") or "")
            if not advisory.startswith(_DISTRIBUTION_ADVISORY):
                continue
            package = str(entry.get("package") or binary)
            item = found.setdefault(
                (advisory, package),
                MissingAdvisory(advisory, package, installed, entry.get("fixed"), [], []),
            )
            if key not in item.cves:
                item.cves.append(key)
            if binary not in item.binary_packages:
                item.binary_packages.append(binary)
    for item in found.values():
        item.cves.sort()
        item.binary_packages.sort()
    return sorted(
        found.values(), key=lambda a: (_advisory_number(a.advisory), a.package), reverse=True
    )


def _advisory_number(advisory: str) -> tuple[str, int, int]:
    kind, _, rest = advisory.partition("-")
    number, _, revision = rest.partition("-")
    return (
        kind,
        int(number) if number.isdigit() else 0,
        int(revision) if revision.isdigit() else 0,
    )


def device_hotfixes(session: Session, device: Device) -> list[str]:
    """KB numbers the device reports installed (osquery's `patches`)."""
    return list(session.scalars(select(Hotfix.hotfix_id).where(Hotfix.device_id == device.id)))
