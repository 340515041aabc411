"""User tags on devices. System tags are Hostwatch's own and cannot be changed by users."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hostwatch.devices.models import Device, DeviceTag
from hostwatch.errors import Forbidden, InvalidInput, NotFound

# ASCII only, so look-alike letters cannot pass for another tag, and no '/', so every tag
# can be named in the path of DELETE /api/devices/{id}/tags/{tag}.
TAG = re.compile(r"[A-Za-z0-9_ .:@+-]{1,64}")
_SYSTEM_PREFIXES = ("source:", "os:", "isolation:", "restriction:")


def check_tag(tag: str, field: str = "tags") -> str:
    tag = tag.strip()
    if not TAG.fullmatch(tag):
        raise InvalidInput(
            f"tag {tag!r} is not valid: use 1 to 64 ASCII letters, digits, spaces or . : @ + - _",
            errors=[{"field": field, "message": "invalid tag"}],
        )
    if tag.lower().startswith(_SYSTEM_PREFIXES):
        raise InvalidInput(
            f"tag {tag!r} uses a prefix reserved for system tags, which Hostwatch sets and "
            "removes itself",
            errors=[{"field": field, "message": "reserved prefix"}],
        )
    return tag


def add_user_tags(session: Session, device: Device, tags: list[str], actor: str) -> list[str]:
    """Add tags; returns those that were new.

    Each tag goes in under its own savepoint: when another request adds the same tag at the
    same moment, the database's unique constraint decides, and the loser treats it as present.
    """
    present = {t.name for t in device.tags}
    added = []
    for tag in dict.fromkeys(check_tag(t) for t in tags):
        if tag in present:
            continue
        try:
            with session.begin_nested():
                session.add(DeviceTag(device_id=device.id, name=tag, kind="user", created_by=actor))
        except IntegrityError:
            continue
        added.append(tag)
    session.expire(device, ["tags"])
    return added


def remove_user_tags(session: Session, device: Device, tags: list[str]) -> list[str]:
    """Remove user tags the device has; returns those removed. System tags are refused
    (by their prefix) before anything changes."""
    wanted = set(tags)
    removed = []
    for existing in list(device.tags):
        if existing.name in wanted and existing.kind == "user":
            device.tags.remove(existing)
            removed.append(existing.name)
    session.flush()
    return sorted(removed)


def remove_user_tag(device: Device, tag: str) -> None:
    for existing in device.tags:
        if existing.name == tag:
            if existing.kind == "system":
                raise Forbidden(f"tag {tag!r} is a system tag; Hostwatch sets and removes it")
            device.tags.remove(existing)
            return
    raise NotFound(f"device {device.id} has no tag {tag!r}")
