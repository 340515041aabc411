"""The plain walk of NVD configurations that cpe.Configurations replaced, kept as the test
oracle: every entry of every node tested against every installed product of its name."""

from __future__ import annotations

from typing import Any

from hostwatch.vulns import cpe
from hostwatch.vulns.cpe import UNKNOWN, EntryMatch, Product, Truth


def _any(values: list[Truth]) -> Truth:
    if any(v is True for v in values):
        return True
    return UNKNOWN if any(v is UNKNOWN for v in values) else False


def _all(values: list[Truth]) -> Truth:
    if any(v is False for v in values):
        return False
    return UNKNOWN if any(v is UNKNOWN for v in values) else True


def _combine(operator: str | None, values: list[Truth], negate: bool) -> Truth:
    result = _all(values) if (operator or "OR").upper() == "AND" else _any(values)
    if negate and result is not UNKNOWN:
        return not result
    return result


def _node(node: dict[str, Any], products: cpe.Index, vulnerable: list[EntryMatch]) -> Truth:
    values: list[Truth] = []
    for entry in node.get("cpeMatch") or []:
        truths: list[Truth] = [False]
        part, vendor, name = cpe.split_cpe(entry["criteria"])[:3]
        for product in products.get((part, vendor, name), ()):
            truth, reason = cpe.match_entry(entry, product)
            truths.append(truth)
            if truth is not False and entry.get("vulnerable", True):
                vulnerable.append(EntryMatch(product, entry, truth, reason))
        values.append(_any(truths))
    for child in node.get("children") or []:
        values.append(_node(child, products, vulnerable))
    return _combine(node.get("operator"), values, bool(node.get("negate")))


def evaluate(configurations: list[dict[str, Any]], products: list[Product]) -> list[EntryMatch]:
    index = cpe.index_products(products)
    found: list[EntryMatch] = []
    for configuration in configurations:
        candidates: list[EntryMatch] = []
        truths = [_node(n, index, candidates) for n in configuration.get("nodes", [])]
        whole = _combine(configuration.get("operator"), truths, bool(configuration.get("negate")))
        if whole is False:
            continue
        for match in candidates:
            truth = match.truth if whole is True else UNKNOWN
            reason = match.reason or (None if whole is True else "the configuration is unknown")
            found.append(EntryMatch(match.product, match.entry, truth, reason))
    return found
