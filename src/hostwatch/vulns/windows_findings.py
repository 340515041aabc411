"""A Windows device's missing security updates as findings: their CVEs on its "Windows" row.

A Windows device that misses an update gets one software row for the operating system
itself (source "os", name "Windows", vendor Microsoft, version its build), kept by
`findings.refresh_device` while it has findings and removed when it has none (so the
software inventory of a device with nothing missing is its inventory alone).
The CVEs of every update missing_kbs.py finds missing hang on that row as affected
findings, so the discovered vulnerabilities tab, markings, exposure and recommendations
("Update Windows to 10.0.19045.4170") treat them as any other finding. Each names the
updates that fix it: "build 10.0.19045.3570 < fixed build 10.0.19045.3803 (KB5033372)".

The rule is missing_kbs.py's, unchanged: an installed hotfix that is or supersedes the
update means it is not missing, and a device whose product or build is unknown gets no
findings (never every CVE Microsoft ever fixed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hostwatch.devices.models import Device, Software
from hostwatch.vulns import missing_updates
from hostwatch.vulns.missing_kbs import MissingUpdate
from hostwatch.vulns.models import VulnIdentifier
from hostwatch.vulns.windows_products import WindowsBuild, msrc_product

# The source of software rows that stand for the operating system, not an installed item:
# matching passes over them (they are not packages or programs) and inventories keep them.
OS_SOURCE = "os"
WINDOWS = "Windows"
FEED = "msrc"


def is_windows(device: Device) -> bool:
    return (device.os_family or "").lower() == "windows" or "windows" in (
        device.os_name or ""
    ).lower()


def sync_os_row(session: Session, device: Device, wanted: bool = True) -> int | None:
    """The id of the device's Windows row, made or moved to its build; None, with any such
    row removed, when the device is not Windows or the row is not `wanted`."""
    rows = session.execute(
        select(Software.id, Software.name, Software.version).where(
            Software.device_id == device.id, Software.source == OS_SOURCE
        )
    ).all()
    if not wanted or not is_windows(device):
        if rows:
            session.execute(delete(Software).where(Software.id.in_([r.id for r in rows])))
        return None
    build = WindowsBuild.parse(device.os_build or device.os_version)
    version = str(build) if build is not None else ""
    keep = next((r for r in rows if r.name == WINDOWS), None)
    extra = [r.id for r in rows if keep is None or r.id != keep.id]
    if extra:
        session.execute(delete(Software).where(Software.id.in_(extra)))
    if keep is None:
        row = Software(
            device_id=device.id,
            source=OS_SOURCE,
            name=WINDOWS,
            version=version,
            vendor="Microsoft",
            product_code=None,
        )
        session.add(row)
        session.flush()
        return row.id
    if keep.version != version:
        # The same row follows the build, so its findings keep their first-seen times and
        # an analyst's markings.
        software = session.get(Software, keep.id)
        assert software is not None
        software.version = version
        session.flush()
    return int(keep.id)


def findings_of(session: Session, device: Device) -> dict[tuple[int, int], dict[str, Any]]:
    """The device's Windows findings, keyed and shaped as `matching.combine` gives them."""
    missing: list[MissingUpdate] = []
    updates = None
    if is_windows(device):
        hotfixes = missing_updates.device_hotfixes(session, device)
        updates = missing_updates.for_device(session, device, hotfixes)
        if updates.status == "assessed":
            missing = updates.missing
    cves = sorted({cve for update in missing for cve in update.cves})
    vulnerability_of: dict[str, int] = dict(
        session.execute(
            select(VulnIdentifier.identifier, VulnIdentifier.vulnerability_id).where(
                VulnIdentifier.identifier.in_(cves)
            )
        ).all()
        if cves
        else []
    )
    software_id = sync_os_row(session, device, wanted=bool(vulnerability_of))
    if software_id is None or updates is None:
        return {}
    found: dict[tuple[int, int], dict[str, Any]] = {}
    fixed_keys: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    # Oldest update first, so each finding's evidence reads in the order they came out.
    for update in reversed(missing):
        fixed = WindowsBuild.parse(update.fixed_build)
        if fixed is None:
            continue
        for cve in update.cves:
            vulnerability_id = vulnerability_of.get(cve)
            if vulnerability_id is None:
                continue
            key = (software_id, vulnerability_id)
            finding = found.setdefault(
                key,
                {
                    "software_id": software_id,
                    "vulnerability_id": vulnerability_id,
                    "status": "affected",
                    "installed_version": updates.build or "",
                    "fixed_version": None,
                    "evidence": [],
                },
            )
            finding["evidence"].append(
                {
                    "feed": FEED,
                    "advisory": f"KB{update.kb}",
                    "month": update.month,
                    "product": updates.product,
                    "fixed": update.fixed_build,
                    "match": update.reason,
                    "url": update.url,
                }
            )
            # As for packages: the highest fix any missing update names (a CVE that a later
            # month fixes again is fixed by the later build).
            if key not in fixed_keys or fixed.key() > fixed_keys[key]:
                fixed_keys[key] = fixed.key()
                finding["fixed_version"] = update.fixed_build
    return found


def devices_of_products(session: Session, products: set[str]) -> set[str]:
    """Windows devices whose MSRC product is one of `products` (after a feed change).

    Limitation: every Windows device is read and mapped in Python (the mapping is a table
    and a rule, not a query); this runs only when Microsoft's documents changed.
    """
    if not products:
        return set()
    rows = session.execute(
        select(
            Device.id,
            Device.os_family,
            Device.os_name,
            Device.os_version,
            Device.os_build,
            Device.os_arch,
        )
    ).all()
    found: set[str] = set()
    for device_id, family, name, version, build, arch in rows:
        if (family or "").lower() != "windows" and "windows" not in (name or "").lower():
            continue
        product = msrc_product(name, build or version, arch)
        if product in products:
            found.add(device_id)
    return found
