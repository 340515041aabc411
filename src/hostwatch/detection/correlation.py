"""Sigma correlation rules over base-rule matches: counts within a timespan, per group.

A correlation rule (event_count, value_count, temporal, temporal_ordered) refers to base
rules by id or name. Each base-rule match of a device's event is kept, with the values of
the correlation's group-by fields, in `correlation_matches`, so that a window spans
batches, imports and agent uploads. After each batch, the windows of every group the
batch touched are evaluated again over the kept matches around the new ones, in time
order whatever order the events came in: a window starts at a match and lasts the
timespan (both ends included). Every match inside a window that meets the condition
joins the correlation's alert for that group (hostwatch.detection.alerts), so that a
brute force that goes on is one alert whose event count grows.

Limitation: windows are per device: a spray seen by two domain controllers is counted on
each of them apart. Events with no value for a group-by field group under an empty value.
Limitation: an alert raised by a window that met an upper-bound condition (lt, lte, eq,
range) stays when later events push that window's count past the bound.
Limitation: kept matches are deleted only with their events (or their rule).

A base rule excluded on a device (hostwatch.detection.catalog) feeds no correlation there;
a correlation excluded on a device raises no alert there, and its matches are counted in
the detection result's `excluded`.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hostwatch.detection.alerts import MAX_ENTITY_LENGTH, MAX_GROUP_KEY, Hit
from hostwatch.detection.models import CorrelationMatch
from hostwatch.detection.rules import CompiledCorrelation, RuleInfo
from hostwatch.detection.view import sigma_view
from hostwatch.events.models import Event

log = logging.getLogger(__name__)

MAX_VALUE = 1024
# Columns of a stored event that alerting reads, for matches of earlier batches.
_EVENT_COLUMNS = (
    Event.id,
    Event.device_id,
    Event.time,
    Event.user,
    Event.process_image,
    Event.process_guid,
    Event.target_file,
    Event.remote_address,
)


@dataclass(frozen=True)
class Resolved:
    """A correlation rule with its references resolved to the ids of enabled base rules."""

    spec: CompiledCorrelation
    rule_ids: tuple[str, ...]
    # Per base rule: the event field of each group-by name (aliases resolved), and of the
    # counted field of value_count.
    group_fields: Mapping[str, tuple[str, ...]]
    value_fields: Mapping[str, str | None]

    @property
    def id(self) -> str:
        return self.spec.info.id

    @property
    def timespan(self) -> timedelta:
        return timedelta(seconds=self.spec.timespan_seconds)


@dataclass
class CorrelationSet:
    """The enabled correlation rules of a detector, indexed by the base rules they read."""

    by_rule: dict[str, list[Resolved]] = field(default_factory=dict)
    infos: dict[str, RuleInfo] = field(default_factory=dict)
    # Base rules that raise no alerts of their own: every correlation that refers to them
    # (enabled or not) says `generate: false`, as Sigma's default is.
    silent: frozenset[str] = frozenset()
    # Correlations that cannot run, with why (a reference to a rule not enabled).
    unusable: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        enabled: Iterable[CompiledCorrelation],
        disabled: Iterable[CompiledCorrelation],
        rules: Mapping[str, RuleInfo],
    ) -> CorrelationSet:
        by_name = {info.name: rule_id for rule_id, info in rules.items() if info.name}
        found = cls()
        generating: set[str] = set()
        quiet: set[str] = set()
        for spec in [*enabled, *disabled]:
            ids = [ref if ref in rules else by_name.get(ref) for ref in spec.references]
            for rule_id in ids:
                if rule_id is not None:
                    (generating if spec.generate else quiet).add(rule_id)
        for spec in enabled:
            ids = [ref if ref in rules else by_name.get(ref) for ref in spec.references]
            missing = [
                ref for ref, rule_id in zip(spec.references, ids, strict=True) if not rule_id
            ]
            if missing:
                # Limitation: a correlation reads only enabled base rules; disabling a base
                # rule stops its correlations too (logged, and listed as unusable).
                reason = f"refers to {missing[0]!r}, which is not an enabled rule"
                found.unusable.append((spec.info.id, reason))
                log.warning("correlation %s cannot run: %s", spec.info.id, reason)
                continue
            resolved = _resolve(spec, [i for i in ids if i is not None])
            found.infos[spec.info.id] = spec.info
            for rule_id in dict.fromkeys(resolved.rule_ids):
                found.by_rule.setdefault(rule_id, []).append(resolved)
        found.silent = frozenset(quiet - generating)
        return found


def _resolve(spec: CompiledCorrelation, rule_ids: list[str]) -> Resolved:
    # An alias maps a group-by name to each reference's own field; a reference may be
    # written as the id or the name, so the alias is looked up by the reference as written.
    aliases = {alias: dict(mapping) for alias, mapping in spec.aliases}
    group_fields: dict[str, tuple[str, ...]] = {}
    value_fields: dict[str, str | None] = {}
    for reference, rule_id in zip(spec.references, rule_ids, strict=True):
        group_fields[rule_id] = tuple(
            aliases.get(name, {}).get(reference, name) for name in spec.group_by
        )
        value_fields[rule_id] = (
            aliases.get(spec.field, {}).get(reference, spec.field) if spec.field else None
        )
    return Resolved(spec, tuple(rule_ids), group_fields, value_fields)


@dataclass(frozen=True, slots=True)
class Entry:
    """One kept match, as window evaluation sees it."""

    time: datetime
    event_id: int
    rule_id: str
    value: str | None


def meets(spec: CompiledCorrelation, count: int) -> bool:
    """Whether a window's count meets the correlation's condition."""
    op, bound = spec.op, spec.count
    if spec.high is not None:
        return bound <= count <= spec.high
    if op == "gte":
        return count >= bound
    if op == "gt":
        return count > bound
    if op == "lte":
        return count <= bound
    if op == "lt":
        return count < bound
    if op == "eq":
        return count == bound
    return count != bound


def in_firing_windows(
    spec: CompiledCorrelation, rule_ids: Sequence[str], entries: Sequence[Entry]
) -> set[int]:
    """Event ids of the entries inside some window that meets the condition.

    `entries` of one group, sorted by time. Windows start at each entry and end `timespan`
    later, ends included; the count of a window is its events (event_count), the distinct
    values of the counted field (value_count), the distinct base rules that matched in it
    (temporal), or how many of the base rules matched in their order (temporal_ordered).
    """
    span = timedelta(seconds=spec.timespan_seconds)
    size = len(entries)
    # Per window start, one past its last entry.
    ends = []
    end = 0
    for start in range(size):
        limit = entries[start].time + span
        end = max(end, start)
        while end < size and entries[end].time <= limit:
            end += 1
        ends.append(end)

    # Per entry, how many meeting windows hold it (a running sum of +1 at a window's start
    # and -1 past its end), so that marking costs one step per window, not one per entry.
    marks = [0] * (size + 1)
    counter: Counter[Any] = Counter()
    end = 0
    for start in range(size):
        # The window [start, ends[start]) as a multiset of what it counts.
        while end < ends[start]:
            counter[_counted(spec.kind, entries[end])] += 1
            end += 1
        if spec.kind == "temporal_ordered":
            count = _in_order(rule_ids, entries[start:end])
        else:
            count = len(counter) - (1 if None in counter else 0)
        if meets(spec, count):
            marks[start] += 1
            marks[end] -= 1
        key = _counted(spec.kind, entries[start])
        counter[key] -= 1
        if counter[key] <= 0:
            del counter[key]
    firing: set[int] = set()
    running = 0
    for index in range(size):
        running += marks[index]
        if running > 0:
            firing.add(entries[index].event_id)
    return firing


def _counted(kind: str, entry: Entry) -> Any:
    if kind == "value_count":
        return entry.value
    if kind in ("temporal", "temporal_ordered"):
        return entry.rule_id
    return entry.event_id


def _in_order(rule_ids: Sequence[str], window: Sequence[Entry]) -> int:
    """How many of the rules match one after another in the window, from its first entry."""
    if not window or window[0].rule_id != rule_ids[0]:
        return 0
    wanted = 0
    for entry in window:
        if wanted < len(rule_ids) and entry.rule_id == rule_ids[wanted]:
            wanted += 1
    return wanted


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\x00".join(str(item) for item in value)
    return "" if value is None else str(value)


def group_key(names: Sequence[str], values: Sequence[str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in zip(names, values, strict=True))[
        :MAX_GROUP_KEY
    ]


# Group-by fields that name an account, and those that name a remote address, as entities.
_USER_WORDS = ("user", "account", "subjectname", "targetname")
_ADDRESS_WORDS = ("ipaddress", "sourceaddress", "sourceip", "clientaddress", "destinationip", "ip")


def entity_kind(name: str) -> str | None:
    lowered = name.lower()
    if any(word in lowered for word in _USER_WORDS):
        return "user"
    if lowered in _ADDRESS_WORDS or lowered.endswith(("address", "ip")):
        return "remote_address"
    return None


@dataclass
class _Group:
    resolved: Resolved
    key: str
    entities: tuple[tuple[str, str], ...]
    new: list[Entry] = field(default_factory=list)


def evaluate(
    session: Session,
    device_id: str,
    hits: Sequence[Hit],
    correlations: CorrelationSet,
) -> list[Hit]:
    """The correlation hits that a device's base-rule hits bring about.

    Keeps the base hits the correlations read, then evaluates the windows of each group
    they touched; returns one hit per event inside a window that meets its condition
    (events already in the correlation's alert are left out by alerting).
    """
    groups: dict[tuple[str, str], _Group] = {}
    rows: dict[int, Mapping[str, Any]] = {}
    for hit in hits:
        users = correlations.by_rule.get(hit.rule_id)
        if not users:
            continue
        row = hit.row
        view = sigma_view(row)
        rows[int(row["id"])] = row
        for resolved in users:
            names = resolved.spec.group_by
            values = [
                _text(view.get(f))[:MAX_ENTITY_LENGTH] for f in resolved.group_fields[hit.rule_id]
            ]
            key = group_key(names, values)
            group = groups.get((resolved.id, key))
            if group is None:
                entities = tuple(
                    (kind, value)
                    for name, value in zip(names, values, strict=True)
                    if value and value != "-" and (kind := entity_kind(name)) is not None
                )
                group = groups[(resolved.id, key)] = _Group(resolved, key, entities)
            value_field = resolved.value_fields[hit.rule_id]
            value = _text(view.get(value_field))[:MAX_VALUE] if value_field else None
            group.new.append(Entry(hit.time, int(row["id"]), hit.rule_id, value or None))
    if not groups:
        return []

    _keep(session, device_id, groups)
    found: list[Hit] = []
    wanted: dict[int, list[tuple[_Group, int]]] = defaultdict(list)
    by_correlation: dict[str, list[_Group]] = defaultdict(list)
    for group in groups.values():
        by_correlation[group.resolved.id].append(group)
    for correlation_id, members in by_correlation.items():
        resolved = members[0].resolved
        span = resolved.timespan
        earliest = min(entry.time for g in members for entry in g.new) - span
        latest = max(entry.time for g in members for entry in g.new) + span
        kept: dict[str, list[Entry]] = defaultdict(list)
        for key, time, event_id, rule_id, value in session.execute(
            select(
                CorrelationMatch.group_key,
                CorrelationMatch.time,
                CorrelationMatch.event_id,
                CorrelationMatch.rule_id,
                CorrelationMatch.value,
            ).where(
                CorrelationMatch.correlation_id == correlation_id,
                CorrelationMatch.device_id == device_id,
                CorrelationMatch.group_key.in_([g.key for g in members]),
                CorrelationMatch.time >= earliest,
                CorrelationMatch.time <= latest,
            )
        ):
            kept[key].append(Entry(time, int(event_id), rule_id, value))
        for group in members:
            entries = sorted(kept[group.key], key=lambda e: (e.time, e.event_id, e.rule_id))
            for event_id in sorted(in_firing_windows(resolved.spec, resolved.rule_ids, entries)):
                wanted[event_id].append((group, len(found)))
                found.append(Hit(correlation_id, {}, key=group.key, entities=group.entities))

    # Rows of events matched in earlier batches, which alerting needs too.
    missing = [event_id for event_id in wanted if event_id not in rows]
    for start in range(0, len(missing), 1000):
        for found_row in session.execute(
            select(*_EVENT_COLUMNS).where(Event.id.in_(missing[start : start + 1000]))
        ):
            rows[int(found_row.id)] = dict(found_row._mapping)
    for event_id, places in wanted.items():
        for _, index in places:
            found[index].row = rows[event_id]
    return found


def _keep(session: Session, device_id: str, groups: Mapping[tuple[str, str], _Group]) -> None:
    """Store the groups' new matches, leaving out those kept before (an import again)."""
    pending = {
        (group.resolved.id, entry.event_id, entry.rule_id): (group, entry)
        for group in groups.values()
        for entry in group.new
    }
    event_ids = sorted({event_id for _, event_id, _ in pending})
    correlation_ids = sorted({correlation_id for correlation_id, _, _ in pending})
    for start in range(0, len(event_ids), 1000):
        for known in session.execute(
            select(
                CorrelationMatch.correlation_id, CorrelationMatch.event_id, CorrelationMatch.rule_id
            ).where(
                CorrelationMatch.event_id.in_(event_ids[start : start + 1000]),
                CorrelationMatch.correlation_id.in_(correlation_ids),
            )
        ):
            pending.pop((known[0], int(known[1]), known[2]), None)
    if not pending:
        return
    session.execute(
        insert(CorrelationMatch),
        [
            {
                "correlation_id": correlation_id,
                "device_id": device_id,
                "group_key": group.key,
                "rule_id": rule_id,
                "event_id": event_id,
                "time": entry.time,
                "value": entry.value,
            }
            for (correlation_id, event_id, rule_id), (group, entry) in pending.items()
        ],
    )
