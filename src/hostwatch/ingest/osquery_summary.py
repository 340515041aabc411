"""What an osquery import did, file by file, and the exit status it adds up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from hostwatch.ingest.evtx import Problem
from hostwatch.ingest.summary import (
    EXIT_COMPLETE,
    EXIT_FAILED,
    EXIT_PARTIAL,
    MAX_PROBLEMS_LISTED,
    escape_text,
)


def problem_dict(problem: Problem) -> dict[str, Any]:
    # An osquery problem's `record` is the line number in its file.
    return {"file": problem.file, "line": problem.record, "message": problem.message}


def problem_text(problem: Problem) -> str:
    where = problem.file if problem.record is None else f"{problem.file}, line {problem.record}"
    return f"{where}: {problem.message}"


@dataclass
class OsqueryFileSummary:
    name: str
    lines: int = 0
    # Query results read from the file (event lines of one first run count once).
    results: int = 0
    # Lines that hold no usable result, rows refused, results of unknown queries, and
    # results read but not stored because the database refused their host's transaction.
    bad_lines: int = 0
    bad_rows: int = 0
    skipped_results: int = 0
    not_stored: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "lines": self.lines,
            "results": self.results,
            "bad_lines": self.bad_lines,
            "bad_rows": self.bad_rows,
            "skipped_results": self.skipped_results,
            "not_stored": self.not_stored,
            "problems": [problem_dict(p) for p in self.problems[:MAX_PROBLEMS_LISTED]],
            "problems_not_listed": max(len(self.problems) - MAX_PROBLEMS_LISTED, 0),
        }


@dataclass
class OsquerySummary:
    files: list[OsqueryFileSummary] = field(default_factory=list)
    input_problems: list[Problem] = field(default_factory=list)
    results_applied: int = 0
    software_added: int = 0
    software_removed: int = 0
    software_changed: int = 0
    hotfixes_added: int = 0
    hotfixes_removed: int = 0
    devices_created: int = 0
    devices_updated: int = 0
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def problems(self) -> list[Problem]:
        return self.input_problems + [p for f in self.files for p in f.problems]

    @property
    def status(self) -> str:
        """complete: no problem; partial: problems, but results went in; failed: none did."""
        if not self.problems:
            return "complete"
        return "partial" if self.results_applied > 0 else "failed"

    @property
    def exit_code(self) -> int:
        return {"complete": EXIT_COMPLETE, "partial": EXIT_PARTIAL}.get(self.status, EXIT_FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "files": len(self.files),
            "lines": self.lines,
            "results": sum(f.results for f in self.files),
            "results_applied": self.results_applied,
            "software_added": self.software_added,
            "software_removed": self.software_removed,
            "software_changed": self.software_changed,
            "hotfixes_added": self.hotfixes_added,
            "hotfixes_removed": self.hotfixes_removed,
            "devices_created": self.devices_created,
            "devices_updated": self.devices_updated,
            "bad_lines": sum(f.bad_lines for f in self.files),
            "bad_rows": sum(f.bad_rows for f in self.files),
            "skipped_results": sum(f.skipped_results for f in self.files),
            "not_stored": sum(f.not_stored for f in self.files),
            "seconds": round(self.seconds, 3),
            "input_problems": [problem_dict(p) for p in self.input_problems],
            "per_file": [f.to_dict() for f in self.files],
        }


def render(summary: OsquerySummary, console: Console, problems_shown: int = 50) -> None:
    """The summary for people: the totals, then each problem with its file and line."""
    data = summary.to_dict()
    table = Table("", "", show_header=False, box=None)
    for label, key in (
        ("status", "status"),
        ("files", "files"),
        ("lines read", "lines"),
        ("results applied", "results_applied"),
        ("software added", "software_added"),
        ("software removed", "software_removed"),
        ("software changed", "software_changed"),
        ("hotfixes added", "hotfixes_added"),
        ("hotfixes removed", "hotfixes_removed"),
        ("devices created", "devices_created"),
        ("devices updated", "devices_updated"),
        ("bad lines", "bad_lines"),
        ("bad rows", "bad_rows"),
        ("results of unknown queries", "skipped_results"),
        ("not stored (database)", "not_stored"),
    ):
        table.add_row(label, str(data[key]))
    table.add_row("time", f"{summary.seconds:.1f} s")
    console.print(table)

    problems = summary.problems
    if not problems:
        return
    console.print(f"\n{len(problems)} problems:")
    for problem in problems[:problems_shown]:
        # From the input files: escaped, and printed as text, not markup.
        console.print(
            f"  {escape_text(problem_text(problem))}", markup=False, highlight=False, soft_wrap=True
        )
    if len(problems) > problems_shown:
        console.print(f"  ... and {len(problems) - problems_shown} more (--json lists them)")
