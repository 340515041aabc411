"""Debian Security Tracker advisory lists (data/DSA/list, data/DLA/list), its own text format.

Each advisory is a header line, `[29 Mar 2023] DSA-5380-1 xorg-server - security update`,
then indented lines: the CVEs in braces, `{CVE-2023-1393 ...}`, and one line per release
with the source package and the version that fixes it,
`[bullseye] - xorg-server 2:1.20.11-1+deb11u6`, or a tag instead of a version
(`<not-affected>`, `<unfixed>`, `<end-of-life>`). NOTE lines are comments.
See https://security-team.debian.org/security_tracker.html for the format.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from hostwatch.vulns import versions
from hostwatch.vulns.packages import DEBIAN_RELEASES
from hostwatch.vulns.records import (
    DEBIAN,
    AffectedPackage,
    FeedRecord,
    RecordError,
    content_hash,
)

_HEADER = re.compile(r"^\[(\d{1,2} \w{3} \d{4})\]\s+((?:DSA|DLA)-\d+(?:-\d+)?)\s*(.*)$")
_RELEASE = re.compile(r"^\[([a-z-]+)\]\s+-\s+(\S+)\s+(\S+)(?:\s+.*)?$")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
SNIFF = re.compile(rb"^\s*\[\d{1,2} \w{3} \d{4}\]\s+D[SL]A-\d+")


def looks_like_tracker_list(data: bytes) -> bool:
    return bool(SNIFF.match(data[:200]))


def parse_list(text: str, source: str) -> Iterator[FeedRecord | RecordError]:
    """One record per advisory; a malformed one is a RecordError naming its line."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not line[0].isspace() and line.startswith("["):
            if block:
                yield _advisory(block, source)
            block = [(number, line)]
        elif block:
            block.append((number, line.strip()))
        else:
            yield RecordError(f"line {number}: text before the first advisory header")
    if block:
        yield _advisory(block, source)


def _advisory(block: list[tuple[int, str]], source: str) -> FeedRecord | RecordError:
    number, header = block[0]
    found = _HEADER.match(header)
    if not found:
        return RecordError(f"line {number}: not an advisory header: {header[:80]!r}")
    date_text, advisory_id, title = found.groups()
    try:
        published = datetime.strptime(date_text, "%d %b %Y").replace(tzinfo=UTC)
    except ValueError:
        return RecordError(f"line {number}: {advisory_id}: unreadable date {date_text!r}")

    cves: list[str] = []
    affected: list[AffectedPackage] = []
    fixes: list[dict[str, str]] = []
    for line_number, line in block[1:]:
        if line.startswith("{"):
            cves.extend(c for c in _CVE.findall(line) if c not in cves)
            continue
        if line.startswith("NOTE:"):
            continue
        release_line = _RELEASE.match(line)
        if not release_line:
            return RecordError(f"line {line_number}: {advisory_id}: unreadable line {line[:80]!r}")
        code_name, package, version = release_line.groups()
        release = DEBIAN_RELEASES.get(code_name)
        if release is None:
            return RecordError(f"line {line_number}: {advisory_id}: unknown release {code_name!r}")
        fixes.append({"release": code_name, "package": package, "version": version})
        if version in ("<not-affected>", "<end-of-life>", "<ignored>", "<no-dsa>"):
            continue
        if version == "<unfixed>":
            events = [{"introduced": "0"}]
        elif version.startswith("<"):
            return RecordError(f"line {line_number}: {advisory_id}: unknown tag {version!r}")
        elif versions.parse(versions.DEBIAN, version) is None:
            return RecordError(
                f"line {line_number}: {advisory_id}: {version!r} is not a Debian version"
            )
        else:
            events = [{"introduced": "0"}, {"fixed": version}]
        affected.append(
            AffectedPackage(
                ecosystem=f"Debian:{release}",
                package=package.lower(),
                ranges=[{"type": "ECOSYSTEM", "events": events}],
            )
        )

    # An advisory without CVEs (old ones, regression updates) stands for itself.
    groups = [[cve] for cve in cves] or [[advisory_id]]
    lines = [line for _, line in block]
    return FeedRecord(
        feed=DEBIAN,
        record_id=advisory_id,
        groups=groups,
        content_hash=content_hash(lines),
        source=source,
        # The lists give no time of change; the content hash tells.
        modified=None,
        published=published,
        summary=title.strip(" -") or None,
        data={"title": title.strip(" -"), "cves": cves, "fixes": fixes},
        affected=affected,
    )
