"""CPE 2.3 names and NVD applicability statements (configurations), evaluated three-valued.

A configuration is a tree: an operator (AND/OR, optionally negated) over nodes, each node an
operator over `cpeMatch` entries (and, in older feeds, child nodes). An entry matches an
installed product when part, vendor and product are equal and the version fits: the exact
version, or the versionStart/End Including/Excluding bounds. Each test is True, False or
UNKNOWN (the product's version is missing or unreadable), and AND/OR combine them the
Kleene way, so a missing version never turns into "all versions".

Limitations: edition, language, sw_edition, target_sw, target_hw and other are not
compared (inventories do not know them); an installed product matches an entry whatever
those say.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from hostwatch.vulns import versions

UNKNOWN = None  # the third truth value
Truth = bool | None

_FIELDS = 11  # part .. other, after "cpe:2.3:"


class CpeError(ValueError):
    pass


@lru_cache(maxsize=131_072)
def split_cpe(text: str) -> tuple[str, ...]:
    """The 11 attributes of a CPE 2.3 formatted string, with backslash escapes removed."""
    if not text.startswith("cpe:2.3:"):
        raise CpeError(f"not a CPE 2.3 name: {text!r}")
    body = text[len("cpe:2.3:") :]
    # Most names escape nothing: then they split on every colon, and Python does that in C.
    parts: list[str] = body.split(":") if "\\" not in body else _split_escaped(body)
    if len(parts) != _FIELDS:
        raise CpeError(f"a CPE 2.3 name has 11 attributes after 'cpe:2.3:', got {len(parts)}")
    return tuple(parts)


def _split_escaped(body: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in body:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class Product:
    """An installed product in CPE terms. `version` None: not known."""

    part: str
    vendor: str
    product: str
    version: str | None
    update: str | None = None
    software_id: int | None = None
    # The version names a product line (Office 2016), not a build: NVD can not tell its
    # patch level, so what matches is unknown, not affected.
    line_only: bool = False


@dataclass(frozen=True)
class EntryMatch:
    product: Product
    entry: dict[str, Any]
    truth: Truth
    reason: str | None


def _bound(entry: dict[str, Any]) -> bool:
    return any(
        key in entry
        for key in (
            "versionStartIncluding",
            "versionStartExcluding",
            "versionEndIncluding",
            "versionEndExcluding",
        )
    )


def match_entry(entry: dict[str, Any], product: Product) -> tuple[Truth, str | None]:
    """Whether one cpeMatch entry covers the product, and why it could not tell if unknown."""
    attrs = split_cpe(entry["criteria"])
    part, vendor, name, version, update = attrs[:5]
    if (part, vendor, name) != (product.part, product.vendor, product.product):
        return False, None
    # An update of "-" is the release without updates; a product with a known update is not it.
    # NVD spells Java updates both "update_21" and "update21".
    if (
        update not in ("*", "")
        and product.update is not None
        and update.replace("_", "") != product.update.replace("_", "")
    ):
        return False, None

    bounded = _bound(entry)
    # A platform (an entry not marked vulnerable) only has to be there.
    vulnerable = bool(entry.get("vulnerable", True))
    if version in ("-", "*", "") and not bounded:
        if not vulnerable:
            return True, None
        # NVD names no version and no range: any installed version may be patched or not.
        return UNKNOWN, "NVD names no version or range for this product"
    if product.version is None:
        return UNKNOWN, "the installed product has no version"
    installed = versions.parse(versions.VENDOR, product.version)
    if version not in ("*", "-", ""):
        wanted = versions.parse(versions.VENDOR, version)
        if installed is None or wanted is None:
            same = product.version.lower() == version.lower()
            return (True, None) if same else (False, None)
        if installed != wanted:
            return False, None
    elif bounded:
        if installed is None:
            return UNKNOWN, f"installed version {product.version!r} can not be ordered"
        for key, test in (
            ("versionStartIncluding", lambda v, b: v >= b),
            ("versionStartExcluding", lambda v, b: v > b),
            ("versionEndIncluding", lambda v, b: v <= b),
            ("versionEndExcluding", lambda v, b: v < b),
        ):
            if key in entry:
                bound = versions.parse(versions.VENDOR, str(entry[key]))
                if bound is None:
                    return UNKNOWN, f"{key} {entry[key]!r} can not be ordered"
                if not test(installed, bound):
                    return False, None
    if update not in ("*", "-", "") and product.update is None:
        return UNKNOWN, f"the installed product's update is not known (NVD names {update})"
    if product.line_only and vulnerable:
        return UNKNOWN, f"version {product.version} names a product line, not a patch level"
    return True, None


def _any(values: list[Truth]) -> Truth:
    if any(v is True for v in values):
        return True
    return UNKNOWN if any(v is UNKNOWN for v in values) else False


def _all(values: list[Truth]) -> Truth:
    if any(v is False for v in values):
        return False
    return UNKNOWN if any(v is UNKNOWN for v in values) else True


Index = dict[tuple[str, str, str], list[Product]]


def index_products(products: list[Product]) -> Index:
    """Products by (part, vendor, product): an entry is only ever tested against its own."""
    index: Index = {}
    for product in products:
        index.setdefault((product.part, product.vendor, product.product), []).append(product)
    return index


# Results of match_entry by (match criteria, vulnerable, product): NVD repeats the same
# criteria (e.g. every old Firefox version) across hundreds of CVEs.
Memo = dict[tuple[Any, bool, int], tuple[Truth, str | None]]


def _entry_key(entry: dict[str, Any]) -> Any:
    # matchCriteriaId names the criteria with its bounds; without one, they are the key.
    return entry.get("matchCriteriaId") or (
        entry["criteria"],
        entry.get("versionStartIncluding"),
        entry.get("versionStartExcluding"),
        entry.get("versionEndIncluding"),
        entry.get("versionEndExcluding"),
    )


# A cpeMatch entry as prepared: its place among its node's entries, the entry, its version.
_Entry = tuple[int, dict[str, Any], str]


class _Group:
    """A node's entries that name one (part, vendor, product).

    Entries naming an exact version are filed by that version's ordering key, so an
    installed product is tested only against the entries that can hold for it: Firefox
    CVEs list every old release as an entry of its own. Every other entry (any version, or
    a range) is tested one by one. The files are built when a product first needs them.
    """

    __slots__ = ("_by_key", "_by_text", "_others", "entries")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self._by_key: dict[Any, list[_Entry]] | None = None
        # Exact versions that can not be ordered, by lower case text: match_entry compares
        # them as text, and only an installed version that can not be ordered either (the
        # same text has the same key) can equal one.
        self._by_text: dict[str, list[_Entry]] = {}
        self._others: list[_Entry] = []

    def _file(self) -> dict[Any, list[_Entry]]:
        # Built aside and then set, so two threads filing the same group at once only
        # repeat the work.
        by_key: dict[Any, list[_Entry]] = {}
        by_text: dict[str, list[_Entry]] = {}
        others: list[_Entry] = []
        for compiled in self.entries:
            version = compiled[2]
            if version in ("*", "-", ""):
                others.append(compiled)
                continue
            wanted = versions.parse(versions.VENDOR, version)
            if wanted is None:
                by_text.setdefault(version.lower(), []).append(compiled)
            else:
                by_key.setdefault(wanted, []).append(compiled)
        self._by_text, self._others = by_text, others
        self._by_key = by_key
        return by_key

    def candidates(self, product: Product) -> list[_Entry]:
        """The entries that may hold for the product, in their node's order; match_entry
        finds every other one False."""
        if product.version is None:
            return self.entries
        by_key = self._by_key if self._by_key is not None else self._file()
        installed = versions.parse(versions.VENDOR, product.version)
        if installed is None:
            found = self._by_text.get(product.version.lower())
        else:
            found = by_key.get(installed)
        if not found:
            return self._others
        return sorted(found + self._others, key=itemgetter(0))


@dataclass(frozen=True)
class _Node:
    conjunction: bool
    negate: bool
    size: int  # cpeMatch entries
    groups: dict[tuple[str, str, str], _Group]
    children: tuple[_Node, ...]


@dataclass(frozen=True)
class _Configuration:
    conjunction: bool
    negate: bool
    nodes: tuple[_Node, ...]


class Configurations:
    """An advisory's configurations, prepared once to be evaluated against many devices."""

    def __init__(self, configurations: list[dict[str, Any]]) -> None:
        self._configurations = tuple(
            _Configuration(
                _is_and(configuration.get("operator")),
                bool(configuration.get("negate")),
                tuple(_compile_node(node) for node in configuration.get("nodes", [])),
            )
            for configuration in configurations
        )

    def evaluate(self, products: Index, memo: Memo | None = None) -> list[EntryMatch]:
        """The vulnerable entries matched by installed products in configurations that hold.

        Each result's truth is the weaker of its entry's and its configuration's: an
        application entry that matches inside an AND configuration whose platform is
        unknown is unknown.
        """
        memo = {} if memo is None else memo
        found: list[EntryMatch] = []
        for configuration in self._configurations:
            candidates: list[EntryMatch] = []
            truths = [_evaluate(n, products, candidates, memo) for n in configuration.nodes]
            whole = _combine_truths(configuration.conjunction, configuration.negate, truths)
            if whole is False:
                continue
            for match in candidates:
                truth = match.truth if whole is True else UNKNOWN
                reason = match.reason or (None if whole is True else "the configuration is unknown")
                found.append(EntryMatch(match.product, match.entry, truth, reason))
        return found


def _is_and(operator: Any) -> bool:
    return bool((operator or "OR").upper() == "AND")


def _compile_node(node: dict[str, Any]) -> _Node:
    entries = node.get("cpeMatch") or []
    groups: dict[tuple[str, str, str], _Group] = {}
    for position, entry in enumerate(entries):
        part, vendor, name, version = split_cpe(entry["criteria"])[:4]
        group = groups.get((part, vendor, name))
        if group is None:
            group = groups[(part, vendor, name)] = _Group()
        group.entries.append((position, entry, version))
    return _Node(
        _is_and(node.get("operator")),
        bool(node.get("negate")),
        len(entries),
        groups,
        tuple(_compile_node(child) for child in node.get("children") or []),
    )


def _evaluate(node: _Node, products: Index, vulnerable: list[EntryMatch], memo: Memo) -> Truth:
    """A node's truth; entries marked vulnerable that matched (or might) go to `vulnerable`,
    in the order of the node's entries, then its children's."""
    # Per entry that holds or may hold: whether it holds (not only may) for some product.
    holding: dict[int, bool] = {}
    hits: list[tuple[int, int, EntryMatch]] = []
    for triple, group in node.groups.items():
        installed = products.get(triple)
        if not installed:
            continue
        for number, product in enumerate(installed):
            for position, entry, _ in group.candidates(product):
                marked = entry.get("vulnerable", True)
                key = (_entry_key(entry), bool(marked), id(product))
                found = memo.get(key)
                if found is None:
                    found = memo[key] = match_entry(entry, product)
                truth, reason = found
                if truth is False:
                    continue
                holding[position] = holding.get(position, False) or truth is True
                if marked:
                    hits.append((position, number, EntryMatch(product, entry, truth, reason)))
    hits.sort(key=lambda hit: hit[:2])
    vulnerable.extend(hit[2] for hit in hits)
    # Each entry is True if it holds for a product, unknown if it only may, else False.
    truths: list[Truth] = [True if held else UNKNOWN for held in holding.values()]
    if len(holding) < node.size:
        truths.append(False)
    truths.extend(_evaluate(child, products, vulnerable, memo) for child in node.children)
    return _combine_truths(node.conjunction, node.negate, truths)


def _combine_truths(conjunction: bool, negate: bool, values: list[Truth]) -> Truth:
    result = _all(values) if conjunction else _any(values)
    if negate and result is not UNKNOWN:
        return not result
    return result


def evaluate(
    configurations: list[dict[str, Any]],
    products: list[Product] | Index,
    memo: Memo | None = None,
) -> list[EntryMatch]:
    """The vulnerable entries matched by installed products in configurations that hold
    (see Configurations.evaluate)."""
    index = index_products(products) if isinstance(products, list) else products
    return Configurations(configurations).evaluate(index, memo)


def validate_configurations(configurations: Any, where: str) -> set[tuple[str, str]]:
    """Checks the shape of NVD configurations; the (vendor, product) of vulnerable entries."""
    if not isinstance(configurations, list):
        raise CpeError(f"{where}: 'configurations' is not a list")
    found: set[tuple[str, str]] = set()

    def node_products(node: Any, at: str) -> None:
        if not isinstance(node, dict):
            raise CpeError(f"{at} is not a mapping")
        for i, entry in enumerate(node.get("cpeMatch") or []):
            if not isinstance(entry, dict) or not isinstance(entry.get("criteria"), str):
                raise CpeError(f"{at}.cpeMatch[{i}]: field 'criteria' is missing")
            attrs = split_cpe(entry["criteria"])
            if entry.get("vulnerable", True):
                found.add((attrs[1], attrs[2]))
        for i, child in enumerate(node.get("children") or []):
            node_products(child, f"{at}.children[{i}]")

    for c, configuration in enumerate(configurations):
        if not isinstance(configuration, dict) or not isinstance(configuration.get("nodes"), list):
            raise CpeError(f"{where}: configurations[{c}] has no 'nodes' list")
        for n, node in enumerate(configuration["nodes"]):
            node_products(node, f"{where}: configurations[{c}].nodes[{n}]")
    return found
