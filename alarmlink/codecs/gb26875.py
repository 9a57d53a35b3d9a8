"""GB/T 26875.3-2011 stream framer and the monitoring centre's responder (frame layout,
checksums, encoding and answers: :mod:`alarmlink.codecs.gb26875_frame`, re-exported here).

docs/protocols.md, section "GB/T 26875.3-2011", frame table (integers little-endian)::

    @@ | serial(2) | version main, user | time label(6) | source(6) | dest(6)
       | app data length(2, <= 1024) | command(1) | app data(n) | checksum(1) | ##

Checksum variants (the ``checksum`` option): ``"sum"`` (the standard: sum mod 256 of
every byte from the serial number through the end of the app data, default),
``"sum-from-command"`` (sum from the command byte only) and ``"xor"`` (XOR over the
standard's range). Commands: 1 control, 2 send data, 3 confirm, 4 request, 5 response,
6 deny. A "send data" frame with no application data is the device's heartbeat (link
check): it is confirmed and makes no event.

The agent plays the centre: every data frame (command 2) is answered with a confirm
(command 3) echoing the business serial number and version, source and destination
swapped, no app data; a frame with a bad checksum, or whose app data does not parse, is
answered with a deny (command 6). Other commands get no answer and make no events.

Time label of our answers: the published example confirm (docs/protocols.md) carries the
centre's own clock (09:58:35 for a frame stamped 09:58:32), so the default
``reply_time="now"`` writes the injected ``clock()`` (local time by default);
``reply_time="echo"`` copies the received frame's time label instead, for devices that
want that.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Literal

from alarmlink.codecs.common import (
    BaseDecoder,
    Decoded,
    DetailValue,
)
from alarmlink.codecs.gb26875_data import AppData, decode_app_data
from alarmlink.codecs.gb26875_events import EventMapper
from alarmlink.codecs.gb26875_frame import (
    _ANSWER,
    _CHECKSUM_FUNCS,
    CHECKSUMS,
    CMD_CONFIRM,
    CMD_CONTROL,
    CMD_DENY,
    CMD_REQUEST,
    CMD_RESPONSE,
    CMD_SEND,
    END,
    HEADER_SIZE,
    MAX_APP_DATA,
    MAX_FRAME,
    MIN_FRAME,
    START,
    Checksum,
    Frame,
    _byte_sum,
    build_answer,
    build_confirm,
    build_deny,
    compute_checksum,
    decode_frame,
    encode_frame,
    parse_header,
)

__all__ = [
    "CHECKSUMS", "CMD_CONFIRM", "CMD_CONTROL", "CMD_DENY", "CMD_REQUEST", "CMD_RESPONSE",
    "CMD_SEND", "END", "HEADER_SIZE", "MAX_APP_DATA", "MAX_FRAME", "MIN_FRAME", "START",
    "Checksum", "Frame", "Gb26875Decoder", "GbMessage", "build_answer", "build_confirm",
    "build_deny", "compute_checksum", "decode_frame", "encode_frame", "parse_header",
]

logger = logging.getLogger(__name__)


class GbMessage(tuple):  # type: ignore[type-arg]
    """What :class:`Gb26875Decoder` puts in ``Decoded.message``: the frame, its header and
    application data parsed on access (diagnostics only; the hot path never builds them).
    ``app`` is ``None`` for frames without (valid) application data.
    """

    __slots__ = ()

    def __new__(cls, raw: bytes, app: AppData | None = None, lazy: bool = False
                ) -> GbMessage:
        return tuple.__new__(cls, (raw, app, lazy))

    @property
    def raw(self) -> bytes:
        return self[0]  # type: ignore[no-any-return]

    @property
    def app(self) -> AppData | None:
        if self[2]:
            return decode_app_data(self[0][HEADER_SIZE:-3])
        return self[1]  # type: ignore[no-any-return]

    @property
    def frame(self) -> Frame:
        return parse_header(self[0])

    def __repr__(self) -> str:
        return f"GbMessage({self[0].hex()})"


_decoded = tuple.__new__  # Decoded(...) without the NamedTuple's generated __new__
_UITD_HEX: dict[bytes, str] = {}


def _uitd_hex(addr: bytes) -> str:
    text = _UITD_HEX[addr] = addr.hex().upper()
    if len(_UITD_HEX) > 1024:
        _UITD_HEX.clear()
    return text
_ANSWER_SWAPPED = struct.Struct("<2s4s6s12sHBB2s")
_SWAPPED: dict[bytes, tuple[bytes, int]] = {}


def _swap(addrs: bytes) -> tuple[bytes, int]:
    """Source and destination of a received header swapped, and their byte sum (cached)."""
    entry = _SWAPPED[addrs] = (addrs[6:] + addrs[:6], sum(addrs))
    if len(_SWAPPED) > 1024:
        _SWAPPED.clear()
    return entry


class Gb26875Decoder(BaseDecoder):
    """Stream decoder and responder for GB/T 26875.3 (see the module docstring).

    Options: ``checksum`` (variant), ``tz`` (time zone of the panel clock; without it
    events carry ``ts=None`` and the panel time in ``detail``), ``reply_time``
    (``"now"`` or ``"echo"``), ``clock`` (returns the centre's local time for answers),
    ``zone_memory`` (zones whose active conditions are remembered for restores),
    ``honour_test_bit`` (b0 = 0 marks events ``test``; off by default, see
    :mod:`alarmlink.codecs.gb26875_events`).

    The framer looks for ``@@``, checks the length bound (1024) and the ``##`` end marker,
    and on any mismatch resynchronises on the next ``@@``. A candidate that is still
    incomplete is given up as soon as a complete valid frame follows it in the buffer, so
    a stray ``@@`` with a huge length field cannot hold back a real alarm. The internal
    buffer never holds more than one maximal frame (1054 bytes) between calls.
    """

    name = "gb26875"
    log = logger

    def __init__(
        self,
        *,
        checksum: Checksum = "sum",
        tz: tzinfo | None = None,
        reply_time: Literal["now", "echo"] = "now",
        clock: Callable[[], datetime] | None = None,
        zone_memory: int = 4096,
        honour_test_bit: bool = False,
    ) -> None:
        super().__init__()
        if checksum not in CHECKSUMS:
            raise ValueError(f"unknown checksum variant {checksum!r}; choose one of {CHECKSUMS}")
        if reply_time not in ("now", "echo"):
            raise ValueError(f"reply_time must be 'now' or 'echo', got {reply_time!r}")
        self.checksum: Checksum = checksum
        self._checksum = _CHECKSUM_FUNCS[checksum]
        self.reply_time = reply_time
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(tz))
        # The default clock only changes the label once a second: cache it per second.
        self._label_cached = clock is None
        self._label_second = -1
        self._label = b""
        self._label_sum = 0
        self.mapper = EventMapper(tz, zone_memory, honour_test_bit)
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    def _valid_at(self, buf: bytes, i: int, n: int) -> bool:
        if n - i < MIN_FRAME:
            return False
        length = buf[i + 24] | buf[i + 25] << 8
        end = i + MIN_FRAME + length
        return (length <= MAX_APP_DATA and end <= n and buf[end - 2 : end] == END
                and buf[end - 3] == self._checksum(buf[i:end], length))

    def _later_frame(self, buf: bytes, i: int, n: int) -> int:
        j = buf.find(START, i + 1)
        while j >= 0:
            if self._valid_at(buf, j, n):
                return j
            j = buf.find(START, j + 1)
        return -1

    def feed(self, data: bytes) -> list[Decoded]:
        """Consume ``data``; return one :class:`Decoded` per frame or rejected candidate."""
        self._buf += data
        buf = bytes(self._buf)  # one copy per call; slices of bytes are single copies
        out: list[Decoded] = []
        pos = 0
        n = len(buf)
        stats = self.stats
        is_sum = self.checksum == "sum"
        while True:
            i = buf.find(START, pos)
            if i < 0:
                keep = n - 1 if n > pos and buf[n - 1] == 0x40 else n  # a lone '@' may start
                stats.discarded_bytes += keep - pos
                pos = keep
                break
            if i > pos:
                stats.discarded_bytes += i - pos
                pos = i
            if n - i < 26:
                break  # the length field has not arrived yet
            length = buf[i + 24] | buf[i + 25] << 8
            if length > MAX_APP_DATA:
                out.append(self.reject(f"length: app data length {length} over {MAX_APP_DATA}",
                                       buf[i : i + 26]))
                pos = i + 1
                continue
            end = i + MIN_FRAME + length
            if end > n:
                j = self._later_frame(buf, i, n)
                if j < 0:
                    break  # wait for the rest of the frame
                out.append(self.reject("incomplete: a complete frame follows", buf[i:j]))
                pos = j
                continue
            if buf[end - 2] != 0x23 or buf[end - 1] != 0x23:
                out.append(self.reject("end: no ## where the length field puts it",
                                       buf[i:end]))
                pos = i + 1
                continue
            raw = buf[i:end]
            if is_sum:
                expected = _byte_sum(raw[2 : HEADER_SIZE + length])
            else:
                expected = self._checksum(raw, length)
            if raw[-3] != expected:
                j = self._later_frame(buf, i, n)
                if 0 <= j < end:  # a valid frame starts inside: this "@@" was noise
                    out.append(self.reject("resync: a valid frame starts inside", raw[: j - i]))
                    pos = j
                    continue
                out.append(self.reject(f"checksum: {raw[-3]:#04x}, expected {expected:#04x}",
                                       raw, self._answer(raw, CMD_DENY)))
            else:
                out.append(self._frame(raw, length))
            pos = end
        if pos:
            del self._buf[:pos]
        return out

    def _answer(self, raw: bytes, command: int) -> bytes:
        label = raw[6:12]
        if self.reply_time == "now":
            label = self._now_label() or label  # a broken clock: echo the received label
        if self.checksum == "sum":  # swapping source and dest does not change the sum
            addrs = raw[12:24]
            swapped = _SWAPPED.get(addrs)
            if swapped is None:
                swapped = _swap(addrs)
            label_sum = self._label_sum if label is self._label else sum(label)
            cs = (raw[2] + raw[3] + raw[4] + raw[5] + label_sum + swapped[1] + command) & 0xFF
            return _ANSWER_SWAPPED.pack(START, raw[2:6], label, swapped[0], 0, command, cs,
                                        END)
        body = _ANSWER.pack(START, raw[2:6], label, raw[18:24], raw[12:18], 0, command)
        return body + bytes((self._checksum(body, 0),)) + END

    def _now_label(self) -> bytes:
        """The centre's time label for answers; b"" when the clock is out of range."""
        if self._label_cached:
            second = int(time.time())
            if second == self._label_second:
                return self._label
            self._label_second = second
        t = self.clock()
        label = (bytes((t.second, t.minute, t.hour, t.day, t.month, t.year - 2000))
                 if 2000 <= t.year <= 2255 else b"")
        self._label = label
        self._label_sum = sum(label)
        return label

    def _frame(self, raw: bytes, length: int) -> Decoded:
        """A complete frame whose markers, length and checksum are already verified."""
        command = raw[26]
        if command != CMD_SEND:
            self.stats.ignored[f"command_{command}"] += 1
            return self.accept((), raw, None, GbMessage(raw, None))
        if length == 0:  # the transmission device's heartbeat (link check): confirm it
            self.stats.ignored["heartbeat"] += 1
            return self.accept((), raw, self._answer(raw, CMD_CONFIRM), GbMessage(raw, None))
        uitd = raw[12:18]
        addr = _UITD_HEX.get(uitd)
        if addr is None:
            addr = _uitd_hex(uitd)
        base: dict[str, DetailValue] = {
            "protocol": "gb26875", "serial": raw[2] | raw[3] << 8, "uitd_addr": addr,
        }
        count = raw[28] if length >= 2 else 0
        message: GbMessage
        try:
            if raw[27] == 2 and length == 2 + 46 * count:  # component states: fast path
                events = tuple(self.mapper.components(raw, HEADER_SIZE + 2, count, base))
                message = _decoded(GbMessage, (raw, None, True))
            else:
                app = decode_app_data(raw[HEADER_SIZE : HEADER_SIZE + length])
                if not app.supported:
                    self.stats.ignored[f"type_{app.type_flag}"] += 1
                events = tuple(self.mapper.events(app, base))
                message = GbMessage(raw, app)
        except ValueError as exc:  # DecodeError, or a record the mapper cannot express
            return self.reject(f"app_data: {exc}", raw, self._answer(raw, CMD_DENY),
                               GbMessage(raw, None))
        stats = self.stats
        stats.frames += 1
        stats.events += len(events)
        stats.replies += 1
        return _decoded(Decoded, (events, raw, self._answer(raw, CMD_CONFIRM), message, None))
