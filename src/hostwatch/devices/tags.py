"""User tags on devices. System tags are Hostwatch's own and cannot be changed by users."""

from __future__ import annotations

import re

from hostwatch.devices.models import Device, DeviceTag
from hostwatch.errors import Forbidden, InvalidInput, NotFound

TAG = re.compile(r"^[\w .:@/+-]{1,64}$")
_SYSTEM_PREFIXES = ("source:", "os:", "isolation:")


def check_tag(tag: str) -> str:
    tag = tag.strip()
    if not TAG.match(tag):
        raise InvalidInput(
            f"tag {tag!r} is not valid: use 1 to 64 letters, digits, spaces or . : @ / + - _",
            errors=[{"field": "tags", "message": "invalid tag"}],
        )
    if tag.lower().startswith(_SYSTEM_PREFIXES):
        raise InvalidInput(
            f"tag {tag!r} uses a prefix reserved for system tags",
            errors=[{"field": "tags", "message": "reserved prefix"}],
        )
    return tag


def add_user_tags(device: Device, tags: list[str], actor: str) -> list[str]:
    """Add tags; returns those that were new."""
    present = {t.name for t in device.tags}
    added = []
    for tag in dict.fromkeys(check_tag(t) for t in tags):
        if tag not in present:
            device.tags.append(DeviceTag(name=tag, kind="user", created_by=actor))
            added.append(tag)
    return added


def remove_user_tag(device: Device, tag: str) -> None:
    for existing in device.tags:
        if existing.name == tag:
            if existing.kind == "system":
                raise Forbidden(f"tag {tag!r} is a system tag; Hostwatch sets and removes it")
            device.tags.remove(existing)
            return
    raise NotFound(f"device {device.id} has no tag {tag!r}")
