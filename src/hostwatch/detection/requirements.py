"""What a compiled condition requires of an event, read from its tree for the rule index.

Two facts are drawn, each a necessary condition (never sufficient; the rule is still run):
the values a field such as `Channel` or `EventID` can have in a matching event, and groups
of (field, text) pairs such that a matching event holds, as lowered text, one pair of
every group. Also the test left once the index has done its part (`residual_test`).
"""

from __future__ import annotations

from hostwatch.detection.compile import Node, Predicate, all_of
from hostwatch.detection.patterns import Shape, literal_of

# Any value at all: no requirement.
ANY = None
# Lowered text keys for string values; numbers as their decimal text.
Values = frozenset[str] | None

# Literals shorter than this select too many events to be worth a prefilter entry.
MIN_LITERAL = 3
# Fields whose values the index already splits on; a literal there says nothing new.
INDEXED_FIELDS = frozenset({"Channel", "EventID"})

# (field or None for any field, lowered text)
Literal = tuple[str | None, str]


def allowed_values(node: Node, name: str) -> Values:
    """The values `name` can take in an event `node` matches (lowered text), or ANY."""
    kind = node.kind
    if kind == "and":
        result: Values = ANY
        for child in node.children:
            values = allowed_values(child, name)
            if values is not None:
                result = values if result is None else result & values
        return result
    if kind == "or":
        union: set[str] = set()
        for child in node.children:
            values = allowed_values(child, name)
            if values is None:
                return ANY
            union |= values
        return frozenset(union)
    if node.field != name:
        return ANY
    if kind == "number" and node.number is not None:
        return frozenset({str(node.number)})
    if kind == "string" and node.string is not None:
        test = node.string
        if test.shape is Shape.EQUALS and not test.cased:
            return frozenset({test.text})
    return ANY


def required_groups(node: Node) -> list[frozenset[Literal]]:
    """Groups of (field, text) pairs: every event `node` matches holds one pair of each group.

    The conjuncts of an AND each give their groups; an OR gives one group, the union of
    the sharpest group of each branch (none when a branch has none).
    """
    kind = node.kind
    if kind == "and":
        found: list[frozenset[Literal]] = []
        for child in node.children:
            for group in required_groups(child):
                if group not in found:
                    found.append(group)
        return found
    if kind == "or":
        union: set[Literal] = set()
        for child in node.children:
            groups = required_groups(child)
            if not groups:
                return []
            union.update(sharpest(groups))
        return [frozenset(union)]
    if kind in ("string", "keyword") and node.string is not None:
        if node.field in INDEXED_FIELDS:
            return []
        text = literal_of(node.string)
        if len(text) < MIN_LITERAL:
            return []
        return [frozenset({(node.field, text)})]
    return []


def sharpest(groups: list[frozenset[Literal]]) -> frozenset[Literal]:
    best = groups[0]
    for group in groups[1:]:
        if _score(group) > _score(best):
            best = group
    return best


def _score(literals: frozenset[Literal]) -> tuple[int, int]:
    """Higher is a sharper filter: long shortest literal first, then fewer alternatives."""
    return min(len(text) for _, text in literals), -len(literals)


def _pure_equality(node: Node, name: str) -> bool:
    """Whether `node` only tests `name` for equality with listed values."""
    if node.kind == "or":
        return all(_pure_equality(child, name) for child in node.children)
    if node.field != name:
        return False
    if node.kind == "number":
        return True
    test = node.string
    return (
        node.kind == "string" and test is not None and test.shape is Shape.EQUALS and not test.cased
    )


def _conjuncts(node: Node) -> list[Node]:
    if node.kind != "and":
        return [node]
    return [part for child in node.children for part in _conjuncts(child)]


def residual_test(node: Node) -> Predicate:
    """The test left once the index has chosen the event's channel and event id.

    A top-level conjunct that only compares `Channel` (or `EventID`) with listed values holds
    for every event the index hands this rule: the index only does so when the event's
    value is among the values every such conjunct allows (`allowed_values`).
    """
    parts = _conjuncts(node)
    kept = [
        part for part in parts if not any(_pure_equality(part, name) for name in INDEXED_FIELDS)
    ]
    if len(kept) == len(parts):
        return node.test
    if not kept:
        return lambda view, low: True
    return all_of(kept).test
