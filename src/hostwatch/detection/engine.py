"""Matching events against compiled rules, with an index so that each event meets few rules.

The index has two levels. First, the log: each version of a rule (hostwatch.detection.rules)
can only match events of some channels and event ids, read from its condition, so an event
is handed only the versions its (product, channel, event id) allows; that list is built once
per key and kept. Second, text: most versions require one of a few literal strings in a
field (`Image` ending in `\\rundll32.exe` needs "\\rundll32.exe" in `Image`); a version runs
only when an automaton finds one of its literals in the event, and the other groups of text
it requires are there too. Versions that require no literal always run.

The agent's Linux events have no channel: their key is the Linux log sources they feed
(hostwatch.detection.linux), and they meet the Linux rules of those log sources.

A detector may be shared by threads: its only mutable state is the cache of index buckets,
where a race builds the same bucket twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from hostwatch.detection.compile import Lowered, Predicate
from hostwatch.detection.linux import LINUX, AgentView
from hostwatch.detection.patterns import any_substring
from hostwatch.detection.requirements import (
    Literal,
    allowed_values,
    required_groups,
    residual_test,
    sharpest,
)
from hostwatch.detection.rules import CompiledRule, RuleInfo
from hostwatch.detection.view import View, product_of, sigma_view

log = logging.getLogger(__name__)

# Field name used in literal requirements of keyword (field-less) searches: any field.
ANY_FIELD = None
# The bucket key part of a channel or event id that no rule names (NUL is in no such name).
_OTHER = "\x00other"


def _named(sets: Iterable[frozenset[str] | None]) -> frozenset[str]:
    return frozenset(value for values in sets if values is not None for value in values)


@dataclass(frozen=True, slots=True)
class Match:
    """Rule `rule_id` matched the event at `event_index` of the batch, in its `log` version."""

    rule_id: str
    event_index: int
    log: str


@dataclass(frozen=True, slots=True)
class _Entry:
    """One version of one rule, as the index keeps it."""

    rule_id: str
    log: str
    test: Predicate
    product: str | None
    # The Linux log source (category, else service) the rule reads; None for other products.
    feed: str | None
    channels: frozenset[str] | None
    event_ids: frozenset[str] | None
    literals: frozenset[tuple[str | None, str]] | None
    # The other groups of required text, checked once the index has chosen the version:
    # (field, test) pairs, each group's field tests to be passed by one of them.
    extra: tuple[tuple[tuple[str, Callable[[str], bool]], ...], ...]

    def passes_extra(self, low: Lowered) -> bool:
        for group in self.extra:
            for name, test in group:
                value = low[name]
                if value is not None and test(
                    value if value.__class__ is str else "\x00".join(value)
                ):
                    break
            else:
                return False
        return True


class _Bucket:
    """The versions one (product, channel, event id) key can meet, with their text prefilter.

    The prefilter is one Aho-Corasick automaton per field over the literals the versions
    require there: one pass over a field's lowered value finds every version it wakes.
    """

    __slots__ = ("_entries", "always", "anywhere", "by_field", "size")

    def __init__(self, entries: list[_Entry]) -> None:
        self._entries = entries
        self.size = len(entries)
        self.always: list[_Entry] = []
        gathered: dict[str | None, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        for index, entry in enumerate(entries):
            if entry.literals is None:
                self.always.append(entry)
                continue
            for name, text in entry.literals:
                gathered[name][text].add(index)
        self.by_field = {
            name: _automaton(texts) for name, texts in gathered.items() if name is not ANY_FIELD
        }
        anywhere = gathered.get(ANY_FIELD)
        self.anywhere = _automaton(anywhere) if anywhere else None

    def candidates(self, view: View, low: Lowered) -> list[_Entry]:
        chosen: set[int] = set()
        for name, automaton in self.by_field.items():
            if name not in view:
                continue
            value = low[name]
            if value.__class__ is list:
                value = "\x00".join(value)
            for _, indexes in automaton.iter(value):
                chosen.update(indexes)
        if self.anywhere is not None:
            # One lowering of all the text, not one per field: most fields are never read
            # by a rule, and this runs for every event of a key with a keyword rule.
            whole = "\x00".join(
                value if value.__class__ is str else _joined(value) for value in view.values()
            ).lower()
            for _, indexes in self.anywhere.iter(whole):
                chosen.update(indexes)
        if not chosen:
            return self.always
        entries = self._entries
        return self.always + [
            entries[i]
            for i in sorted(chosen)
            if not entries[i].extra or entries[i].passes_extra(low)
        ]


def _group_test(
    group: frozenset[Literal],
) -> tuple[tuple[str, Callable[[str], bool]], ...] | None:
    """The group as (field, any-of-its-texts test) pairs; None for keyword (any field) groups."""
    by_field: dict[str, list[str]] = defaultdict(list)
    for name, text in group:
        if name is None:
            return None
        by_field[name].append(text)
    tests = []
    for name, texts in sorted(by_field.items()):
        test = any_substring(texts)
        assert test is not None
        tests.append((name, test))
    return tuple(tests)


def _joined(value: Any) -> str:
    return "\x00".join(value) if value.__class__ is list else str(value)


def _automaton(texts: Mapping[str, set[int]]) -> Any:
    automaton = ahocorasick.Automaton()
    for text, indexes in texts.items():
        automaton.add_word(text, tuple(sorted(indexes)))
    automaton.make_automaton()
    return automaton


class Detector:
    """Compiled rules and their index; `match` is called per batch of events."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules: dict[str, RuleInfo] = {}
        self._entries: list[_Entry] = []
        for rule in rules:
            self.rules[rule.info.id] = rule.info
            for version in rule.versions:
                node = version.node
                groups = required_groups(node)
                best = sharpest(groups) if groups else None
                self._entries.append(
                    _Entry(
                        rule_id=rule.info.id,
                        log=version.log,
                        test=residual_test(node),
                        product=rule.info.product,
                        feed=(rule.info.category or rule.info.service)
                        if rule.info.product == LINUX
                        else None,
                        channels=allowed_values(node, "Channel"),
                        event_ids=allowed_values(node, "EventID"),
                        literals=best,
                        extra=tuple(
                            test
                            for test in (_group_test(g) for g in groups if g is not best)
                            if test is not None
                        ),
                    )
                )
        self._buckets: dict[tuple[str | None, str | None, str | None], _Bucket] = {}
        # Values no rule names share one bucket, so that event data cannot grow the cache.
        self._channels = _named(entry.channels for entry in self._entries)
        self._event_ids = _named(entry.event_ids for entry in self._entries)

    @property
    def versions(self) -> int:
        return len(self._entries)

    def _bucket(self, key: tuple[str | None, str | None, str | None]) -> _Bucket:
        product, channel, event_id = key
        if product == LINUX and channel is not None:
            # An agent event: the rules of the Linux log sources it feeds, and those that
            # name no product and no log.
            feeds = frozenset(channel.split("+"))
            entries = [
                entry
                for entry in self._entries
                if (entry.product == LINUX and entry.feed in feeds)
                or (entry.product is None and entry.channels is None and entry.event_ids is None)
            ]
            bucket = _Bucket(entries)
            self._buckets[key] = bucket
            log.debug("rule bucket %s: %d versions", key, len(entries))
            return bucket
        entries = [
            entry
            for entry in self._entries
            if (entry.product is None or entry.product == product)
            and (entry.channels is None or channel in entry.channels)
            and (entry.event_ids is None or event_id in entry.event_ids)
        ]
        bucket = _Bucket(entries)
        self._buckets[key] = bucket
        log.debug("rule bucket %s: %d versions", key, len(entries))
        return bucket

    def _bucket_of(self, view: View) -> _Bucket:
        if view.__class__ is AgentView:
            # Its feeds are a few fixed combinations (hostwatch.detection.linux.feeds_of).
            agent_key = (LINUX, view.feeds, None)
            return self._buckets.get(agent_key) or self._bucket(agent_key)
        channel = view.get("Channel")
        event_id = view.get("EventID")
        lowered = channel.lower() if channel.__class__ is str else None
        number = None if event_id is None else str(event_id)
        key = (
            product_of(view),
            lowered if lowered is None or lowered in self._channels else _OTHER,
            number if number is None or number in self._event_ids else _OTHER,
        )
        return self._buckets.get(key) or self._bucket(key)

    def considered(self, view: View) -> tuple[int, list[tuple[str, str]]]:
        """How many rule versions the index hands an event, and which (rule id, log) it runs."""
        bucket = self._bucket_of(view)
        ran = bucket.candidates(view, Lowered(view)) if bucket.size else []
        return bucket.size, [(entry.rule_id, entry.log) for entry in ran]

    def match_view(self, view: View) -> list[tuple[str, str]]:
        """(rule id, log) of every rule matching one event view; each rule at most once."""
        bucket = self._bucket_of(view)
        if not bucket.size:
            return []
        low = Lowered(view)
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        for entry in bucket.candidates(view, low):
            if entry.rule_id in seen:
                continue
            if entry.test(view, low):
                seen.add(entry.rule_id)
                found.append((entry.rule_id, entry.log))
        return found

    def match(self, events: Sequence[Mapping[str, Any]]) -> list[Match]:
        """Every (rule, event) match in a batch of event rows (the event table's shape)."""
        matches = []
        for index, row in enumerate(events):
            for rule_id, log_name in self.match_view(sigma_view(row)):
                matches.append(Match(rule_id, index, log_name))
        return matches
