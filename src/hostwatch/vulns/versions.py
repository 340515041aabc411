"""Version ordering per ecosystem: which scheme an ecosystem uses, and parsed, comparable values.

PEP 440 comes from `packaging`; RPM, semver, Alpine, Maven, Go, RubyGems, NuGet and Composer
from `univers`. Debian versions are read by `univers` and ordered by a key of their own
(`debian_key`), which compares as dpkg does without a Python call per comparison. Only
vendor versions in NVD CPE data have no scheme of their own: see `vendor_key`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version
from univers import versions as uv

PEP440 = "pep440"
DEBIAN = "debian"
RPM = "rpm"
SEMVER = "semver"
ALPINE = "alpine"
MAVEN = "maven"
GOLANG = "golang"
GEM = "gem"
NUGET = "nuget"
COMPOSER = "composer"
# Vendor versions (NVD CPE ranges, Windows programs): dotted numbers, see vendor_key.
VENDOR = "vendor"

_UNIVERS: dict[str, type[uv.Version]] = {
    DEBIAN: uv.DebianVersion,
    RPM: uv.RpmVersion,
    SEMVER: uv.SemverVersion,
    ALPINE: uv.AlpineLinuxVersion,
    MAVEN: uv.MavenVersion,
    GOLANG: uv.GolangVersion,
    GEM: uv.RubygemsVersion,
    NUGET: uv.NugetVersion,
    COMPOSER: uv.ComposerVersion,
}

# OSV ecosystem names (the part before any ':') and the scheme each one orders versions by.
# https://ossf.github.io/osv-schema/#affectedpackage-field lists the ecosystems.
_ECOSYSTEM_SCHEMES = {
    "pypi": PEP440,
    "debian": DEBIAN,
    "ubuntu": DEBIAN,
    "alpine": ALPINE,
    "npm": SEMVER,
    "crates.io": SEMVER,
    "hex": SEMVER,
    "pub": SEMVER,
    "swifturl": SEMVER,
    "go": GOLANG,
    "maven": MAVEN,
    "rubygems": GEM,
    "nuget": NUGET,
    "packagist": COMPOSER,
    "red hat": RPM,
    "rocky linux": RPM,
    "almalinux": RPM,
    "opensuse": RPM,
    "suse": RPM,
    "mageia": RPM,
    "openeuler": RPM,
    "photon os": RPM,
}


class UnknownScheme(ValueError):
    """An ecosystem whose version ordering Hostwatch does not know."""


def scheme_for(ecosystem: str) -> str:
    """The ordering scheme of an OSV ecosystem such as 'PyPI', 'Debian:11' or 'Alpine:v3.18'."""
    base = ecosystem.split(":", 1)[0].strip().lower()
    try:
        return _ECOSYSTEM_SCHEMES[base]
    except KeyError:
        raise UnknownScheme(f"no version ordering known for ecosystem {ecosystem!r}") from None


@lru_cache(maxsize=262_144)
def parse(scheme: str, text: str) -> Any | None:
    """A value that orders like `text` in `scheme`, or None when `text` is not such a version.

    Values of one scheme compare with each other only. Cached: matching parses the same
    advisory bounds and installed versions over and over.
    """
    text = text.strip()
    if not text:
        return None
    if scheme == PEP440:
        try:
            return Pep440Version(text)
        except InvalidVersion:
            return None
    if scheme == VENDOR:
        return vendor_key(text)
    if scheme == DEBIAN:
        try:
            return debian_key(uv.DebianVersion(text).value)
        except (uv.InvalidVersion, ValueError, TypeError):
            return None
    kind = _UNIVERS.get(scheme)
    if kind is None:
        raise UnknownScheme(f"unknown version scheme {scheme!r}")
    try:
        return kind(text)
    except Exception:
        # univers wraps third-party parsers, which raise errors of their own on bad input.
        return None


def compare(scheme: str, left: str, right: str) -> int:
    """-1, 0 or 1 as `left` orders before, with or after `right`; ValueError if unreadable."""
    a, b = parse(scheme, left), parse(scheme, right)
    if a is None or b is None:
        bad = left if a is None else right
        raise ValueError(f"{bad!r} is not a {scheme} version")
    return -1 if a < b else (1 if a > b else 0)


_TOKENS = re.compile(r"\d+|[a-z]+")


@lru_cache(maxsize=65_536)
def vendor_key(text: str) -> tuple[tuple[int, int | str], ...] | None:
    """An ordering key for vendor version strings: '122.0.1', '19.00', '1.8.0_391', '2016'.

    The string splits into runs of digits and of letters; runs compare in order, numbers
    by value (so 19.00 > 9.20) and after letters at the same place; trailing zero numbers do
    not count (122 == 122.0). Anything else separates runs.

    Limitation: letters after a number order it later ('1.0a' > '1.0'), which is right for
    OpenSSL-style letter releases and wrong for '1.0beta'; NVD's CPE ranges for the desktop
    products Hostwatch maps (see products.py) use dotted numbers only.
    """
    tokens = _TOKENS.findall(text.lower())
    if not tokens or not tokens[0].isdigit():
        return None
    key: list[tuple[int, int | str]] = [
        (1, int(token)) if token.isdigit() else (0, token) for token in tokens
    ]
    while len(key) > 1 and key[-1] == (1, 0):
        key.pop()
    return tuple(key)


class DebianKey(tuple[Any, ...]):
    """(epoch, upstream order, revision order, univers value): a Debian version as a tuple.

    The first three items order as dpkg orders versions, so `<` and `>=` are tuple
    comparisons in C. The last is univers' own value: equality and hashing stay univers'
    (epoch, upstream and revision as written, so '1.0' != '1.00' although neither sorts
    before the other), and it is only ever ordered when the first three are equal, where
    univers agrees that neither is lower.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return str(self[3])


_DIGITS_OR_NOT = re.compile(r"[0-9]+|[^0-9]+")


def _dpkg_char_order(char: str) -> int:
    """dpkg's weight of a character outside a digit run: '~' lowest, then the end of the
    run (0), then letters by ASCII code, then everything else after all letters."""
    if char == "~":
        return -1
    if "A" <= char <= "Z" or "a" <= char <= "z":
        return ord(char)
    return ord(char) + 256


def dpkg_order_key(text: str) -> tuple[int, ...]:
    """A tuple that sorts like dpkg's comparison of upstream versions or revisions.

    dpkg reads a version part as alternating runs of non-digits and digits, compares the
    non-digit runs character by character by `_dpkg_char_order` (a run that ends weighs 0)
    and the digit runs by value (an empty run is 0), and reads past the end of the shorter
    string as more empty runs. Flattened, that is a sequence of weights, one per character
    of a non-digit run and 0 at its end, one value per digit run, and after the string
    zeros forever; two parts compare as those sequences do.

    A Python tuple that ends sorts before any longer one, while dpkg's endless zeros sort
    after a '~' (-1). So each element carries the sign of the first non-zero element after
    it, packed as 3 * value + sign + 1: where one sequence has a 0 and the other the same
    0, the sign says which way their continuations differ first, which is the way the
    sequences compare. Trailing zeros are dropped and a final 1 (a 0 with nothing
    non-zero after it) stands for the endless zeros.
    """
    flat: list[int] = []
    runs = _DIGITS_OR_NOT.findall(text)
    if runs and runs[0][0].isdigit():
        flat.append(0)  # the string opens with an empty non-digit run
    for run in runs:
        if run[0].isdigit():
            flat.append(int(run))
        else:
            flat.extend(_dpkg_char_order(char) for char in run)
            flat.append(0)
    while flat and flat[-1] == 0:
        flat.pop()
    packed = [1]
    sign = 0
    for value in reversed(flat):
        packed.append(3 * value + sign + 1)
        if value:
            sign = 1 if value > 0 else -1
    packed.reverse()
    return tuple(packed)


def debian_key(value: Any) -> DebianKey:
    """The ordering key of a univers Debian version value (epoch, upstream, revision)."""
    return DebianKey(
        (value.epoch, dpkg_order_key(value.upstream), dpkg_order_key(value.revision), value)
    )
