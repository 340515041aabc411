"""Fit collected values into the size bounds of the wire protocol before they are sent."""

from __future__ import annotations

import re

SHORT = 255
PATH = 4096
LONG = 32_768

# Characters the protocol refuses: NUL, and lone surrogates, which is how Python decodes bytes
# that are not valid UTF-8 (surrogateescape maps byte 0xNN to U+DCNN).
_UNSAFE = re.compile("([\x00\ud800-\udfff])")


def clip(value: str | None, limit: int = SHORT) -> str | None:
    """Cut a value to `limit` characters; None stays None."""
    if value is None:
        return None
    return value if len(value) <= limit else value[:limit]


def is_clipped(value: str | None, limit: int) -> bool:
    return value is not None and len(value) > limit


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def fit(value: str | None, limit: int = SHORT) -> tuple[str | None, bool]:
    """Untrusted text made safe to send, cut to `limit`, and whether anything was cut off.

    NUL and undecodable bytes become visible escapes such as `\\x00` and `\\xe9`; an escape
    is never cut in half.
    """
    if value is None:
        return None, False
    if not _UNSAFE.search(value):
        return clip(value, limit), len(value) > limit
    parts: list[str] = []
    room = limit
    # Escapes only lengthen the text, so the first `limit` characters are all that can fit.
    # split() with a group alternates plain text (even indexes) and one unsafe character.
    for index, part in enumerate(_UNSAFE.split(value[:limit])):
        text = _escape(part) if index % 2 else part
        if len(text) > room:
            if not index % 2:
                parts.append(text[:room])
            return "".join(parts), True
        parts.append(text)
        room -= len(text)
    return "".join(parts), len(value) > limit


def clean(value: str | None, limit: int = SHORT) -> str | None:
    """Untrusted text made safe to send and cut to `limit`; None stays None."""
    return fit(value, limit)[0]
