"""What a finding shows of its vulnerability: computed CVSS, dates and KEV, from the advisories.

A refresh copies these onto the device's findings so the tab filters and sorts in SQL; the
flyout reads the advisories themselves for the description and references.

Limitation: the copy is as fresh as the device's last refresh: a feed import that changes a
vector or adds a KEV entry shows in the tab once the device's findings are refreshed (an
inventory upload, or whatever re-matches devices after a feed update).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hostwatch.vulns import cvss
from hostwatch.vulns.models import Advisory, AdvisoryLink

KEV = "kev"
_CHUNK = 5_000
# The keys refresh_device writes onto a finding, in one place so the diff compares them all.
KEYS = ("severity", "cvss_score", "cvss_version", "cvss_vector", "published", "updated", "kev")


def empty() -> dict[str, Any]:
    return dict.fromkeys(KEYS) | {"kev": False}


def of_vulnerabilities(
    session: Session, vulnerability_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The facts of each vulnerability, from its advisories that are not withdrawn."""
    ids = sorted(set(vulnerability_ids))
    advisories: dict[int, list[tuple[str, str, dict[str, Any], datetime | None, datetime | None]]]
    advisories = defaultdict(list)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(
                AdvisoryLink.vulnerability_id,
                Advisory.feed,
                Advisory.record_id,
                Advisory.data,
                Advisory.published,
                Advisory.modified,
            )
            .join(Advisory, Advisory.id == AdvisoryLink.advisory_id)
            .where(
                AdvisoryLink.vulnerability_id.in_(ids[start : start + _CHUNK]),
                Advisory.withdrawn.is_(None),
            )
        )
        for vulnerability_id, feed, record_id, data, published, modified in rows:
            advisories[vulnerability_id].append((feed, record_id, data or {}, published, modified))

    found: dict[int, dict[str, Any]] = {}
    for vulnerability_id in ids:
        records = advisories.get(vulnerability_id, [])
        facts = empty()
        score, _ = cvss.primary_score((feed, rid, data) for feed, rid, data, _, _ in records)
        if score is not None:
            facts.update(
                severity=score.severity,
                cvss_score=score.base_score,
                cvss_version=score.version,
                cvss_vector=score.vector,
            )
        # KEV's "published" is the day CISA listed it, not the vulnerability's publication.
        described = [r for r in records if r[0] != KEV]
        published = [r[3] for r in described if r[3] is not None]
        modified = [r[4] or r[3] for r in described if (r[4] or r[3]) is not None]
        facts["published"] = min(published) if published else None
        facts["updated"] = max(modified) if modified else None
        facts["kev"] = any(r[0] == KEV for r in records)
        found[vulnerability_id] = facts
    return found
