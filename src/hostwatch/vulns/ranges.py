"""Whether an installed version falls in an OSV `affected` entry: its ranges and its versions.

Follows the OSV schema's evaluation (https://ossf.github.io/osv-schema/#evaluation): a
version is affected when it is listed in `versions` or lies in any ECOSYSTEM or SEMVER
range. A range is a sorted list of events; `introduced` opens an affected interval, `fixed`
closes it before the fixed version, `last_affected` closes it after the named version, and
`limit` events bound the whole range from above. GIT ranges name commits, not versions, and
are left out: an entry with only GIT ranges and no `versions` can not be decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hostwatch.vulns import versions

AFFECTED = "affected"
NOT_AFFECTED = "not_affected"
UNKNOWN = "unknown"

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
# At the same version an interval opens before it closes: introduced X, fixed X is empty.
_KIND_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2, "limit": 3}
VERSION_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")


@dataclass(frozen=True)
class Verdict:
    """The outcome for one installed version, with what decided it."""

    status: str
    # How it matched: {"versions": [...]} or {"range": ">=4.0, <4.3", "type": ..., "events": ...}
    evidence: dict[str, Any] = field(default_factory=dict)
    fixed: str | None = None
    reason: str | None = None


def range_scheme(range_type: str, ecosystem_scheme: str) -> str:
    return versions.SEMVER if range_type == "SEMVER" else ecosystem_scheme


def _sorted_events(scheme: str, events: list[dict[str, str]]) -> list[tuple[str, str, Any]] | None:
    """(kind, text, parsed) sorted by version; None if a bound is not a version of `scheme`."""
    parsed: list[tuple[str, str, Any]] = []
    for event in events:
        ((kind, text),) = event.items()
        if kind == "introduced" and text == "0":
            parsed.append((kind, text, None))
            continue
        value = versions.parse(scheme, text)
        if value is None:
            return None
        parsed.append((kind, text, value))
    # "0" (None) first, then by version, opening before closing at the same version.
    zero = [e for e in parsed if e[2] is None]
    rest = sorted((e for e in parsed if e[2] is not None), key=lambda e: _KIND_ORDER[e[0]])
    rest.sort(key=lambda e: e[2])
    return zero + rest


def describe(events: list[tuple[str, str, Any]], lower: int | None, upper: int | None) -> str:
    parts = []
    if lower is not None and events[lower][1] != "0":
        parts.append(f">={events[lower][1]}")
    if upper is not None:
        kind, text, _ = events[upper]
        parts.append(f"<={text}" if kind == "last_affected" else f"<{text}")
    return ", ".join(parts) or "all versions"


def in_range(
    scheme: str, installed: Any, events: list[dict[str, str]]
) -> tuple[str, str | None, str | None]:
    """(status, range text, fixed version) of one range for a parsed installed version."""
    ordered = _sorted_events(scheme, events)
    if ordered is None:
        return UNKNOWN, None, None
    return _in_ordered(ordered, [value for kind, _, value in ordered if kind == "limit"], installed)


def _in_ordered(
    ordered: list[tuple[str, str, Any]], limits: list[Any], installed: Any
) -> tuple[str, str | None, str | None]:
    if limits and not any(installed < limit for limit in limits):
        return NOT_AFFECTED, None, None
    affected = False
    lower: int | None = None
    for index, (kind, _, value) in enumerate(ordered):
        if kind == "introduced":
            if value is None or installed >= value:
                affected, lower = True, index
        elif kind == "fixed":
            if installed >= value:
                affected = False
        elif kind == "last_affected" and installed > value:
            affected = False
    if not affected:
        return NOT_AFFECTED, None, None
    upper = next(
        (
            i
            for i in range(lower + 1 if lower is not None else 0, len(ordered))
            if ordered[i][0] in ("fixed", "last_affected")
        ),
        None,
    )
    fixed = ordered[upper][1] if upper is not None and ordered[upper][0] == "fixed" else None
    return AFFECTED, describe(ordered, lower, upper), fixed


@dataclass(frozen=True)
class _Range:
    """One ECOSYSTEM or SEMVER range of an entry, its bounds parsed and sorted once."""

    type: str
    scheme: str
    events: list[dict[str, str]]
    # None: a bound is not a version of `scheme`, so the range can not be decided.
    ordered: list[tuple[str, str, Any]] | None
    limits: list[Any]


# Schemes whose parsed values hash as they compare equal, so `versions` can be a set.
_HASHABLE = (versions.PEP440, versions.DEBIAN, versions.VENDOR)


class Entry:
    """An affected entry (its ranges and `versions`) prepared to be evaluated many times:
    matching tests every installed version of a package against the same entry."""

    def __init__(self, scheme: str, ranges: list[dict[str, Any]], listed: list[str]) -> None:
        self.scheme = scheme
        self.ranges = ranges
        self.listed = listed
        self._listed_text = set(listed)
        # Parsed when an installed version is first not listed as written.
        self._listed_values: set[Any] | list[Any] | None = None
        self._ranges: list[_Range] = []
        for entry in ranges:
            range_type = entry.get("type")
            if range_type not in VERSION_RANGE_TYPES:
                continue
            entry_scheme = range_scheme(range_type, scheme)
            ordered = _sorted_events(entry_scheme, entry["events"])
            limits = [v for kind, _, v in ordered if kind == "limit"] if ordered else []
            self._ranges.append(_Range(range_type, entry_scheme, entry["events"], ordered, limits))

    def _values(self) -> set[Any] | list[Any]:
        if self._listed_values is None:
            parsed = (versions.parse(self.scheme, v) for v in self.listed)
            present = [value for value in parsed if value is not None]
            self._listed_values = set(present) if self.scheme in _HASHABLE else present
        return self._listed_values

    def evaluate(self, installed: str) -> Verdict:
        """The verdict for an installed version."""
        scheme = self.scheme
        parsed = versions.parse(scheme, installed)
        if installed in self._listed_text or (parsed is not None and parsed in self._values()):
            fixed = _fixed_above(scheme, parsed, self.ranges)
            return Verdict(AFFECTED, {"versions": "listed", "version": installed}, fixed=fixed)

        unknown_reason = None
        for known in self._ranges:
            value = parsed if known.scheme == scheme else versions.parse(known.scheme, installed)
            if value is None:
                unknown_reason = f"installed version {installed!r} is not a {known.scheme} version"
                continue
            if known.ordered is None:
                unknown_reason = (
                    f"a {known.type} range has a bound that is not a {known.scheme} version"
                )
                continue
            status, text, fixed = _in_ordered(known.ordered, known.limits, value)
            if status == AFFECTED:
                evidence = {"type": known.type, "range": text, "events": known.events}
                return Verdict(AFFECTED, evidence, fixed=fixed)
        if unknown_reason:
            return Verdict(UNKNOWN, {}, reason=unknown_reason)
        return Verdict(NOT_AFFECTED)


def evaluate(
    scheme: str,
    installed: str,
    ranges: list[dict[str, Any]],
    listed: list[str],
) -> Verdict:
    """The verdict of one affected entry (its ranges and `versions`) for an installed version."""
    return Entry(scheme, ranges, listed).evaluate(installed)


def _fixed_above(scheme: str, parsed: Any, ranges: list[dict[str, Any]]) -> str | None:
    """For a version matched by listing: the lowest `fixed` event above it in any range."""
    if parsed is None:
        return None
    best: tuple[Any, str] | None = None
    for entry in ranges:
        if entry.get("type") not in VERSION_RANGE_TYPES:
            continue
        entry_scheme = range_scheme(entry["type"], scheme)
        value = parsed if entry_scheme == scheme else versions.parse(entry_scheme, str(parsed))
        for event in entry["events"]:
            ((kind, text),) = event.items()
            if kind != "fixed":
                continue
            bound = versions.parse(entry_scheme, text)
            above = bound is not None and value is not None and bound > value
            if above and (best is None or bound < best[0]):
                best = (bound, text)
    return best[1] if best else None


def decidable(ranges: list[dict[str, Any]], listed: list[str]) -> bool:
    """Whether an entry says anything about versions (not only GIT commits)."""
    return bool(listed) or any(r.get("type") in VERSION_RANGE_TYPES for r in ranges)


def event_kinds() -> tuple[str, ...]:
    return _EVENT_KINDS
