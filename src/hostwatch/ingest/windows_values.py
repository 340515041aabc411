"""The values of one EVTX record made fit for the event table: cleaned, parsed and cut."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Column sizes of the event table (hostwatch.events.models.Event), and the protocol's bounds
# on its text columns, so imported and agent events are cut alike.
SHORT = 255
PATH = 4096
LONG = 32_768
TEXT_LIMITS = {
    "user": SHORT,
    "process_image": PATH,
    "process_command_line": LONG,
    "process_guid": 128,
    "parent_process_image": PATH,
    "parent_process_command_line": LONG,
    "parent_process_guid": 128,
    "target_file": PATH,
    "target_registry_key": PATH,
    "target_registry_value": LONG,
    "remote_address": 64,
    "local_address": 64,
    "dns_name": SHORT,
}
PROCESS_IDS = ("process_id", "parent_process_id")
PORTS = ("remote_port", "local_port")
COLUMNS = (
    "source",
    "event_code",
    "kind",
    "action_type",
    *TEXT_LIMITS,
    *PROCESS_IDS,
    *PORTS,
    "process_sha256",
)

# Where a user name comes from: one field holding DOMAIN\name, or (domain field, name field).
UserFrom = str | tuple[str, str] | None
SUBJECT = ("SubjectDomainName", "SubjectUserName")
TARGET = ("TargetDomainName", "TargetUserName")


@dataclass(frozen=True, slots=True)
class Logon:
    """A successful logon, for the device's list of logged-on users."""

    name: str
    sid: str | None
    logon_type: int | None
    host: str | None
    time: datetime


@dataclass(slots=True)
class Normalized:
    """One record in the shape of the event table, plus what it tells about its device."""

    computer: str
    time: datetime
    row: dict[str, Any]
    data: dict[str, Any]
    own_addresses: list[str] = field(default_factory=list)
    logon: Logon | None = None


class RecordError(ValueError):
    """The record lacks what every event needs (a computer name, a time)."""


def text_of(value: Any) -> str | None:
    """A field's text; None for missing, empty and "-" values."""
    # Most values are text already: checked first, as this runs for every field read.
    if value.__class__ is not str:
        if value is None or isinstance(value, dict | list):
            return None
        value = str(value)
    # Windows writes "-" for "not applicable" in most Security log fields.
    return value if value.strip() and value != "-" else None


def integer(value: Any, maximum: int) -> int | None:
    """A whole number from an int, or decimal or 0x-hex text; None when not in 0..maximum."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = text_of(value)
        if text is None:
            return None
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            return None
    return number if 0 <= number <= maximum else None


def sha256_of(hashes: Any) -> str | None:
    # Sysmon writes "SHA1=..,MD5=..,SHA256=..,IMPHASH=.." or the SHA256 alone.
    text = text_of(hashes)
    if text is None:
        return None
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip().upper() == "SHA256":
            value = value.strip().lower()
            if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
                return value
    return None


def address(value: Any) -> str | None:
    text = text_of(value)
    if text is not None and text.lower().startswith("::ffff:") and "." in text:
        return text[7:]  # IPv4 written as an IPv4-mapped IPv6 address
    return text


def is_true(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def user_name(data: dict[str, Any], source: UserFrom) -> str | None:
    """DOMAIN\\name, or the name alone when the record gives no domain."""
    if source is None:
        return None
    if isinstance(source, str):
        return text_of(data.get(source))
    name = text_of(data.get(source[1]))
    if name is None:
        return None
    domain = text_of(data.get(source[0]))
    return f"{domain}\\{name}" if domain else name


def key_values(text: Any) -> dict[str, str]:
    """`Name=value` lines, as in PowerShell's classic log and its ContextInfo block."""
    found: dict[str, str] = {}
    if not isinstance(text, str):
        return found
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            found.setdefault(name.strip(), value.strip())
    return found


def unnamed_data(data: dict[str, Any]) -> list[str]:
    """The strings of an EventData made of unnamed <Data> elements."""
    value = data.get("Data")
    if isinstance(value, dict):
        value = value.get("#text")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def fit(event: Normalized, column: str, value: Any) -> str | None:
    """Text for a column, cut to its size; a cut is noted in the event's fields."""
    text = text_of(value)
    limit = TEXT_LIMITS[column]
    if text is not None and len(text) > limit:
        event.row["fields"][f"{column}_truncated"] = True
        text = text[:limit]
    return text
