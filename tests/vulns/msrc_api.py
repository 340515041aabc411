"""Microsoft's security update API as the feed tests serve it: a month list built here, and
the real shared documents at /cvrf/{id}."""

from __future__ import annotations

import json

from tests.shared import shared_data

BASE = "/cvrf/v3.0"
INDEX = f"{BASE}/updates"
# Each month's records (one per CVE) in the shared documents.
RECORDS = {"2023-Dec": 51, "2024-Jan": 85, "2024-Feb": 96, "2024-Mar": 81}
RELEASED = {
    "2023-Dec": "2023-12-21T18:16:53Z",
    "2024-Jan": "2024-01-21T00:00:00Z",
    "2024-Feb": "2024-02-10T00:00:00Z",
    "2024-Mar": "2024-03-27T07:00:00Z",
}


def document_path(month: str) -> str:
    return f"{BASE}/cvrf/{month}"


def document(month: str) -> bytes:
    return shared_data("msrc_cvrf", f"cvrfDocument-{month}.xml").read_bytes()


def month_list(months: dict[str, str]) -> bytes:
    """The API's update list. The CvrfUrl is Microsoft's own, as the real list gives it: the
    updater reads documents from its configured base, so these must never be fetched."""
    value = [
        {
            "ID": month,
            "Alias": month,
            "DocumentTitle": f"{month} Security Updates",
            "Severity": None,
            "InitialReleaseDate": revised,
            "CurrentReleaseDate": revised,
            "CvrfUrl": f"https://api.msrc.microsoft.com/cvrf/v3.0/cvrf/{month}",
        }
        for month, revised in months.items()
    ]
    return json.dumps({"@odata.context": "$metadata#updates", "value": value}).encode()
