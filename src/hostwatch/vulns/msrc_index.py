"""The month list of Microsoft's security update API, and which months an update fetches.

`GET {base}/updates` (JSON) lists every monthly document: its id ("2024-Jan"), its
CurrentReleaseDate (moved on each revision) and its CvrfUrl. A month is fetched when it is
not stored yet or when the list shows a revision date other than the one stored.

The document is read from `{base}/cvrf/{id}`, which is where the list's CvrfUrl points in
Microsoft's API. The CvrfUrl itself is not followed: a list that named another host would
otherwise choose where the documents come from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from hostwatch.ingest.evtx import Problem

# The API's month ids, the same form the documents carry (msrc._DOCUMENT_ID).
_MONTH_ID = re.compile(r"^\d{4}-[A-Z][a-z]{2}$")


class MonthListError(ValueError):
    """The month list can not be read at all; the message says why."""


@dataclass(frozen=True)
class Month:
    document_id: str
    # The list's CurrentReleaseDate: the revision of the document it describes.
    revised: datetime
    url: str


def document_url(base: str, document_id: str) -> str:
    return f"{base.rstrip('/')}/cvrf/{quote(document_id, safe='')}"


def read_index(body: bytes, base: str, where: str) -> tuple[list[Month], list[Problem]]:
    """The months the list names; an entry that is not usable is a problem, the rest go on."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise MonthListError(f"the update list is not valid JSON: {exc}") from exc
    entries = doc.get("value") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise MonthListError("the update list has no 'value' array of months")
    months: dict[str, Month] = {}
    problems: list[Problem] = []
    for number, entry in enumerate(entries):
        month, reason = _month(entry, base)
        if month is None:
            problems.append(Problem(where, f"value[{number}]: {reason}; skipped"))
            continue
        months[month.document_id] = month
    return list(months.values()), problems


def _month(entry: Any, base: str) -> tuple[Month | None, str]:
    if not isinstance(entry, dict):
        return None, "not an object"
    document_id = entry.get("ID")
    if not isinstance(document_id, str) or not _MONTH_ID.match(document_id):
        return None, f"ID {document_id!r} is not a month id of the form 2024-Feb"
    revised = _time(entry.get("CurrentReleaseDate"))
    if revised is None:
        return None, f"{document_id}: CurrentReleaseDate is missing or not a time"
    return Month(document_id, revised, document_url(base, document_id)), ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def wanted(month: Month, stored_url: str | None, stored_revision: datetime | None) -> bool:
    """Whether a month must be fetched: not stored from this URL, or revised since."""
    return stored_url != month.url or stored_revision != month.revised
