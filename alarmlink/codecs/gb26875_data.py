"""GB/T 26875.3-2011 application data units: typed records, decoder and encoder.

docs/protocols.md, section "GB/T 26875.3-2011", "Application data unit": a type flag (1 byte),
an object count (1 byte), then the objects, each ending with a 6-byte timestamp
(sec, min, hour, day, month, year-2000). Supported type flags (record size with timestamp):

====  ======================================  =====
type  record                                  bytes
====  ======================================  =====
1     :class:`SystemState`                    10
2     :class:`ComponentState`                 46
3     :class:`AnalogValue`                    16
4     :class:`SystemOperation`                10
21    :class:`UitdState`                      7
24    :class:`UitdOperation`                  8
====  ======================================  =====

Layouts of types 1, 3, 4, 21 and 24 are not spelled out in docs/protocols.md; they follow the
standard's tables as recalled (system type, system address, then the fields above, then
the timestamp), the same layouts the public open-source codecs use.
"""

from __future__ import annotations

import logging
import struct
from datetime import datetime, tzinfo
from typing import NamedTuple

from alarmlink.codecs.common import DecodeError

logger = logging.getLogger(__name__)

DESCRIPTION_BYTES = 31
_STRIP = " \u3000"  # ASCII and ideographic (full-width) space padding


class TimeLabel(NamedTuple):
    """The 6-byte GB 26875.3 time label, in wire order (``year`` is year - 2000)."""

    sec: int
    minute: int
    hour: int
    day: int
    month: int
    year: int

    @classmethod
    def from_datetime(cls, dt: datetime) -> TimeLabel:
        if not 2000 <= dt.year <= 2255:
            raise ValueError(f"year {dt.year} does not fit a GB 26875.3 time label")
        return cls(dt.second, dt.minute, dt.hour, dt.day, dt.month, dt.year - 2000)

    def to_datetime(self, tz: tzinfo | None = None) -> datetime | None:
        """The time as a datetime (naive unless ``tz``), or ``None`` if the label is invalid."""
        try:
            return datetime(
                2000 + self.year, self.month, self.day, self.hour, self.minute, self.sec, tzinfo=tz
            )
        except ValueError:
            return None

    def iso(self) -> str:
        """ISO-like text, even for an invalid label (for ``detail``). Cached."""
        text = _ISO.get(self)
        if text is None:
            if len(_ISO) > 4096:
                _ISO.clear()
            text = _ISO[self] = (
                f"{2000 + self.year:04d}-{self.month:02d}-{self.day:02d}"
                f"T{self.hour:02d}:{self.minute:02d}:{self.sec:02d}"
            )
        return text


_ISO: dict[TimeLabel, str] = {}


_tl = TimeLabel._make


class SystemState(NamedTuple):
    """Type 1: fire facility system state (state word bits: see gb26875_events)."""

    sys_type: int
    sys_addr: int
    state: int
    time: TimeLabel


class ComponentState(NamedTuple):
    """Type 2: component running state (docs/protocols.md "Type 2 record", 46 bytes)."""

    sys_type: int
    sys_addr: int
    comp_type: int
    comp_addr: bytes
    state: int
    description: str
    time: TimeLabel


class AnalogValue(NamedTuple):
    """Type 3: component analog value (``value`` is the signed 16-bit raw value)."""

    sys_type: int
    sys_addr: int
    comp_type: int
    comp_addr: bytes
    analog_type: int
    value: int
    time: TimeLabel


class SystemOperation(NamedTuple):
    """Type 4: fire facility operation info (flag bits as type 24)."""

    sys_type: int
    sys_addr: int
    flags: int
    operator: int
    time: TimeLabel


class UitdState(NamedTuple):
    """Type 21: UITD running state byte."""

    state: int
    time: TimeLabel


class UitdOperation(NamedTuple):
    """Type 24: UITD operation info byte."""

    flags: int
    operator: int
    time: TimeLabel


Record = SystemState | ComponentState | AnalogValue | SystemOperation | UitdState | UitdOperation


class AppData(NamedTuple):
    """A decoded application data unit. ``records`` is empty for unsupported types."""

    type_flag: int
    object_count: int
    records: tuple[Record, ...]
    supported: bool = True


_S1 = struct.Struct("<BBH6s")
_S2 = struct.Struct("<BBB4sH31s6s")
_S3 = struct.Struct("<BBB4sBh6s")
_S4 = struct.Struct("<BBBB6s")
_S21 = struct.Struct("<B6s")
_S24 = struct.Struct("<BB6s")

RECORD_SIZE = {1: _S1.size, 2: _S2.size, 3: _S3.size, 4: _S4.size, 21: _S21.size, 24: _S24.size}
assert RECORD_SIZE == {1: 10, 2: 46, 3: 16, 4: 10, 21: 7, 24: 8}


_DESCRIPTIONS: dict[bytes, str] = {}


def decode_description(raw: bytes) -> str:
    """GB 18030 text up to the first NUL, trailing (full-width) spaces stripped.

    Results are cached (bounded): a panel reports the same components over and over.
    """
    text = _DESCRIPTIONS.get(raw)
    if text is None:
        end = raw.find(b"\0")
        cut = raw if end < 0 else raw[:end]
        try:
            text = cut.decode("ascii")
        except UnicodeDecodeError:
            text = cut.decode("gb18030", "replace")
        text = text.rstrip(_STRIP)
        if len(_DESCRIPTIONS) >= 4096:
            _DESCRIPTIONS.clear()
        _DESCRIPTIONS[raw] = text
    return text


def encode_description(text: str) -> bytes:
    """``text`` in GB 18030, NUL-padded to 31 bytes. Raises ``ValueError`` if too long."""
    raw = text.encode("gb18030")
    if len(raw) > DESCRIPTION_BYTES or b"\0" in raw:
        raise ValueError(f"description {text!r} is not 1..31 GB 18030 bytes without NUL")
    return raw.ljust(DESCRIPTION_BYTES, b"\0")


def _decode_records(type_flag: int, body: bytes) -> tuple[Record, ...]:
    """Records of ``body`` (the app data after type flag and count, size already checked)."""
    if type_flag == 2:
        desc = decode_description
        return tuple([ComponentState(st, sa, ct, ca, state, desc(d), _tl(tm))
                      for st, sa, ct, ca, state, d, tm in _S2.iter_unpack(body)])
    if type_flag == 1:
        return tuple([SystemState(st, sa, state, _tl(tm))
                      for st, sa, state, tm in _S1.iter_unpack(body)])
    if type_flag == 3:
        return tuple([AnalogValue(st, sa, ct, ca, at, val, _tl(tm))
                      for st, sa, ct, ca, at, val, tm in _S3.iter_unpack(body)])
    if type_flag == 4:
        return tuple([SystemOperation(st, sa, flags, op, _tl(tm))
                      for st, sa, flags, op, tm in _S4.iter_unpack(body)])
    if type_flag == 21:
        return tuple([UitdState(state, _tl(tm)) for state, tm in _S21.iter_unpack(body)])
    return tuple([UitdOperation(flags, op, _tl(tm))
                  for flags, op, tm in _S24.iter_unpack(body)])


def decode_app_data(data: bytes) -> AppData:
    """Decode an application data unit. Raises :class:`DecodeError` on a size mismatch.

    An unsupported type flag (e.g. 8 or 28, system/UITD time) is not an error: the result
    has ``supported=False`` and no records.
    """
    if len(data) < 2:
        raise DecodeError(f"app data: {len(data)} bytes, need at least type flag and count")
    type_flag, count = data[0], data[1]
    size = RECORD_SIZE.get(type_flag)
    if size is None:
        return AppData(type_flag, count, (), False)
    if len(data) != 2 + size * count:
        raise DecodeError(
            f"app data: type {type_flag} with {count} objects needs {2 + size * count} bytes,"
            f" got {len(data)}"
        )
    return AppData(type_flag, count, _decode_records(type_flag, data[2:]))


def encode_record(record: Record) -> bytes:
    """Encode one record (with its timestamp) as on the wire."""
    tm = bytes(record.time)
    if isinstance(record, ComponentState):
        desc = encode_description(record.description)
        return _S2.pack(record.sys_type, record.sys_addr, record.comp_type, record.comp_addr,
                        record.state, desc, tm)
    if isinstance(record, SystemState):
        return _S1.pack(record.sys_type, record.sys_addr, record.state, tm)
    if isinstance(record, AnalogValue):
        return _S3.pack(record.sys_type, record.sys_addr, record.comp_type, record.comp_addr,
                        record.analog_type, record.value, tm)
    if isinstance(record, SystemOperation):
        return _S4.pack(record.sys_type, record.sys_addr, record.flags, record.operator, tm)
    if isinstance(record, UitdState):
        return _S21.pack(record.state, tm)
    return _S24.pack(record.flags, record.operator, tm)


_TYPE_OF = {
    SystemState: 1, ComponentState: 2, AnalogValue: 3, SystemOperation: 4,
    UitdState: 21, UitdOperation: 24,
}


def encode_app_data(records: list[Record] | tuple[Record, ...]) -> bytes:
    """An application data unit holding ``records`` (1..255, all of one type)."""
    if not 1 <= len(records) <= 255:
        raise ValueError(f"an application data unit holds 1..255 objects, got {len(records)}")
    kinds = {type(r) for r in records}
    if len(kinds) != 1:
        raise ValueError("all objects of one application data unit must have the same type")
    type_flag = _TYPE_OF[kinds.pop()]
    body = b"".join(encode_record(r) for r in records)
    return bytes((type_flag, len(records))) + body

