"""Package identity: ecosystem and name as advisories use them, and as inventories give them.

Installed software maps to an OSV (ecosystem, package) pair when its source has one:
pip to PyPI, npm to npm, dpkg to the device's Debian or Ubuntu release and the binary
package's source package, rpm to Rocky Linux or AlmaLinux by the device's release. Other
sources (Windows programs, osquery `programs`) have no package ecosystem; they are matched
by CPE (see products.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

_PEP503 = re.compile(r"[-_.]+")
_LOWER_CASE_ECOSYSTEMS = ("pypi", "npm", "debian", "ubuntu", "alpine", "rocky linux", "almalinux")

# Debian release code names, for advisories that name releases (the security tracker lists).
DEBIAN_RELEASES = {
    "buzz": "1.1",
    "rex": "1.2",
    "bo": "1.3",
    "hamm": "2.0",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}


def normalize_ecosystem(ecosystem: str) -> str:
    """OSV ecosystem names as stored: 'Ubuntu:22.04:LTS' and 'Ubuntu:22.04' are one release."""
    ecosystem = ecosystem.strip()
    if ecosystem.lower().startswith("ubuntu:") and ecosystem.upper().endswith(":LTS"):
        ecosystem = ecosystem[: -len(":LTS")]
    return ecosystem


def normalize_name(ecosystem: str, name: str) -> str:
    """Package names compared as the ecosystem compares them (PyPI: PEP 503)."""
    base = ecosystem.split(":", 1)[0].lower()
    name = name.strip()
    if base == "pypi":
        return _PEP503.sub("-", name).lower()
    if base in _LOWER_CASE_ECOSYSTEMS:
        return name.lower()
    return name


@dataclass(frozen=True)
class DeviceRelease:
    """What matching needs to know of a device's operating system."""

    os_family: str | None
    os_name: str | None
    os_version: str | None

    def linux_ecosystem(self) -> str | None:
        """The OSV ecosystem of the device's distribution packages, e.g. 'Debian:11'."""
        name = (self.os_name or "").lower()
        version = (self.os_version or "").strip()
        if not version:
            return None
        if "debian" in name:
            return f"Debian:{version.split('.')[0]}"
        if "ubuntu" in name:
            return f"Ubuntu:{'.'.join(version.split('.')[:2])}"
        if "alpine" in name:
            return f"Alpine:v{'.'.join(version.split('.')[:2])}"
        if "rocky" in name:
            return f"Rocky Linux:{version.split('.')[0]}"
        if "almalinux" in name:
            return f"AlmaLinux:{version.split('.')[0]}"
        return None


def package_key(
    source: str, name: str, source_package: str | None, release: DeviceRelease
) -> tuple[str, str] | None:
    """The (ecosystem, normalized package) an installed item is known by in OSV, if any."""
    # A Python package the distribution installed (python3-cryptography in
    # /usr/lib/python3/dist-packages) is matched as PyPI's release of its upstream version,
    # but distributions backport fixes without changing that version: matching.py lets the
    # distribution's advisories for the providing package decide, or marks the finding (see
    # distribution_python and python_provider).
    if source == "pip":
        return "PyPI", normalize_name("PyPI", name)
    if source == "npm":
        return "npm", normalize_name("npm", name)
    if source in ("dpkg", "rpm"):
        ecosystem = release.linux_ecosystem()
        if ecosystem is None:
            return None
        # Distribution advisories name source packages.
        return ecosystem, normalize_name(ecosystem, source_package or name)
    return None


_PURL_TYPES = {"pip": "pypi", "npm": "npm"}


def purl(source: str, name: str, version: str, release: DeviceRelease) -> str | None:
    """The package URL of an installed item, where its ecosystem has one."""
    kind = _PURL_TYPES.get(source)
    if kind is None and source in ("dpkg", "rpm"):
        distro = (release.os_name or "").split()[0].lower() if release.os_name else ""
        if source == "dpkg" and distro in ("debian", "ubuntu"):
            kind = f"deb/{distro}"
        elif source == "rpm" and distro:
            kind = f"rpm/{distro}"
    if kind is None:
        return None
    shown = normalize_name("PyPI", name) if source == "pip" else name
    text = f"pkg:{kind}/{quote(shown, safe='@/')}"
    return f"{text}@{quote(version, safe='')}" if version else text


# Where a Linux distribution's own packages install Python distributions. pip's own go to
# /usr/local/lib/... (Debian, Ubuntu) or into virtual environments.
_DISTRIBUTION_PYTHON = re.compile(
    r"^/usr/lib(?:64)?/python3(?:\.\d+)?/(?:dist|site)-packages(?:/|$)"
)

# PyPI names whose Debian (and Fedora) package is not python3-<name>.
_PYTHON_PACKAGE_NAMES = {
    "pyyaml": "python3-yaml",
    "python-dateutil": "python3-dateutil",
    "pygobject": "python3-gi",
    "pycairo": "python3-cairo",
    "attrs": "python3-attr",
    "pyjwt": "python3-jwt",
    "beautifulsoup4": "python3-bs4",
    "pillow": "python3-pil",
    "pyopenssl": "python3-openssl",
    "pyserial": "python3-serial",
    "dbus-python": "python3-dbus",
}


def distribution_python(install_path: str | None) -> bool:
    """Whether a pip distribution lies where the system's package manager installs them."""
    return bool(install_path) and bool(_DISTRIBUTION_PYTHON.match(install_path or ""))


def python_provider(name: str) -> str:
    """The distribution package that ships a PyPI distribution, by the distributions' naming
    rule ('cryptography' -> 'python3-cryptography').

    Limitation: the rule and its short table of exceptions, not dpkg's or rpm's file lists
    (which the agent does not collect), say which package ships it; a package named
    otherwise is not found, and its findings are only marked, not decided.
    """
    normalized = normalize_name("PyPI", name)
    return _PYTHON_PACKAGE_NAMES.get(normalized, f"python3-{normalized}")
