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
account (``"*ACK"``, encrypted, for an encrypted frame) -- the caller sends it only once
the events are safe (the agent's outbox, central's database); a frame failing CRC, length
or syntax, an encrypted frame that does not decrypt (no key for the account, wrong key,
bad padding), a stale timestamp (outside -40 s .. +20 s) or a replayed encrypted frame
gets ``"NAK"0000R0L0A0[]`` with our timestamp, so the panel retries or resynchronises
its clock; a valid frame we cannot process (unknown ID, a data block with no event that
parses) gets ``"DUH"``. A data block that carries at least one event is never DUHed.
Encryption: :mod:`alarmlink.codecs.dc09_crypto`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple

from alarmlink.codecs.common import (
    BaseDecoder,
    Decoded,
    DecodeError,
    DetailValue,
    PanelEvent,
)
from alarmlink.codecs.dc09_crypto import (
    WINDOW_FUTURE_S,
    WINDOW_PAST_S,
    ReplayGuard,
    decrypt_content,
    encrypt_content,
    parse_key,
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
_ENCRYPTED = re.compile(r"\[([0-9A-Fa-f]*)\]?")
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
    key: bytes | str | None = None,
) -> bytes:
    """A complete DC-09 frame, e.g. for the simulator and tests.

    With ``key`` the frame is encrypted (``"*ID"``); it then needs a ``timestamp``, and a
    data block not starting with ``#`` or ``|`` gets a ``|`` in front.
    """
    seq_text = f"{seq:04d}" if isinstance(seq, int) else seq
    star = "*" if key is not None else ""
    parts = [f'"{star}{id}"{seq_text}']
    if receiver is not None:
        parts.append(f"R{receiver}")
    if line is not None:
        parts.append(f"L{line}")
    parts.append(f"#{account}")
    if key is not None and data[:1] not in ("#", "|"):
        data = "|" + data
    content = f"{data}]" + "".join(f"[{x}]" for x in xdata)
    if timestamp is not None:
        content += format_timestamp(timestamp)
    elif key is not None:
        raise ValueError("an encrypted DC-09 message needs a timestamp")
    if key is None:
        parts.append("[" + content)
    else:
        parts.append("[" + encrypt_content(parse_key(key), content))
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
        hexpart = _ENCRYPTED.fullmatch(text, head.end())
        if hexpart is None:
            raise DecodeError(f"syntax: encrypted part is not hex {text[head.end():][:40]!r}")
        return Dc09Message(ident, True, seq, rcvr, line, acct, hexpart.group(1), (), None, None)
    return _content(Dc09Message(ident, False, seq, rcvr, line, acct, "", (), None, None),
                    text[head.end():])


def _content(head: Dc09Message, text: str) -> Dc09Message:
    """``head`` completed with the data block, x-data and timestamp parsed from ``text``."""
    rest = _REST.fullmatch(text)
    if rest is None:
        raise DecodeError(f"syntax: bad data/x-data/timestamp {text[:40]!r}")
    data, xdata = rest.group(1), rest.group(2)
    xs = tuple(xdata[1:-1].split("][")) if xdata else ()
    ts, raw_ts = _parse_ts(rest.groups()[2:])
    return head._replace(data=data, xdata=xs, timestamp=ts, raw_timestamp=raw_ts)


def decrypt_message(msg: Dc09Message, key: bytes) -> Dc09Message:
    """The plain message of an encrypted one. Raises :class:`DecodeError` ("decrypt: ...")."""
    content = decrypt_content(key, msg.data)
    try:
        return _content(msg._replace(data=""), "[" + content)
    except DecodeError:
        raise DecodeError("decrypt: decrypted text is not a data block (wrong key?)") from None


_XDATA = {"X": "x_longitude", "Y": "x_latitude", "M": "x_mac", "V": "x_verification",
          "H": "x_time", "I": "x_alarm_text", "P": "x_program", "S": "x_site"}


def xdata_detail(xdata: tuple[str, ...]) -> dict[str, DetailValue]:
    """Extended data blocks as detail fields (``[X…]`` -> ``x_longitude``...). A ``[K…]``
    block (key material) is noted as present, its content never copied."""
    out: dict[str, DetailValue] = {}
    for block in xdata[:8]:
        if not block:
            continue
        letter, value = block[0], block[1:]
        if letter == "K":
            out["x_key"] = "present (not stored)"
        else:
            out[_XDATA.get(letter, f"x_{letter if letter.isalnum() else 'other'}")] = value[:256]
    return out


def build_ack(msg: Dc09Message, kind: str = "ACK", *, key: bytes | None = None,
              now: datetime | None = None) -> bytes:
    """``"ACK"`` (or ``"DUH"``) echoing sequence, receiver, line and account.

    With ``key``: ``"*ACK"`` whose encrypted part holds ``]`` and our timestamp ``now``.
    """
    rcvr = f"R{msg.receiver}" if msg.receiver is not None else ""
    head = f"{msg.seq}{rcvr}L{msg.line or '0'}#{msg.account}["
    if key is None:
        return frame_body(f'"{kind}"{head}]'.encode())
    stamp = format_timestamp(now or datetime.now(UTC))
    return frame_body(f'"*{kind}"{head}{encrypt_content(key, "]" + stamp)}'.encode())


def build_nak(now: datetime) -> bytes:
    """``"NAK"0000R0L0A0[]`` with our timestamp (UTC)."""
    return frame_body(f'"NAK"0000R0L0A0[]{format_timestamp(now)}'.encode())


class SiaDc09Decoder(BaseDecoder):
    """Stream decoder for DC-09 frames (serial line or a TCP byte stream).

    A frame is the bytes from the last LF before a CR to that CR; anything else is
    discarded. The buffer is bounded by the largest frame (4 KiB). ``clock`` returns the
    UTC time used in NAKs and the timestamp window. ``key`` is the AES key of every
    account, ``keys`` maps an account to its own key (hex or ASCII, see
    :func:`~alarmlink.codecs.dc09_crypto.parse_key`); ``replay`` is shared between the
    decoders of one receiver so a replay on another connection is caught too.
    """

    name = "sia-dc09"
    log = logger

    def __init__(self, *, key: str | bytes | None = None,
                 keys: Mapping[str, str | bytes] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 replay: ReplayGuard | None = None,
                 window_past_s: float = WINDOW_PAST_S,
                 window_future_s: float = WINDOW_FUTURE_S) -> None:
        super().__init__()
        self.key = parse_key(key) if key is not None else None
        self.keys = {acct.upper(): parse_key(k) for acct, k in (keys or {}).items()}
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.replay = replay if replay is not None else ReplayGuard()
        self.window = (window_past_s, window_future_s)
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

    def _nak(self, reason: str, raw: bytes, msg: Dc09Message | None = None) -> Decoded:
        return self.reject(reason, raw, build_nak(self.clock()), msg)

    def _decrypt(self, msg: Dc09Message, raw: bytes) -> Dc09Message | Decoded:
        key = self.keys.get(msg.account.upper(), self.key)
        if key is None:
            return self._nak(f"no_key: encrypted frame from account {msg.account} and no key "
                             "configured for it", raw, msg)
        try:
            plain = decrypt_message(msg, key)
        except DecodeError as exc:
            return self._nak(str(exc), raw, msg)
        now = self.clock()
        if plain.timestamp is None:
            return self._nak("decrypt: encrypted frame without a valid timestamp", raw, plain)
        age = (now - plain.timestamp).total_seconds()
        past, future = self.window
        if not -future <= age <= past:
            return self._nak(f"stale: timestamp {plain.raw_timestamp} is {age:+.0f} s from "
                             f"ours (window -{future:g}..+{past:g} s)", raw, plain)
        if self.replay.seen(msg.account.upper(), msg.data.upper()):
            return self._nak(f"replay: encrypted frame seq {msg.seq} of account "
                             f"{msg.account} was already received", raw, plain)
        return plain

    def _frame(self, raw: bytes) -> Decoded:
        if len(raw) > MAX_FRAME:
            return self._nak(f"length: frame of {len(raw)} bytes", raw[:64])
        try:
            msg = decode_frame(raw)
        except DecodeError as exc:
            return self._nak(str(exc), raw)
        key: bytes | None = None
        if msg.encrypted:
            plain = self._decrypt(msg, raw)
            if isinstance(plain, Decoded):
                return plain
            key = self.keys.get(msg.account.upper(), self.key)
            msg = plain
        ack = build_ack(msg, key=key, now=self.clock()) if key else build_ack(msg)
        if msg.id == "NULL":
            self.stats.ignored["null"] += 1
            return self.accept((), raw, ack, msg)
        if msg.id not in EVENT_IDS:
            return self.reject(f"unsupported: message id {msg.id!r}", raw,
                               build_ack(msg, "DUH"), msg)
        account, content = split_account(msg.data)
        account = account or msg.account
        base: dict[str, DetailValue] = {
            "protocol": "sia-dc09", "id": msg.id, "seq": msg.seq, "receiver": msg.receiver,
            "line": msg.line, "account": account, "panel_time": msg.raw_timestamp,
            "encrypted": msg.encrypted, **xdata_detail(msg.xdata),
        }
        try:
            events: list[PanelEvent]
            if not content:
                events = []
            elif msg.id == "ADM-CID":
                event = adm_cid_event(account, content, msg.timestamp, base)
                events = [] if event is None else [event]
                if event is None:
                    self.stats.ignored[f"code_{content[1:4]}"] += 1
            else:
                events, status = sia_events(account, content, msg.timestamp, base)
                for code in status:
                    self.stats.ignored[f"code_{code}"] += 1
        except ValueError as exc:  # DecodeError, or an event the contract cannot hold
            return self.reject(str(exc), raw, build_ack(msg, "DUH"), msg)
        return self.accept(tuple(events), raw, ack, msg)
