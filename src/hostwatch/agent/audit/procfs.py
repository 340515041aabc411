"""What /proc still tells about a process or socket named in an audit event, read right after."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

# Sockets of each protocol, per network namespace (Documentation/networking/proc_net_tcp.rst).
_TABLES = (
    ("tcp", socket.AF_INET),
    ("tcp6", socket.AF_INET6),
    ("udp", socket.AF_INET),
    ("udp6", socket.AF_INET6),
)
MAX_TABLE_BYTES = 4 << 20


@dataclass(frozen=True)
class SocketInfo:
    protocol: str  # tcp or udp
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int


def read_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:
        return None
    return [part.decode("utf-8", "surrogateescape") for part in raw.rstrip(b"\0").split(b"\0")]


def read_exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def socket_inode(pid: int, fd: int) -> int | None:
    """The inode of socket `fd` of process `pid`, if both still exist."""
    try:
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
    if not target.startswith("socket:["):
        return None
    try:
        return int(target[8:-1])
    except ValueError:
        return None


def _address(raw: str, family: int) -> tuple[str, int]:
    host, port = raw.split(":")
    packed = bytes.fromhex(host)
    if sys.byteorder == "little":
        # The kernel prints each 32-bit word of the address in host byte order.
        packed = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
    return socket.inet_ntop(family, packed), int(port, 16)


def find_socket(pid: int, inode: int) -> SocketInfo | None:
    """Protocol and both ends of the socket with `inode`, from the process's own namespace."""
    wanted = str(inode)
    for name, family in _TABLES:
        path = f"/proc/{pid}/net/{name}"
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                text = handle.read(MAX_TABLE_BYTES)
        except OSError:
            continue
        # Limitation: a table larger than MAX_TABLE_BYTES (tens of thousands of sockets) is
        # read only in part, and a socket past that point shows no local address.
        for line in text.splitlines()[1:]:
            columns = line.split()
            if len(columns) > 9 and columns[9] == wanted:
                local, local_port = _address(columns[1], family)
                remote, remote_port = _address(columns[2], family)
                return SocketInfo(name.rstrip("6"), local, local_port, remote, remote_port)
    return None
