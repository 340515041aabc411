"""The reference side of the differential test: rules converted by pySigma's SQLite backend.

Each event's Sigma view (the same fields the engine reads) becomes a row of one SQLite
table. Columns are declared `COLLATE NOCASE` so that `=` compares as Sigma does, without
case, as LIKE already does. Each rule goes through the same pipelines as in the engine
(hostwatch.detection.rules.processed_versions); a rule matches a row when the query of any
of its versions selects it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from hostwatch.detection.rules import processed_versions
from hostwatch.detection.view import View

_MISSING_COLUMN = re.compile(r"no such column: (.+)$")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _regexp(pattern: str, value: object) -> bool:
    if value is None:
        return False
    return re.search(pattern, str(value)) is not None


def _first(view: View, names: list[str]) -> object:
    for name in names:
        if name in view:
            return view[name]
    return None


def _cell(value: object) -> object:
    if isinstance(value, list):
        # Unnamed Data items: the engine tests each; here they are one text, one per line.
        return "\n".join(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return str(value)  # beyond SQLite's integers (bandwidth limits of all ones)
    return value


class SqliteReference:
    """Events in an in-memory SQLite table, and rules run over them as SQL."""

    def __init__(self, views: list[View]) -> None:
        self.connection = sqlite3.connect(":memory:")
        self.connection.create_function("regexp", 2, _regexp, deterministic=True)
        # SQLite's column names ignore case; events name some fields in two spellings
        # (ProcessId, ProcessID), which share a column here.
        spellings: dict[str, list[str]] = {}
        for name in sorted({name for view in views for name in view}):
            spellings.setdefault(name.lower(), []).append(name)
        columns = [names[0] for names in spellings.values()]
        self.columns = set(spellings)
        declared = ", ".join(f"{_quote(name)} TEXT COLLATE NOCASE" for name in columns)
        self.connection.execute(f"CREATE TABLE logs ({declared})")
        placeholders = ", ".join("?" for _ in columns)
        # Column names are quoted identifiers; the values are bound parameters.
        names = ", ".join(map(_quote, columns))
        insert = f"INSERT INTO logs ({names}) VALUES ({placeholders})"  # noqa: S608
        self.connection.executemany(
            insert,
            ([_cell(_first(view, spellings[name.lower()])) for name in columns] for view in views),
        )
        self.backend = sqliteBackend()

    def matches(self, rule: SigmaRule) -> set[int]:
        """The indexes (0-based, in insertion order) of the events the rule selects."""
        found: set[int] = set()
        for _, processed in processed_versions(rule):
            if isinstance(processed, SigmaError):
                continue
            for query in self.backend.convert_rule(processed):
                found |= self._run(str(query))
        return found

    def _run(self, query: str) -> set[int]:
        assert query.startswith("SELECT * FROM logs WHERE "), query
        # The query is the backend's own output: running it is the point of this test.
        condition = query.removeprefix("SELECT * FROM logs WHERE ")
        sql = "SELECT rowid - 1 FROM logs WHERE " + condition  # noqa: S608
        while True:
            try:
                return {row[0] for row in self.connection.execute(sql)}
            except sqlite3.OperationalError as exc:
                missing = _MISSING_COLUMN.search(str(exc))
                if missing is None:
                    raise
                # A field no event has: an empty column, so the query runs and selects
                # what Sigma says it selects (null comparisons are false).
                name = missing.group(1).strip("`\"'")
                if name.lower() in self.columns:
                    raise
                self.connection.execute(
                    f"ALTER TABLE logs ADD COLUMN {_quote(name)} TEXT COLLATE NOCASE"
                )
                self.columns.add(name.lower())


@dataclass
class Disagreement:
    rule_id: str
    path: str
    only_engine: list[int] = field(default_factory=list)
    only_sqlite: list[int] = field(default_factory=list)


def sigma_rules(files: Iterable[Path]) -> list[tuple[Path, SigmaRule]]:
    """Plain pySigma rules, one per file, for the reference side."""
    rules = []
    for file in files:
        collection = SigmaCollection.from_yaml(file.read_text(encoding="utf-8"))
        for rule in collection.rules:
            if isinstance(rule, SigmaRule):
                rules.append((file, rule))
    return rules
