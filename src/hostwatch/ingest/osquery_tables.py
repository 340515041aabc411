"""osquery table rows made into Hostwatch records: software items, OS facts, hotfixes, users.

Software takes the agent's source names (dpkg, rpm, pip, npm, and windows for Windows
programs), so that matching and the tabs treat an item alike whichever collector saw it.
A row with a value Hostwatch would have to cut or that holds control characters is refused
with the column named, never stored altered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hostwatch.ingest.osquery_log import UNPRINTABLE
from hostwatch.vulns import packages, products

SOFTWARE_SOURCES = {
    "programs": "windows",
    "deb_packages": "dpkg",
    "rpm_packages": "rpm",
    "python_packages": "pip",
    "npm_packages": "npm",
}
SHORT = 255
PATH = 4096
# Session kinds of logged_in_users that are no user session (utmp bookkeeping records).
_NOT_SESSIONS = {"dead", "login", "init", "boot_time", "runlevel", "accounting", "unknown"}
_DEB_SOURCE = re.compile(r"^(\S+)(?:\s+\(.*\))?$")
# Windows 10 and 11 builds and the release (display version) each one is.
_WINDOWS_RELEASES = {
    10240: "1507",
    10586: "1511",
    14393: "1607",
    15063: "1703",
    16299: "1709",
    17134: "1803",
    17763: "1809",
    18362: "1903",
    18363: "1909",
    19041: "2004",
    19042: "20H2",
    19043: "21H1",
    19044: "21H2",
    19045: "22H2",
    20348: "21H2",  # Windows Server 2022
    22000: "21H2",
    22621: "22H2",
    22631: "23H2",
    26100: "24H2",
}
_EDITION = re.compile(r"windows (?:server )?(?:\d+(?:\.\d+)?|xp|vista)(?: r2)? (.+)$", re.I)
_ARCHES = {"64-bit": "x86_64", "32-bit": "x86", "arm 64-bit processor": "arm64"}


class BadRow(ValueError):
    """A row that can not be stored as it is; the message names the column."""


@dataclass(frozen=True)
class SoftwareRow:
    source: str
    name: str
    version: str
    arch: str
    vendor: str | None
    source_package: str | None
    install_path: str | None
    status: str | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source, self.name, self.version, self.arch)

    @property
    def details(self) -> tuple[str | None, str | None, str | None, str | None]:
        return (self.vendor, self.source_package, self.install_path, self.status)


def _value(row: dict[str, str], column: str, limit: int = SHORT, needed: bool = False) -> str:
    value = row.get(column, "").strip()
    if needed and not value:
        raise BadRow(f"column {column!r} is missing or empty")
    if len(value) > limit:
        raise BadRow(f"column {column!r} is {len(value)} characters long, the most is {limit}")
    if UNPRINTABLE.search(value):
        raise BadRow(f"column {column!r} holds control characters or terminal escapes")
    return value


def software(table: str, row: dict[str, str]) -> SoftwareRow:
    source = SOFTWARE_SOURCES[table]
    name = _value(row, "name", needed=True)
    version = _value(row, "version")
    arch = _value(row, "arch", 32)
    vendor: str | None = None
    source_package: str | None = None
    path = ""
    status: str | None = "installed"
    if table == "programs":
        vendor = _value(row, "publisher") or None
        path = _value(row, "install_location", PATH)
        arch = ""
    elif table == "deb_packages":
        # dpkg's Source field may carry the source version: "glibc (2.31-13+deb11u7)". An
        # empty one means the source package has the binary's name.
        found = _DEB_SOURCE.match(_value(row, "source"))
        source_package = found.group(1) if found else name
        status = _value(row, "status", 64) or None
    elif table == "rpm_packages":
        release = _value(row, "release")
        epoch = _value(row, "epoch")
        # The full EVR, as rpm compares versions and as the agent stores them.
        version = f"{version}-{release}" if version and release else version
        if epoch and epoch not in ("0", "(none)") and version:
            version = f"{epoch}:{version}"
        if len(version) > SHORT:
            raise BadRow(f"the version is {len(version)} characters long, the most is {SHORT}")
        vendor = _value(row, "vendor") or None
        srpm = _value(row, "source")
        parts = srpm.removesuffix(".src.rpm").rsplit("-", 2) if srpm.endswith(".src.rpm") else []
        source_package = parts[0] if len(parts) == 3 else None
    else:  # python_packages, npm_packages
        path = _value(row, "path", PATH)
    return SoftwareRow(source, name, version, arch, vendor, source_package, path or None, status)


def product_code(item: SoftwareRow, release: packages.DeviceRelease) -> str | None:
    """A purl for packages of an ecosystem, a CPE 2.3 name for Windows programs."""
    if item.source == "windows":
        mapping = products.map_program(item.name, item.vendor, item.version or None)
        if mapping is None:
            return None
        first = mapping.products[0]
        fields = [first.part, first.vendor, first.product, first.version or "*", first.update]
        return "cpe:2.3:" + ":".join(_cpe_escape(f) for f in fields) + ":*:*:*:*:*:*"
    return packages.purl(item.source, item.name, item.version, release)


def _cpe_escape(value: str | None) -> str:
    if not value or value == "*":
        return "*"
    return re.sub(r"([^A-Za-z0-9_.\-])", r"\\\1", value)


@dataclass(frozen=True)
class OsFacts:
    family: str
    name: str | None
    version: str | None
    build: str | None
    release: str | None
    edition: str | None
    arch: str | None


def os_facts(row: dict[str, str]) -> OsFacts:
    name = _value(row, "name")
    version = _value(row, "version")
    platform = _value(row, "platform").lower()
    like = _value(row, "platform_like").lower()
    arch_text = _value(row, "arch", 32)
    arch = _ARCHES.get(arch_text.lower(), arch_text) or None
    if platform == "windows" or "windows" in name.lower():
        # The build with its revision (UBR): osquery's `revision` column, or a version that
        # already holds four parts.
        build = version
        revision = _value(row, "revision")
        if version.count(".") == 2 and revision.isdigit():
            build = f"{version}.{revision}"
        number = _value(row, "build")
        release = _WINDOWS_RELEASES.get(int(number)) if number.isdigit() else None
        edition = _EDITION.search(name)
        return OsFacts(
            "windows",
            name or None,
            build or None,
            build or None,
            release,
            edition.group(1).strip() if edition else None,
            arch,
        )
    family = "macos" if platform == "darwin" else "linux" if platform or like else "other"
    # As the agent keeps them: the pretty name, and the numeric version (VERSION_ID).
    numeric = re.match(r"\d+(?:\.\d+)*", version)
    shown = numeric.group(0) if numeric else None
    if shown and "ubuntu" in (platform, name.lower()):
        shown = ".".join(shown.split(".")[:2])
    pretty = f"{name} {version}".strip() if version and version not in name else name
    return OsFacts(
        family,
        pretty or None,
        shown,
        _value(row, "build") or None,
        _value(row, "codename") or None,
        None,
        arch,
    )


@dataclass(frozen=True)
class HotfixRow:
    hotfix_id: str
    description: str | None
    installed_on: datetime | None


def hotfix(row: dict[str, str]) -> HotfixRow:
    hotfix_id = _value(row, "hotfix_id", 64, needed=True).upper()
    return HotfixRow(hotfix_id, _value(row, "description") or None, _date(row.get("installed_on")))


def _date(text: str | None) -> datetime | None:
    """Windows writes the install date as M/D/YYYY; ISO dates are taken as well."""
    for layout in ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%Y %I:%M:%S %p"):
        try:
            return datetime.strptime((text or "").strip(), layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def logon(row: dict[str, str]) -> dict[str, Any] | None:
    """A logged-on user entry as the device keeps them, None for a row that is no session."""
    if _value(row, "type", 64).lower() in _NOT_SESSIONS:
        return None
    user = _value(row, "user")
    if not user:
        return None
    started = _value(row, "time", 32)
    when = None
    try:
        if started.isdigit() and int(started) > 0:
            when = datetime.fromtimestamp(int(started), UTC).isoformat(timespec="microseconds")
    except (ValueError, OverflowError, OSError):
        raise BadRow(f"column 'time' is not a time: {started!r}") from None
    return {
        "name": user,
        "terminal": _value(row, "tty") or None,
        "host": _value(row, "host") or None,
        "started": when,
        "source": "osquery",
        "sid": _value(row, "sid", 128) or None,
    }
