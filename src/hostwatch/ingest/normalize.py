"""One EVTX record normalized onto the event record, by the table in windows_map."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from hostwatch.ingest.windows_map import EVENTS, OTHER_SOURCE, SOURCES, UNMAPPED, Spec
from hostwatch.ingest.windows_values import (
    COLUMNS,
    PORTS,
    PROCESS_IDS,
    TEXT_LIMITS,
    Normalized,
    RecordError,
    address,
    fit,
    integer,
    sha256_of,
    text_of,
    user_name,
)
from hostwatch.protocol import EARLIEST, LATEST

# Every column of the event row empty; each record's row starts as a copy.
_EMPTY_ROW: dict[str, Any] = dict.fromkeys(COLUMNS)


def _attribute(element: Any, name: str) -> Any:
    if isinstance(element, dict):
        attributes = element.get("#attributes")
        if isinstance(attributes, dict):
            return attributes.get(name)
    return None


def _event_id(system: dict[str, Any]) -> int | None:
    value = system.get("EventID")
    if isinstance(value, dict):  # {"#attributes": {"Qualifiers": ...}, "#text": 4656}
        value = value.get("#text")
    return integer(value, 0xFFFF)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.removesuffix(" UTC"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed if EARLIEST <= parsed < LATEST else None


def _event_data(event: dict[str, Any]) -> dict[str, Any]:
    """The record's own fields: EventData, or the one element inside UserData."""
    data = event.get("EventData")
    if isinstance(data, dict):
        return data
    user_data = event.get("UserData")
    if isinstance(user_data, dict):
        for value in user_data.values():
            if isinstance(value, dict):
                return value
    return {}


def dedupe_key(
    channel: str, computer: str, record_id: Any, time_created: Any, provider: Any, event_id: Any
) -> str:
    """Stable per record: the same record in two copies of a log gets the same key.

    A log numbers its records per channel and computer; the time, provider and event id
    keep two different records apart should a log have been cleared and numbered anew.
    """
    identity = (
        f"{channel}\x1f{computer}\x1f{record_id}\x1f{time_created}\x1f{provider}\x1f{event_id}"
    )
    return "evtx:" + hashlib.sha256(identity.encode()).hexdigest()[:32]


def normalize(event: dict[str, Any], written: str | None = None) -> Normalized:
    """One EVTX `Event` element as an event row (without its device) and device facts.

    `written` is the record header's time, used when the event's TimeCreated is unusable.
    """
    system = event.get("System")
    if not isinstance(system, dict):
        raise RecordError("the record has no System element")
    computer = text_of(system.get("Computer"))
    if computer is None:
        raise RecordError("the record names no Computer")
    channel = text_of(system.get("Channel")) or ""
    provider = _attribute(system.get("Provider"), "Name")
    event_id = _event_id(system)
    record_id = system.get("EventRecordID")
    time_created = _attribute(system.get("TimeCreated"), "SystemTime")
    # The System element's parts worth keeping; the event id and time have their columns.
    fields: dict[str, Any] = {
        "channel": channel or None,
        "provider": provider,
        "event_record_id": record_id,
        "computer": computer,
        "level": system.get("Level"),
        "keywords": system.get("Keywords"),
        "user_sid": _attribute(system.get("Security"), "UserID"),
        "execution_process_id": _attribute(system.get("Execution"), "ProcessID"),
    }
    fields = {name: value for name, value in fields.items() if value is not None}
    for name, value in event.items():
        if name not in ("System", "#attributes"):
            fields[name] = value

    time = _parse_time(time_created)
    if time is None:
        time = _parse_time(written)
        if time is None:
            raise RecordError(f"the record has no usable time (TimeCreated {time_created!r})")
        fields["time_source"] = "record_header"
        fields["time_created"] = time_created

    lowered = channel.lower()
    spec = EVENTS.get((lowered, event_id or -1), UNMAPPED)
    if spec.provider is not None and spec.provider != provider:
        spec = UNMAPPED
    data = _event_data(event)
    row = _EMPTY_ROW.copy()
    row["source"] = SOURCES.get(lowered, OTHER_SOURCE)
    row["event_code"] = None if event_id is None else str(event_id)
    row["kind"] = spec.kind
    row["action_type"] = spec.action
    row["dedupe_key"] = dedupe_key(channel, computer, record_id, time_created, provider, event_id)
    row["time"] = time
    row["fields"] = fields
    normalized = Normalized(computer=computer, time=time, row=row, data=data)
    _fill_columns(normalized, spec)
    if spec.adjust is not None:
        spec.adjust(normalized)
    return normalized


def _fill_columns(event: Normalized, spec: Spec) -> None:
    row, data = event.row, event.data
    for column, names in spec.columns.items():
        if isinstance(names, str):
            value = data.get(names)
        else:
            value = next((data[n] for n in names if data.get(n) is not None), None)
        if column in TEXT_LIMITS:
            if column in ("remote_address", "local_address"):
                value = address(value)
            row[column] = fit(event, column, value)
        elif column in PROCESS_IDS:
            # The Security log writes process id 0x0 when no process was involved.
            row[column] = integer(value, 2**32) or None
        elif column in PORTS:
            row[column] = integer(value, 65535)
        elif column == "process_sha256":
            row[column] = sha256_of(value)
    row["user"] = fit(event, "user", user_name(data, spec.user))
