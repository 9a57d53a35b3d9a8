"""SIA DC-09 frames: CRC, length, parser, ACK/NAK/DUH answers and the stream decoder.

docs/protocols.md, section "SIA DC-09"::

    <LF> CRC(4 hex) 0LLL "ID" seq(4) [Rrcvr] Lline #acct [data] [x-data]
         _HH:MM:SS,MM-DD-YYYY <CR>

The CRC (CRC-16/ARC: reflected polynomial 0xA001, init 0) and the hex length cover the
bytes from the first ``"`` up to the CR. Both must match, and both are required in
upper-case hex: a lower-case digit would let a single flipped bit (0x20) through.
Timestamps are UTC. IDs: ``SIA-DCS`` and ``ADM-CID`` carry events (see
:mod:`alarmlink.codecs.sia_codes`), ``NULL`` is a link test (ACK, no event).

Answers: a valid frame gets ``"ACK"`` with the same sequence, receiver, line and
account; a frame failing CRC, length or syntax gets ``"NAK"0000R0L0A0[]`` with our
timestamp; a valid frame we cannot process (unknown ID, or AES-encrypted ``"*ID"``
without a usable key) gets ``"DUH"``. AES decryption is NOT implemented: the
``cryptography`` package is not installed, so configuring a key raises ``ValueError``.
The receiver's timestamp-window check (replay protection) is not implemented either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from alarmlink.codecs.common import (
    BaseDecoder,
    Decoded,
    DecodeError,
    DetailValue,
    PanelEvent,
)
from alarmlink.codecs.sia_codes import adm_cid_event, sia_events, split_account

logger = logging.getLogger(__name__)

LF, CR = 0x0A, 0x0D
MAX_BODY = 0xFFF
MAX_FRAME = 1 + 4 + 4 + MAX_BODY + 1
EVENT_IDS = ("SIA-DCS", "ADM-CID")


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()
_HEX4 = re.compile(rb"[0-9A-F]{4}")
_LEN = re.compile(rb"0[0-9A-F]{3}")
_HEAD = re.compile(
    r'"(\*?)([A-Z0-9-]{1,16})"([0-9]{4})(?:R([0-9A-F]{1,6}))?(?:L([0-9A-F]{1,6}))?'
    r"#([0-9A-F]{3,16})"
)
_REST = re.compile(
    r"\[([^\]]*)\]((?:\[[^\]]*\])*)"
    r"(?:_([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{2})-([0-9]{2})-([0-9]{4}))?"
)


def crc16_arc(data: bytes | bytearray) -> int:
    """CRC-16/ARC of ``data`` (check value for b"123456789" is 0xBB3D)."""
    crc = 0
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


class Dc09Message(NamedTuple):
    """A decoded DC-09 frame. ``data`` is the text inside the first ``[...]``."""

    id: str
    encrypted: bool
    seq: str
    receiver: str | None
    line: str | None
    account: str
    data: str
    xdata: tuple[str, ...]
    timestamp: datetime | None
    raw_timestamp: str | None


def frame_body(body: bytes) -> bytes:
    """Wrap ``body`` (from the first ``"``) with LF, CRC, length and CR."""
    if len(body) > MAX_BODY:
        raise ValueError(f"DC-09 body is {len(body)} bytes, over {MAX_BODY}")
    return b"\n%04X0%03X%s\r" % (crc16_arc(body), len(body), body)


def format_timestamp(ts: datetime) -> str:
    """``_HH:MM:SS,MM-DD-YYYY`` in UTC."""
    ts = ts.astimezone(UTC) if ts.tzinfo else ts
    return ts.strftime("_%H:%M:%S,%m-%d-%Y")


def encode_message(
    *,
    seq: int | str,
    account: str,
    data: str = "",
    id: str = "SIA-DCS",
    receiver: str | None = None,
    line: str | None = "0",
    xdata: tuple[str, ...] = (),
    timestamp: datetime | None = None,
) -> bytes:
    """A complete DC-09 frame (unencrypted), e.g. for the simulator and tests."""
    seq_text = f"{seq:04d}" if isinstance(seq, int) else seq
    parts = [f'"{id}"{seq_text}']
    if receiver is not None:
        parts.append(f"R{receiver}")
    if line is not None:
        parts.append(f"L{line}")
    parts.append(f"#{account}[{data}]")
    parts.extend(f"[{x}]" for x in xdata)
    if timestamp is not None:
        parts.append(format_timestamp(timestamp))
    return frame_body("".join(parts).encode("ascii"))


def _parse_ts(groups: tuple[str | None, ...]) -> tuple[datetime | None, str | None]:
    hh, mi, ss, mo, dd, yyyy = groups
    if hh is None:
        return None, None
    raw = f"{hh}:{mi}:{ss},{mo}-{dd}-{yyyy}"
    try:
        return datetime(int(yyyy), int(mo), int(dd), int(hh), int(mi), int(ss),  # type: ignore[arg-type]
                        tzinfo=UTC), raw
    except ValueError:
        return None, raw  # an invalid panel clock never drops an event


def decode_frame(raw: bytes) -> Dc09Message:
    """Validate (CRC, length, syntax) and parse one frame ``LF ... CR``.

    Raises :class:`DecodeError` whose text starts with the failure reason.
    """
    if len(raw) < 10 or raw[0] != LF or raw[-1] != CR:
        raise DecodeError("syntax: a frame is LF, CRC, length, body, CR")
    if _HEX4.fullmatch(raw, 1, 5) is None:
        raise DecodeError(f"header: CRC field {raw[1:5]!r} is not 4 upper-case hex digits")
    if _LEN.fullmatch(raw, 5, 9) is None:
        raise DecodeError(f"header: length field {raw[5:9]!r} is not 0LLL upper-case hex")
    body = raw[9:-1]
    if len(body) != int(raw[6:9], 16):
        raise DecodeError(f"length: field says {int(raw[6:9], 16)}, body has {len(body)} bytes")
    crc = crc16_arc(body)
    if crc != int(raw[1:5], 16):
        raise DecodeError(f"crc: field {raw[1:5].decode()}, computed {crc:04X}")
    text = body.decode("latin-1")
    head = _HEAD.match(text)
    if head is None:
        raise DecodeError(f"syntax: bad message header {text[:40]!r}")
    enc, ident, seq, rcvr, line, acct = head.groups()
    if enc:
        return Dc09Message(ident, True, seq, rcvr, line, acct, "", (), None, None)
    rest = _REST.fullmatch(text, head.end())
    if rest is None:
        raise DecodeError(f"syntax: bad data/x-data/timestamp {text[head.end():][:40]!r}")
    data, xdata = rest.group(1), rest.group(2)
    xs = tuple(xdata[1:-1].split("][")) if xdata else ()
    ts, raw_ts = _parse_ts(rest.groups()[2:])
    return Dc09Message(ident, False, seq, rcvr, line, acct, data, xs, ts, raw_ts)


def build_ack(msg: Dc09Message, kind: str = "ACK") -> bytes:
    """``"ACK"`` (or ``"DUH"``) echoing sequence, receiver, line and account."""
    rcvr = f"R{msg.receiver}" if msg.receiver is not None else ""
    return frame_body(f'"{kind}"{msg.seq}{rcvr}L{msg.line or "0"}#{msg.account}[]'.encode())


def build_nak(now: datetime) -> bytes:
    """``"NAK"0000R0L0A0[]`` with our timestamp (UTC)."""
    return frame_body(f'"NAK"0000R0L0A0[]{format_timestamp(now)}'.encode())


class SiaDc09Decoder(BaseDecoder):
    """Stream decoder for DC-09 frames (serial line or a TCP byte stream).

    A frame is the bytes from the last LF before a CR to that CR; anything else is
    discarded. The buffer is bounded by the largest frame (4 KiB). ``clock`` returns the
    UTC time used in NAKs. ``key`` (AES) is refused: decryption is not implemented.
    """

    name = "sia-dc09"
    log = logger

    def __init__(self, *, key: str | bytes | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        if key is not None:
            raise ValueError("DC-09 AES decryption is not implemented (the 'cryptography'"
                             " package is not installed); remove the key option")
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Decoded]:
        """Consume ``data``; return one :class:`Decoded` per LF..CR segment."""
        buf = self._buf
        buf += data
        out: list[Decoded] = []
        pos = 0
        stats = self.stats
        while (cr := buf.find(b"\r", pos)) >= 0:
            lf = buf.rfind(b"\n", pos, cr)
            if lf < 0 or cr - lf == 1:  # no frame start, or an empty line
                stats.discarded_bytes += cr + 1 - pos
            else:
                stats.discarded_bytes += lf - pos
                out.append(self._frame(bytes(buf[lf : cr + 1])))
            pos = cr + 1
        lf = buf.rfind(b"\n", pos)
        keep = lf if lf >= 0 and len(buf) - lf <= MAX_FRAME else len(buf)
        stats.discarded_bytes += keep - pos
        del buf[:keep]
        return out

    def _frame(self, raw: bytes) -> Decoded:
        if len(raw) > MAX_FRAME:
            return self.reject(f"length: frame of {len(raw)} bytes", raw[:64],
                               build_nak(self.clock()))
        try:
            msg = decode_frame(raw)
        except DecodeError as exc:
            return self.reject(str(exc), raw, build_nak(self.clock()))
        if msg.encrypted:
            return self.reject("encrypted: AES frame and no key configured", raw,
                               build_ack(msg, "DUH"), msg)
        if msg.id == "NULL":
            self.stats.ignored["null"] += 1
            return self.accept((), raw, build_ack(msg), msg)
        if msg.id not in EVENT_IDS:
            return self.reject(f"unsupported: message id {msg.id!r}", raw,
                               build_ack(msg, "DUH"), msg)
        account, content = split_account(msg.data)
        account = account or msg.account
        base: dict[str, DetailValue] = {
            "protocol": "sia-dc09", "id": msg.id, "seq": msg.seq, "receiver": msg.receiver,
            "line": msg.line, "account": account, "panel_time": msg.raw_timestamp,
        }
        try:
            events: list[PanelEvent]
            if not content:
                events = []
            elif msg.id == "ADM-CID":
                event = adm_cid_event(account, content, msg.timestamp, base)
                events = [] if event is None else [event]
            else:
                events, unmapped = sia_events(account, content, msg.timestamp, base)
                for code in unmapped:
                    self.stats.ignored[f"code_{code}"] += 1
        except ValueError as exc:  # DecodeError, or an event the contract cannot hold
            return self.reject(str(exc), raw, build_ack(msg, "DUH"), msg)
        return self.accept(tuple(events), raw, build_ack(msg), msg)
