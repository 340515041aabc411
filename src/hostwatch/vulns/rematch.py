"""After a feed change, refresh only the devices the changed advisories can concern.

A device is concerned when
- it has a finding on a vulnerability a changed advisory speaks of, now or before the
  change (so a withdrawn or narrowed advisory loses its findings, and a CVSS or KEV change
  reaches the findings it describes);
- it has installed a package a changed advisory names, by ecosystem and normalized name
  (Debian and other distributions by source package and the device's release);
- it has a program that maps to a CPE vendor:product a changed NVD advisory names;
- it is a Windows device whose product a changed Microsoft update document names;
- a merge of two vulnerabilities deleted its findings.
Each concerned device is refreshed whole with `findings.refresh_device`, one transaction per
device, so the work grows with the devices the change reaches, not with the database.

Limitation: a concerned device re-matches its whole inventory, not only the concerned
items (refresh_device is the one call that refreshes a device's findings and what derives
from them).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import transaction
from hostwatch.devices.models import Device, Software
from hostwatch.ingest.evtx import Problem
from hostwatch.vulns import findings, packages, products, windows_findings
from hostwatch.vulns.models import AdvisoryLink, Affected, CpeProduct, Finding
from hostwatch.vulns.msrc import ECOSYSTEM as MSRC_ECOSYSTEM
from hostwatch.vulns.packages import DeviceRelease
from hostwatch.vulns.store import WriteResult

log = logging.getLogger(__name__)

T = TypeVar("T")
_ROWS = 1_000
PACKAGE_SOURCES = ("pip", "npm", "dpkg", "rpm")
# Name variants tried per PyPI package: PEP 503 treats '-', '_' and '.' alike.
_MAX_SEPARATORS = 6


@dataclass
class RematchSummary:
    devices: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "devices": self.devices,
            "findings_added": self.added,
            "findings_removed": self.removed,
            "findings_changed": self.changed,
            "seconds": round(self.seconds, 3),
            "problems": [p.to_dict() for p in self.problems],
        }


def _chunks(values: Sequence[T], size: int = _ROWS) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def concerned_devices(session: Session, changes: WriteResult) -> set[str]:
    """The ids of the devices a change of these advisories can alter the findings of."""
    devices = set(changes.devices)
    advisories = sorted(changes.changed_advisories)
    if not advisories:
        return devices
    vulnerabilities = set(changes.previous_vulnerabilities) | set(changes.changed_vulnerabilities)
    keys: set[tuple[str, str]] = set()
    cpes: set[tuple[str, str]] = set()
    for part in _chunks(advisories):
        vulnerabilities.update(
            session.scalars(
                select(AdvisoryLink.vulnerability_id).where(AdvisoryLink.advisory_id.in_(part))
            )
        )
        keys.update(
            session.execute(
                select(Affected.ecosystem, Affected.package)
                .where(Affected.advisory_id.in_(part))
                .distinct()
            ).all()
        )
        cpes.update(
            session.execute(
                select(CpeProduct.vendor, CpeProduct.product)
                .where(CpeProduct.advisory_id.in_(part))
                .distinct()
            ).all()
        )
    for part in _chunks(sorted(vulnerabilities)):
        devices.update(
            session.scalars(
                select(Finding.device_id).where(Finding.vulnerability_id.in_(part)).distinct()
            )
        )
    devices |= _devices_with_packages(session, keys)
    devices |= _devices_with_programs(session, cpes)
    windows = {package for ecosystem, package in keys if ecosystem == MSRC_ECOSYSTEM}
    devices |= windows_findings.devices_of_products(session, windows)
    return devices


def _name_variants(ecosystem: str, package: str) -> set[str]:
    """Lower-case installed names that normalize to `package` in `ecosystem`."""
    if ecosystem != "PyPI":
        return {package.lower()}
    parts = package.split("-")
    if len(parts) - 1 > _MAX_SEPARATORS:
        # Limitation: a PyPI name with more than 6 separators is looked up with one kind
        # of separator throughout ('a-b-c', 'a_b_c', 'a.b.c'), not every mix of them.
        return {sep.join(parts) for sep in "-_."}
    return {
        "".join(itertools.chain.from_iterable(zip(parts, seps, strict=False))) + parts[-1]
        for seps in itertools.product("-_.", repeat=len(parts) - 1)
    }


def _devices_with_packages(session: Session, keys: Iterable[tuple[str, str]]) -> set[str]:
    """Devices with an installed package that `package_key` maps to one of `keys`."""
    keys = set(keys)
    names: set[str] = set()
    for ecosystem, package in keys:
        names |= _name_variants(ecosystem, package)
    if not names:
        return set()
    lower_name = func.lower(Software.name)
    lower_source = func.lower(Software.source_package)
    found: set[str] = set()
    releases: dict[str, DeviceRelease] = {}
    for part in _chunks(sorted(names)):
        rows = session.execute(
            select(
                Software.device_id, Software.source, Software.name, Software.source_package
            ).where(
                Software.source.in_(PACKAGE_SOURCES),
                or_(lower_name.in_(part), lower_source.in_(part)),
            )
        ).all()
        for device_id, source, name, source_package in rows:
            if device_id in found:
                continue
            release = releases.get(device_id)
            if release is None:
                release = releases[device_id] = _release(session, device_id)
            if packages.package_key(source, name, source_package, release) in keys:
                found.add(device_id)
    return found


def _release(session: Session, device_id: str) -> DeviceRelease:
    row = session.execute(
        select(Device.os_family, Device.os_name, Device.os_version).where(Device.id == device_id)
    ).one()
    return DeviceRelease(*row)


def _devices_with_programs(session: Session, cpes: set[tuple[str, str]]) -> set[str]:
    """Devices with a program whose CPE mapping names one of `cpes`.

    Limitation: program names map to CPE products through patterns (products.py), which a
    query can not run; the distinct program names and publishers of the whole inventory
    are read and mapped, so this step grows with the variety of programs installed (not
    with devices times programs), and only when NVD advisories changed.
    """
    if not cpes:
        return set()
    wanted: set[tuple[str, str | None]] = set()
    rows = session.execute(
        select(Software.name, Software.vendor)
        .where(Software.source.not_in(PACKAGE_SOURCES))
        .distinct()
    ).all()
    for name, vendor in rows:
        mapping = products.map_program(name, vendor, None)
        if mapping is not None and any((p.vendor, p.product) in cpes for p in mapping.products):
            wanted.add((name, vendor))
    found: set[str] = set()
    for part in _chunks(sorted({name for name, _ in wanted})):
        for device_id, name, vendor in session.execute(
            select(Software.device_id, Software.name, Software.vendor).where(
                Software.name.in_(part), Software.source.not_in(PACKAGE_SOURCES)
            )
        ).all():
            if (name, vendor) in wanted:
                found.add(device_id)
    return found


def rematch(sessions: sessionmaker[Session], changes: WriteResult) -> RematchSummary:
    """Refresh the findings of every device `changes` concerns; one transaction each."""
    started = time.monotonic()
    summary = RematchSummary()
    if not changes.changed:
        return summary
    with sessions() as session:
        devices = sorted(concerned_devices(session, changes))
    for device_id in devices:
        try:
            with transaction(sessions) as session:
                result = findings.refresh_device(session, device_id)
        except LookupError:
            continue  # deleted since
        except sa_exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            summary.problems.append(Problem(f"device {device_id}", f"not re-matched: {reason}"))
            log.error("device %s not re-matched after the feed change: %s", device_id, reason)
            continue
        summary.devices += 1
        summary.added += result.added
        summary.removed += result.removed
        summary.changed += result.changed
    summary.seconds = time.monotonic() - started
    log.info(
        "re-matched %d devices after the feed change: %d findings added, %d removed",
        summary.devices,
        summary.added,
        summary.removed,
    )
    return summary
