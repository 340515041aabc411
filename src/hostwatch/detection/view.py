"""The fields a Sigma rule sees in one stored event: its original EVTX fields, flattened;
for the agent's Linux events, the fields of hostwatch.detection.linux.

Sigma's Windows rules name the fields of the event's XML: `EventID`, `Channel`,
`Provider_Name`, `Computer` from its System element and the names of its EventData (or
UserData) items (`Image`, `CommandLine`, ...). The event row keeps those in `fields`
(hostwatch.ingest.normalize), so the view is built from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostwatch.detection.linux import AGENT_SOURCE, LINUX, AgentView, agent_view

# A field's value as rules compare it: text, a number, or several values (unnamed Data items).
FieldValue = str | int | float | list[str]
View = dict[str, FieldValue]

# System element parts kept by the normalizer, by their name in Sigma's Windows taxonomy.
_SYSTEM = (
    ("channel", "Channel"),
    ("provider", "Provider_Name"),
    ("computer", "Computer"),
    ("event_record_id", "EventRecordID"),
    ("level", "Level"),
    ("keywords", "Keywords"),
    ("user_sid", "Security_UserID"),
    ("execution_process_id", "ProcessID"),
)


def scalar(value: Any) -> FieldValue | None:
    """A value as rules compare it; None when it is empty or a structure with no text.

    Booleans are written as the event XML writes them ("true"/"false"): rules compare text.
    """
    cls = value.__class__
    if cls is str or cls is int:
        return value
    if cls is bool:
        return "true" if value else "false"
    if cls is float:
        return value
    if cls is dict:
        # An element with attributes: {"#attributes": {...}, "#text": ...}
        return scalar(value.get("#text"))
    if cls is list:
        items = [str(item) for item in (scalar(v) for v in value) if item is not None]
        return items or None
    return None


def _add_items(view: View, data: Any) -> None:
    if not isinstance(data, dict):
        return
    for name, value in data.items():
        if name == "#attributes":
            continue
        converted = scalar(value)
        if converted is not None:
            view[name] = converted
            if " " in name:
                # Some providers (Defender) name items with spaces, "Threat Name"; Sigma's
                # rules write them without, ThreatName.
                view[name.replace(" ", "")] = converted


def sigma_view(row: Mapping[str, Any]) -> View:
    """The Sigma fields of one event row (the event table's columns, `fields` holding JSON).

    `EventID` comes from the row's event code; the System parts from `fields`; then the
    items of EventData, or of the one element inside UserData.
    """
    if row.get("source") == AGENT_SOURCE:
        return agent_view(row)
    fields = row.get("fields") or {}
    view: View = {}
    code = row.get("event_code")
    if code is not None:
        view["EventID"] = int(code) if str(code).isdigit() else str(code)
    for stored, name in _SYSTEM:
        value = fields.get(stored)
        if value is not None:
            converted = scalar(value)
            if converted is not None:
                view[name] = converted
    _add_items(view, fields.get("EventData"))
    user_data = fields.get("UserData")
    if isinstance(user_data, dict):
        for element in user_data.values():
            if isinstance(element, dict):
                _add_items(view, element)
                break
    return view


def product_of(view: Mapping[str, Any]) -> str | None:
    """The Sigma log source product an event comes from: Windows for EVTX-shaped events,
    Linux for the agent's (hostwatch.detection.linux).

    Limitation: the agent runs on Linux only, so every agent event is taken as Linux.
    """
    if "Channel" in view:
        return "windows"
    return LINUX if view.__class__ is AgentView else None
