"""File events from audit watch rules: which places get which rules, and what a syscall's PATH
records say happened (created, modified, deleted, renamed) to which file.

Persistence places get `-w PATH -p wa` watches. A place that does not exist yet gets a file
watch on its own name when its parent exists (which sees it appear, and entries created in
it), and its directory watch once it exists; the collector retries missing places every few
seconds. /tmp and /dev/shm get narrow rules instead (see rules.exec_drop_rules).

Limitation: between a watched directory's creation and the next retry (up to the status
interval, 10 s), files created in it are seen (through the name watch) but changes to
files in its subdirectories are not.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, field
from typing import Protocol

from hostwatch.agent import watched
from hostwatch.agent.audit.netlink import AuditError, AuditRule
from hostwatch.agent.audit.records import AuditEvent, Record
from hostwatch.agent.audit.rules import exec_drop_rules, watch_rule

logger = logging.getLogger(__name__)

AT_FDCWD = 0xFFFFFF9C  # -100 as the kernel logs a 32-bit argument
RENAMES = ("rename", "renameat", "renameat2")
LINKS = ("link", "linkat", "symlink", "symlinkat")
CHMODS = ("chmod", "fchmod", "fchmodat", "fchmodat2")
# For *at syscalls: which argument holds the directory fd of each named path, in order.
DIRFD_ARGS = {"renameat": (0, 2), "renameat2": (0, 2), "linkat": (0, 2), "symlinkat": (1,)}


class RuleAdder(Protocol):
    """What the collector's session offers: add one rule, or fail with an AuditError."""

    def add_rule(self, rule: AuditRule) -> None: ...


@dataclass
class WatchPlan:
    """The watched places and which of their rules the kernel holds so far."""

    key: str
    places: list[watched.Place] = field(default_factory=watched.places)
    exec_dirs: tuple[str, ...] = watched.EXEC_DIRS
    installed: set[tuple[str, bool]] = field(default_factory=set)  # (path, is_dir) of rules
    problems: dict[str, str] = field(default_factory=dict)

    def install(self, session: RuleAdder) -> int:
        """Add every rule that can be added now; the number added. Missing places wait."""
        added = 0
        for directory in self.exec_dirs:
            if (directory, True) in self.installed or not os.path.isdir(directory):
                continue
            for rule in exec_drop_rules(directory, self.key):
                session.add_rule(rule)
            self.installed.add((directory, True))
            added += 1
        for place in self.places:
            wanted = [(place.path, False)]
            if place.is_dir:
                # The name watch sees the directory appear; the tree watch, changes inside.
                wanted.append((place.path, True))
            for path, is_dir in wanted:
                if (path, is_dir) in self.installed:
                    continue
                if is_dir and not os.path.isdir(path):
                    continue
                if not is_dir and not watched.parent_exists(path):
                    continue
                try:
                    session.add_rule(watch_rule(path, is_dir, self.key))
                except AuditError as exc:
                    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EEXIST):
                        continue  # raced with a removal, or the same rule already held
                    self.problems[path] = str(exc)
                    logger.warning("cannot watch %s: %s", path, exc)
                    continue
                self.installed.add((path, is_dir))
                added += 1
        return added

    @property
    def missing(self) -> list[str]:
        return [p.path for p in self.places if (p.path, p.is_dir) not in self.installed]


@dataclass(frozen=True)
class Change:
    action: str  # FileCreated, FileModified, FileDeleted, FileRenamed
    path: str
    category: str
    old_path: str | None = None
    mode: int | None = None  # from the PATH record: the file's mode before the syscall
    inode: int | None = None
    is_dir: bool = False


def _join(name: str, base: str | None) -> str:
    if name.startswith("/") or not base:
        return os.path.normpath(name) if name.startswith("/") else name
    return os.path.normpath(os.path.join(base, name))


def _bases(event: AuditEvent, syscall: str, count: int) -> list[str | None]:
    """The directory each non-parent PATH item is relative to, when its name is relative."""
    cwd = event.cwd()
    dirfds: dict[int, str] = event.notes.get("dirfds", {})
    args = DIRFD_ARGS.get(syscall, (0,) if syscall.endswith(("at", "at2")) else ())
    bases: list[str | None] = []
    for index in range(count):
        arg = args[min(index, len(args) - 1)] if args else None
        bases.append(dirfds.get(arg, cwd) if arg is not None else cwd)
    return bases


def change_of(event: AuditEvent, syscall: str, places: list[watched.Place]) -> Change | None:
    """What the syscall did to a watched file, or None if it touched none (or, in /tmp and
    /dev/shm, nothing that is or was executable)."""
    items: list[Record] = [p for p in event.paths() if p.raw("nametype") != b"PARENT"]
    if not items:
        return None
    bases = _bases(event, syscall, len(items))
    named: list[tuple[Record, str]] = []
    for index, record in enumerate(items):
        name = record.text("name")
        if name:
            named.append((record, _join(name, bases[index])))
    if not named:
        return None

    action_for = {b"CREATE": "FileCreated", b"DELETE": "FileDeleted"}
    old: str | None = None
    if syscall in RENAMES and len(named) >= 2:
        record, path = named[-1]
        old = named[0][1]
        action = "FileRenamed"
        category = watched.category_of(path, places) or watched.category_of(old, places)
        source_mode = named[0][0].number("mode", 8)
    else:
        record, path = next(((r, p) for r, p in named if watched.category_of(p, places)), named[-1])
        if syscall in LINKS:
            action = "FileCreated"
        else:
            action = action_for.get(record.raw("nametype") or b"", "FileModified")
        category = watched.category_of(path, places)
        source_mode = record.number("mode", 8)
    if category is None:
        return None
    mode = record.number("mode", 8)
    is_dir = mode is not None and stat.S_ISDIR(mode)
    if category == watched.EXEC_CATEGORY and not _executable_change(
        action, syscall, path, source_mode
    ):
        return None
    return Change(action, path, category, old, mode, record.number("inode"), is_dir)


def _executable_change(action: str, syscall: str, path: str, mode: int | None) -> bool:
    was_exec = mode is not None and stat.S_ISREG(mode) and bool(mode & 0o111)
    if action == "FileDeleted":
        return was_exec
    if syscall in CHMODS:
        return True  # the kernel rule matched only modes with an execute bit
    is_exec, _ = watched.executable_kind(path)
    if action == "FileRenamed":
        return is_exec or was_exec
    # A create asked for an execute bit; the umask may have taken it away again, and a
    # file gone already cannot be checked: report both.
    return is_exec or not os.path.exists(path)
