"""Facts about the machine the agent runs on, and who is logged on to it, from psutil and /etc."""

from __future__ import annotations

import configparser
import ipaddress
import logging
import os
import platform
import shlex
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil

from hostwatch import protocol
from hostwatch.agent.bounds import clean
from hostwatch.agent.logons import Sessions

logger = logging.getLogger(__name__)

# Names a resolver returns for "this machine" when it knows no real FQDN for it.
_PLACEHOLDER_SUFFIXES = (".localdomain", ".localhost", ".local")
_PLACEHOLDER_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def read_os_release(root: Path = Path("/")) -> dict[str, str]:
    """The os-release(5) fields, from /etc/os-release or its fallback /usr/lib/os-release."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        text = _read_text(root / rel)
        if text is None:
            continue
        fields: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            name, _, raw = line.partition("=")
            try:
                parts = shlex.split(raw)
            except ValueError:
                continue
            fields[name.strip()] = parts[0] if parts else ""
        return fields
    return {}


def qualified_fqdn(hostname: str, candidate: str | None) -> str | None:
    """`candidate` if it is a real qualified name of this host, else None.

    The resolver's answer is accepted only when it has a domain part, is no placeholder
    such as localhost or *.localdomain, and starts with this host's own short name, so
    that the name of some other machine in /etc/hosts is never taken for ours.
    """
    if "." in hostname and hostname.lower() not in _PLACEHOLDER_NAMES:
        candidate = hostname
    if not candidate:
        return None
    name = candidate.strip().rstrip(".").lower()
    if "." not in name or name in _PLACEHOLDER_NAMES or name.endswith(_PLACEHOLDER_SUFFIXES):
        return None
    if name.split(".", 1)[0] != hostname.split(".", 1)[0].lower():
        return None
    return name


def joined_domain(root: Path = Path("/")) -> str | None:
    """The directory domain this host is joined to, from sssd or Kerberos, or None.

    sssd.conf names its domains; a Kerberos default realm alone proves nothing (packages
    ship example realms), so it counts only when a host keytab exists as well.
    """
    sssd = _read_text(root / "etc/sssd/sssd.conf")
    if sssd is not None:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(sssd)
        except configparser.Error as exc:
            logger.debug("cannot parse sssd.conf: %s", exc)
        else:
            for section in parser.sections():
                if not section.startswith("domain/"):
                    continue
                options = parser[section]
                if options.get("ad_domain"):
                    return options["ad_domain"].strip().lower()
                if options.get("krb5_realm"):
                    return options["krb5_realm"].strip().lower()
                if options.get("id_provider", "").strip() in {"ad", "ipa"}:
                    return section.removeprefix("domain/").strip().lower()

    krb5 = _read_text(root / "etc/krb5.conf")
    if krb5 is not None and (root / "etc/krb5.keytab").exists():
        section = ""
        for line in krb5.splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[] ").lower()
            elif section == "libdefaults" and line.split("=", 1)[0].strip() == "default_realm":
                realm = line.split("=", 1)[1].strip()
                if realm:
                    return realm.lower()
    return None


def _cpu_model() -> str | None:
    text = _read_text(Path("/proc/cpuinfo"))
    if text is None:
        return platform.processor() or None
    # x86 says "model name"; ARM and others use "Model", "Hardware" or "cpu model".
    for key in ("model name", "Model", "Hardware", "cpu model", "cpu"):
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return None


def _addresses() -> tuple[list[str], list[str]]:
    ips: list[str] = []
    macs: list[str] = []
    for interface, entries in psutil.net_if_addrs().items():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                address = entry.address.split("%", 1)[0]
                try:
                    if ipaddress.ip_address(address).is_loopback:
                        continue
                except ValueError:
                    continue
                if address not in ips:
                    ips.append(address)
            elif entry.family == psutil.AF_LINK and interface != "lo":
                mac = entry.address.lower()
                if mac and mac != "00:00:00:00:00:00" and mac not in macs:
                    macs.append(mac)
    return ips[:512], macs[:512]


def _machine_id() -> str | None:
    for path in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        text = _read_text(path)
        if text and text.strip():
            return text.strip()
    return None


def _os_family() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "win32":
        # Limitation: on Windows the agent reports the family and platform's version only;
        # the full build with its revision, the edition and the installed hotfixes, which
        # missing-KB assessment needs, come from osquery's os_version and patches tables.
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "other"


def collect_host_facts() -> protocol.HostFacts:
    """What this machine is; a value that cannot be read stays None."""
    hostname = socket.gethostname()
    fqdn = qualified_fqdn(hostname, socket.getfqdn())
    domain = fqdn.split(".", 1)[1] if fqdn else joined_domain()
    release = read_os_release()
    ips, macs = _addresses()
    disk_total: int | None = None
    disk_free: int | None = None
    try:
        usage = psutil.disk_usage("/")
        disk_total, disk_free = usage.total, usage.free
    except OSError as exc:
        logger.debug("cannot read the size of /: %s", exc)

    return protocol.HostFacts(
        hostname=clean(hostname) or "unknown",
        fqdn=clean(fqdn),
        domain=clean(domain),
        os_family=_os_family(),  # type: ignore[arg-type]
        os_name=clean(release.get("PRETTY_NAME") or release.get("NAME")),
        os_version=clean(release.get("VERSION_ID")),
        os_kernel=clean(platform.release() or None),
        os_arch=clean(platform.machine() or None, 32),
        ip_addresses=ips,
        mac_addresses=macs,
        cpu_count=psutil.cpu_count(logical=True),
        cpu_model=clean(_cpu_model()),
        memory_bytes=psutil.virtual_memory().total,
        disk_total_bytes=disk_total,
        disk_free_bytes=disk_free,
        boot_time=datetime.fromtimestamp(psutil.boot_time(), UTC),
        machine_id=clean(_machine_id(), 128),
    )


UTMP_FILES = ("/run/utmp", "/var/run/utmp")


def keeps_utmp() -> bool:
    return any(os.path.exists(path) for path in UTMP_FILES)


def collect_logged_on_users(
    sessions: Sessions | None = None,
) -> list[protocol.LoggedOnUser]:
    """Sessions recorded in utmp; on a system that keeps no utmp (containers, some minimal
    installs), the sessions the agent's logon events opened and did not close yet."""
    if not keeps_utmp():
        return sessions.current() if sessions is not None else []
    try:
        entries = psutil.users()
    except OSError as exc:
        logger.warning("cannot read logged-on users from utmp: %s", exc)
        return []
    return [
        protocol.LoggedOnUser(
            name=clean(entry.name) or "",
            terminal=clean(entry.terminal or None),
            host=clean(entry.host or None),
            started=datetime.fromtimestamp(entry.started, UTC) if entry.started else None,
            source="utmp",
        )
        for entry in entries
        if entry.name
    ]
