"""The places attackers persist or hide in, which the agent watches for file changes.

The same list serves the audit collector (kernel watch rules that name the process) and the
inotify fallback (no process). Each place has a category that travels with its events.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_HOMES = 256  # home directories watched; beyond that, a busy server's users are skipped

SYSTEM_DIRS = (
    ("systemd-unit", "/etc/systemd/system"),
    ("systemd-unit", "/usr/lib/systemd/system"),
    ("systemd-unit", "/lib/systemd/system"),
    ("cron", "/etc/cron.d"),
    ("cron", "/etc/cron.hourly"),
    ("cron", "/etc/cron.daily"),
    ("cron", "/etc/cron.weekly"),
    ("cron", "/etc/cron.monthly"),
    ("cron", "/var/spool/cron"),
    ("shell-profile", "/etc/profile.d"),
    ("ssh-authorized-keys", "/root/.ssh"),
)
SYSTEM_FILES = (
    ("cron", "/etc/crontab"),
    ("shell-profile", "/etc/profile"),
    ("shell-profile", "/etc/bash.bashrc"),
    ("ld-preload", "/etc/ld.so.preload"),
)
HOME_FILES = (".bashrc", ".profile", ".bash_profile", ".zshrc")
HOME_DIRS = (("ssh-authorized-keys", ".ssh"), ("systemd-unit", ".config/systemd/user"))
# Where a dropped executable hides: only files that end up executable are reported.
EXEC_DIRS = ("/tmp", "/dev/shm")  # noqa: S108 - watched, not written
EXEC_CATEGORY = "temp-executable"


@dataclass(frozen=True)
class Place:
    category: str
    path: str  # absolute, with symbolic links of existing parents resolved
    is_dir: bool


def homes() -> list[str]:
    """Home directories of root and of login users (uid 1000 and up), without duplicates."""
    found: dict[str, None] = {"/root": None}
    try:
        entries = pwd.getpwall()
    except OSError:
        entries = []
    for entry in entries:
        if entry.pw_uid != 0 and entry.pw_uid < 1000:
            continue
        home = entry.pw_dir
        if home and home.startswith("/") and home not in ("/", "/nonexistent"):
            found[home] = None
    try:
        for child in sorted(os.listdir("/home")):
            found[f"/home/{child}"] = None
    except OSError:
        pass
    # Limitation: only the first MAX_HOMES home directories are watched.
    return list(found)[:MAX_HOMES]


def resolve(path: str) -> str:
    """`path` with the symbolic links of its existing part resolved, so that /lib/systemd on a
    merged-/usr system is not watched twice."""
    return os.path.realpath(path)


def places() -> list[Place]:
    """Every watched place, resolved and without duplicates; missing ones are included."""
    wanted: list[Place] = [Place(c, p, True) for c, p in SYSTEM_DIRS]
    wanted += [Place(c, p, False) for c, p in SYSTEM_FILES]
    for home in homes():
        wanted += [Place("shell-profile", f"{home}/{name}", False) for name in HOME_FILES]
        wanted += [Place(c, f"{home}/{name}", True) for c, name in HOME_DIRS]
    seen: dict[str, Place] = {}
    for place in wanted:
        real = resolve(place.path)
        if real not in seen:
            seen[real] = Place(place.category, real, place.is_dir)
    return list(seen.values())


def category_of(
    path: str, watched: list[Place], exec_dirs: tuple[str, ...] = EXEC_DIRS
) -> str | None:
    """The category of the watched place `path` falls in, or None."""
    for directory in exec_dirs:
        if path == directory or path.startswith(directory + "/"):
            return EXEC_CATEGORY
    best: Place | None = None
    for place in watched:
        inside = place.is_dir and path.startswith(place.path.rstrip("/") + "/")
        if (path == place.path or inside) and (best is None or len(place.path) > len(best.path)):
            best = place
    return best.category if best else None


def executable_kind(path: str) -> tuple[bool, str | None]:
    """Whether `path` is now a regular file with an execute bit, and what its first bytes
    say it is: "elf", "script" (#!), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False, None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False, None
        head = os.read(fd, 4)
    except OSError:
        return False, None
    finally:
        os.close(fd)
    kind = "elf" if head == b"\x7fELF" else "script" if head[:2] == b"#!" else None
    return bool(info.st_mode & 0o111), kind


def parent_exists(path: str) -> bool:
    return Path(path).parent.is_dir()
