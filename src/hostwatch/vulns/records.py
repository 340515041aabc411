"""What every feed parser produces: one `FeedRecord` per advisory, or a `RecordError`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OSV = "osv"
NVD = "nvd"
KEV = "kev"
DEBIAN = "debian"
MSRC = "msrc"
FEEDS = (OSV, NVD, KEV, DEBIAN, MSRC)


class RecordError(ValueError):
    """A record that can not be imported; the message says why (the caller adds where)."""


@dataclass
class AffectedPackage:
    ecosystem: str
    package: str
    ranges: list[dict[str, Any]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)


@dataclass
class FeedRecord:
    feed: str
    record_id: str
    # The identifiers of each vulnerability the record speaks of: one group for an OSV or
    # NVD record (its id and aliases), one per CVE for a Debian advisory.
    groups: list[list[str]]
    content_hash: str
    source: str
    modified: datetime | None = None
    published: datetime | None = None
    withdrawn: datetime | None = None
    summary: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    affected: list[AffectedPackage] = field(default_factory=list)
    configurations: list[Any] | None = None
    cpe_products: set[tuple[str, str]] = field(default_factory=set)


def content_hash(value: Any) -> str:
    """SHA-256 of a record's canonical JSON: key order and whitespace do not count."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any, what: str) -> datetime:
    """An RFC 3339 time (OSV) or NVD's zone-less UTC time, as an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{what} is missing or not a time string")
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{what} {value!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def optional_time(value: Any, what: str) -> datetime | None:
    return None if value in (None, "") else parse_time(value, what)


def text_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{what} is not a list of strings")
    return [v.strip() for v in value if v.strip()]
