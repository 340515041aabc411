"""Damaged and odd copies of the shared EVTX samples, built byte by byte for the reader tests.

Offsets follow the EVTX layout: a 4096-byte file header, then 65536-byte chunks whose
512-byte header holds the records' CRC32 at offset 52 and its own at offset 124.
"""

from __future__ import annotations

import struct
import zlib

FILE_HEADER = 4096
CHUNK = 65536

# 50 records in one chunk, ids 1 to 50.
ONE_CHUNK = "evtx_attack_samples/AutomatedTestingTools/Malware/rundll32_cmd_schtask.evtx"
# Two chunks in use: 128 records (78 from IEWIN7, 50 from PC01.example.corp), then 100 (from
# PC01.example.corp).
TWO_CHUNKS = (
    "evtx_attack_samples/Command and Control/"
    "DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx"
)
# Ten chunks in use.
WRAPPING = "evtx_attack_samples/Lateral Movement/LM_5145_Remote_FileCopy.evtx"
DISCOVERY = "evtx_attack_samples/Discovery/dicovery_4661_net_group_domain_admins_target.evtx"


def chunk_at(index: int) -> int:
    return FILE_HEADER + index * CHUNK


def record_spans(data: bytes, chunk: int) -> dict[int, tuple[int, int]]:
    """Record id -> (start, end) file offsets of each record in a chunk, read from headers."""
    base = chunk_at(chunk)
    (free_space,) = struct.unpack_from("<I", data, base + 48)
    spans = {}
    offset = base + 512
    while offset < base + free_space:
        magic, size, record_id = struct.unpack_from("<4sIQ", data, offset)
        assert magic == b"**\x00\x00", offset
        spans[record_id] = (offset, offset + size)
        offset += size
    return spans


def fix_checksums(data: bytearray, chunk: int) -> None:
    """Recomputes a chunk's two checksums, as a writer of the (edited) chunk would."""
    base = chunk_at(chunk)
    (free_space,) = struct.unpack_from("<I", data, base + 48)
    struct.pack_into("<I", data, base + 52, zlib.crc32(data[base + 512 : base + free_space]))
    header = data[base : base + 120] + data[base + 128 : base + 512]
    struct.pack_into("<I", data, base + 124, zlib.crc32(header))


def rename_computer(data: bytes, chunk: int, old: str, new: str) -> bytes:
    """The log with `old` replaced by `new` as a Computer name in one chunk, checksums fixed.

    Names are UTF-16 in the chunk's templates; the new one is padded with NUL characters to
    the old one's length, which the reader removes (so "." is read as ".").
    """
    assert len(new) <= len(old)
    edited = bytearray(data)
    base = chunk_at(chunk)
    body = bytes(edited[base : base + CHUNK])
    replaced = body.replace(
        old.encode("utf-16-le"), new.ljust(len(old), "\x00").encode("utf-16-le")
    )
    assert replaced != body, f"{old!r} not in chunk {chunk}"
    edited[base : base + CHUNK] = replaced
    fix_checksums(edited, chunk)
    return bytes(edited)


def chunks_of(data: bytes) -> tuple[bytes, list[bytes]]:
    """The file header and the chunks of a log."""
    body = data[FILE_HEADER:]
    return data[:FILE_HEADER], [body[at : at + CHUNK] for at in range(0, len(body), CHUNK)]
