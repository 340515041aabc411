"""Which Windows security updates a device is missing, and why each one is.

The rule, for one device whose product and build are known:

- An update of the device's product is a candidate when Microsoft gives it a fixed build
  (a cumulative or monthly update that moves the OS build).
- It is installed when the device's build has reached its fixed build (same build number
  and a revision at least the fixed one): the build itself is the proof.
- It is also taken as installed when the device lists it among its hotfixes, or lists
  any update that supersedes it, directly or through a chain (March's cumulative update
  supersedes February's, which supersedes January's, ...). This is what keeps a device
  whose build string is stale, but whose hotfix list shows the newest cumulative update,
  from being shown as missing every older month.
- Hotpatch updates apply only to devices enrolled in hotpatching; they are left out for
  other devices, whose regular cumulative update carries the same fixes.
- Every other candidate is missing. Newest first (by fixed build, then month).

A device whose build or product is unknown gets no list: it is "unknown", never "missing
everything".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hostwatch.vulns.msrc import Update, month_order
from hostwatch.vulns.windows_products import WindowsBuild

HOTPATCH_SUBTYPES = frozenset({"security hotpatch update", "securityhotpatchupdate"})


@dataclass(frozen=True)
class KnownUpdate:
    """An update for one product with the month that published it and its CVEs."""

    update: Update
    month: str  # "2024-Feb"
    # The product's full name: ids are the document's own, names are what devices map to.
    product: str
    cves: tuple[str, ...] = ()


@dataclass
class MissingUpdate:
    kb: str
    month: str
    fixed_build: str
    sub_type: str
    restart_required: str | None
    url: str | None
    cves: tuple[str, ...]
    # Why it is missing, in words: "build 10.0.19045.3570 < fixed build 10.0.19045.3803".
    reason: str


@dataclass
class Assessment:
    status: str  # "assessed" or "unknown"
    missing: list[MissingUpdate] = field(default_factory=list)
    # Updates shown installed, and by what: "build", "hotfix KB5035845", "superseded by ...".
    covered: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def _normalize_kb(value: str) -> str:
    text = value.strip().upper()
    return text[2:] if text.startswith("KB") else text


def supersession(updates: Iterable[Update]) -> dict[str, set[str]]:
    """KB -> the KBs it supersedes, directly (the documents' Supercedence fields)."""
    direct: dict[str, set[str]] = {}
    for update in updates:
        direct.setdefault(update.kb, set()).update(update.supersedes)
    return direct


def covered_by_hotfixes(hotfixes: Iterable[str], direct: Mapping[str, set[str]]) -> dict[str, str]:
    """Every KB that an installed hotfix is or supersedes, with the hotfix that covers it."""
    covered: dict[str, str] = {}
    for hotfix in sorted({_normalize_kb(h) for h in hotfixes if h.strip()}):
        stack = [hotfix]
        while stack:
            kb = stack.pop()
            if kb in covered:
                continue
            covered[kb] = (
                f"hotfix KB{hotfix}" if kb == hotfix else (f"superseded by installed KB{hotfix}")
            )
            stack.extend(direct.get(kb, ()))
    return covered


def assess(
    product: str | None,
    build: WindowsBuild | None,
    hotfixes: Iterable[str],
    known: Iterable[KnownUpdate],
    *,
    hotpatch: bool = False,
) -> Assessment:
    """Missing updates of one device (see the module's rule)."""
    if product is None:
        return Assessment("unknown", reason="the Windows product is not known")
    if build is None or build.revision is None:
        return Assessment("unknown", reason="the OS build and its revision are not known")
    # One entry per KB: a later document that repeats an update replaces the earlier one.
    by_kb = {k.update.kb: k for k in known if k.product == product}
    candidates = list(by_kb.values())
    direct = supersession(k.update for k in candidates)
    by_hotfix = covered_by_hotfixes(hotfixes, direct)
    result = Assessment("assessed")
    missing: list[tuple[tuple[int, int, int, int], MissingUpdate]] = []
    for item in candidates:
        update = item.update
        fixed = WindowsBuild.parse(update.fixed_build)
        if fixed is None:
            continue
        if update.sub_type.lower() in HOTPATCH_SUBTYPES and not hotpatch:
            continue
        if fixed.build != build.build:
            # Each feature release is a product of its own, so an update of this product
            # always names this build number; one that does not is not comparable.
            continue
        if build.key() >= fixed.key():
            result.covered[update.kb] = f"build {build} >= fixed build {fixed}"
            continue
        if update.kb in by_hotfix:
            result.covered[update.kb] = by_hotfix[update.kb]
            continue
        missing.append(
            (
                fixed.key(),
                MissingUpdate(
                    kb=update.kb,
                    month=item.month,
                    fixed_build=str(fixed),
                    sub_type=update.sub_type,
                    restart_required=update.restart_required,
                    url=update.url,
                    cves=item.cves,
                    reason=f"build {build} < fixed build {fixed} (KB{update.kb})",
                ),
            )
        )
    # Newest first: by fixed build, then by month.
    missing.sort(key=lambda pair: (pair[0], month_order(pair[1].month)), reverse=True)
    result.missing = [update for _, update in missing]
    return result
