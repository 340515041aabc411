"""Version ordering per ecosystem: which scheme an ecosystem uses, and parsed, comparable values.

PEP 440 comes from `packaging`; Debian, RPM, semver, Alpine, Maven, Go, RubyGems, NuGet and
Composer from `univers`. Only vendor versions in NVD CPE data have no scheme of their own:
see `vendor_key`.
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
        # The Debian value itself: its comparisons skip the attrs wrapper's tuple compare.
        try:
            return uv.DebianVersion(text).value
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
