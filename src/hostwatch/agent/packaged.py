"""Which files the OS's packages installed, with the md5 each had then (Debian's dpkg database).

App restriction allows a packaged file only while its content is what its package installed:
dpkg records that in /var/lib/dpkg/info/PACKAGE.md5sums, and for configuration files (such as
init scripts) in the Conffiles of /var/lib/dpkg/status. Diverted files (dpkg-divert) are found
at the place they were diverted to.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# Limitation: only dpkg (Debian, Ubuntu) is read; on RPM systems no file counts as packaged,
# so only allowed hashes and paths run in the scope (an empty scope is refused there).
DPKG_DIR = Path("/var/lib/dpkg")
# How often, at most, the database's modification times are compared to the loaded index.
# Limitation: a program a package has just installed or upgraded is refused until its
# md5sums are read again (this interval plus about half a second), so a maintainer script
# that runs it at once may fail under an every-filesystem restriction.
RECHECK_SECONDS = 2.0

Md5 = bytes | tuple[bytes, ...]


class PackageIndex:
    """Path to installed md5, built once on first use and rebuilt when dpkg changes it."""

    def __init__(self, dpkg_dir: Path = DPKG_DIR) -> None:
        self.dpkg_dir = dpkg_dir
        self._index: dict[str, Md5] | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reloading = False
        self.generation = 0  # raised on every (re)load, so callers know to drop cached verdicts

    @property
    def available(self) -> bool:
        return (self.dpkg_dir / "status").is_file()

    def __len__(self) -> int:
        return len(self._index or {})

    def _read_stamp(self) -> tuple[int, int]:
        def mtime(path: Path) -> int:
            try:
                return path.stat().st_mtime_ns
            except OSError:
                return 0

        return mtime(self.dpkg_dir / "status"), mtime(self.dpkg_dir / "info")

    def ensure_loaded(self) -> int:
        """Loads the index now if it is not loaded or dpkg changed it; returns its size."""
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._read_stamp()
            if self._index is None or stamp != self._stamp:
                self._install(self._load(), stamp)
            return len(self._index or {})

    def expected_md5(self, path: str) -> Md5 | None:
        """The md5 (or md5s, when packages disagree) a package installed at `path`.

        Called while a program waits to start: after the first load, a changed database is
        read again in the background, and the old index answers meanwhile.
        """
        if self._index is None:
            self.ensure_loaded()
        else:
            self.refresh()
        assert self._index is not None
        return self._index.get(path)

    def refresh(self) -> None:
        """Reads a changed database again in the background; cheap enough to call per exec."""
        now = time.monotonic()
        if self._index is None:
            return
        if now - self._checked < RECHECK_SECONDS or self._reloading:
            return
        self._checked = now
        if self._read_stamp() != self._stamp:
            self._reloading = True
            threading.Thread(target=self._reload, name="hostwatch-dpkg-index", daemon=True).start()

    def _reload(self) -> None:
        try:
            with self._lock:
                stamp = self._read_stamp()
                self._install(self._load(), stamp)
        except Exception:
            logger.exception("cannot read the dpkg database %s again", self.dpkg_dir)
        finally:
            self._reloading = False

    def _install(self, index: dict[str, Md5], stamp: tuple[int, int]) -> None:
        self._index, self._stamp = index, stamp
        self.generation += 1
        logger.info("package index: %s files from %s", len(index), self.dpkg_dir)

    # Loading

    def _load(self) -> dict[str, Md5]:
        index: dict[str, Md5] = {}
        diversions = self._diversions()
        real_dirs: dict[str, str] = {}

        def add(path: str, md5_hex: str) -> None:
            try:
                digest = bytes.fromhex(md5_hex)
            except ValueError:
                return
            if len(digest) != 16:
                return
            directory, _, name = path.rpartition("/")
            # Merged /usr and other directory symlinks: the kernel reports the real path.
            real = real_dirs.get(directory)
            if real is None:
                real = real_dirs[directory] = os.path.realpath(directory or "/")
            for each in {path, f"{real.rstrip('/')}/{name}"}:
                known = index.get(each)
                if known is None:
                    index[each] = digest
                elif isinstance(known, bytes):
                    if known != digest:
                        index[each] = (known, digest)
                elif digest not in known:
                    index[each] = (*known, digest)

        info = self.dpkg_dir / "info"
        try:
            names = sorted(os.listdir(info))
        except OSError as exc:
            logger.warning("cannot read the dpkg database %s: %s", info, exc)
            names = []
        for name in names:
            if not name.endswith(".md5sums"):
                continue
            package = name[: -len(".md5sums")].split(":", 1)[0]
            try:
                text = (info / name).read_text(encoding="utf-8", errors="surrogateescape")
            except OSError as exc:
                logger.warning("cannot read %s: %s", info / name, exc)
                continue
            for line in text.splitlines():
                # md5sum's format: 32 hex digits, two characters, the path without its slash.
                if len(line) < 35:
                    continue
                path = "/" + line[34:]
                diverted = diversions.get(path)
                if diverted is not None and diverted[1] != package:
                    path = diverted[0]
                add(path, line[:32])
        for path, md5_hex in self._conffiles():
            add(path, md5_hex)
        return index

    def _diversions(self) -> dict[str, tuple[str, str]]:
        """Diverted path to (where it went, the package that diverted it; ':' for local)."""
        try:
            lines = (self.dpkg_dir / "diversions").read_text(encoding="utf-8").splitlines()
        except OSError:
            return {}
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(lines) - 2, 3):
            found[lines[start]] = (lines[start + 1], lines[start + 2])
        return found

    def _conffiles(self) -> list[tuple[str, str]]:
        try:
            text = (self.dpkg_dir / "status").read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            logger.warning("cannot read %s: %s", self.dpkg_dir / "status", exc)
            return []
        found: list[tuple[str, str]] = []
        inside = False
        for line in text.splitlines():
            if line.startswith("Conffiles:"):
                inside = True
            elif inside and line.startswith(" "):
                # " /etc/init.d/ssh MD5" with flags such as "obsolete" after the md5.
                words = line.strip().split(" ")
                while len(words) > 2 and len(words[-1]) != 32:
                    words.pop()
                if len(words) >= 2 and words[0].startswith("/"):
                    found.append((" ".join(words[:-1]), words[-1]))
            else:
                inside = False
        return found
