"""The rules in the database: import, switch on and off, and exclusions per device or tag.

Every change raises the rules version (hostwatch.detection.models.DetectionState), which
tells each process's cached detector (hostwatch.detection.cache) to rebuild.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hostwatch.db.base import new_id, utcnow
from hostwatch.detection.models import DetectionRule, DetectionState, RuleExclusion
from hostwatch.detection.rules import CompiledCorrelation, CompiledRule, LoadReport, RuleLoader
from hostwatch.devices.models import Device, DeviceTag
from hostwatch.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_REASON = 1000


class _TextKeepingLoader(RuleLoader):
    """The project's rule loader, remembering the YAML text each rule came from."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, str] = {}

    def load_text(self, name: str, text: str) -> None:
        before, before_correlations = len(self.rules), len(self.correlations)
        super().load_text(name, text)
        new: list[CompiledRule | CompiledCorrelation] = [*self.rules[before:]]
        new += self.correlations[before_correlations:]
        for rule in new:
            self.texts[rule.info.id] = text


def _check_references(session: Session, loader: _TextKeepingLoader) -> None:
    """Refuse the loaded correlations that refer to a rule neither loaded nor stored."""

    def known(reference: str) -> str | None:
        here = loader.known_here(reference)
        if here is not None:
            return here
        found = session.execute(
            select(DetectionRule.correlation_type)
            .where(or_(DetectionRule.id == reference, DetectionRule.name == reference))
            .limit(1)
        ).one_or_none()
        if found is None:
            return None
        return "rule" if found[0] is None else "correlation"

    loader.check_references(known)


@dataclass
class RuleImport:
    """How an import went: the loader's report, and what changed in the database."""

    report: LoadReport
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def exit_code(self) -> int:
        if not self.report.rejected:
            return 0
        return 3 if self.report.loaded else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report.to_dict(),
            "rejected_count": len(self.report.rejected),
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
        }


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bump_version(session: Session) -> int:
    """Raise the rules version; returns the new one."""
    state = session.get(DetectionState, 1)
    if state is None:
        state = DetectionState(id=1, rules_version=0)
        session.add(state)
    state.rules_version += 1
    state.stamp = new_id()
    session.flush()
    return state.rules_version


def import_paths(session: Session, paths: Sequence[Path]) -> RuleImport:
    """Load rule files and folders, and store every rule that loads (new ones enabled).

    A rule already stored keeps its switch; its text and facts are replaced when the file
    changed. Rules that cannot be used are in the report, with file, id and reason.
    """
    loader = _TextKeepingLoader()
    loader.load_paths(paths)
    _check_references(session, loader)
    return store_loaded(session, [*loader.rules, *loader.correlations], loader.texts, loader.report)


def import_texts(session: Session, texts: Iterable[tuple[str, str]]) -> RuleImport:
    """The same as `import_paths`, from (file name, YAML text) pairs."""
    loader = _TextKeepingLoader()
    for name, text in texts:
        loader.load_text(name, text)
    _check_references(session, loader)
    return store_loaded(session, [*loader.rules, *loader.correlations], loader.texts, loader.report)


def store_loaded(
    session: Session,
    rules: Sequence[CompiledRule | CompiledCorrelation],
    texts: dict[str, str],
    report: LoadReport,
) -> RuleImport:
    result = RuleImport(report=report)
    stored = {
        rule.id: rule
        for rule in session.scalars(
            select(DetectionRule).where(DetectionRule.id.in_([r.info.id for r in rules]))
        )
    }
    now = utcnow()
    for rule in rules:
        info = rule.info
        text = texts[info.id]
        digest = sha256(text)
        values = {
            "title": info.title,
            "level": info.level,
            "status": info.status,
            "description": info.description,
            "tags": list(info.tags),
            "references": list(info.references),
            "product": info.product,
            "category": info.category,
            "service": info.service,
            "file": info.path,
            "name": info.name,
            "correlation_type": rule.kind if isinstance(rule, CompiledCorrelation) else None,
            "text": text,
            "text_sha256": digest,
        }
        existing = stored.get(info.id)
        if existing is None:
            session.add(
                DetectionRule(id=info.id, enabled=True, imported_at=now, updated_at=now, **values)
            )
            result.added.append(info.id)
        elif existing.text_sha256 != digest or existing.file != info.path:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.updated_at = now
            result.updated.append(info.id)
        else:
            result.unchanged += 1
    if result.added or result.updated:
        bump_version(session)
    log.info(
        "rules imported: %d added, %d updated, %d unchanged, %d rejected",
        len(result.added),
        len(result.updated),
        result.unchanged,
        len(report.rejected),
    )
    return result


def get_rule(session: Session, rule_id: str) -> DetectionRule:
    rule = session.get(DetectionRule, rule_id)
    if rule is None:
        raise NotFound(f"no rule with id {rule_id!r}: import it with 'hostwatch rules import'")
    return rule


def set_enabled(session: Session, rule_ids: Sequence[str], enabled: bool) -> list[str]:
    """Switch rules on or off; returns the ids whose switch changed. Unknown ids are refused."""
    rules = {
        r.id: r
        for r in session.scalars(select(DetectionRule).where(DetectionRule.id.in_(rule_ids)))
    }
    missing = [rule_id for rule_id in rule_ids if rule_id not in rules]
    if missing:
        raise NotFound(f"no rule with id {missing[0]!r}: import it with 'hostwatch rules import'")
    changed = [rule_id for rule_id, rule in rules.items() if rule.enabled != enabled]
    if changed:
        session.execute(
            update(DetectionRule)
            .where(DetectionRule.id.in_(changed))
            .values(enabled=enabled, updated_at=utcnow())
        )
        bump_version(session)
    return changed


def add_exclusion(
    session: Session,
    rule_id: str,
    *,
    device_id: str | None,
    tag: str | None,
    reason: str,
    expires_at: datetime | None,
    created_by: str,
) -> RuleExclusion:
    """Keep a rule from raising alerts on one device, or on devices with one tag."""
    get_rule(session, rule_id)
    if (device_id is None) == (tag is None):
        raise InvalidInput(
            "an exclusion names either a device or a tag, not both and not neither",
            errors=[{"field": "device_id", "message": "give device_id or tag"}],
        )
    if not reason.strip():
        raise InvalidInput(
            "an exclusion needs a reason", errors=[{"field": "reason", "message": "empty"}]
        )
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            f"the reason is longer than {MAX_REASON} characters",
            errors=[{"field": "reason", "message": "too long"}],
        )
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput(
            "the expiry is in the past", errors=[{"field": "expires_at", "message": "past"}]
        )
    if device_id is not None and session.get(Device, device_id) is None:
        raise NotFound(f"no device with id {device_id!r}")
    exclusion = RuleExclusion(
        rule_id=rule_id,
        device_id=device_id,
        tag=tag,
        reason=reason.strip(),
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(exclusion)
    session.flush()
    return exclusion


def remove_exclusion(session: Session, exclusion_id: int) -> RuleExclusion:
    exclusion = session.get(RuleExclusion, exclusion_id)
    if exclusion is None:
        raise NotFound(f"no exclusion with id {exclusion_id}")
    session.delete(exclusion)
    session.flush()
    return exclusion


def list_exclusions(session: Session, rule_id: str | None = None) -> list[RuleExclusion]:
    query = select(RuleExclusion).order_by(RuleExclusion.id)
    if rule_id is not None:
        query = query.where(RuleExclusion.rule_id == rule_id)
    return list(session.scalars(query))


def excluded_rules(
    session: Session, device_id: str, rule_ids: Iterable[str], now: datetime
) -> dict[str, RuleExclusion]:
    """The rules among `rule_ids` excluded on the device now, with the exclusion that does it."""
    ids = list(set(rule_ids))
    if not ids:
        return {}
    tags = select(DeviceTag.name).where(DeviceTag.device_id == device_id)
    found = session.scalars(
        select(RuleExclusion)
        .where(
            RuleExclusion.rule_id.in_(ids),
            or_(RuleExclusion.device_id == device_id, RuleExclusion.tag.in_(tags)),
            or_(RuleExclusion.expires_at.is_(None), RuleExclusion.expires_at > now),
        )
        .order_by(RuleExclusion.id)
    )
    excluded: dict[str, RuleExclusion] = {}
    for exclusion in found:
        excluded.setdefault(exclusion.rule_id, exclusion)
    return excluded
