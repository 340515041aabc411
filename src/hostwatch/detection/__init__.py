"""Sigma detection: rules loaded with pySigma, compiled into in-process matchers, indexed.

rules, report = load_rules([Path("rules/")])   # report: loaded, rejected, notes, seconds
detector = Detector(rules)
for match in detector.match(event_rows):        # rows in the event table's shape
    info = detector.rules[match.rule_id]        # title, level, tags, ... for the alert
"""

from hostwatch.detection.engine import Detector, Match
from hostwatch.detection.rules import CompiledRule, LoadReport, Rejected, RuleInfo, load_rules

__all__ = [
    "CompiledRule",
    "Detector",
    "LoadReport",
    "Match",
    "Rejected",
    "RuleInfo",
    "load_rules",
]
