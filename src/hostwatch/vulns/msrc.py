"""Microsoft's monthly security update documents (MSRC CVRF 1.1), as XML or as JSON.

One document per Patch Tuesday names the products (by MSRC product id: "12097" is
"Windows 10 Version 22H2 for x64-based Systems" in every month), the CVEs, and for each
CVE the updates that fix it per product: the KB number, the build the update brings the
product to, the KB it supersedes, whether it needs a restart and where to get it.

Only what the missing-updates view needs is kept. A document is read whole (the largest
is under 2 MB) with defusedxml; one with a DTD is refused, because CVRF needs none and
entity expansion is the classic way to make an XML parser eat memory.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from hostwatch.vulns.records import MSRC, AffectedPackage, FeedRecord, content_hash

_VULN = "{http://www.icasi.org/CVRF/schema/vuln/1.1}"
_PROD = "{http://www.icasi.org/CVRF/schema/prod/1.1}"
_CVRF = "{http://www.icasi.org/CVRF/schema/cvrf/1.1}"

# The JSON form numbers the CVRF enumerations in the schema's order; the XML spells them.
# Limitation: "Known Issue" (5) and "Severity" (3) are Microsoft's additions to the schema,
# numbered here after the documents that use them; no JSON document of the shared set
# confirms the numbers, so a JSON remediation of an unlisted number is kept as "other".
_REMEDIATION_TYPES = {
    0: "Workaround",
    1: "Mitigation",
    2: "Vendor Fix",
    3: "None Available",
    4: "Will Not Fix",
    5: "Known Issue",
}
_THREAT_TYPES = {0: "Impact", 1: "Exploit Status", 2: "Target Set", 3: "Severity"}

_KB = re.compile(r"^(?:KB)?(\d{6,8})$", re.IGNORECASE)
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_BUILD = re.compile(r"^\d+(?:\.\d+){1,3}$")
_DOCUMENT_ID = re.compile(r"^\d{4}-[A-Z][a-z]{2}$")


class MsrcError(ValueError):
    """A document that can not be read: `str()` names the file, `reason` says what is wrong."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Update:
    """One update (a KB) for one product, as a remediation of the document names it."""

    kb: str
    product_id: str
    fixed_build: str | None
    supersedes: tuple[str, ...]
    sub_type: str
    restart_required: str | None
    url: str | None


@dataclass
class Cve:
    cve: str
    title: str
    # Per product id: the CVSS vector Microsoft gives, and its "Severity" threat.
    vectors: dict[str, str] = field(default_factory=dict)
    severities: dict[str, str] = field(default_factory=dict)
    exploited: bool = False
    publicly_disclosed: bool = False
    # The updates that fix it, by (kb, product id).
    fixes: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Document:
    """One month: "2024-Feb", its products, CVEs and updates."""

    document_id: str
    title: str
    released: datetime | None
    revised: datetime | None
    products: dict[str, str]
    cves: dict[str, Cve]
    updates: dict[tuple[str, str], Update]
    # What was passed over, and why (a remediation with no KB number, say), for the summary.
    skipped: list[str] = field(default_factory=list)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_order(document_id: str) -> tuple[int, int]:
    """A sort key for document ids such as "2024-Feb": by year, then month."""
    year, _, name = document_id.partition("-")
    return (int(year) if year.isdigit() else 0, _MONTHS.index(name) if name in _MONTHS else -1)


def is_cvrf(head: bytes) -> bool:
    """Whether the start of a file looks like an MSRC CVRF document, XML or JSON.

    The JSON form's product tree comes after the release notes, often past the head, so
    it is told by its title and tracking objects, which come first."""
    return b"cvrfdoc" in head or (b'"DocumentTitle"' in head and b'"DocumentTracking"' in head)


def parse(data: bytes, name: str) -> Document:
    """Parse one document; raises MsrcError naming `name` if it is not a usable one."""
    stripped = data.lstrip()
    try:
        if stripped.startswith(b"{"):
            return _from_json(json.loads(data), name)
        return _from_xml(data, name)
    except MsrcError:
        raise
    except (ValueError, ET.ParseError, DefusedXmlException) as exc:
        raise MsrcError(name, f"not a readable CVRF document: {exc}") from exc


# --- XML --------------------------------------------------------------------------------


def _from_xml(data: bytes, name: str) -> Document:
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise MsrcError(name, "a CVRF document has no DTD; refused one that declares one")
    root = safe_fromstring(data, forbid_dtd=True)
    if root.tag != f"{_CVRF}cvrfdoc":
        raise MsrcError(name, f"the root element is {root.tag!r}, not a CVRF 1.1 cvrfdoc")
    tracking = root.find(f"{_CVRF}DocumentTracking")
    if tracking is None:
        raise MsrcError(name, "no DocumentTracking element")
    document_id = _text(tracking.find(f"{_CVRF}Identification/{_CVRF}ID"))
    products = {
        (element.get("ProductID") or "").strip(): (element.text or "").strip()
        for element in root.iter(f"{_PROD}FullProductName")
    }
    document = _document(
        name,
        document_id,
        _text(root.find(f"{_CVRF}DocumentTitle")),
        _text(tracking.find(f"{_CVRF}InitialReleaseDate")),
        _text(tracking.find(f"{_CVRF}CurrentReleaseDate")),
        products,
    )
    for vulnerability in root.iter(f"{_VULN}Vulnerability"):
        cve = _cve(document, _text(vulnerability.find(f"{_VULN}CVE")), name)
        if cve is None:
            continue
        cve.title = _text(vulnerability.find(f"{_VULN}Title"))
        for score in vulnerability.iter(f"{_VULN}ScoreSet"):
            vector = _text(score.find(f"{_VULN}Vector"))
            for product in score.iter(f"{_VULN}ProductID"):
                if vector:
                    cve.vectors[_text(product)] = vector
        for threat in vulnerability.iter(f"{_VULN}Threat"):
            products_of = [_text(p) for p in threat.iter(f"{_VULN}ProductID")]
            _threat(
                cve,
                threat.get("Type") or "",
                _text(threat.find(f"{_VULN}Description")),
                products_of,
            )
        for remediation in vulnerability.iter(f"{_VULN}Remediation"):
            _remediation(
                document,
                cve,
                remediation.get("Type") or "",
                kb=_text(remediation.find(f"{_VULN}Description")),
                url=_text(remediation.find(f"{_VULN}URL")),
                supersedence=_text(remediation.find(f"{_VULN}Supercedence")),
                sub_type=_text(remediation.find(f"{_VULN}SubType")),
                fixed_build=_text(remediation.find(f"{_VULN}FixedBuild")),
                restart=_text(remediation.find(f"{_VULN}RestartRequired")),
                product_ids=[_text(p) for p in remediation.iter(f"{_VULN}ProductID")],
            )
    return document


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


# --- JSON (the API's application/json form of the same document) -----------------------


def _from_json(value: Any, name: str) -> Document:
    if not isinstance(value, dict) or not isinstance(value.get("DocumentTracking"), dict):
        raise MsrcError(name, "no DocumentTracking object; not an MSRC CVRF document")
    tracking = value["DocumentTracking"]
    products: dict[str, str] = {}
    for item in _list(_get(value, "ProductTree", "FullProductName")):
        if isinstance(item, dict):
            products[str(item.get("ProductID", "")).strip()] = _value(item)
    document = _document(
        name,
        _value(_get(tracking, "Identification", "ID")),
        _value(value.get("DocumentTitle")),
        _value(tracking.get("InitialReleaseDate")),
        _value(tracking.get("CurrentReleaseDate")),
        products,
    )
    for vulnerability in _list(value.get("Vulnerability")):
        if not isinstance(vulnerability, dict):
            continue
        cve = _cve(document, _value(vulnerability.get("CVE")), name)
        if cve is None:
            continue
        cve.title = _value(vulnerability.get("Title"))
        for score in _list(vulnerability.get("CVSSScoreSets")):
            vector = _value(score.get("Vector")) if isinstance(score, dict) else ""
            for product in _list(score.get("ProductID")) if vector else []:
                cve.vectors[str(product)] = vector
        for threat in _list(vulnerability.get("Threats")):
            if isinstance(threat, dict):
                _threat(
                    cve,
                    _enum(_THREAT_TYPES, threat.get("Type")),
                    _value(threat.get("Description")),
                    [str(p) for p in _list(threat.get("ProductID"))],
                )
        for remediation in _list(vulnerability.get("Remediations")):
            if not isinstance(remediation, dict):
                continue
            kind = remediation.get("Type")
            _remediation(
                document,
                cve,
                _enum(_REMEDIATION_TYPES, kind),
                kb=_value(remediation.get("Description")),
                url=_value(remediation.get("URL")),
                supersedence=_value(remediation.get("Supercedence")),
                sub_type=_value(remediation.get("SubType")),
                fixed_build=_value(remediation.get("FixedBuild")),
                restart=_value(remediation.get("RestartRequired")),
                product_ids=[str(p) for p in _list(remediation.get("ProductID"))],
            )
    return document


def _enum(names: dict[int, str], value: Any) -> str:
    """A numbered enumeration of the JSON form as the XML spells it ("other" if unknown)."""
    if isinstance(value, int):
        return names.get(value, "other")
    return value if isinstance(value, str) else "other"


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _value(value: Any) -> str:
    """A JSON CVRF string: either a plain string or an object with a `Value`."""
    if isinstance(value, dict):
        value = value.get("Value")
    return value.strip() if isinstance(value, str) else ""


# --- shared by both forms ---------------------------------------------------------------


def _document(
    name: str,
    document_id: str,
    title: str,
    released: str,
    revised: str,
    products: dict[str, str],
) -> Document:
    if not _DOCUMENT_ID.match(document_id):
        raise MsrcError(name, f"document id {document_id!r} is not of the form 2024-Feb")
    products = {pid: title for pid, title in products.items() if pid and title}
    if not products:
        raise MsrcError(name, "the document names no products")
    return Document(
        document_id=document_id,
        title=title,
        released=_time(released),
        revised=_time(revised),
        products=products,
        cves={},
        updates={},
    )


def _cve(document: Document, cve_id: str, name: str) -> Cve | None:
    if not _CVE.match(cve_id):
        what = "no CVE id" if not cve_id.strip() else f"a malformed CVE id {cve_id!r}"
        document.skipped.append(f"a vulnerability with {what}")
        return None
    return document.cves.setdefault(cve_id, Cve(cve=cve_id, title=""))


def _threat(cve: Cve, kind: str, description: str, products: list[str]) -> None:
    if kind == "Severity":
        for product in products:
            cve.severities[product] = description
    elif kind == "Exploit Status":
        # "Publicly Disclosed:No;Exploited:Yes;Latest Software Release:...": one per CVE.
        flags = dict(part.split(":", 1) for part in description.split(";") if ":" in part)
        cve.exploited |= flags.get("Exploited", "").strip() == "Yes"
        cve.publicly_disclosed |= flags.get("Publicly Disclosed", "").strip() == "Yes"


def _remediation(
    document: Document,
    cve: Cve,
    kind: str,
    *,
    kb: str,
    url: str,
    supersedence: str,
    sub_type: str,
    fixed_build: str,
    restart: str,
    product_ids: list[str],
) -> None:
    if kind != "Vendor Fix":
        return
    number = _KB.match(kb)
    if number is None:
        # Linux (CBL-Mariner) fixes and some Office fixes name a package, not a KB.
        return
    build = fixed_build if _BUILD.match(fixed_build) else None
    supersedes = tuple(
        match.group(1)
        for part in re.split(r"[,;\s]+", supersedence)
        if (match := _KB.match(part.strip()))
    )
    for product in product_ids:
        if product not in document.products:
            document.skipped.append(
                f"Vulnerability {cve.cve}, Remediation KB{number.group(1)}: ProductID "
                f"{product!r} is not in the ProductTree; that product's update is skipped"
            )
            continue
        key = (number.group(1), product)
        document.updates.setdefault(
            key,
            Update(
                kb=number.group(1),
                product_id=product,
                fixed_build=build,
                supersedes=supersedes,
                sub_type=sub_type,
                restart_required=restart or None,
                url=url if url.startswith("https://") else None,
            ),
        )
        cve.fixes.add(key)


def _time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- into the knowledge base --------------------------------------------------------------

# The ecosystem under which the knowledge base keeps Microsoft's updates: the package is the
# product's full name, and each range is one update of it.
ECOSYSTEM = "MSRC"


def to_records(document: Document, source: str) -> list[FeedRecord]:
    """One feed record per CVE of the month ("2024-Feb:CVE-2024-21351").

    A CVE that a later month fixes again (a re-release) is a record of that month too, so
    each month's updates stay known. Each product the CVE's updates fix is an affected
    package of ecosystem MSRC whose ranges are those updates.
    """
    records = []
    for cve in sorted(document.cves.values(), key=lambda c: c.cve):
        by_product: dict[str, list[dict[str, Any]]] = {}
        for key in sorted(cve.fixes):
            update = document.updates[key]
            by_product.setdefault(document.products[update.product_id], []).append(
                {
                    "type": "MSRC_UPDATE",
                    "kb": update.kb,
                    "month": document.document_id,
                    "fixed_build": update.fixed_build,
                    "supersedes": list(update.supersedes),
                    "sub_type": update.sub_type,
                    "restart_required": update.restart_required,
                    "url": update.url,
                }
            )
        products = {
            document.products[pid]: {
                "severity": cve.severities.get(pid),
                "vector": cve.vectors.get(pid),
            }
            for pid in sorted(set(cve.severities) | set(cve.vectors))
            if pid in document.products
        }
        data = {
            "month": document.document_id,
            "title": cve.title,
            "exploited": cve.exploited,
            "publicly_disclosed": cve.publicly_disclosed,
            "products": products,
        }
        affected = [
            AffectedPackage(ecosystem=ECOSYSTEM, package=product, ranges=ranges)
            for product, ranges in sorted(by_product.items())
        ]
        records.append(
            FeedRecord(
                feed=MSRC,
                record_id=f"{document.document_id}:{cve.cve}",
                groups=[[cve.cve]],
                content_hash=content_hash({"data": data, "affected": by_product}),
                source=source,
                modified=document.revised,
                published=document.released,
                summary=cve.title or None,
                data=data,
                affected=affected,
            )
        )
    return records
