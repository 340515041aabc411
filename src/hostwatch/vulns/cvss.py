"""CVSS base scores computed from vectors, and the rule that picks a vulnerability's vector.

Feeds state scores beside their vectors, but a stated score can be stale or mistyped; the
vector is the measurement. Every score Hostwatch shows is computed here from the vector with
the `cvss` library (v2, v3.0, v3.1 and v4.0 rounding rules), never copied from a feed.

The primary vector of a vulnerability, in this order:

1. NVD's own assessment (metric type "Primary"): v3.1, then v3.0, then v4.0, then v2.
   NVD analyses every CVE the same way, so its vector compares across vendors.
2. A secondary NVD assessment (a CNA's), in the same version order.
3. The OSV records' `severity` vectors: CVSS_V3 (3.1 before 3.0), then CVSS_V4, then CVSS_V2.
4. Microsoft's vectors from its security update documents (one per product, usually the
   same; taken in product name order), for CVEs no other feed scores.

Within one step, advisories are taken in record id order so the choice is stable. A vector
the library refuses is reported (advisory, vector, reason) and passed over for the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4, CVSSError

log = logging.getLogger(__name__)

# NVD API 2.0 metric keys, by the CVSS version they hold, in order of preference.
_NVD_KEYS = ("cvssMetricV31", "cvssMetricV30", "cvssMetricV40", "cvssMetricV2")
# OSV severity types in order of preference (https://ossf.github.io/osv-schema/#severity-field).
_OSV_TYPES = ("CVSS_V3", "CVSS_V4", "CVSS_V2")
_MAX_VECTOR = 255


class VectorError(ValueError):
    """A CVSS vector the library cannot score."""


@dataclass(frozen=True)
class Score:
    version: str  # 2.0, 3.0, 3.1 or 4.0
    vector: str
    base_score: float
    severity: str  # none, low, medium, high, critical


@dataclass(frozen=True)
class Candidate:
    """A vector some advisory gives, with where it came from (to report it if malformed)."""

    advisory: str
    vector: str
    stated_score: float | None = None


@dataclass(frozen=True)
class Rejected:
    advisory: str
    vector: str
    reason: str


def version_of(vector: str) -> str:
    """The CVSS version a vector is written in; v2 vectors carry no prefix."""
    if vector.startswith("CVSS:4.0/"):
        return "4.0"
    if vector.startswith("CVSS:3.1/"):
        return "3.1"
    if vector.startswith("CVSS:3.0/"):
        return "3.0"
    if vector.startswith("CVSS:"):
        raise VectorError(f"unsupported CVSS version in {vector[:16]!r}")
    return "2.0"


def _v2_severity(score: float) -> str:
    # CVSS v2 has no severity ratings in its specification; NVD's are the ones in use.
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low"


def score(vector: str) -> Score:
    """Base score and severity of a vector; raises VectorError when it is malformed."""
    vector = vector.strip()
    if not vector or len(vector) > _MAX_VECTOR:
        raise VectorError("vector is empty or too long")
    version = version_of(vector)
    try:
        if version == "2.0":
            v2 = CVSS2(vector)
            base = float(v2.base_score)
            return Score(version, v2.clean_vector(), base, _v2_severity(base))
        if version == "4.0":
            v4 = CVSS4(vector)
            return Score(version, v4.clean_vector(), float(v4.base_score), v4.severity.lower())
        v3 = CVSS3(vector)
        return Score(version, v3.clean_vector(), float(v3.base_score), v3.severities()[0].lower())
    except (CVSSError, ValueError, KeyError, IndexError) as exc:
        raise VectorError(str(exc) or type(exc).__name__) from exc


def nvd_candidates(record_id: str, data: dict[str, Any]) -> tuple[list[Candidate], list[Candidate]]:
    """The NVD record's vectors: its own (Primary) ones and the CNAs' (Secondary), ordered."""
    metrics = data.get("metrics")
    primary: list[Candidate] = []
    secondary: list[Candidate] = []
    if not isinstance(metrics, dict):
        return primary, secondary
    for key in _NVD_KEYS:
        entries = metrics.get(key)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            cvss_data = entry.get("cvssData")
            vector = cvss_data.get("vectorString") if isinstance(cvss_data, dict) else None
            if not isinstance(vector, str):
                continue
            stated = cvss_data.get("baseScore") if isinstance(cvss_data, dict) else None
            found = Candidate(
                record_id, vector, float(stated) if isinstance(stated, int | float) else None
            )
            (primary if entry.get("type") == "Primary" else secondary).append(found)
    return primary, secondary


def osv_candidates(record_id: str, data: dict[str, Any]) -> list[Candidate]:
    severities = data.get("severity")
    if not isinstance(severities, list):
        return []
    found: list[tuple[int, int, Candidate]] = []
    for entry in severities:
        if not isinstance(entry, dict) or entry.get("type") not in _OSV_TYPES:
            continue
        vector = entry.get("score")
        if not isinstance(vector, str):
            continue
        rank = _OSV_TYPES.index(entry["type"])
        # Within CVSS_V3, 3.1 before 3.0.
        minor = 0 if vector.startswith("CVSS:3.1/") else 1
        found.append((rank, minor, Candidate(record_id, vector)))
    return [c for _, _, c in sorted(found, key=lambda f: (f[0], f[1]))]


def msrc_candidates(record_id: str, data: dict[str, Any]) -> list[Candidate]:
    products = data.get("products")
    if not isinstance(products, dict):
        return []
    found = []
    for name in sorted(products):
        entry = products[name]
        vector = entry.get("vector") if isinstance(entry, dict) else None
        if isinstance(vector, str) and vector:
            found.append(Candidate(record_id, vector))
    return found


def ordered_candidates(advisories: Iterable[tuple[str, str, dict[str, Any]]]) -> list[Candidate]:
    """Every vector of a vulnerability's advisories (feed, record id, data), best first."""
    nvd_primary: list[Candidate] = []
    nvd_secondary: list[Candidate] = []
    osv: list[Candidate] = []
    microsoft: list[Candidate] = []
    for feed, record_id, data in sorted(advisories, key=lambda a: (a[0], a[1])):
        if not isinstance(data, dict):
            continue
        if feed == "nvd":
            primary, secondary = nvd_candidates(record_id, data)
            nvd_primary.extend(primary)
            nvd_secondary.extend(secondary)
        elif feed == "osv":
            osv.extend(osv_candidates(record_id, data))
        elif feed == "msrc":
            microsoft.extend(msrc_candidates(record_id, data))
    return nvd_primary + nvd_secondary + osv + microsoft


def primary_score(
    advisories: Iterable[tuple[str, str, dict[str, Any]]],
) -> tuple[Score | None, list[Rejected]]:
    """The first vector that scores, by the module's rule, and the malformed ones before it.

    A feed's stated score that differs from the computed one is logged; the computed one
    is used.
    """
    rejected: list[Rejected] = []
    for candidate in ordered_candidates(advisories):
        try:
            result = score(candidate.vector)
        except VectorError as exc:
            log.warning(
                "advisory %s: CVSS vector %r is malformed, not scored: %s",
                candidate.advisory,
                candidate.vector[:_MAX_VECTOR],
                exc,
            )
            rejected.append(Rejected(candidate.advisory, candidate.vector, str(exc)))
            continue
        if candidate.stated_score is not None and candidate.stated_score != result.base_score:
            log.warning(
                "advisory %s: stated CVSS score %s differs from %s computed from %s; "
                "using the computed one",
                candidate.advisory,
                candidate.stated_score,
                result.base_score,
                result.vector,
            )
        return result, rejected
    return None, rejected
