"""Installed software from the system's own package databases: dpkg, rpm and system Python."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Callable

from hostwatch import protocol
from hostwatch.agent.bounds import PATH, clean

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0
SYSTEM_PYTHON = "/usr/bin/python3"

# Tab-separated, one package a line. ${source:Package} is dpkg's own resolution of the
# Source field (empty Source means the source package has the binary's name).
_DPKG_FORMAT = "${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${Status}\\n"
_RPM_FORMAT = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{VENDOR}\\n"

# Run by the system interpreter, so it must work on any Python 3.8+ and print only JSON.
_PYTHON_SCRIPT = """
import importlib.metadata as m, json, sys
seen = set()
out = []
for d in m.distributions():
    name = d.metadata["Name"]
    if not name:
        continue
    path = str(d.locate_file(""))
    key = (name, d.version, path)
    if key in seen:
        continue
    seen.add(key)
    out.append({"name": name, "version": d.version, "path": path})
json.dump(out, sys.stdout)
"""


class ToolFailed(Exception):
    """A package tool ran but failed, or did not finish in time."""


def _run(argv: list[str], timeout: float) -> str | None:
    """The tool's standard output, or None when the tool is not installed."""
    executable = shutil.which(argv[0])
    if executable is None:
        return None
    try:
        done = subprocess.run(
            [executable, *argv[1:]],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env={"LC_ALL": "C.UTF-8", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"{argv[0]} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise ToolFailed(f"{argv[0]} could not be started: {exc}") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = stderr[-1] if stderr else "no message"
        raise ToolFailed(f"{argv[0]} exited with status {done.returncode}: {reason}")
    return done.stdout.decode("utf-8", "replace")


def parse_dpkg(text: str) -> list[protocol.SoftwareItem]:
    items = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 5 or not fields[0]:
            continue
        name, version, arch, source, status = fields
        items.append(
            protocol.SoftwareItem(
                source="dpkg",
                name=clean(name) or name,
                version=clean(version) or None,
                arch=clean(arch, 32) or None,
                source_package=clean(source) or None,
                status=clean(status, 64) or None,
            )
        )
    return items


def _srpm_name(srpm: str) -> str | None:
    """The source package name from a SOURCERPM value such as bash-5.1.8-6.el9.src.rpm."""
    if not srpm or srpm == "(none)" or not srpm.endswith(".src.rpm"):
        return None
    parts = srpm.removesuffix(".src.rpm").rsplit("-", 2)
    return parts[0] if len(parts) == 3 else None


def parse_rpm(text: str) -> list[protocol.SoftwareItem]:
    items = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 7 or not fields[0]:
            continue
        name, epoch, version, release, arch, srpm, vendor = fields
        # rpm prints "(none)" for an unset tag; the full EVR is how rpm itself compares.
        evr = f"{version}-{release}" if release and release != "(none)" else version
        if epoch and epoch != "(none)":
            evr = f"{epoch}:{evr}"
        items.append(
            protocol.SoftwareItem(
                source="rpm",
                name=clean(name) or name,
                version=clean(evr) or None,
                arch=clean(arch, 32) if arch and arch != "(none)" else None,
                vendor=clean(vendor) if vendor and vendor != "(none)" else None,
                source_package=clean(_srpm_name(srpm)),
                status="installed",
            )
        )
    return items


def parse_python(text: str) -> list[protocol.SoftwareItem]:
    return [
        protocol.SoftwareItem(
            source="pip",
            name=clean(str(entry["name"])) or "",
            version=clean(str(entry["version"])) if entry.get("version") else None,
            install_path=clean(str(entry["path"]), PATH) if entry.get("path") else None,
            status="installed",
        )
        for entry in json.loads(text)
        if isinstance(entry, dict) and entry.get("name")
    ]


def dpkg_packages(
    dpkg_query: str = "dpkg-query", timeout: float = DEFAULT_TIMEOUT
) -> list[protocol.SoftwareItem]:
    """Every package `dpkg-query -W` lists, including ones left as config files only."""
    text = _run([dpkg_query, "-W", f"-f={_DPKG_FORMAT}"], timeout)
    return [] if text is None else parse_dpkg(text)


def rpm_packages(rpm: str = "rpm", timeout: float = DEFAULT_TIMEOUT) -> list[protocol.SoftwareItem]:
    text = _run([rpm, "-qa", "--qf", _RPM_FORMAT], timeout)
    return [] if text is None else parse_rpm(text)


def python_packages(
    python: str = SYSTEM_PYTHON, timeout: float = DEFAULT_TIMEOUT
) -> list[protocol.SoftwareItem]:
    """Distributions the system interpreter can import, run isolated (-I) from the environment."""
    text = _run([python, "-I", "-c", _PYTHON_SCRIPT], timeout)
    if text is None:
        return []
    try:
        return parse_python(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise ToolFailed(f"{python} printed an unreadable package list: {exc}") from exc


def collect_software(
    errors: list[str] | None = None,
    *,
    dpkg_query: str = "dpkg-query",
    rpm: str = "rpm",
    python: str = SYSTEM_PYTHON,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[protocol.SoftwareItem]:
    """All software found; a source whose tool fails adds a message to `errors` instead."""
    sources: list[tuple[str, Callable[[], list[protocol.SoftwareItem]]]] = [
        ("dpkg", lambda: dpkg_packages(dpkg_query, timeout)),
        ("rpm", lambda: rpm_packages(rpm, timeout)),
        ("pip", lambda: python_packages(python, timeout)),
    ]
    items: list[protocol.SoftwareItem] = []
    for name, collect in sources:
        try:
            found = collect()
        except ToolFailed as exc:
            logger.warning("software inventory from %s failed: %s", name, exc)
            if errors is not None:
                errors.append(f"software inventory from {name} failed: {exc}")
            continue
        logger.debug("software inventory from %s: %s items", name, len(found))
        items.extend(found)

    if len(items) > protocol.MAX_SOFTWARE_ITEMS:
        # Limitation: a host with more packages than the protocol allows sends only the first
        # MAX_SOFTWARE_ITEMS; the rest are missing from its inventory.
        message = f"software inventory cut to {protocol.MAX_SOFTWARE_ITEMS} of {len(items)} items"
        logger.warning("%s", message)
        if errors is not None:
            errors.append(message)
        items = items[: protocol.MAX_SOFTWARE_ITEMS]
    return items
