"""Request and response bodies of the discovered vulnerabilities API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["none", "low", "medium", "high", "critical"]
# A filter value for findings whose vulnerability has no vector that scores.
Unscored = Literal["unscored"]
# How the finding matched: affected by a decided range or CPE, or unknown (no version, or
# one the advisory cannot order). Unknown is never shown as affected.
MatchStatus = Literal["affected", "unknown"]
# The analyst's view: open, or marked (until the marking expires).
FindingStatus = Literal["open", "false_positive", "accepted_risk"]
Marking = Literal["false_positive", "accepted_risk"]
VulnerabilitySort = Literal[
    "cvss_score", "-cvss_score", "severity", "-severity", "published", "-published",
    "updated", "-updated", "cve", "-cve", "software", "-software", "status", "-status",
]  # fmt: skip


class Out(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Threats(Out):
    exploited_in_wild: bool = Field(description="listed in CISA's known exploited catalog")
    known_ransomware_use: bool | None = Field(
        description="CISA knows ransomware campaigns using it; null when not in the catalog"
    )
    kev_added: str | None = Field(description="the day CISA listed it (YYYY-MM-DD)")
    due_date: str | None = Field(description="CISA's remediation due date (YYYY-MM-DD)")


class SoftwareRef(Out):
    id: int
    name: str
    version: str | None
    source: str
    vendor: str | None


class VulnerabilityItem(BaseModel):
    """One finding in a list. With `fields`, only `id` and the fields asked for are present."""

    id: int
    cve: str | None = None
    aliases: list[str] | None = None
    severity: Severity | None = None
    cvss_score: float | None = None
    cvss_vector: str | None = None
    cvss_version: str | None = None
    software: SoftwareRef | None = None
    published: datetime | None = None
    updated: datetime | None = None
    threats: Threats | None = None
    fixed_version: str | None = None
    match: MatchStatus | None = None
    status: FindingStatus | None = None
    first_seen: datetime | None = None


class VulnerabilityPage(BaseModel):
    items: list[VulnerabilityItem]
    next_cursor: str | None
    total: int


class Reference(Out):
    url: str = Field(description="http or https only; others are left out")
    label: str | None = Field(description="the feed's type or tags for the link")


class Evidence(Out):
    feed: str
    advisory: str
    text: str = Field(description="how the advisory matched, written for a person")
    installed_version: str | None
    range: str | None = Field(description="the affected range, when a range matched")
    cpe: str | None = Field(description="the CPE the program matched, when NVD matched")
    fixed: str | None
    reason: str | None = Field(description="why the match could not be decided")


class MarkingOut(Out):
    marking: Marking
    reason: str
    expires_at: datetime | None
    expired: bool
    marked_by: str
    marked_at: datetime


class VulnerabilityDetail(Out):
    id: int
    device_id: str
    cve: str
    aliases: list[str]
    severity: Severity | None
    cvss_score: float | None
    cvss_vector: str | None
    cvss_version: str | None
    software: SoftwareRef
    published: datetime | None
    updated: datetime | None
    threats: Threats
    fixed_version: str | None
    match: MatchStatus
    status: FindingStatus
    first_seen: datetime
    last_seen: datetime
    description: str | None = Field(description="untrusted text from the feeds")
    references: list[Reference]
    evidence: list[Evidence]
    marking: MarkingOut | None = Field(description="the latest marking, even once expired")


class FindingPatch(BaseModel):
    """Mark a finding (a reason is required) or set it back to open."""

    model_config = ConfigDict(extra="forbid")

    status: FindingStatus
    reason: str | None = Field(default=None, max_length=2000)
    expires_at: datetime | None = Field(
        default=None, description="when the marking lapses and the finding is open again"
    )


class CoverageGroup(Out):
    source: str = Field(description="the inventory source: dpkg, pip, npm, windows, os, ...")
    matched_by: str = Field(
        description="an OSV ecosystem such as Debian:12, CPE (NVD) or MSRC; empty when none"
    )
    items: int
    checked: bool = Field(description="some imported feed data can match this software")
    reason: str


class Coverage(Out):
    """What the device's software was checked against: an empty list is 'nothing found' only
    for the groups checked."""

    assessed: bool = Field(description="at least one group was checked")
    groups: list[CoverageGroup] = Field(description="largest first")
