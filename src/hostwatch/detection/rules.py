"""Sigma rule files and folders loaded with pySigma, run through its Windows pipelines, compiled.

A generic Windows rule (a log source category such as `process_creation`) describes events
that more than one log writes. Each rule is processed once per log that can feed it: the
Sysmon pipeline (process_creation is Sysmon event 1 on its channel) and the Windows audit
pipeline (process_creation is Security event 4688, `Image` there is `NewProcessName`), each
followed by the Windows log source pipeline, which adds the `Channel` condition of a
service. A rule matches an event when any of its versions does.

Every rule that cannot be used is reported with its file, id and reason; none is dropped
without a word.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.pipelines.sysmon import sysmon_pipeline
from sigma.pipelines.sysmon.sysmon import sysmon_generic_logsource_eventid_mapping
from sigma.pipelines.windows import windows_audit_pipeline, windows_logsource_pipeline
from sigma.pipelines.windows.windows import generic_logsource_to_windows_audit_event_mapping
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from hostwatch.detection.compile import Node, any_of, compile_condition
from hostwatch.detection.patterns import UnusableValue

log = logging.getLogger(__name__)

# Rule files larger than this are refused: rules are a few KiB; this is not one.
MAX_RULE_FILE_BYTES = 1024 * 1024
SYSMON = "sysmon"
SECURITY = "security"
WINDOWS = "windows"
GENERIC = "generic"
LINUX = "linux"


@dataclass(frozen=True)
class RuleInfo:
    """What an alert needs to know about the rule that raised it."""

    id: str
    title: str
    level: str | None
    status: str | None
    description: str | None
    tags: tuple[str, ...]
    references: tuple[str, ...]
    falsepositives: tuple[str, ...]
    author: str | None
    product: str | None
    category: str | None
    service: str | None
    path: str
    # The rule's `name`, by which correlation rules may refer to it as well as by its id.
    name: str | None = None


@dataclass(frozen=True)
class Version:
    """The rule as processed for one log (`sysmon`, `security`, `windows` or `generic`)."""

    log: str
    node: Node


@dataclass(frozen=True)
class CompiledRule:
    info: RuleInfo
    versions: tuple[Version, ...]


# The correlation types evaluated (hostwatch.detection.correlation).
CORRELATION_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")


@dataclass(frozen=True)
class CompiledCorrelation:
    """A Sigma correlation rule: base-rule matches of one group counted within a timespan.

    `references` name base rules by id or name, as the rule wrote them; `aliases` maps a
    group-by alias to the field it stands for in the events of each reference.
    """

    info: RuleInfo
    kind: str
    references: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan_seconds: int
    op: str
    count: int
    # The upper bound of a `range` condition (whose lower bound is `count`, op "gte").
    high: int | None
    field: str | None
    generate: bool
    aliases: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()


@dataclass(frozen=True)
class Rejected:
    """A rule, or a whole file, that cannot be used: where it is and why."""

    file: str
    rule_id: str | None
    title: str | None
    reason: str

    def __str__(self) -> str:
        rule = f" rule {self.rule_id}" if self.rule_id else ""
        return f"{self.file}{rule}: {self.reason}"


@dataclass
class LoadReport:
    """How a load went: rules loaded, rejected with reasons, notes on partly used rules."""

    files: int = 0
    loaded: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    # Rules in use, but not in every version (for one log) or not as precisely as written.
    notes: list[Rejected] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "loaded": self.loaded,
            "rejected": [vars(r) for r in self.rejected],
            "notes": [vars(n) for n in self.notes],
            "seconds": round(self.seconds, 3),
        }


# Built once: a pipeline resets its state for each rule it processes.
_SYSMON_PIPELINE = sysmon_pipeline() + windows_logsource_pipeline()
_AUDIT_PIPELINE = windows_audit_pipeline() + windows_logsource_pipeline()
_WINDOWS_PIPELINE = windows_logsource_pipeline()
_NO_PIPELINE = ProcessingPipeline()
# The pipeline module annotates this mapping with `ast.Dict` by mistake; it is a dict.
_AUDIT_CATEGORIES: frozenset[str] = frozenset(
    generic_logsource_to_windows_audit_event_mapping  # type: ignore[call-overload]
)
# libyaml's parser when PyYAML has it: several times faster than the pure Python one.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _pipelines(product: str | None, category: str | None) -> list[tuple[str, ProcessingPipeline]]:
    """The pipelines a rule goes through, one per log that can feed its log source.

    Linux rules need none: the agent's view gives their fields their Sigma names
    (hostwatch.detection.linux).
    """
    if product == LINUX:
        return [(LINUX, _NO_PIPELINE)]
    if product != "windows":
        return [(GENERIC, _NO_PIPELINE)]
    found = []
    if category in sysmon_generic_logsource_eventid_mapping:
        found.append((SYSMON, _SYSMON_PIPELINE))
    if category in _AUDIT_CATEGORIES:
        found.append((SECURITY, _AUDIT_PIPELINE))
    if not found:
        found.append((WINDOWS, _WINDOWS_PIPELINE))
    return found


def processed_versions(rule: SigmaRule) -> Iterator[tuple[str, SigmaRule | SigmaError]]:
    """The rule processed by each pipeline that applies to it, or the error it raised.

    The rule itself is processed by the last pipeline; the others get copies.
    """
    logsource = rule.logsource
    pipelines = _pipelines(logsource.product, logsource.category)
    for index, (name, pipeline) in enumerate(pipelines):
        target = rule if index == len(pipelines) - 1 else copy.deepcopy(rule)
        try:
            pipeline.apply(target)
        except SigmaError as exc:
            yield name, exc
        else:
            yield name, target


def compile_rule(rule: SigmaRule) -> Node:
    """One processed rule's conditions as one node (several conditions: any of them)."""
    nodes = []
    for condition in rule.detection.parsed_condition:
        parsed = condition.parsed
        if parsed is None:
            raise UnusableValue("a condition selects nothing (all its detections were dropped)")
        nodes.append(compile_condition(parsed))
    if not nodes:
        raise UnusableValue("the rule has no condition")
    return any_of(nodes)


def _info(rule: SigmaRule | SigmaCorrelationRule, path: str) -> RuleInfo:
    logsource = getattr(rule, "logsource", None)
    return RuleInfo(
        id=str(rule.id),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        status=rule.status.name.lower() if rule.status else None,
        description=rule.description,
        tags=tuple(f"{tag.namespace}.{tag.name}" for tag in rule.tags),
        references=tuple(rule.references),
        falsepositives=tuple(rule.falsepositives),
        author=rule.author,
        product=logsource.product if logsource else None,
        category=logsource.category if logsource else None,
        service=logsource.service if logsource else None,
        path=path,
        name=rule.name,
    )


# Modifier names of the Sigma specification that this pySigma release does not know, and the
# name it knows them by.
_MODIFIER_ALIASES = {"utf16le": "wide"}
# Limitation: pySigma 1.5 writes the byte order mark of the `utf16` modifier as UTF-8 bytes
# (EF BB BF) when `base64` follows, so `utf16|base64` values do not match real UTF-16 text
# with its mark (FF FE). No shared rule uses `utf16`; `wide`/`utf16le` and `utf16be` work.


def _with_aliases(document: Any) -> Any:
    """The rule document with aliased modifiers renamed in its detection's field keys, and
    a correlation's `range` condition made into one pySigma knows (see `split_range`)."""
    if not isinstance(document, dict):
        return document
    correlation = document.get("correlation")
    if isinstance(correlation, dict) and isinstance(correlation.get("condition"), dict):
        condition = dict(correlation["condition"])
        if "range" in condition:
            low, high = split_range(condition.pop("range"))
            condition["gte"] = low
            document["correlation"] = {**correlation, "condition": condition}
            document[RANGE_HIGH] = high
    if not isinstance(document.get("detection"), dict):
        return document
    document["detection"] = {
        name: _rename_modifiers(value) for name, value in document["detection"].items()
    }
    return document


def _rename_modifiers(value: Any) -> Any:
    if isinstance(value, list):
        return [_rename_modifiers(item) for item in value]
    if not isinstance(value, dict):
        return value
    renamed = {}
    for key, item in value.items():
        if isinstance(key, str) and "|" in key:
            field, *modifiers = key.split("|")
            key = "|".join([field, *(_MODIFIER_ALIASES.get(m, m) for m in modifiers)])
        renamed[key] = item
    return renamed


# Sigma's `range: LOW..HIGH` correlation condition is not in this pySigma release: the
# loader gives pySigma `gte: LOW` and keeps HIGH in this top-level key of the rule, which
# pySigma keeps among the rule's custom attributes.
RANGE_HIGH = "x-hostwatch-range-high"


def split_range(value: Any) -> tuple[int, int]:
    """`LOW..HIGH` of a range condition as two counts; a clear error when it is not that."""
    low, sep, high = str(value).partition("..")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise UnusableValue(f"the range condition {value!r} is not of the form LOW..HIGH")
    bounds = int(low), int(high)
    if bounds[0] > bounds[1]:
        raise UnusableValue(f"the range condition {value!r} has its bounds the wrong way round")
    return bounds


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class RuleLoader:
    """Loads rule files one by one into compiled rules, collecting every problem."""

    def __init__(self) -> None:
        self.rules: list[CompiledRule] = []
        self.correlations: list[CompiledCorrelation] = []
        self.report = LoadReport()
        self._seen: dict[str, str] = {}

    def load_paths(self, paths: Iterable[Path]) -> None:
        for path in paths:
            if path.is_dir():
                files = _rule_files(path)
                if not files:
                    self._reject(
                        str(path), None, None, "no .yml or .yaml rule files in this folder"
                    )
                for file in files:
                    self.load_file(file)
            elif path.is_file():
                self.load_file(path)
            else:
                self._reject(str(path), None, None, "no such file or folder")

    def load_file(self, path: Path) -> None:
        name = str(path)
        try:
            size = path.stat().st_size
            if size > MAX_RULE_FILE_BYTES:
                self._reject(name, None, None, f"larger than {MAX_RULE_FILE_BYTES} bytes")
                return
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self._reject(name, None, None, f"cannot read the file: {_reason(exc)}")
            return
        self.load_text(name, text)

    def load_text(self, name: str, text: str) -> None:
        """Rules from the YAML `text` of one file called `name` (one or more documents)."""
        started = time.perf_counter()
        self.report.files += 1
        try:
            documents = [_with_aliases(d) for d in yaml.load_all(text, Loader=_YamlLoader)]
            # References between rules (correlations) are not resolved: a correlation may
            # name rules of other files, and correlations are reported below anyway.
            collection = SigmaCollection.from_dicts(
                documents,
                collect_errors=True,
                source=SigmaRuleLocation(Path(name)),
                resolve_references=False,
            )
        except (yaml.YAMLError, SigmaError, ValueError, TypeError, AttributeError) as exc:
            self._reject(name, None, None, f"not a valid Sigma rule file: {_reason(exc)}")
            self.report.seconds += time.perf_counter() - started
            return
        for error in collection.errors:
            if not any(error in getattr(r, "errors", ()) for r in collection.rules):
                self._reject(name, None, None, _reason(error))
        for rule in collection.rules:
            self._add(name, rule)
        self.report.seconds += time.perf_counter() - started

    def _add(self, name: str, rule: Any) -> None:
        rule_id = str(rule.id) if getattr(rule, "id", None) else None
        title = getattr(rule, "title", None)
        if isinstance(rule, SigmaCorrelationRule):
            self._add_correlation(name, rule)
            return
        if isinstance(rule, SigmaFilter):
            self._reject(name, rule_id, title, "Sigma filters are not supported yet")
            return
        if rule.errors:
            self._reject(name, rule_id, title, "; ".join(_reason(e) for e in rule.errors))
            return
        if rule_id is None:
            self._reject(name, None, title, "the rule has no id")
            return
        if rule_id in self._seen:
            self._reject(name, rule_id, title, f"the id is already used by {self._seen[rule_id]}")
            return

        info = _info(rule, name)  # before the pipelines rewrite its log source
        versions = []
        problems = []
        for log_name, processed in processed_versions(rule):
            if isinstance(processed, SigmaError):
                problems.append(f"{log_name}: {_reason(processed)}")
                continue
            try:
                versions.append(Version(log_name, compile_rule(processed)))
            except (UnusableValue, SigmaError) as exc:
                problems.append(f"{log_name}: {_reason(exc)}")
        if not versions:
            self._reject(name, rule_id, title, "; ".join(problems))
            return
        for problem in problems:
            self.report.notes.append(Rejected(name, rule_id, title, f"not used for {problem}"))
        self._seen[rule_id] = name
        self.rules.append(CompiledRule(info, tuple(versions)))
        self.report.loaded += 1

    def _add_correlation(self, name: str, rule: SigmaCorrelationRule) -> None:
        rule_id = str(rule.id) if rule.id else None
        title = rule.title
        if rule.errors:
            self._reject(name, rule_id, title, "; ".join(_reason(e) for e in rule.errors))
            return
        if rule_id is None:
            self._reject(name, None, title, "the correlation rule has no id")
            return
        if rule_id in self._seen:
            self._reject(name, rule_id, title, f"the id is already used by {self._seen[rule_id]}")
            return
        kind = rule.type.name.lower()
        if kind not in CORRELATION_TYPES:
            self._reject(
                name,
                rule_id,
                title,
                f"correlation type {kind} is not supported (only {', '.join(CORRELATION_TYPES)})",
            )
            return
        condition = rule.condition
        if not isinstance(condition, SigmaCorrelationCondition) or not rule.rules:
            # Limitation: extended temporal conditions (`a and not b`) are not evaluated.
            self._reject(name, rule_id, title, "extended correlation conditions are not supported")
            return
        field_name = condition.fieldref
        if isinstance(field_name, list):
            if len(field_name) != 1:
                self._reject(name, rule_id, title, "value_count counts the values of one field")
                return
            field_name = field_name[0]
        high = rule.custom_attributes.get(RANGE_HIGH)
        aliases = tuple(
            (
                alias.alias,
                tuple(
                    sorted((ref.reference, str(mapped)) for ref, mapped in alias.mapping.items())
                ),
            )
            for alias in rule.aliases
        )
        self._seen[rule_id] = name
        self.correlations.append(
            CompiledCorrelation(
                info=_info(rule, name),
                kind=kind,
                references=tuple(ref.reference for ref in rule.rules),
                group_by=tuple(rule.group_by or ()),
                timespan_seconds=rule.timespan.seconds,
                op=condition.op.name.lower(),
                count=condition.count,
                high=int(high) if high is not None else None,
                field=field_name,
                generate=bool(rule.generate),
                aliases=aliases,
            )
        )
        self.report.loaded += 1

    def check_references(self, known: Callable[[str], str | None]) -> None:
        """Reject the correlations that refer to a rule `known` does not find.

        `known(reference)` answers "rule", "correlation" or None for a reference (an id or
        name). A correlation of correlations is refused too.
        """
        kept = []
        for correlation in self.correlations:
            problem = None
            for reference in correlation.references:
                found = known(reference)
                if found is None:
                    problem = (
                        f"refers to rule {reference!r}, which is neither in this import nor "
                        "stored (by id or name)"
                    )
                elif found == "correlation":
                    # Limitation: correlations of correlations are not evaluated.
                    problem = (
                        f"refers to correlation {reference!r}: chained correlations "
                        "are not supported"
                    )
                if problem:
                    break
            if problem is None:
                kept.append(correlation)
                continue
            info = correlation.info
            self._seen.pop(info.id, None)
            self.report.loaded -= 1
            self._reject(info.path, info.id, info.title, problem)
        self.correlations = kept

    def known_here(self, reference: str) -> str | None:
        """Whether a reference names a rule or correlation loaded by this loader."""
        for rule in self.rules:
            if reference in (rule.info.id, rule.info.name):
                return "rule"
        for correlation in self.correlations:
            if reference in (correlation.info.id, correlation.info.name):
                return "correlation"
        return None

    def _reject(self, file: str, rule_id: str | None, title: str | None, reason: str) -> None:
        log.info("rule rejected: %s rule %s: %s", file, rule_id, reason)
        self.report.rejected.append(Rejected(file, rule_id, title, reason))


def _rule_files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for file in sorted(files):
            if file.lower().endswith((".yml", ".yaml")):
                found.append(Path(root) / file)
    return found


def load_rules(paths: Iterable[Path]) -> tuple[list[CompiledRule], LoadReport]:
    """Every rule in the given files and folders, compiled, with the load's report.

    Correlation rules are checked (their references must be among the rules loaded) and
    counted, but only the base rules are returned; `RuleLoader.correlations` has them.
    """
    loader = RuleLoader()
    loader.load_paths(paths)
    loader.check_references(loader.known_here)
    log.info(
        "rules loaded: %d, rejected: %d, in %.2f s",
        loader.report.loaded,
        len(loader.report.rejected),
        loader.report.seconds,
    )
    return loader.rules, loader.report
