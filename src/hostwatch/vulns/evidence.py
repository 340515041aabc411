"""A finding explained for a person: its advisories' description, references and matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from hostwatch.vulns import schemas
from hostwatch.vulns.models import Advisory

_FEED_NAMES = {
    "osv": "OSV",
    "nvd": "NVD",
    "debian": "Debian",
    "kev": "CISA KEV",
    "msrc": "Microsoft",
}
_MAX_REFERENCES = 100
_BOUNDS = (
    ("versionStartIncluding", "from {} on"),
    ("versionStartExcluding", "after {}"),
    ("versionEndIncluding", "up to {} included"),
    ("versionEndExcluding", "before {}"),
)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def description(advisories: Sequence[Advisory]) -> str | None:
    """NVD's English description, else OSV's details or summary, else KEV's, else Debian's."""
    order = {"nvd": 0, "osv": 1, "kev": 2, "debian": 3}
    for advisory in sorted(advisories, key=lambda a: (order.get(a.feed, 9), a.record_id)):
        data = advisory.data or {}
        if advisory.feed == "nvd":
            described = data.get("descriptions")
            found = _text(described[0]) if isinstance(described, list) and described else None
        elif advisory.feed == "osv":
            found = _text(data.get("details")) or _text(data.get("summary"))
        elif advisory.feed == "kev":
            found = _text(data.get("description"))
        else:
            found = _text(data.get("title")) or _text(advisory.summary)
        if found:
            return found
    return None


def safe_url(value: Any) -> str | None:
    """Only http and https links with a host: a feed's javascript: or data: URL is dropped."""
    if not isinstance(value, str) or len(value) > 2048:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value.strip()


def references(advisories: Sequence[Advisory]) -> list[schemas.Reference]:
    """Every advisory's links, one per URL, the feeds' own pages first."""
    found: dict[str, str | None] = {}
    for advisory in advisories:
        data = advisory.data or {}
        entries = data.get("references")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            url = safe_url(entry.get("url"))
            if url is None or url in found:
                continue
            tags = entry.get("tags")
            label = _text(entry.get("type")) or (
                ", ".join(t for t in tags if isinstance(t, str))
                if isinstance(tags, list) and tags
                else None
            )
            found[url] = label
    return [
        schemas.Reference(url=url, label=label)
        for url, label in list(found.items())[:_MAX_REFERENCES]
    ]


def _bounds(entry: dict[str, Any]) -> str:
    said = [form.format(entry[key]) for key, form in _BOUNDS if _text(entry.get(key))]
    return ", ".join(said) if said else "all versions"


def _distribution(note: Any) -> str:
    """The sentence on a Python package the distribution installed (see matching.py)."""
    if not isinstance(note, dict):
        return ""
    package = _text(note.get("package"))
    shipped = f" as {package} {_text(note.get('version')) or ''}".rstrip() if package else ""
    text = f". The distribution installed this package{shipped}"
    if _text(note.get("decided")):
        return f"{text}; {note['decided']}"
    return f"{text}; it may be fixed by a distribution backport the upstream version does not show"


def explain(entry: dict[str, Any], installed: str) -> schemas.Evidence:
    """One match of a finding as a sentence: which feed said what about which version."""
    feed = str(entry.get("feed") or "")
    advisory = str(entry.get("advisory") or "")
    if feed == "msrc":
        return _windows_update(entry, advisory, installed)
    source = f"{_FEED_NAMES.get(feed, feed)} advisory {advisory}"
    version = installed or None
    shown_version = f"installed version {installed}" if installed else "no installed version"
    reason = _text(entry.get("reason"))
    fixed = _text(entry.get("fixed")) or _text(entry.get("versionEndExcluding"))
    cpe = _text(entry.get("cpe"))
    range_text = _text(entry.get("range"))

    if cpe:
        mapping = _text(entry.get("mapping"))
        text = f"{source} applies to {cpe} ({_bounds(entry)}); {shown_version}"
        if mapping:
            text += f"; the program was mapped to this product by {mapping}"
        range_text = _bounds(entry)
    else:
        package = entry.get("package") or "the package"
        ecosystem = entry.get("ecosystem") or "its ecosystem"
        if entry.get("versions") == "listed":
            text = f"{source} lists version {entry.get('version')} of {package} ({ecosystem})"
            text += " as affected"
        elif range_text:
            text = f"{source} says {package} ({ecosystem}) is affected in {range_text}; "
            text += f"{shown_version} is in that range"
        else:
            text = f"{source} names {package} ({ecosystem}); {shown_version}"
    if reason:
        text += f". Not decided: {reason}"
    elif fixed:
        text += f". Fixed in {fixed}"
    text += _distribution(entry.get("distribution"))
    return schemas.Evidence(
        feed=feed,
        advisory=advisory,
        text=text + ".",
        installed_version=version,
        range=range_text,
        cpe=cpe,
        fixed=fixed if not reason else None,
        reason=reason,
    )


def _windows_update(entry: dict[str, Any], kb: str, installed: str) -> schemas.Evidence:
    """A missing Windows update (windows_findings.py): "build X < fixed build Y (KBn)"."""
    match = _text(entry.get("match")) or ""
    month = _text(entry.get("month"))
    product = _text(entry.get("product")) or "Windows"
    text = f"Microsoft's security update {kb}"
    text += f" ({month})" if month else ""
    text += f" for {product} is not installed: {match}."
    return schemas.Evidence(
        feed="msrc",
        advisory=kb,
        text=text,
        installed_version=installed or None,
        range=match or None,
        cpe=None,
        fixed=_text(entry.get("fixed")),
        reason=None,
    )
