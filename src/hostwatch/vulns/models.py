"""Tables of the vulnerability knowledge base and of the findings on devices.

A vulnerability is one weakness under all its names (CVE, GHSA, PYSEC, ...). Each feed
record is an advisory: what one feed said, when, and with which content; an advisory links
to the vulnerabilities it speaks of (an OSV record to one, a Debian DSA to each of its
CVEs). What an advisory says about packages is in `vuln_affected` (OSV ranges and version
lists, Debian fixed versions) and `vuln_cpe` (the CPE products of NVD configurations, for
finding candidates; the configurations themselves stay on the advisory).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from hostwatch.db.base import Base, JSONType, utcnow


class Vulnerability(Base):
    __tablename__ = "vuln_vulnerabilities"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # The name shown: the CVE when one is known, else the first identifier seen.
    key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VulnIdentifier(Base):
    """Every name of a vulnerability (its key too): aliases join here."""

    __tablename__ = "vuln_identifiers"
    __table_args__ = (Index("ix_vuln_identifiers_vulnerability", "vulnerability_id"),)

    identifier: Mapped[str] = mapped_column(String(128), primary_key=True)
    vulnerability_id: Mapped[int] = mapped_column(
        ForeignKey("vuln_vulnerabilities.id", ondelete="CASCADE")
    )


class Advisory(Base):
    """One feed record, as last imported."""

    __tablename__ = "vuln_advisories"
    __table_args__ = (UniqueConstraint("feed", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # osv, nvd, kev, debian
    feed: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(128))
    # The feed's own time of the record's last change, when it gives one.
    modified: Mapped[datetime | None] = mapped_column(default=None)
    published: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the feed withdrew (OSV) or rejected (NVD) the record: it no longer matches.
    withdrawn: Mapped[datetime | None] = mapped_column(default=None)
    # SHA-256 of the record's canonical content: an import skips a record that has not changed.
    content_hash: Mapped[str] = mapped_column(String(64))
    # The file (and archive member) the record was last read from.
    source: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    # What the feed says beyond packages: severity vectors, references, KEV dates, ...
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # NVD applicability statements (configurations), as the feed gives them.
    configurations: Mapped[list[Any] | None] = mapped_column(JSONType, default=None)
    first_imported: Mapped[datetime] = mapped_column(default=utcnow)
    last_changed: Mapped[datetime] = mapped_column(default=utcnow)


class AdvisoryLink(Base):
    __tablename__ = "vuln_advisory_links"
    __table_args__ = (Index("ix_vuln_advisory_links_vulnerability", "vulnerability_id"),)

    advisory_id: Mapped[int] = mapped_column(
        ForeignKey("vuln_advisories.id", ondelete="CASCADE"), primary_key=True
    )
    vulnerability_id: Mapped[int] = mapped_column(
        ForeignKey("vuln_vulnerabilities.id", ondelete="CASCADE"), primary_key=True
    )


class Affected(Base):
    """One package an advisory names, in one ecosystem, with its ranges and versions."""

    __tablename__ = "vuln_affected"
    __table_args__ = (
        Index("ix_vuln_affected_package", "ecosystem", "package"),
        Index("ix_vuln_affected_advisory", "advisory_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    advisory_id: Mapped[int] = mapped_column(ForeignKey("vuln_advisories.id", ondelete="CASCADE"))
    # As OSV names it, release included: PyPI, npm, Debian:11, Ubuntu:22.04, Alpine:v3.18.
    ecosystem: Mapped[str] = mapped_column(String(64))
    # Normalized (see hostwatch.vulns.packages.normalize_name).
    package: Mapped[str] = mapped_column(String(255))
    ranges: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    versions: Mapped[list[str]] = mapped_column(JSONType, default=list)


class CpeProduct(Base):
    """A vendor:product an NVD advisory's configurations name: where matching starts."""

    __tablename__ = "vuln_cpe"
    __table_args__ = (
        Index("ix_vuln_cpe_product", "vendor", "product"),
        Index("ix_vuln_cpe_advisory", "advisory_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    advisory_id: Mapped[int] = mapped_column(ForeignKey("vuln_advisories.id", ondelete="CASCADE"))
    vendor: Mapped[str] = mapped_column(String(128))
    product: Mapped[str] = mapped_column(String(128))


class Finding(Base):
    """One vulnerability of one installed product on one device, and how it matched."""

    __tablename__ = "vuln_findings"
    __table_args__ = (
        UniqueConstraint("software_id", "vulnerability_id"),
        Index("ix_vuln_findings_device", "device_id", "status"),
        Index("ix_vuln_findings_vulnerability", "vulnerability_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    software_id: Mapped[int] = mapped_column(ForeignKey("software.id", ondelete="CASCADE"))
    vulnerability_id: Mapped[int] = mapped_column(
        ForeignKey("vuln_vulnerabilities.id", ondelete="CASCADE")
    )
    # affected, or unknown (the product has no version, or one the advisory can not order).
    status: Mapped[str] = mapped_column(String(16))
    installed_version: Mapped[str] = mapped_column(String(255), default="")
    # The lowest version that fixes it according to every matching advisory, if any says.
    fixed_version: Mapped[str | None] = mapped_column(String(255), default=None)
    # One entry per matching advisory: feed, advisory id, range or CPE, versions.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    # The vulnerability's facts as of the last refresh, kept here so the tab filters and
    # sorts in SQL: the CVSS computed from its primary vector (vulns/cvss.py), its feeds'
    # publication and change times, and whether CISA lists it as exploited.
    severity: Mapped[str | None] = mapped_column(String(16), default=None)
    cvss_score: Mapped[float | None] = mapped_column(Float(), default=None)
    cvss_version: Mapped[str | None] = mapped_column(String(8), default=None)
    cvss_vector: Mapped[str | None] = mapped_column(String(255), default=None)
    published: Mapped[datetime | None] = mapped_column(default=None)
    updated: Mapped[datetime | None] = mapped_column(default=None)
    kev: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An analyst's marking (false_positive or accepted_risk), which a refresh leaves alone;
    # past its expiry the finding reads as open again.
    marking: Mapped[str | None] = mapped_column(String(16), default=None)
    marking_reason: Mapped[str | None] = mapped_column(Text, default=None)
    marking_expires: Mapped[datetime | None] = mapped_column(default=None)
    marked_by: Mapped[str | None] = mapped_column(String(128), default=None)
    marked_at: Mapped[datetime | None] = mapped_column(default=None)
