"""One detector per process, rebuilt only when the rules in the database change.

The database's rules stamp (raised with the version on every import or switch) keys the
cache: a detection call costs one small read while the rules stay as they are. Compiled
rules are also kept by the hash of their file's text, so switching a rule on or off only
rebuilds the index, not every rule; a file is parsed again only when its text changed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hostwatch.detection.correlation import CorrelationSet
from hostwatch.detection.engine import Detector
from hostwatch.detection.models import DetectionRule, DetectionState
from hostwatch.detection.rules import CompiledCorrelation, CompiledRule, RuleLoader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    stamp: str
    version: int
    detector: Detector
    # Rules stored as enabled that no longer compile (a pySigma upgrade may refuse one).
    unusable: tuple[str, ...]
    correlations: CorrelationSet


class DetectorCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[str, Built] = {}
        # Text hash -> the rules compiled from that text, by id.
        self._compiled: dict[str, dict[str, CompiledRule | CompiledCorrelation]] = {}

    def clear(self) -> None:
        with self._lock:
            self._built.clear()
            self._compiled.clear()

    def holds(self, database: str) -> bool:
        """Whether a detector is held for the database (its URL), fresh or not."""
        return database in self._built

    def forget(self, database: str) -> None:
        """Drop the detector built for one database (its URL), as when it is deleted."""
        with self._lock:
            self._built.pop(database, None)

    def detector(self, session: Session) -> Built:
        """The detector of the enabled rules in the session's database, built if stale."""
        state = session.execute(
            select(DetectionState.rules_version, DetectionState.stamp).where(DetectionState.id == 1)
        ).one_or_none()
        version, stamp = (state[0], state[1]) if state else (0, "none")
        # One entry per database: a process may serve more than one (tests do).
        bind = session.get_bind()
        database = str(bind.engine.url)
        built = self._built.get(database)
        if built is not None and built.stamp == stamp:
            return built
        with self._lock:
            built = self._built.get(database)
            if built is not None and built.stamp == stamp:
                return built
            built = self._build(session, version, stamp)
            self._built[database] = built
            return built

    def _build(self, session: Session, version: int, stamp: str) -> Built:
        started = time.perf_counter()
        # Disabled correlation rules too: their `generate: false` still silences base rules.
        stored = session.execute(
            select(DetectionRule.id, DetectionRule.text_sha256, DetectionRule.enabled).where(
                or_(DetectionRule.enabled.is_(True), DetectionRule.correlation_type.is_not(None))
            )
        ).all()
        wanted_hashes = {digest for _, digest, _ in stored}
        missing = wanted_hashes - self._compiled.keys()
        if missing:
            texts = session.execute(
                select(DetectionRule.text_sha256, DetectionRule.file, DetectionRule.text)
                .where(DetectionRule.text_sha256.in_(missing))
                .distinct()
            ).all()
            for digest, file, text in texts:
                if digest in self._compiled:
                    continue
                loader = RuleLoader()
                loader.load_text(file, text)
                texts_rules: list[CompiledRule | CompiledCorrelation] = [*loader.rules]
                texts_rules += loader.correlations
                self._compiled[digest] = {rule.info.id: rule for rule in texts_rules}
        # Texts no enabled rule uses any more are let go.
        for digest in list(self._compiled):
            if digest not in wanted_hashes:
                del self._compiled[digest]

        rules: list[CompiledRule] = []
        correlations: list[CompiledCorrelation] = []
        switched_off: list[CompiledCorrelation] = []
        unusable: list[str] = []
        for rule_id, digest, enabled in stored:
            compiled = self._compiled.get(digest, {}).get(rule_id)
            if compiled is None:
                if enabled:
                    unusable.append(rule_id)
            elif isinstance(compiled, CompiledCorrelation):
                (correlations if enabled else switched_off).append(compiled)
            elif enabled:
                rules.append(compiled)
        if unusable:
            log.warning("%d enabled rules no longer compile, e.g. %s", len(unusable), unusable[0])
        detector = Detector(rules)
        correlation_set = CorrelationSet.build(correlations, switched_off, detector.rules)
        unusable += [rule_id for rule_id, _ in correlation_set.unusable]
        log.info(
            "detector built for rules version %d: %d rules in %.2f s",
            version,
            len(rules),
            time.perf_counter() - started,
        )
        return Built(stamp, version, detector, tuple(unusable), correlation_set)


# The process's cache.
CACHE = DetectorCache()
