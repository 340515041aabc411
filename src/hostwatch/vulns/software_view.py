"""What the software inventory tab shows of vulnerabilities: weaknesses, threats, product code.

Product codes are the one an import stored (osquery's), else computed from the inventory
row (a package URL where the ecosystem has one, else the CPE the program maps to), so agent
rows, which store none, follow the matching code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
from hostwatch.devices.models import Device, Software
from hostwatch.vulns import packages, products, queries
from hostwatch.vulns.cpe import Product
from hostwatch.vulns.findings import device_release
from hostwatch.vulns.models import Finding, Vulnerability

_PACKAGE_SOURCES = ("pip", "npm", "dpkg", "rpm")
_CPE_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


def _cpe_part(value: str | None) -> str:
    """A CPE 2.3 formatted-string component: '*' when unknown, other characters escaped."""
    if not value:
        return "*"
    return "".join(c if c in _CPE_PLAIN else "\\" + c for c in value.lower())


def cpe_name(product: Product) -> str:
    fields = [product.part, product.vendor, product.product, product.version, product.update]
    return "cpe:2.3:" + ":".join(_cpe_part(f) for f in fields) + ":*:*:*:*:*:*"


def product_code(
    source: str, name: str, version: str, vendor: str | None, release: packages.DeviceRelease
) -> str | None:
    code = packages.purl(source, name, version, release)
    if code is not None or source in _PACKAGE_SOURCES:
        return code
    mapping = products.map_program(name, vendor, version or None)
    return cpe_name(mapping.products[0]) if mapping else None


def _release(session: Session, device_id: str) -> packages.DeviceRelease:
    device = session.get(Device, device_id)
    return device_release(device) if device else packages.DeviceRelease(None, None, None)


def codes(session: Session, device_id: str, rows: Sequence[Software]) -> dict[int, str | None]:
    release = _release(session, device_id)
    return {
        s.id: s.product_code or product_code(s.source, s.name, s.version, s.vendor, release)
        for s in rows
    }


def ids_with_product_code(session: Session, device_id: str, wanted: str) -> list[int]:
    """The device's items whose product code is the one given, or starts with it followed by
    '@' or ':' (so 'pkg:pypi/werkzeug' finds every installed version).

    Limitation: codes are computed, not stored, so this reads the device's whole inventory;
    a 50,000-item inventory takes a fraction of a second, far more would need a column.
    """
    release = _release(session, device_id)
    wanted = wanted.strip().lower()
    found: list[int] = []
    rows = session.execute(
        select(
            Software.id,
            Software.source,
            Software.name,
            Software.version,
            Software.vendor,
            Software.product_code,
        ).where(Software.device_id == device_id)
    )
    for software_id, source, name, version, vendor, stored in rows:
        code = stored or product_code(source, name, version, vendor, release)
        if code is None:
            continue
        code = code.lower()
        if code == wanted or (code.startswith(wanted) and code[len(wanted)] in "@:"):
            found.append(software_id)
    return found


@dataclass(frozen=True)
class Weakness:
    count: int
    kev: bool


def weaknesses(session: Session, software_ids: Sequence[int]) -> dict[int, Weakness]:
    """Affected findings per item that no analyst marked false positive, and whether any is
    in KEV. Unknown matches do not count: they are not known weaknesses."""
    if not software_ids:
        return {}
    now = utcnow()
    rows = session.execute(
        select(
            Finding.software_id,
            func.count(Finding.id),
            func.max(cast(Finding.kev, Integer)),
        )
        .where(
            Finding.software_id.in_(set(software_ids)),
            Finding.status == "affected",
            queries.status_expression(now) != "false_positive",
        )
        .group_by(Finding.software_id)
    )
    return {sid: Weakness(int(count), bool(kev)) for sid, count, kev in rows}


def software_vulnerabilities(session: Session, software_id: int) -> list[tuple[Finding, str]]:
    """The item's findings with their CVE, highest score first."""
    rows = session.execute(
        select(Finding, Vulnerability.key)
        .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
        .where(Finding.software_id == software_id)
        .order_by(func.coalesce(Finding.cvss_score, -1.0).desc(), Vulnerability.key)
    )
    return [(finding, key) for finding, key in rows]
