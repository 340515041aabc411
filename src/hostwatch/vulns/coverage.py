"""What a device's software was checked against.

An empty vulnerability list means "nothing found" only for the software some imported feed can
speak about. Each kind of installed software is matched by one kind of feed data: packages of
an ecosystem (pip, npm, a distribution's dpkg or rpm packages) by advisories naming that
ecosystem (OSV, the Debian tracker), programs without one by NVD's CPE configurations, the
Windows build by Microsoft's update documents. This module says, per kind, how many items the
device has and whether any feed data for it is stored, so the page can say what was not
checked, and the device is "not assessed" (rather than "low") when nothing was.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from hostwatch.devices.models import Device, Software
from hostwatch.vulns.models import Advisory, Affected, CpeProduct
from hostwatch.vulns.msrc import ECOSYSTEM as MSRC_ECOSYSTEM
from hostwatch.vulns.packages import DeviceRelease, package_key

# Sources matched through CPE names (see hostwatch.vulns.products).
_PROGRAM_SOURCES = frozenset({"windows", "osquery", "other"})
_OS_SOURCE = "os"


@dataclass(frozen=True)
class Group:
    """One kind of software on the device and whether it could be checked."""

    source: str  # the inventory source: dpkg, pip, windows, os, ...
    matched_by: str  # an OSV ecosystem ("Debian:12"), "CPE" or "MSRC"; "" when none applies
    items: int
    checked: bool
    reason: str


def _release(device: Device) -> DeviceRelease:
    return DeviceRelease(device.os_family, device.os_name, device.os_version)


def device_groups(session: Session, device: Device) -> list[Group]:
    """The device's software by what could match it, largest first."""
    release = _release(device)
    counts: Counter[tuple[str, str]] = Counter()
    rows = session.execute(
        select(Software.source, Software.name, Software.source_package).where(
            Software.device_id == device.id
        )
    )
    for source, name, source_package in rows:
        if source == _OS_SOURCE:
            counts[(source, MSRC_ECOSYSTEM)] += 1
        elif source in _PROGRAM_SOURCES:
            counts[(source, "CPE")] += 1
        else:
            key = package_key(source, name, source_package, release)
            counts[(source, key[0] if key else "")] += 1

    stored: dict[str, bool] = {}
    groups = []
    for (source, matched_by), items in counts.items():
        if matched_by not in stored:
            stored[matched_by] = _has_data(session, matched_by)
        groups.append(_group(source, matched_by, items, stored[matched_by], release))
    groups.sort(key=lambda g: (-g.items, g.source, g.matched_by))
    return groups


def is_assessed(session: Session, device: Device) -> bool:
    """True when some of the device's software could be checked against stored feed data."""
    return any(g.checked for g in device_groups(session, device))


def _has_data(session: Session, matched_by: str) -> bool:
    if not matched_by:
        return False
    if matched_by == "CPE":
        return bool(session.scalar(select(exists().where(CpeProduct.id.is_not(None)))))
    live = Advisory.withdrawn.is_(None)
    return bool(
        session.scalar(
            select(
                exists()
                .where(Affected.ecosystem == matched_by)
                .where(Affected.advisory_id == Advisory.id)
                .where(live)
            )
        )
    )


def _group(
    source: str, matched_by: str, items: int, checked: bool, release: DeviceRelease
) -> Group:
    if not matched_by:
        if source in ("dpkg", "rpm"):
            why = (
                f"the distribution ({release.os_name or 'unknown'} "
                f"{release.os_version or ''}) has no advisory ecosystem Hostwatch knows"
            ).replace(" )", ")")
        else:
            why = f"no advisory feed covers {source} software"
        return Group(source, "", items, False, why)
    if checked:
        return Group(source, matched_by, items, True, f"checked against {_feed_text(matched_by)}")
    return Group(
        source,
        matched_by,
        items,
        False,
        f"not checked: no {_feed_text(matched_by)} imported (hostwatch feeds import or update)",
    )


def _feed_text(matched_by: str) -> str:
    if matched_by == "CPE":
        return "NVD records"
    if matched_by == MSRC_ECOSYSTEM:
        return "Microsoft security update documents"
    return f"advisories for {matched_by}"
