"""A device's exposure: a 0-100 score and a level from its open vulnerability findings.

Each open finding (status affected, not covered by a recommendation exception) is a chance
that the device can be attacked through it:

    likelihood = (cvss / 10) ** 2 * (1.0 if the CVE is in CISA's KEV catalog else 0.6)

with `cvss` the vulnerability's CVSS base score, or 5.0 when no feed gives a vector. The
score is the chance that at least one of them is used, in whole points:

    score = round(100 * (1 - product(1 - likelihood)))

So no findings score 0; one CVSS 9.8 finding scores 58, the same one in KEV 96; ten CVSS 5.0
findings 80. Every finding added, every higher CVSS and every KEV listing raises the score
or leaves it, never lowers it, and it never passes 100. The level is low below 30, medium
from 30, high from 70. Findings of unknown status (no version, or one the advisory can not
order) are counted apart and never in the score: they are not known to be affected.

Limitation: the level and score stored on the device (what the device list filters on) are
as of its last findings refresh; a feed import, or an exception reaching its expiry, shows
in them only at the next refresh. The sidebar assesses afresh on every read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from hostwatch.devices.models import Software
from hostwatch.vulns.models import Advisory, AdvisoryLink, Finding, Vulnerability
from hostwatch.vulns.recommendation_model import EXCEPTION, Recommendation

log = logging.getLogger(__name__)

UNKNOWN_CVSS = 5.0
KEV_FACTOR = 1.0
OTHER_FACTOR = 0.6
MEDIUM_FROM = 30
HIGH_FROM = 70
LEVELS = ("low", "medium", "high")
# How many findings are named as what drives the score.
MAX_DRIVERS = 5
_IN_CHUNK = 5_000


@dataclass(frozen=True)
class Threat:
    exploited: bool = False
    ransomware: bool = False
    due_date: str | None = None


@dataclass(frozen=True)
class Weakness:
    """One open affected finding as the score sees it."""

    finding_id: int
    software_id: int
    vulnerability_id: int
    key: str
    software: str
    version: str
    cvss: float | None
    exploited: bool
    ransomware: bool

    @cached_property
    def likelihood(self) -> float:
        return likelihood(self.cvss, self.exploited)


@dataclass(frozen=True)
class Exposure:
    score: int
    level: str
    counted: int
    exploited: int
    unknown: int
    excepted: int
    drivers: list[Weakness]


def likelihood(cvss: float | None, exploited: bool) -> float:
    severity = (UNKNOWN_CVSS if cvss is None else min(max(cvss, 0.0), 10.0)) / 10.0
    return severity * severity * (KEV_FACTOR if exploited else OTHER_FACTOR)


@dataclass(frozen=True)
class Untouched:
    """The chance that none of a set of findings is used, product(1 - likelihood), kept as a
    sum of logarithms and a count of certain findings (likelihood 1), so that a product's
    findings can be taken out of a device's set or added to it without going over the rest:
    a device with thousands of findings and products stays linear."""

    log_sum: float = 0.0
    certain: int = 0

    @classmethod
    def of(cls, likelihoods: Iterable[float]) -> Untouched:
        log_sum, certain = 0.0, 0
        for chance in likelihoods:
            if chance >= 1.0:
                certain += 1
            else:
                log_sum += math.log1p(-chance)
        return cls(log_sum, certain)

    def plus(self, other: Untouched) -> Untouched:
        return Untouched(self.log_sum + other.log_sum, self.certain + other.certain)

    def minus(self, other: Untouched) -> Untouched:
        return Untouched(self.log_sum - other.log_sum, self.certain - other.certain)

    def score(self) -> int:
        untouched = 0.0 if self.certain > 0 else math.exp(min(self.log_sum, 0.0))
        # Half up, not to even: the documented rounding, the same on every platform.
        return min(100, math.floor(100.0 * (1.0 - untouched) + 0.5))


def score_of(likelihoods: Iterable[float]) -> int:
    return Untouched.of(likelihoods).score()


def level_of(score: int) -> str:
    if score >= HIGH_FROM:
        return "high"
    return "medium" if score >= MEDIUM_FROM else "low"


def _vector_score(kind: str, vector: str) -> float | None:
    try:
        if kind.endswith("V4") or vector.startswith("CVSS:4"):
            return float(CVSS4(vector).base_score)
        if kind.endswith("V3") or vector.startswith("CVSS:3"):
            return float(CVSS3(vector).base_score)
        return float(CVSS2(vector).base_score)
    except Exception:  # the cvss library raises its own error classes for malformed vectors
        log.debug("CVSS vector %r is not valid; its score is not used", vector)
        return None


def _advisory_vectors(feed: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """(version, vector) pairs an advisory gives: OSV `severity`, NVD `metrics`."""
    found: list[tuple[str, str]] = []
    if feed == "osv":
        for entry in data.get("severity") or []:
            if isinstance(entry, dict) and isinstance(entry.get("score"), str):
                found.append((str(entry.get("type", "")), entry["score"]))
    elif feed == "nvd":
        for name, kind in (
            ("cvssMetricV31", "CVSS_V3"),
            ("cvssMetricV30", "CVSS_V3"),
            ("cvssMetricV40", "CVSS_V4"),
            ("cvssMetricV2", "CVSS_V2"),
        ):
            for metric in (data.get("metrics") or {}).get(name) or []:
                vector = (metric.get("cvssData") or {}).get("vectorString")
                if isinstance(vector, str):
                    found.append((kind, vector))
    return found


_PREFERENCE = {"CVSS_V3": 0, "CVSS_V4": 1, "CVSS_V2": 2}


def vulnerability_cvss(session: Session, vulnerability_ids: Sequence[int]) -> dict[int, float]:
    """The CVSS base score of each vulnerability, computed from the vectors its advisories give.

    The newest v3.x vector wins over v4.0 and v2 (v3 is what most feeds and tools rate by);
    of several vectors of one version, the highest score. This is the one place exposure and
    recommendations read CVSS from.

    Limitation: a stand-in until hostwatch.vulns.cvss (built beside this) lands; on merge,
    this function should call it instead of scoring vectors itself. It reads each advisory's
    whole `data` JSON to find the vectors, which is most of a large device's recommendations
    refresh on SQLite (bench/vulns.py: 30 s for the 3,000-item Debian device under load 11);
    scores stored per vulnerability at import would make it one narrow read.
    """
    best: dict[int, tuple[int, float]] = {}
    ids = sorted(set(vulnerability_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        rows = session.execute(
            select(AdvisoryLink.vulnerability_id, Advisory.feed, Advisory.data)
            .join(Advisory, Advisory.id == AdvisoryLink.advisory_id)
            .where(
                AdvisoryLink.vulnerability_id.in_(ids[start : start + _IN_CHUNK]),
                Advisory.feed.in_(("osv", "nvd")),
                Advisory.withdrawn.is_(None),
            )
        )
        for vulnerability_id, feed, data in rows:
            for kind, vector in _advisory_vectors(feed, data or {}):
                score = _vector_score(kind, vector)
                if score is None:
                    continue
                rank = _PREFERENCE.get(kind, 3)
                held = best.get(vulnerability_id)
                if held is None or rank < held[0] or (rank == held[0] and score > held[1]):
                    best[vulnerability_id] = (rank, score)
    return {vulnerability_id: score for vulnerability_id, (_, score) in best.items()}


def vulnerability_threats(session: Session, vulnerability_ids: Sequence[int]) -> dict[int, Threat]:
    """What CISA's KEV catalog says of each vulnerability it lists.

    The catalog is small (about 1,400 entries) and a device's vulnerabilities can be many
    thousands, so the whole catalog is read and filtered here rather than asked by id.
    """
    wanted = set(vulnerability_ids)
    threats: dict[int, Threat] = {}
    rows = session.execute(
        select(AdvisoryLink.vulnerability_id, Advisory.data)
        .join(Advisory, Advisory.id == AdvisoryLink.advisory_id)
        .where(Advisory.feed == "kev", Advisory.withdrawn.is_(None))
    )
    for vulnerability_id, data in rows:
        if vulnerability_id not in wanted:
            continue
        ransomware = str((data or {}).get("known_ransomware_use") or "").lower() == "known"
        threats[vulnerability_id] = Threat(True, ransomware, (data or {}).get("due_date"))
    return threats


def counted_condition() -> Any:
    """Which findings count: affected ones. Findings an analyst marks otherwise (false
    positive, accepted risk) carry another status and so drop out here."""
    return Finding.status == "affected"


def excepted_software(session: Session, device_id: str, now: datetime) -> set[int]:
    """The installed items covered by a recommendation exception still in force."""
    rows = session.scalars(
        select(Recommendation.components).where(
            Recommendation.device_id == device_id,
            Recommendation.status == EXCEPTION,
            or_(
                Recommendation.exception_expires.is_(None),
                Recommendation.exception_expires > now,
            ),
        )
    )
    return {int(item["software_id"]) for components in rows for item in components or []}


def open_weaknesses(session: Session, device_id: str) -> list[Weakness]:
    """Every counted finding of the device, with its CVSS and KEV threats."""
    rows = session.execute(
        select(
            Finding.id,
            Finding.software_id,
            Finding.vulnerability_id,
            Vulnerability.key,
            Software.name,
            Finding.installed_version,
        )
        .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
        .join(Software, Software.id == Finding.software_id)
        .where(and_(Finding.device_id == device_id, counted_condition()))
    ).all()
    vulnerability_ids = [row[2] for row in rows]
    scores = vulnerability_cvss(session, vulnerability_ids)
    threats = vulnerability_threats(session, vulnerability_ids)
    return [
        Weakness(
            finding_id=finding_id,
            software_id=software_id,
            vulnerability_id=vulnerability_id,
            key=key,
            software=name,
            version=version,
            cvss=scores.get(vulnerability_id),
            exploited=threats.get(vulnerability_id, Threat()).exploited,
            ransomware=threats.get(vulnerability_id, Threat()).ransomware,
        )
        for finding_id, software_id, vulnerability_id, key, name, version in rows
    ]


def drivers_of(weaknesses: Iterable[Weakness]) -> list[Weakness]:
    """The findings that weigh most, heaviest first (ties: higher CVSS, then CVE name)."""
    ordered = sorted(weaknesses, key=lambda w: (-w.likelihood, -(w.cvss or 0.0), w.key, w.software))
    return ordered[:MAX_DRIVERS]


def assess(
    session: Session,
    device_id: str,
    now: datetime,
    weaknesses: list[Weakness] | None = None,
) -> Exposure:
    """The device's exposure from its counted findings, less those under an exception."""
    every = open_weaknesses(session, device_id) if weaknesses is None else weaknesses
    excepted = excepted_software(session, device_id, now)
    counted = [w for w in every if w.software_id not in excepted]
    unknown = (
        session.scalar(
            select(func.count(Finding.id)).where(
                Finding.device_id == device_id, Finding.status == "unknown"
            )
        )
        or 0
    )
    score = score_of(w.likelihood for w in counted)
    return Exposure(
        score=score,
        level=level_of(score),
        counted=len(counted),
        exploited=sum(1 for w in counted if w.exploited),
        unknown=unknown,
        excepted=len(every) - len(counted),
        drivers=drivers_of(counted),
    )
