"""A processed pySigma condition tree compiled into nested Python closures over an event view.

pySigma has already parsed the rule, applied every value modifier (contains, base64offset,
windash, ...) and the processing pipelines; what is left is a tree of AND, OR and NOT over
"field equals value" items. Each item becomes a closure; the tree is kept beside them
(`Node`) so the index can read what a rule requires (hostwatch.detection.requirements).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
)

from hostwatch.detection.patterns import (
    Shape,
    StringTest,
    UnusableValue,
    any_substring,
    regex_guard,
    string_test,
)
from hostwatch.detection.view import View

# Per event: the raw view, and its values lowered (filled on first use).
Predicate = Callable[[View, "Lowered"], bool]


class Lowered(dict[str, Any]):
    """Lowered text of an event's fields, computed once per field and event when first read."""

    __slots__ = ("view",)

    def __init__(self, view: View) -> None:
        super().__init__()
        self.view = view

    def __missing__(self, name: str) -> Any:
        value = self.view.get(name)
        if value is None:
            lowered: Any = None
        elif value.__class__ is str:
            lowered = value.lower()
        elif value.__class__ is list:
            lowered = [item.lower() for item in value]
        else:
            lowered = str(value).lower()
        self[name] = lowered
        return lowered


def _text(value: Any) -> Any:
    """A raw value as text for cased tests: lists stay lists of text."""
    if value is None or value.__class__ is str or value.__class__ is list:
        return value
    return str(value)


@dataclass(eq=False, slots=True)
class Node:
    """One element of a compiled condition: its kind, its parts and the closure deciding it.

    A string leaf builds its closure only when asked: most sit in value lists, which one
    closure for the whole list decides (`_string_set`), and unused closures cost memory.
    """

    kind: str  # "and", "or", "not", "string", "keyword", or another leaf kind
    predicate: Predicate | None
    children: list[Node] = field(default_factory=list)
    field: str | None = None
    string: StringTest | None = None
    # For "number" leaves: the number, which also decides equality with an exact value.
    number: int | float | None = None

    @property
    def test(self) -> Predicate:
        if self.predicate is None:
            assert self.field is not None and self.string is not None
            self.predicate = _string_predicate(self.field, self.string)
        return self.predicate


def compile_condition(item: Any) -> Node:
    """The node for a postprocessed pySigma condition (tree element)."""
    if isinstance(item, ConditionAND):
        return all_of([compile_condition(arg) for arg in item.args])
    if isinstance(item, ConditionOR):
        return any_of([compile_condition(arg) for arg in item.args])
    if isinstance(item, ConditionNOT):
        (child,) = [compile_condition(arg) for arg in item.args]
        inner = child.test
        return Node("not", lambda view, low: not inner(view, low), [child])
    if isinstance(item, ConditionFieldEqualsValueExpression):
        return _leaf(item.field, item.value)
    if isinstance(item, ConditionValueExpression):
        return _keyword(item.value)
    raise UnusableValue(f"unsupported condition element {type(item).__name__}")


def all_of(children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    tests = tuple(child.test for child in children)
    if len(tests) == 2:
        first, second = tests
        return Node("and", lambda v, lo: first(v, lo) and second(v, lo), children)

    def test(view: View, low: Lowered) -> bool:
        for part in tests:  # noqa: SIM110 (a plain loop is faster than all() per event)
            if not part(view, low):
                return False
        return True

    return Node("and", test, children)


def any_of(children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    strings = _same_field_strings(children)
    if strings is not None:
        return _string_set(strings[0], strings[1], children)
    tests = tuple(child.test for child in children)

    def test(view: View, low: Lowered) -> bool:
        for part in tests:  # noqa: SIM110 (a plain loop is faster than any() per event)
            if part(view, low):
                return True
        return False

    return Node("or", test, children)


def _same_field_strings(children: list[Node]) -> tuple[str, list[StringTest]] | None:
    """The field and tests when every child is a case-insensitive string test on one field."""
    name = children[0].field
    if name is None:
        return None
    tests = []
    for child in children:
        if child.kind != "string" or child.field != name or child.string is None:
            return None
        if child.string.cased:
            return None
        tests.append(child.string)
    return name, tests


def _string_set(name: str, tests: list[StringTest], children: list[Node]) -> Node:
    """A list of values on one field (the common case): one lowered read, then C-level tests.

    Equal values are one set lookup, prefixes and suffixes one `startswith`/`endswith` with
    a tuple, and many substrings one pass of an Aho-Corasick automaton.
    """
    exact = frozenset(t.text for t in tests if t.shape is Shape.EQUALS)
    prefixes = tuple(t.text for t in tests if t.shape is Shape.PREFIX)
    suffixes = tuple(t.text for t in tests if t.shape is Shape.SUFFIX)
    contains = any_substring(t.text for t in tests if t.shape is Shape.CONTAINS)
    anything = any(t.shape is Shape.ANY for t in tests)
    patterns = tuple(t.regex.fullmatch for t in tests if t.regex is not None)

    def decide(value: str) -> bool:
        if anything or value in exact:
            return True
        if prefixes and value.startswith(prefixes):
            return True
        if suffixes and value.endswith(suffixes):
            return True
        if contains is not None and contains(value):
            return True
        for pattern in patterns:  # noqa: SIM110 (faster than any())
            if pattern(value) is not None:
                return True
        return False

    def test(view: View, low: Lowered) -> bool:
        value = low[name]
        if value is None:
            return False
        if value.__class__ is list:
            return any(decide(item) for item in value)
        return decide(value)

    return Node("or", test, children, field=name)


def _string_leaf(name: str, test_: StringTest) -> Node:
    return Node("string", None, field=name, string=test_)


def _string_predicate(name: str, test_: StringTest) -> Predicate:
    matches = test_.matches
    if test_.cased:

        def cased(view: View, low: Lowered) -> bool:
            value = _text(view.get(name))
            if value is None:
                return False
            if value.__class__ is list:
                return any(matches(item) for item in value)
            return matches(value)

        return cased

    def lowered(view: View, low: Lowered) -> bool:
        value = low[name]
        if value is None:
            return False
        if value.__class__ is list:
            return any(matches(item) for item in value)
        return matches(value)

    return lowered


def _numeric(value: Any) -> float | None:
    if value.__class__ is int or value.__class__ is float:
        return value
    if value.__class__ is str:
        try:
            return float(value) if "." in value else int(value, 10)
        except ValueError:
            return None
    return None


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}

_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def _leaf(name: str, value: Any) -> Node:
    if isinstance(value, SigmaExpansion):
        return any_of([_leaf(name, one) for one in value.values])
    if isinstance(value, SigmaCasedString):
        return _string_leaf(name, string_test(value, cased=True))
    if isinstance(value, SigmaString):
        return _string_leaf(name, string_test(value))
    if isinstance(value, SigmaBool):
        wanted = "true" if value.boolean else "false"
        return Node(
            "bool",
            lambda view, low: low[name] == wanted or view.get(name) is value.boolean,
            [],
            field=name,
        )
    if isinstance(value, SigmaTimestampPart):
        # Limitation: the timestamp part modifiers (minute, hour, day, ...) are not
        # supported; no shared rule uses them. Such rules are rejected with this reason.
        raise UnusableValue(f"field {name!r}: timestamp part modifiers are not supported")
    if isinstance(value, SigmaNumber):
        return _number_leaf(name, value.number)
    if isinstance(value, SigmaNull):
        return Node("null", lambda view, low: view.get(name) is None, field=name)
    if isinstance(value, SigmaExists):
        present = value.exists
        return Node("exists", lambda view, low: (view.get(name) is not None) is present, field=name)
    if isinstance(value, SigmaRegularExpression):
        return _regex_leaf(name, value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_leaf(name, value)
    if isinstance(value, SigmaCompareExpression):
        return _compare_leaf(name, value)
    if isinstance(value, SigmaFieldReference):
        return _field_reference_leaf(name, value)
    raise UnusableValue(f"field {name!r}: unsupported value type {type(value).__name__}")


def _number_leaf(name: str, number: int | float) -> Node:
    text = str(number)

    def test(view: View, low: Lowered) -> bool:
        value = view.get(name)
        if value is None:
            return False
        if value.__class__ is int or value.__class__ is float:
            return value == number
        if value.__class__ is list:
            return text in value
        return value == text or _numeric(value) == number

    return Node("number", test, field=name, number=number)


def _regex_leaf(name: str, value: SigmaRegularExpression) -> Node:
    flags = 0
    for flag in value.flags:
        flags |= _REGEX_FLAGS[flag]
    pattern = str(value.regexp)
    try:
        search = re.compile(pattern, flags).search
    except re.error as exc:
        raise UnusableValue(f"field {name!r}: invalid regular expression: {exc}") from exc
    guard = regex_guard(pattern, flags)
    needed, lowered = guard if guard is not None else ("", False)
    if lowered and not needed.isascii():
        needed = ""  # Unicode case rules of `re` differ from str.lower(): no guard then

    def decide(text: str) -> bool:
        if needed:
            if not lowered:
                if needed not in text:
                    return False
            elif text.isascii() and needed not in text.lower():
                return False
        return search(text) is not None

    def test(view: View, low: Lowered) -> bool:
        raw = _text(view.get(name))
        if raw is None:
            return False
        if raw.__class__ is list:
            return any(decide(item) for item in raw)
        return decide(raw)

    return Node("regex", test, field=name)


def _cidr_leaf(name: str, value: SigmaCIDRExpression) -> Node:
    network = value.network

    def inside(text: str) -> bool:
        try:
            address = ipaddress.ip_address(text.strip())
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.version == network.version and address in network

    def test(view: View, low: Lowered) -> bool:
        raw = _text(view.get(name))
        if raw is None:
            return False
        if raw.__class__ is list:
            return any(inside(item) for item in raw)
        return inside(raw)

    return Node("cidr", test, field=name)


def _compare_leaf(name: str, value: SigmaCompareExpression) -> Node:
    operator = _COMPARE[value.op]
    bound = value.number.number

    def test(view: View, low: Lowered) -> bool:
        number = _numeric(view.get(name))
        return number is not None and operator(number, bound)

    return Node("compare", test, field=name)


def _field_reference_leaf(name: str, value: SigmaFieldReference) -> Node:
    other = value.field
    if value.starts_with:
        relation: Callable[[str, str], bool] = str.startswith
    elif value.ends_with:
        relation = str.endswith
    elif getattr(value, "contains", False):
        relation = str.__contains__
    else:
        relation = str.__eq__

    def test(view: View, low: Lowered) -> bool:
        left, right = low[name], low[other]
        if left is None or right is None or left.__class__ is list or right.__class__ is list:
            return False
        return relation(left, right)

    return Node("fieldref", test, field=name)


def _keyword(value: Any) -> Node:
    """A value without a field: it must occur in the text of any field of the event."""
    if isinstance(value, SigmaExpansion):
        return any_of([_keyword(one) for one in value.values])
    if isinstance(value, SigmaNumber):
        value = SigmaString(str(value.number))
    if not isinstance(value, SigmaString):
        raise UnusableValue(f"unsupported keyword value type {type(value).__name__}")
    cased = isinstance(value, SigmaCasedString)
    test_ = string_test(_open_ended(value), cased=cased)

    def test(view: View, low: Lowered) -> bool:
        for name in view:
            text = _text(view[name]) if cased else low[name]
            if text is None:
                continue
            if text.__class__ is list:
                if any(test_.matches(item) for item in text):
                    return True
            elif test_.matches(text):
                return True
        return False

    return Node("keyword", test, string=test_)


def _open_ended(value: SigmaString) -> SigmaString:
    """The keyword as a search for text anywhere in a field: `*` added at both ends."""
    opened = SigmaString("*")
    opened.s = list(opened.s) + list(value.s) + list(opened.s)
    return opened
