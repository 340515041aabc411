"""OSV records (https://ossf.github.io/osv-schema/), from JSON or YAML, checked and read.

A record is refused as a whole, with the reason, when its schema version is not 1.x, when
`id` or `modified` is missing, or when a range or an affected package is malformed; the
import goes on with the other records.
"""

from __future__ import annotations

from typing import Any

from hostwatch.vulns import packages, ranges
from hostwatch.vulns.records import (
    OSV,
    AffectedPackage,
    FeedRecord,
    RecordError,
    content_hash,
    optional_time,
    parse_time,
    text_list,
)

SUPPORTED_SCHEMA_MAJOR = "1"
_RANGE_TYPES = ("ECOSYSTEM", "SEMVER", "GIT")


# Keys only OSV records have, among the YAML and JSON files found beside feeds (Sigma rules
# and SCA policies also have `id` and `modified`).
_OSV_KEYS = frozenset({"affected", "aliases", "schema_version", "withdrawn"})


def looks_like_osv(doc: Any) -> bool:
    """Whether a decoded document is meant as an OSV record (then it must be valid)."""
    return isinstance(doc, dict) and bool(_OSV_KEYS.intersection(doc))


def parse_record(doc: Any, source: str) -> FeedRecord:
    if not isinstance(doc, dict):
        raise RecordError("not an OSV record (expected a mapping at the top)")
    schema = doc.get("schema_version")
    if schema is not None and str(schema).split(".", 1)[0] != SUPPORTED_SCHEMA_MAJOR:
        raise RecordError(f"unknown OSV schema_version {schema!r} (supported: 1.x)")
    record_id = doc.get("id")
    if not isinstance(record_id, str) or not record_id.strip():
        raise RecordError("field 'id' is missing")
    record_id = record_id.strip()
    if "modified" not in doc:
        raise RecordError(f"{record_id}: field 'modified' is missing")
    modified = parse_time(doc["modified"], f"{record_id}: 'modified'")
    aliases = text_list(doc.get("aliases"), f"{record_id}: 'aliases'")
    affected_raw = doc.get("affected") or []
    if not isinstance(affected_raw, list):
        raise RecordError(f"{record_id}: 'affected' is not a list")

    affected: list[AffectedPackage] = []
    for index, entry in enumerate(affected_raw):
        found = _affected(entry, f"{record_id}: affected[{index}]")
        if found is not None:
            affected.append(found)

    summary = doc.get("summary") or doc.get("details")
    return FeedRecord(
        feed=OSV,
        record_id=record_id,
        groups=[[record_id, *aliases]],
        content_hash=content_hash(doc),
        source=source,
        modified=modified,
        published=optional_time(doc.get("published"), f"{record_id}: 'published'"),
        withdrawn=optional_time(doc.get("withdrawn"), f"{record_id}: 'withdrawn'"),
        summary=str(summary).strip() if summary else None,
        data={
            key: doc[key]
            for key in ("summary", "details", "severity", "references", "database_specific")
            if doc.get(key)
        },
        affected=affected,
    )


def _affected(entry: Any, where: str) -> AffectedPackage | None:
    if not isinstance(entry, dict):
        raise RecordError(f"{where} is not a mapping")
    package = entry.get("package")
    if package is None:
        # OSV allows an entry without a package (e.g. for a record about a whole product);
        # it says nothing Hostwatch can match.
        return None
    if not isinstance(package, dict):
        raise RecordError(f"{where}.package is not a mapping")
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not ecosystem.strip():
        raise RecordError(f"{where}.package: field 'ecosystem' is missing")
    if not isinstance(name, str) or not name.strip():
        raise RecordError(f"{where}.package: field 'name' is missing")
    ecosystem = packages.normalize_ecosystem(ecosystem)

    ranges_raw = entry.get("ranges") or []
    if not isinstance(ranges_raw, list):
        raise RecordError(f"{where}.ranges is not a list")
    checked = [_range(r, f"{where}.ranges[{i}]") for i, r in enumerate(ranges_raw)]
    listed = text_list(entry.get("versions"), f"{where}.versions")
    if not ranges.decidable(checked, listed):
        return None
    return AffectedPackage(
        ecosystem=ecosystem,
        package=packages.normalize_name(ecosystem, name),
        # GIT ranges stay out: they name commits, which no inventory has.
        ranges=[r for r in checked if r["type"] in ranges.VERSION_RANGE_TYPES],
        versions=listed,
    )


def _range(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where} is not a mapping")
    kind = value.get("type")
    if kind not in _RANGE_TYPES:
        raise RecordError(f"{where}: unknown range type {kind!r}")
    events = value.get("events")
    if not isinstance(events, list) or not events:
        raise RecordError(f"{where}: field 'events' is missing or empty")
    checked: list[dict[str, str]] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or len(event) != 1:
            raise RecordError(
                f"{where}.events[{index}] must have exactly one of introduced, "
                "fixed, last_affected, limit"
            )
        ((event_kind, bound),) = event.items()
        if event_kind not in ranges.event_kinds():
            raise RecordError(f"{where}.events[{index}]: unknown event {event_kind!r}")
        if not isinstance(bound, str | int | float) or not str(bound).strip():
            raise RecordError(f"{where}.events[{index}]: {event_kind} has no version")
        checked.append({event_kind: str(bound).strip()})
    if not any("introduced" in e for e in checked):
        raise RecordError(f"{where}: no 'introduced' event")
    return {"type": kind, "events": checked}
