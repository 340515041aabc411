"""Sigma string values (wildcards `*` and `?`, escapes already resolved by pySigma) as tests.

Sigma compares strings case-insensitively unless the `cased` modifier is given. A pattern
becomes the cheapest test that decides it exactly: equality, prefix, suffix, substring, or
a regular expression for wildcards in the middle. Case-insensitive tests compare the
lowered pattern with the lowered value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

import ahocorasick
from sigma.types import Placeholder, SigmaString, SpecialChars


class Shape(Enum):
    EQUALS = "equals"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    CONTAINS = "contains"
    ANY = "any"  # a lone `*`: any value at all
    PATTERN = "pattern"  # wildcards elsewhere: a regular expression over the whole value


class UnusableValue(ValueError):
    """A rule value this engine cannot evaluate (named in the rule's rejection)."""


@dataclass(frozen=True, slots=True)
class StringTest:
    """One string pattern, decided against a value's text (lowered unless `cased`)."""

    shape: Shape
    text: str  # the literal text for the plain shapes; the longest literal run for PATTERN
    cased: bool
    regex: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        """`value` is already lowered when the test is not cased."""
        shape = self.shape
        if shape is Shape.EQUALS:
            return value == self.text
        if shape is Shape.CONTAINS:
            return self.text in value
        if shape is Shape.SUFFIX:
            return value.endswith(self.text)
        if shape is Shape.PREFIX:
            return value.startswith(self.text)
        if shape is Shape.ANY:
            return True
        assert self.regex is not None
        return self.regex.fullmatch(value) is not None


def string_test(value: SigmaString, cased: bool = False) -> StringTest:
    """The test for one Sigma string; refuses placeholders (the `expand` modifier)."""
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise UnusableValue(
                f"placeholder %{part.name}% has no value (the expand modifier needs a "
                "pipeline that defines it)"
            )
        if isinstance(part, str):
            text = part if cased else part.lower()
            if parts and isinstance(parts[-1], str):
                parts[-1] += text
            else:
                parts.append(text)
        elif isinstance(part, SpecialChars):
            parts.append(part)
        else:
            raise UnusableValue(f"unexpected part {part!r} in a string value")

    many = SpecialChars.WILDCARD_MULTI
    if not parts:
        return StringTest(Shape.EQUALS, "", cased)
    if all(part is many for part in parts):
        return StringTest(Shape.ANY, "", cased)
    if len(parts) == 1 and isinstance(parts[0], str):
        return StringTest(Shape.EQUALS, parts[0], cased)
    inner = [part for part in parts if part is not many]
    if len(inner) == 1 and isinstance(inner[0], str):
        starts_open = parts[0] is many
        ends_open = parts[-1] is many
        # Runs of `*` are one `*`: only the open ends decide the shape.
        if starts_open and ends_open:
            return StringTest(Shape.CONTAINS, inner[0], cased)
        if starts_open:
            return StringTest(Shape.SUFFIX, inner[0], cased)
        if ends_open:
            return StringTest(Shape.PREFIX, inner[0], cased)

    pieces = []
    longest = ""
    for part in parts:
        if part is many:
            pieces.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pieces.append(".")
        else:
            assert isinstance(part, str)
            pieces.append(re.escape(part))
            longest = max(longest, part, key=len)
    return StringTest(Shape.PATTERN, longest, cased, re.compile("".join(pieces), re.DOTALL))


def literal_of(test: StringTest) -> str:
    """Text that every value passing `test` contains (lowered); empty if there is none."""
    if test.shape is Shape.ANY:
        return ""
    return test.text if not test.cased else test.text.lower()


# Below this many substrings, testing each with `in` is faster than an automaton pass.
AUTOMATON_FROM = 6


def any_substring(texts: Iterable[str]) -> Callable[[str], bool] | None:
    """A test for "one of `texts` occurs in the value"; None when `texts` is empty."""
    unique = tuple(dict.fromkeys(texts))
    if not unique:
        return None
    if "" in unique:
        return lambda value: True
    if len(unique) < AUTOMATON_FROM:

        def loop(value: str) -> bool:
            for text in unique:  # noqa: SIM110 (faster than any())
                if text in value:
                    return True
            return False

        return loop
    automaton = ahocorasick.Automaton()
    for text in unique:
        automaton.add_word(text, None)
    automaton.make_automaton()
    iterate = automaton.iter

    def scan(value: str) -> bool:
        for _ in iterate(value):
            return True
        return False

    return scan
