"""NVD CVE API 2.0 responses (https://nvd.nist.gov/developers/vulnerabilities) and the
CISA Known Exploited Vulnerabilities catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hostwatch.vulns import cpe
from hostwatch.vulns.records import (
    KEV,
    NVD,
    FeedRecord,
    RecordError,
    content_hash,
    optional_time,
    parse_time,
)

NVD_FORMAT = "NVD_CVE"
NVD_VERSION = "2.0"
# NVD marks a withdrawn CVE as rejected (https://nvd.nist.gov/vuln/vulnerability-status).
REJECTED = "Rejected"


def looks_like_nvd(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("format") == NVD_FORMAT


def looks_like_kev(doc: Any) -> bool:
    return isinstance(doc, dict) and "catalogVersion" in doc and "vulnerabilities" in doc


def check_nvd_envelope(doc: dict[str, Any]) -> list[Any]:
    if str(doc.get("version")) != NVD_VERSION:
        raise RecordError(f"unknown NVD format version {doc.get('version')!r} (supported: 2.0)")
    items = doc.get("vulnerabilities")
    if not isinstance(items, list):
        raise RecordError("NVD response has no 'vulnerabilities' list")
    return items


def parse_nvd(doc: dict[str, Any], source: str) -> Iterator[FeedRecord | RecordError]:
    """One record per CVE; a malformed CVE is a RecordError in its place."""
    for index, item in enumerate(check_nvd_envelope(doc)):
        try:
            yield _cve(item, source)
        except (RecordError, cpe.CpeError) as exc:
            cve_id = item.get("cve", {}).get("id") if isinstance(item, dict) else None
            yield RecordError(f"vulnerabilities[{index}] ({cve_id or 'no id'}): {exc}")


def _cve(item: Any, source: str) -> FeedRecord:
    cve_doc = item.get("cve") if isinstance(item, dict) else None
    if not isinstance(cve_doc, dict):
        raise RecordError("no 'cve' object")
    cve_id = cve_doc.get("id")
    if not isinstance(cve_id, str) or not cve_id.startswith("CVE-"):
        raise RecordError("field 'id' is missing or not a CVE id")
    modified = parse_time(cve_doc.get("lastModified"), "'lastModified'")
    status = cve_doc.get("vulnStatus")
    configurations = cve_doc.get("configurations") or []
    products = cpe.validate_configurations(configurations, cve_id)
    english = [
        d.get("value")
        for d in cve_doc.get("descriptions") or []
        if isinstance(d, dict) and d.get("lang") == "en"
    ]
    return FeedRecord(
        feed=NVD,
        record_id=cve_id,
        groups=[[cve_id]],
        content_hash=content_hash(cve_doc),
        source=source,
        modified=modified,
        published=optional_time(cve_doc.get("published"), "'published'"),
        withdrawn=modified if status == REJECTED else None,
        summary=english[0] if english else None,
        data={
            "status": status,
            "descriptions": english,
            "metrics": cve_doc.get("metrics") or {},
            "weaknesses": cve_doc.get("weaknesses") or [],
            "references": cve_doc.get("references") or [],
        },
        configurations=configurations,
        cpe_products=products,
    )


def parse_kev(doc: dict[str, Any], source: str) -> Iterator[FeedRecord | RecordError]:
    """One record per catalog entry, named by its CVE."""
    items = doc.get("vulnerabilities")
    if not isinstance(items, list):
        yield RecordError("KEV catalog has no 'vulnerabilities' list")
        return
    for index, entry in enumerate(items):
        try:
            if not isinstance(entry, dict):
                raise RecordError("not a mapping")
            cve_id = entry.get("cveID")
            if not isinstance(cve_id, str) or not cve_id.startswith("CVE-"):
                raise RecordError("field 'cveID' is missing or not a CVE id")
            added = parse_time(entry.get("dateAdded"), f"{cve_id}: 'dateAdded'")
            yield FeedRecord(
                feed=KEV,
                record_id=cve_id,
                groups=[[cve_id]],
                content_hash=content_hash(entry),
                source=source,
                # The catalog gives no time of change per entry; its content hash tells.
                modified=None,
                published=added,
                summary=entry.get("vulnerabilityName") or None,
                data={
                    "catalog_version": doc.get("catalogVersion"),
                    "vendor": entry.get("vendorProject"),
                    "product": entry.get("product"),
                    "name": entry.get("vulnerabilityName"),
                    "date_added": entry.get("dateAdded"),
                    "due_date": entry.get("dueDate"),
                    "known_ransomware_use": entry.get("knownRansomwareCampaignUse"),
                    "required_action": entry.get("requiredAction"),
                    "description": entry.get("shortDescription"),
                    "notes": entry.get("notes"),
                    "cwes": entry.get("cwes") or [],
                },
            )
        except RecordError as exc:
            yield RecordError(f"vulnerabilities[{index}]: {exc}")
