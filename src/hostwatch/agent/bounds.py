"""Fit collected values into the size bounds of the wire protocol before they are sent."""

from __future__ import annotations

SHORT = 256
PATH = 4096
LONG = 32_768


def clip(value: str | None, limit: int = SHORT) -> str | None:
    """Cut a value to `limit` characters; None stays None."""
    if value is None:
        return None
    return value if len(value) <= limit else value[:limit]


def is_clipped(value: str | None, limit: int) -> bool:
    return value is not None and len(value) > limit
