"""What an import did, file by file: counts, problems, and the exit status they add up to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from hostwatch.ingest.evtx import Problem

EXIT_COMPLETE = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3
# Problems listed per file; a badly damaged file can hold thousands.
MAX_PROBLEMS_LISTED = 1000

# What a terminal would act on or hide, in names from disks and archives and in messages that
# quote records: C0 and C1 controls (escape sequences, carriage returns), DEL, the marks that
# reorder or hide text (bidirectional overrides, zero-width characters), line and paragraph
# separators, and lone surrogates (bytes of a file name that are not UTF-8).
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # a byte of the name that is not UTF-8
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """`text` safe to print on a terminal: every character it could act on shown as an escape.

    Limitation: a backslash is printed as it is, so a name holding the text "\\x1b" reads
    the same as one holding an escape character; --json tells them apart.
    """
    return _UNPRINTABLE.sub(_escape_one, text)


@dataclass
class FileSummary:
    """One file's records and problems. Stored and duplicate counts are for the whole
    import only: a batch, stored with one statement per device, spans files."""

    name: str
    # Records the parser returned.
    records: int = 0
    # Records the parser could not return (damaged, or lost with a damaged or missing part
    # of the file), and records without a computer name or a time.
    bad_records: int = 0
    # Records read but not stored because the database refused their batch.
    not_stored: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "records": self.records,
            "bad_records": self.bad_records,
            "not_stored": self.not_stored,
            "problems": [p.to_dict() for p in self.problems[:MAX_PROBLEMS_LISTED]],
            "problems_not_listed": max(len(self.problems) - MAX_PROBLEMS_LISTED, 0),
        }


@dataclass
class ImportSummary:
    files: list[FileSummary] = field(default_factory=list)
    # Problems with an input as a whole: a missing path, an unreadable archive.
    input_problems: list[Problem] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    devices_created: int = 0
    devices_updated: int = 0
    # Alerts the enabled rules raised on the stored events, and alerts they widened.
    alerts_raised: int = 0
    alerts_updated: int = 0
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def bad_records(self) -> int:
        return sum(f.bad_records for f in self.files)

    @property
    def not_stored(self) -> int:
        return sum(f.not_stored for f in self.files)

    @property
    def problem_count(self) -> int:
        return len(self.input_problems) + sum(len(f.problems) for f in self.files)

    @property
    def status(self) -> str:
        """complete: no problem; partial: problems, but records went in; failed: none did."""
        if self.problem_count == 0:
            return "complete"
        return "partial" if self.stored + self.duplicates > 0 else "failed"

    @property
    def exit_code(self) -> int:
        return {"complete": EXIT_COMPLETE, "partial": EXIT_PARTIAL}.get(self.status, EXIT_FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "files": len(self.files),
            "records": self.records,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "bad_records": self.bad_records,
            "not_stored": self.not_stored,
            "devices_created": self.devices_created,
            "devices_updated": self.devices_updated,
            "alerts_raised": self.alerts_raised,
            "alerts_updated": self.alerts_updated,
            "seconds": round(self.seconds, 3),
            "input_problems": [p.to_dict() for p in self.input_problems],
            "per_file": [f.to_dict() for f in self.files],
        }


def render(summary: ImportSummary, console: Console, problems_shown: int = 50) -> None:
    """The summary for people: the totals, then each problem with its file, chunk and record."""
    rate = summary.records / summary.seconds if summary.seconds else 0.0
    table = Table("", "", show_header=False, box=None)
    for label, value in (
        ("status", summary.status),
        ("files", len(summary.files)),
        ("records read", summary.records),
        ("events stored", summary.stored),
        ("duplicates skipped", summary.duplicates),
        ("bad records", summary.bad_records),
        ("not stored (database)", summary.not_stored),
        ("devices created", summary.devices_created),
        ("devices updated", summary.devices_updated),
        ("alerts raised", summary.alerts_raised),
        ("time", f"{summary.seconds:.1f} s ({rate:,.0f} records/s)"),
    ):
        table.add_row(label, str(value))
    console.print(table)

    problems = summary.input_problems + [p for f in summary.files for p in f.problems]
    if not problems:
        return
    console.print(f"\n{len(problems)} problems:")
    for problem in problems[:problems_shown]:
        # Names and messages come from the input files: escaped, and printed as text, not
        # markup. JSON output keeps them exact (json.dumps escapes what needs it).
        console.print(
            f"  {escape_text(str(problem))}", markup=False, highlight=False, soft_wrap=True
        )
    if len(problems) > problems_shown:
        console.print(f"  ... and {len(problems) - problems_shown} more (--json lists them)")
