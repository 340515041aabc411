"""SHA-256 of executable images, cached by what identifies a file's content on disk."""

from __future__ import annotations

import hashlib
import os
import stat
from collections import OrderedDict

DEFAULT_ENTRIES = 4096
DEFAULT_MAX_BYTES = 64 << 20
_CHUNK = 1 << 20

FileIdentity = tuple[int, int, int, int]  # device, inode, mtime in ns, size


class ImageHashes:
    """An LRU of image hashes keyed by (device, inode, mtime, size).

    A file rewritten in place gets a new mtime, and a replaced one a new inode, so a stale
    hash is never served for changed content unless the writer also forged the mtime.
    """

    def __init__(self, max_entries: int = DEFAULT_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._cache: OrderedDict[FileIdentity, str] = OrderedDict()
        self.hashed = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._cache)

    def sha256(self, *paths: str, inodes: set[int] | None = None) -> tuple[str | None, str | None]:
        """The hash of the first path that opens as a regular file, or why there is none.

        `paths` are tried in order, for instance /proc/PID/exe (the very image, even if
        deleted since) before the path the exec named. With `inodes`, every path but the
        last must be one of those files, so a process that has exec'd again since is not
        hashed as its newer image.
        """
        reason = "no image path"
        for index, path in enumerate(paths):
            try:
                # O_NONBLOCK: a path swapped for a FIFO must not hang the collector.
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
            except OSError as exc:
                reason = f"cannot open {path}: {exc.strerror}"
                continue
            try:
                if inodes and index < len(paths) - 1 and os.fstat(fd).st_ino not in inodes:
                    reason = f"{path} is another file now"
                    continue
                return self._hash_open(fd)
            except OSError as exc:
                reason = f"cannot read {path}: {exc.strerror}"
            finally:
                os.close(fd)
        return None, reason

    def _hash_open(self, fd: int) -> tuple[str | None, str | None]:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        identity = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._cache.get(identity)
        if cached is not None:
            self._cache.move_to_end(identity)
            self.hits += 1
            return cached, None
        if info.st_size > self.max_bytes:
            return None, f"larger than {self.max_bytes} bytes"
        digest = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
        value = digest.hexdigest()
        self._cache[identity] = value
        self.hashed += 1
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return value, None
