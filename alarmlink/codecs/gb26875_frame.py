"""GB/T 26875.3-2011 frames: layout, checksums, encoding, validation and the centre's
answers (the stream decoder is :mod:`alarmlink.codecs.gb26875`).

docs/protocols.md, section "GB/T 26875.3-2011", frame table (integers little-endian)::

    @@ | serial(2) | version main, user | time label(6) | source(6) | dest(6)
       | app data length(2, <= 1024) | command(1) | app data(n) | checksum(1) | ##
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime
from typing import Literal, NamedTuple

from alarmlink.codecs.common import DecodeError
from alarmlink.codecs.gb26875_data import TimeLabel

Checksum = Literal["sum", "sum-from-command", "xor"]
CHECKSUMS: tuple[str, ...] = ("sum", "sum-from-command", "xor")

START = b"@@"
END = b"##"
HEADER_SIZE = 27  # start .. command, inclusive
MIN_FRAME = 30  # header + checksum + end, no app data
MAX_APP_DATA = 1024
MAX_FRAME = MIN_FRAME + MAX_APP_DATA

CMD_CONTROL, CMD_SEND, CMD_CONFIRM, CMD_REQUEST, CMD_RESPONSE, CMD_DENY = 1, 2, 3, 4, 5, 6

_HEADER = struct.Struct("<2xHBB6B6s6sHB")


class Frame(NamedTuple):
    """One GB 26875.3 frame (the checksum and markers are implied)."""

    serial: int
    version_main: int
    version_user: int
    time: TimeLabel
    source: bytes
    dest: bytes
    command: int
    data: bytes


_LANES = int("00FF" * 128, 16)  # the even bytes of up to 256, each in a 16-bit lane


def _byte_sum(data: bytes) -> int:
    """``sum(data) & 0xFF``, faster for up to 256 bytes (a frame with one or two records):
    the even and the odd bytes are added lane-wise in one big integer, and the lanes are
    summed by reducing modulo 2**16 - 1 (exact: 128 lanes of at most 510 stay below it)."""
    if len(data) > 256:
        return sum(data) & 0xFF
    x = int.from_bytes(data, "little")
    return ((x & _LANES) + (x >> 8 & _LANES)) % 0xFFFF & 0xFF


def _xor(data: bytes) -> int:
    x = int.from_bytes(data, "little")
    n = len(data)
    while n > 1:  # fold the integer onto itself: XOR of all bytes in log2(n) steps
        half = (n + 1) // 2
        x = (x & ((1 << (half * 8)) - 1)) ^ (x >> (half * 8))
        n = half
    return x & 0xFF


def _sum(frame: bytes | bytearray, length: int) -> int:
    return sum(frame[2 : HEADER_SIZE + length]) & 0xFF


def _sum_from_command(frame: bytes | bytearray, length: int) -> int:
    return sum(frame[HEADER_SIZE - 1 : HEADER_SIZE + length]) & 0xFF


def _xor_checksum(frame: bytes | bytearray, length: int) -> int:
    return _xor(bytes(frame[2 : HEADER_SIZE + length]))


_CHECKSUM_FUNCS: dict[str, Callable[[bytes | bytearray, int], int]] = {
    "sum": _sum, "sum-from-command": _sum_from_command, "xor": _xor_checksum,
}


def compute_checksum(frame: bytes | bytearray, length: int, variant: str = "sum") -> int:
    """The checksum of a frame starting with ``@@`` whose app data is ``length`` bytes."""
    try:
        func = _CHECKSUM_FUNCS[variant]
    except KeyError:
        raise ValueError(f"unknown checksum variant {variant!r}; use one of {CHECKSUMS}") from None
    return func(frame, length)


def _label(time: TimeLabel | datetime | bytes) -> bytes:
    if isinstance(time, datetime):
        time = TimeLabel.from_datetime(time)
    label = bytes(time)
    if len(label) != 6:
        raise ValueError("a time label is 6 bytes")
    return label


def encode_frame(
    *,
    serial: int,
    command: int,
    source: bytes,
    dest: bytes,
    time: TimeLabel | datetime | bytes,
    data: bytes = b"",
    version: tuple[int, int] = (1, 1),
    checksum: Checksum = "sum",
) -> bytes:
    """Build a complete frame. Raises ``ValueError`` for out-of-range fields."""
    if len(source) != 6 or len(dest) != 6:
        raise ValueError("source and destination addresses are 6 bytes each")
    if len(data) > MAX_APP_DATA:
        raise ValueError(f"app data is {len(data)} bytes, over {MAX_APP_DATA}")
    try:
        head = struct.pack("<2sHBB", START, serial, *version) + _label(time)
        head += source + dest + struct.pack("<HB", len(data), command)
    except struct.error as exc:
        raise ValueError(f"frame field out of range: {exc}") from None
    body = head + data
    return body + bytes((compute_checksum(body, len(data), checksum),)) + END


def parse_header(raw: bytes | bytearray) -> Frame:
    """The header fields of a frame (no validation), app data as bytes."""
    serial, vmain, vuser, s, mi, h, d, mo, y, src, dst, length, cmd = _HEADER.unpack_from(raw)
    return Frame(serial, vmain, vuser, TimeLabel(s, mi, h, d, mo, y), src, dst, cmd,
                 bytes(raw[HEADER_SIZE : HEADER_SIZE + length]))


def decode_frame(raw: bytes, checksum: Checksum = "sum") -> Frame:
    """Validate and decode one complete frame. Raises :class:`DecodeError`."""
    if len(raw) < MIN_FRAME:
        raise DecodeError(f"frame is {len(raw)} bytes, shorter than {MIN_FRAME}")
    if raw[:2] != START:
        raise DecodeError("frame does not start with @@")
    length = raw[24] | raw[25] << 8
    if length > MAX_APP_DATA:
        raise DecodeError(f"app data length {length} is over {MAX_APP_DATA}")
    if len(raw) != MIN_FRAME + length:
        raise DecodeError(f"frame is {len(raw)} bytes, length field says {MIN_FRAME + length}")
    if raw[-2:] != END:
        raise DecodeError("frame does not end with ##")
    expected = compute_checksum(raw, length, checksum)
    if raw[-3] != expected:
        raise DecodeError(f"checksum {raw[-3]:#04x}, expected {expected:#04x} ({checksum})")
    return parse_header(raw)


_ANSWER = struct.Struct("<2s4s6s6s6sHB")


def build_answer(
    received: bytes | bytearray,
    command: int,
    time: TimeLabel | datetime | bytes | None = None,
    checksum: Checksum = "sum",
) -> bytes:
    """The centre's answer (3 confirm, 6 deny) to ``received``: same serial and version,
    source and destination swapped, no app data. ``time=None`` echoes the received label.
    """
    label = bytes(received[6:12]) if time is None else _label(time)
    body = _ANSWER.pack(START, bytes(received[2:6]), label, bytes(received[18:24]),
                        bytes(received[12:18]), 0, command)
    return body + bytes((compute_checksum(body, 0, checksum),)) + END


def build_confirm(received: bytes, time: TimeLabel | datetime | bytes | None = None,
                  checksum: Checksum = "sum") -> bytes:
    """Confirm (command 3) for a received data frame."""
    return build_answer(received, CMD_CONFIRM, time, checksum)


def build_deny(received: bytes, time: TimeLabel | datetime | bytes | None = None,
               checksum: Checksum = "sum") -> bytes:
    """Deny (command 6) for a received frame that failed its checksum."""
    return build_answer(received, CMD_DENY, time, checksum)
