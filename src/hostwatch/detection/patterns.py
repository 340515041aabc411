"""Sigma string values (wildcards `*` and `?`, escapes already resolved by pySigma) as tests.

Sigma compares strings case-insensitively unless the `cased` modifier is given. A pattern
becomes the cheapest test that decides it exactly: equality, prefix, suffix, substring, or
a regular expression for wildcards in the middle. Case-insensitive tests compare the
lowered pattern with the lowered value.
"""

from __future__ import annotations

import re
import re._parser as re_parser  # the regex parser of the standard library
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

import ahocorasick
from sigma.types import Placeholder, SigmaString, SpecialChars

# Limitation: "without case" is str.lower() of both sides. A few characters lower
# differently in context (Greek final sigma) or to two characters (Turkish dotted I), so a
# `?` or an equality across them can differ from a Unicode case-folding comparison.


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
    test = _any_substring(unique)
    if all(not text.isascii() for text in unique):
        # Lists of emoji or look-alike letters: plain ASCII text holds none of them, and
        # `isascii` decides that far faster than a scan.
        return lambda value: not value.isascii() and test(value)
    return test


def _any_substring(unique: tuple[str, ...]) -> Callable[[str], bool]:
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


def regex_guard(pattern: str, flags: int) -> tuple[str, bool] | None:
    """The longest text every match of `pattern` contains, and whether to compare it lowered.

    Read from the parsed pattern: runs of literal characters that are not optional, at the
    top level or inside groups and repeats that must occur. A cheap `in` test on it spares
    running the expression on most values. None when no such text is known.
    """
    try:
        parsed = re_parser.parse(pattern, flags)
    except (re.error, RecursionError):
        return None
    runs: list[str] = []
    _required_runs(list(parsed), runs)
    longest = max(runs, key=len, default="")
    if not longest:
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    return (longest.lower() if ignore_case else longest), ignore_case


def _required_runs(items: list[tuple[object, object]], runs: list[str]) -> None:
    current: list[str] = []
    for op, argument in items:
        name = str(op)
        if name == "LITERAL" and isinstance(argument, int):
            current.append(chr(argument))
            continue
        if current:
            runs.append("".join(current))
            current = []
        if name == "SUBPATTERN" and isinstance(argument, tuple):
            _required_runs(list(argument[-1]), runs)
        elif name in ("MAX_REPEAT", "MIN_REPEAT") and isinstance(argument, tuple):
            low, _, body = argument
            if isinstance(low, int) and low >= 1:
                _required_runs(list(body), runs)
    if current:
        runs.append("".join(current))
