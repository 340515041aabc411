"""What imported log records tell about their device: seen times, logged-on users, addresses."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hostwatch.devices.models import Device
from hostwatch.ingest.windows_values import Logon, Normalized

# The device's list keeps the agent's entries (see hostwatch.devices.inventory) and adds these,
# in the same shape with a few more keys, the most recent first.
# Limitation: an agent's next inventory snapshot replaces the whole list, these entries too.
LOGON_SOURCE = "evtx"
MAX_LOGGED_ON_USERS = 50
MAX_ADDRESSES = 64


@dataclass
class DeviceFacts:
    """Facts gathered from a batch of one device's events, applied to the device at once."""

    first: datetime | None = None
    last: datetime | None = None
    logons: dict[tuple[str, int | None], Logon] = field(default_factory=dict)
    addresses: dict[str, None] = field(default_factory=dict)

    def add(self, event: Normalized) -> None:
        self.add_times(event.time, event.time)
        self.add_note(event.logon, usable_addresses(event.own_addresses))

    def add_times(self, first: datetime, last: datetime) -> None:
        if self.first is None or first < self.first:
            self.first = first
        if self.last is None or last > self.last:
            self.last = last

    def add_note(self, logon: Logon | None, addresses: list[str]) -> None:
        """A logon and the device's own addresses (already `usable_addresses`)."""
        if logon is not None:
            key = (logon.name.lower(), logon.logon_type)
            known = self.logons.get(key)
            if known is None or logon.time > known.time:
                self.logons[key] = logon
        for address in addresses:
            self.addresses[address] = None

    def apply(self, device: Device) -> bool:
        """Update the device; True if anything changed. Seen times only ever widen."""
        # Limitation: imported logs give a device no OS facts beyond its family (Windows,
        # set where the device is made, devices/registry.find_or_add_many_from_logs): no
        # product, version, build or installed update. The events that state them (EventLog
        # 6009, Kernel-General 12, WindowsUpdateClient 19) are in none of the shared EVTX
        # samples, so nothing reads them yet; an EVTX-only device's missing updates stay
        # "unknown" until osquery or the agent reports its build.
        changed = False
        if self.first is not None and (device.first_seen is None or self.first < device.first_seen):
            device.first_seen = self.first
            changed = True
        if self.last is not None and (device.last_seen is None or self.last > device.last_seen):
            device.last_seen = self.last
            changed = True
        if self.logons:
            users = _merge_logons(device.logged_on_users or [], self.logons.values())
            if users != device.logged_on_users:
                device.logged_on_users = users
                changed = True
        known = device.ip_addresses or []
        new = [a for a in self.addresses if a not in known]
        if new and len(known) < MAX_ADDRESSES:
            device.ip_addresses = [*known, *new][:MAX_ADDRESSES]
            changed = True
        return changed


def usable_addresses(addresses: list[str]) -> list[str]:
    """The addresses that name this device, in the form the device keeps."""
    return [usable for text in addresses if (usable := _usable_address(text))]


def _usable_address(text: str) -> str | None:
    # Loopback, link-local, multicast and unspecified addresses name no particular machine.
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if (
        address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    ):
        return None
    return str(address)


def _entry(logon: Logon) -> dict[str, Any]:
    return {
        "name": logon.name,
        "terminal": None,
        "host": logon.host,
        "started": logon.time.isoformat(timespec="microseconds"),
        "source": LOGON_SOURCE,
        "logon_type": logon.logon_type,
        "sid": logon.sid,
    }


def _merge_logons(current: list[dict[str, Any]], logons: Any) -> list[dict[str, Any]]:
    """The agent's entries unchanged, then the latest logon per (user, logon type)."""
    others = [entry for entry in current if entry.get("source") != LOGON_SOURCE]
    ours: dict[tuple[str, Any], dict[str, Any]] = {}
    for entry in current:
        if entry.get("source") == LOGON_SOURCE:
            ours[(str(entry.get("name", "")).lower(), entry.get("logon_type"))] = entry
    for logon in logons:
        key = (logon.name.lower(), logon.logon_type)
        entry = _entry(logon)
        # ISO times in UTC, all with microseconds, sort as text.
        if key not in ours or entry["started"] > str(ours[key].get("started") or ""):
            ours[key] = entry
    latest = sorted(ours.values(), key=lambda e: str(e.get("started") or ""), reverse=True)
    return others + latest[:MAX_LOGGED_ON_USERS]
