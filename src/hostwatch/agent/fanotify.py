"""fanotify(7) through ctypes: a permission group, its marks, its events and the mounts to mark.

Only what app restriction needs: a FAN_CLASS_CONTENT group, marks for FAN_OPEN_EXEC_PERM on
directories, mounts or whole filesystems, reading events, answering them, and reading the
marks back from /proc/self/fdinfo (what the kernel holds, not what was asked for).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from dataclasses import dataclass
from pathlib import Path

FAN_CLOEXEC = 0x01
FAN_NONBLOCK = 0x02
FAN_CLASS_CONTENT = 0x04

FAN_MARK_ADD = 0x01
FAN_MARK_DONT_FOLLOW = 0x04
FAN_MARK_ONLYDIR = 0x08
FAN_MARK_MOUNT = 0x10
FAN_MARK_FILESYSTEM = 0x100

FAN_OPEN_EXEC_PERM = 0x40000
FAN_Q_OVERFLOW = 0x4000
FAN_EVENT_ON_CHILD = 0x08000000

FAN_ALLOW = 0x01
FAN_DENY = 0x02
FAN_NOFD = -1
AT_FDCWD = -100

METADATA_VERSION = 3
_METADATA = struct.Struct("IBBHQii")  # struct fanotify_event_metadata
_RESPONSE = struct.Struct("iI")  # struct fanotify_response
READ_SIZE = 64 * _METADATA.size

INODE, MOUNT, FILESYSTEM = "inode", "mount", "filesystem"
_MARK_FLAGS = {
    INODE: FAN_MARK_ONLYDIR | FAN_MARK_DONT_FOLLOW,
    MOUNT: FAN_MARK_MOUNT,
    FILESYSTEM: FAN_MARK_FILESYSTEM,
}

# Filesystems that hold no programs (kernel interfaces), and network filesystems, whose
# files another machine changes: neither is marked when the scope is every local filesystem.
PSEUDO_FILESYSTEMS = frozenset(
    {
        *("proc", "sysfs", "cgroup", "cgroup2", "devpts", "devtmpfs", "mqueue", "debugfs"),
        *("tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs"),
        *("autofs", "binfmt_misc", "rpc_pipefs", "nsfs", "efivarfs", "selinuxfs"),
        *("nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "9p", "afs", "fuse.sshfs"),
    }
)


class FanotifyError(OSError):
    pass


@dataclass(frozen=True)
class Event:
    mask: int
    fd: int
    pid: int


@dataclass(frozen=True)
class Mount:
    mount_id: int
    device: int  # st_dev of the filesystem
    mount_point: str
    fstype: str


class _Libc:
    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.init = libc.fanotify_init
        self.init.argtypes = [ctypes.c_uint, ctypes.c_uint]
        self.mark = libc.fanotify_mark
        self.mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int]
        self.mark.argtypes += [ctypes.c_char_p]


_LIBC: _Libc | None = None


def _libc() -> _Libc:
    global _LIBC
    if _LIBC is None:
        _LIBC = _Libc()
    return _LIBC


def kernel_dev(st_dev: int) -> int:
    """st_dev as the kernel prints it in fdinfo (major << 20 | minor)."""
    return (os.major(st_dev) << 20) | os.minor(st_dev)


class PermissionGroup:
    """One fanotify group of class content: the kernel waits for our answer to each event."""

    def __init__(self) -> None:
        fd = _libc().init(
            FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
            os.O_RDONLY | os.O_LARGEFILE | os.O_CLOEXEC,
        )
        if fd < 0:
            code = ctypes.get_errno()
            raise FanotifyError(code, f"fanotify_init: {os.strerror(code)}")
        self.fd = fd

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def mark(self, path: str, kind: str, mask: int = FAN_OPEN_EXEC_PERM) -> None:
        if kind == INODE:
            mask |= FAN_EVENT_ON_CHILD
        result = _libc().mark(
            self.fd, FAN_MARK_ADD | _MARK_FLAGS[kind], mask, AT_FDCWD, os.fsencode(path)
        )
        if result < 0:
            code = ctypes.get_errno()
            raise FanotifyError(code, f"fanotify_mark {kind} {path}: {os.strerror(code)}")

    def read(self) -> list[Event]:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return []
        events = []
        offset = 0
        while offset + _METADATA.size <= len(data):
            length, version, _, _, mask, fd, pid = _METADATA.unpack_from(data, offset)
            if version != METADATA_VERSION or length < _METADATA.size:
                raise FanotifyError(0, f"fanotify event of unknown version {version}")
            events.append(Event(mask=mask, fd=fd, pid=pid))
            offset += length
        return events

    def respond(self, fd: int, allow: bool) -> None:
        os.write(self.fd, _RESPONSE.pack(fd, FAN_ALLOW if allow else FAN_DENY))

    def marks(self) -> list[dict[str, int]]:
        """The group's marks as the kernel lists them: kind keys (ino and sdev, mnt_id, or
        sdev alone) and mask, all numbers."""
        if self.closed:
            return []
        text = Path(f"/proc/self/fdinfo/{self.fd}").read_text(encoding="ascii")
        return parse_fdinfo(text)

    def close(self) -> None:
        """Closing the group drops its marks; the kernel then allows what waited for us."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def parse_fdinfo(text: str) -> list[dict[str, int]]:
    marks = []
    for line in text.splitlines():
        if not line.startswith("fanotify ") or line.startswith("fanotify flags:"):
            continue
        mark: dict[str, int] = {}
        for word in line.split()[1:]:
            key, _, value = word.partition(":")
            if key in ("ino", "sdev", "mnt_id", "mask", "ignored_mask", "mflags"):
                mark[key] = int(value, 16)
        marks.append(mark)
    return marks


def mark_key(mark: dict[str, int]) -> tuple[str, int, int]:
    """What a mark in fdinfo is on, comparable with `Target.key`."""
    if "ino" in mark:
        return (INODE, mark.get("sdev", 0), mark["ino"])
    if "mnt_id" in mark:
        return (MOUNT, mark["mnt_id"], 0)
    return (FILESYSTEM, mark.get("sdev", 0), 0)


def read_mounts(text: str | None = None) -> list[Mount]:
    """Mounts from /proc/self/mountinfo (see proc_pid_mountinfo(5))."""
    if text is None:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="surrogateescape")
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        major, _, minor = fields[2].partition(":")
        mounts.append(
            Mount(
                mount_id=int(fields[0]),
                device=os.makedev(int(major), int(minor)),
                mount_point=_unescape(fields[4]),
                fstype=right.split()[0] if right.split() else "",
            )
        )
    return mounts


def local_filesystems(mounts: list[Mount]) -> list[Mount]:
    """One mount of each local filesystem that can hold programs, first mounted first. Of
    mounts stacked on one mount point only the top one is reachable, so only it counts."""
    top = {mount.mount_point: mount for mount in mounts}
    seen: set[int] = set()
    chosen = []
    for mount in mounts:
        if top[mount.mount_point] is not mount:
            continue
        if mount.fstype in PSEUDO_FILESYSTEMS or mount.device in seen:
            continue
        seen.add(mount.device)
        chosen.append(mount)
    return chosen


def _unescape(value: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code in ("\\040", "\\011", "\\012", "\\134"):
        value = value.replace(code, chr(int(code[1:], 8)))
    return value
