"""A device's exposure: a 0-100 score and a level from its open vulnerability findings.

Each open finding (status affected, not marked false positive or accepted risk by an analyst,
not covered by a recommendation exception) is a chance that the device can be attacked
through it:

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

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from hostwatch.db.base import utcnow
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


def counted_condition(now: datetime) -> Any:
    """Which findings count: affected ones that no analyst marked false positive or accepted
    risk, or whose marking has expired."""
    return and_(
        Finding.status == "affected",
        or_(
            Finding.marking.is_(None),
            and_(Finding.marking_expires.is_not(None), Finding.marking_expires <= now),
        ),
    )


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


def open_weaknesses(
    session: Session, device_id: str, now: datetime | None = None
) -> list[Weakness]:
    """Every counted finding of the device, with its CVSS (computed from the vector when the
    findings were refreshed, hostwatch.vulns.facts) and KEV threats."""
    rows = session.execute(
        select(
            Finding.id,
            Finding.software_id,
            Finding.vulnerability_id,
            Vulnerability.key,
            Software.name,
            Finding.installed_version,
            Finding.cvss_score,
        )
        .join(Vulnerability, Vulnerability.id == Finding.vulnerability_id)
        .join(Software, Software.id == Finding.software_id)
        .where(and_(Finding.device_id == device_id, counted_condition(now or utcnow())))
    ).all()
    vulnerability_ids = [row[2] for row in rows]
    threats = vulnerability_threats(session, vulnerability_ids)
    return [
        Weakness(
            finding_id=finding_id,
            software_id=software_id,
            vulnerability_id=vulnerability_id,
            key=key,
            software=name,
            version=version,
            cvss=score,
            exploited=threats.get(vulnerability_id, Threat()).exploited,
            ransomware=threats.get(vulnerability_id, Threat()).ransomware,
        )
        for finding_id, software_id, vulnerability_id, key, name, version, score in rows
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
    every = open_weaknesses(session, device_id, now) if weaknesses is None else weaknesses
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
