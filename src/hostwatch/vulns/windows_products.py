"""From what a Windows device says about itself to the product name Microsoft's updates use.

Devices report a marketing name ("Microsoft Windows 10 Pro"), a build ("10.0.19045.3803",
or the version and a separate revision) and an architecture ("64-bit", "AMD64",
"ARM 64-bit Processor"). Microsoft's security update documents name products such as
"Windows 10 Version 22H2 for x64-based Systems" or "Windows Server 2022 (Server Core
installation)". The feature release (22H2) is not in the name a device reports, but the
build number fixes it: each feature release has its own build (19045 is Windows 10 22H2,
22631 is Windows 11 23H2, 20348 is Windows Server 2022). The edition (Pro, Enterprise,
Datacenter) does not change which updates apply and is not part of the product name.

The rule, written out:
1. The build number is the third part of the version (10.0.BUILD.REVISION); without it
   the product is unknown.
2. Client or server comes from the reported name ("Server" in it means server).
3. The feature release comes from the table below, by family and build number; a build
   not in the table is unknown (a preview build, or a release newer than this table).
4. Clients add the architecture ("for x64-based Systems", "for 32-bit Systems",
   "for ARM64-based Systems"); servers add " (Server Core installation)" when the device
   says it is a Server Core installation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Build number -> the feature release's part of the product name.
_CLIENT = {
    10240: "Windows 10",
    14393: "Windows 10 Version 1607",
    17763: "Windows 10 Version 1809",
    19044: "Windows 10 Version 21H2",
    19045: "Windows 10 Version 22H2",
    22000: "Windows 11 version 21H2",  # Microsoft spells this one with a lower-case v.
    22621: "Windows 11 Version 22H2",
    22631: "Windows 11 Version 23H2",
}
_SERVER = {
    14393: "Windows Server 2016",
    17763: "Windows Server 2019",
    20348: "Windows Server 2022",
    25398: "Windows Server 2022, 23H2 Edition",
}
# Windows Server 2022, 23H2 Edition exists only as a Server Core installation.
_CORE_ONLY = {25398}

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class WindowsBuild:
    """A Windows version as four numbers, ordered as Windows orders them."""

    major: int
    minor: int
    build: int
    revision: int | None

    @classmethod
    def parse(cls, version: str | None, revision: str | int | None = None) -> WindowsBuild | None:
        """ "10.0.19045.3803", or "10.0.19045" with the revision given apart; else None."""
        match = _VERSION.match((version or "").strip())
        if match is None:
            return None
        rev = match.group(4)
        if rev is None and revision not in (None, ""):
            rev = str(revision).strip()
        if rev is not None and not rev.isdigit():
            rev = None
        return cls(
            int(match.group(1)),
            int(match.group(2)),
            int(match.group(3)),
            int(rev) if rev is not None else None,
        )

    def key(self) -> tuple[int, int, int, int]:
        return (self.major, self.minor, self.build, self.revision or 0)

    def __str__(self) -> str:
        tail = f".{self.revision}" if self.revision is not None else ""
        return f"{self.major}.{self.minor}.{self.build}{tail}"


def _architecture(arch: str | None) -> str | None:
    text = (arch or "").lower()
    if "arm" in text or "aarch64" in text:
        return "ARM64-based Systems"
    if any(word in text for word in ("64", "amd64", "x86_64", "x64")):
        return "x64-based Systems"
    if any(word in text for word in ("32", "x86", "i386", "i686")):
        return "32-bit Systems"
    return None


def msrc_product(
    os_name: str | None,
    version: str | None,
    arch: str | None,
    *,
    server_core: bool = False,
) -> str | None:
    """The MSRC product name for a device, or None when the facts do not settle it."""
    build = WindowsBuild.parse(version)
    if build is None or build.major != 10:
        return None
    name = (os_name or "").lower()
    if "windows" not in name:
        return None
    if "server" in name:
        base = _SERVER.get(build.build)
        if base is None:
            return None
        return (
            f"{base} (Server Core installation)"
            if (server_core or build.build in _CORE_ONLY)
            else base
        )
    base = _CLIENT.get(build.build)
    architecture = _architecture(arch)
    if base is None or architecture is None:
        return None
    if build.build >= 22000 and architecture == "32-bit Systems":
        return None  # Windows 11 has no 32-bit edition.
    return f"{base} for {architecture}"
