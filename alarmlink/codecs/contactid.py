"""Ademco Contact ID messages as printed on a panel's serial automation port.

docs/protocols.md, section "Ademco Contact ID": ``ACCT(4) MT(2) Q(1) XYZ(3) GG(2)
CCC(3) S(1)``, MT 18 or 98, Q 1 new event / 3 restore / 6 still present. Checksum: digit
``0`` counts 10, ``B``-``F`` count 11-15, ``A`` is not allowed; the 16 digit values sum
to a multiple of 15. Accepted line forms (CR and/or LF terminated, surrounding spaces
ignored): bare ``1234181131010158`` and spaced ``1234 18 1 131 01 015 8``. A line must
be exactly one message: prefixes such as receiver numbers or times are not parsed.

Event code -> event (:func:`classify`):

=========  ==========================================  ===========================
code       meaning                                     kind / state when Q=1 or 6
=========  ==========================================  ===========================
100-109    medical                                     medical / alarm
110-119    fire (111 smoke, 116 duct smoke -> smoke;   fire / alarm
           114 heat -> heat)
120-129    panic, duress, hold-up                      panic / alarm
130-139    burglary (137 tamper); the contract has no  tamper / alarm
           burglary kind, so intrusion maps to tamper,
           ``detail["category"]="burglary"``
140, 144+  general alarm, sensor/module tamper         tamper / alarm
141-143,   loop open/short, module failure, sensor     trouble / trouble
147        supervision
150-199    24 h non-burglary (gas, CO, water, temp)    trouble / alarm
200-299    fire supervisory                            trouble / trouble
300-399    troubles; power codes 301, 302, 309, 311,   trouble (power) / trouble
           312, 337, 338, 342, 384 -> power
601-604,   manual/periodic test, fire test, walk test  test / alarm, test=True
607, 608
400-599,   open/close, remote access (4xx), bypasses   status only: no event
other 6xx  and disables (5xx), logs and programming    (counted as ignored)
           (6xx)
000-099,   not in the standard's lists (vendor codes)  trouble / trouble,
700-999                                                ``detail["category"]="unmapped"``
=========  ==========================================  ===========================

A valid code is never dropped in silence: anything outside the listed ranges raises a
trouble carrying the raw code. The same real-world event gives the same kind and state
as its SIA code (:mod:`alarmlink.codecs.sia_code_table`).

Q=3 turns the state into ``restore`` (same kind). Q=6 (still present) is reported like
Q=1 with ``detail["qualifier"]=6``. Messages carry no time: events have ``ts=None``.

Reply: none. On an automation port the panel (or receiver) does not wait for an
acknowledgement; the DTMF kissoff belongs to the telephone line, not to this port.
"""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

from alarmlink.codecs.common import BaseDecoder, Decoded, DecodeError, PanelEvent
from alarmlink.wire import Kind, State

logger = logging.getLogger(__name__)

MAX_LINE = 128
_VALUE = {"0": 10, **{str(d): d for d in range(1, 10)}, "B": 11, "C": 12, "D": 13, "E": 14,
          "F": 15}
_DIGIT = {v: k for k, v in _VALUE.items()}
_SPACED = (4, 2, 1, 3, 2, 3, 1)
_EOL = re.compile(rb"[\r\n]")

POWER_CODES = frozenset({301, 302, 309, 311, 312, 337, 338, 342, 384})
TEST_CODES = frozenset({601, 602, 603, 604, 607, 608})
DESCRIPTIONS = {
    100: "medical", 101: "personal emergency", 110: "fire", 111: "smoke", 112: "combustion",
    113: "water flow", 114: "heat", 115: "pull station", 116: "duct", 117: "flame",
    118: "near alarm", 120: "panic", 121: "duress", 122: "silent panic", 123: "audible panic",
    130: "burglary", 131: "perimeter burglary", 132: "interior burglary", 133: "24h burglary",
    134: "entry/exit burglary", 137: "tamper", 140: "general alarm", 144: "sensor tamper",
    151: "gas detected", 154: "water leakage", 158: "high temperature",
    159: "low temperature", 162: "carbon monoxide", 200: "fire supervisory",
    301: "AC loss", 302: "low system battery", 333: "expansion module failure",
    350: "communication trouble", 351: "telco 1 fault", 373: "fire trouble",
    380: "sensor trouble",
    401: "open/close by user", 601: "manual test", 602: "periodic test",
}


class ContactIdMessage(NamedTuple):
    """One decoded message; all fields as the digits were sent."""

    account: str
    message_type: str
    qualifier: int
    event_code: int
    group: str
    zone: str
    checksum: str


class Classification(NamedTuple):
    kind: Kind
    state: State  # the state of a new event (Q=1/6); restores use State.RESTORE
    test: bool
    category: str


def checksum_digit(first15: str) -> str:
    """The checksum digit ``S`` that makes the 16 digit values sum to a multiple of 15."""
    rest = sum(_VALUE[c] for c in first15) % 15
    return _DIGIT[15 - rest]  # rest 0 -> F (15)


def checksum_ok(digits: str) -> bool:
    """True if the 16 digits sum to a multiple of 15 (digit values per the standard)."""
    try:
        return len(digits) == 16 and sum(_VALUE[c] for c in digits) % 15 == 0
    except KeyError:
        return False


def encode_message(
    account: str,
    event_code: int,
    qualifier: int = 1,
    group: int | str = 0,
    zone: int | str = 0,
    message_type: str = "18",
    *,
    spaced: bool = False,
) -> str:
    """A Contact ID message with its checksum, bare or in the spaced automation form."""
    grp = f"{group:02d}" if isinstance(group, int) else group
    zon = f"{zone:03d}" if isinstance(zone, int) else zone
    fields = [account.upper(), message_type, str(qualifier), f"{event_code:03d}", grp, zon]
    body = "".join(fields)
    if [len(f) for f in fields] != list(_SPACED[:6]) or any(c not in _VALUE for c in body):
        raise ValueError(f"cannot encode Contact ID fields {fields}")
    fields.append(checksum_digit(body))
    return " ".join(fields) if spaced else "".join(fields)


def parse_message(text: str | bytes) -> ContactIdMessage:
    """Parse and validate one message (bare or spaced). Raises :class:`DecodeError`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("syntax: message contains non-ASCII bytes") from None
    s = text.strip(" ")
    if " " in s:
        parts = s.split(" ")
        if tuple(len(p) for p in parts) != _SPACED:
            raise DecodeError("syntax: spaced form must be 'AAAA MT Q XYZ GG CCC S'")
        s = "".join(parts)
    if len(s) != 16:
        raise DecodeError(f"syntax: {len(s)} characters, a message has 16 digits")
    bad = sorted({c for c in s if c not in _VALUE})
    if bad:
        raise DecodeError(f"syntax: invalid digit(s) {''.join(bad)!r} (0-9, B-F only)")
    if s[4:6] not in ("18", "98"):
        raise DecodeError(f"message_type: {s[4:6]!r}, expected 18 or 98")
    if s[6] not in "136":
        raise DecodeError(f"qualifier: {s[6]!r}, expected 1, 3 or 6")
    if not s[7:10].isdigit():
        raise DecodeError(f"event_code: {s[7:10]!r} is not decimal")
    if not checksum_ok(s):
        raise DecodeError(f"checksum: digit sum {sum(_VALUE[c] for c in s)} is not a multiple"
                          " of 15")
    return ContactIdMessage(s[:4], s[4:6], int(s[6]), int(s[7:10]), s[10:12], s[12:15], s[15])


def classify(code: int) -> Classification | None:
    """Kind and new-event state of a Contact ID event code (table above), or ``None`` for a
    status code (4xx, 5xx, 6xx other than tests) that makes no event."""
    if 100 <= code <= 109:
        return Classification(Kind.MEDICAL, State.ALARM, False, "medical")
    if 110 <= code <= 119:
        kind = {111: Kind.SMOKE, 116: Kind.SMOKE, 114: Kind.HEAT}.get(code, Kind.FIRE)
        return Classification(kind, State.ALARM, False, "fire")
    if 120 <= code <= 129:
        return Classification(Kind.PANIC, State.ALARM, False, "panic")
    if 130 <= code <= 139:
        return Classification(Kind.TAMPER, State.ALARM, False,
                              "tamper" if code == 137 else "burglary")
    if 140 <= code <= 149:
        if code in (141, 142, 143, 147):
            return Classification(Kind.TROUBLE, State.TROUBLE, False, "general")
        return Classification(Kind.TAMPER, State.ALARM, False, "general")
    if 150 <= code <= 199:
        return Classification(Kind.TROUBLE, State.ALARM, False, "non-burglary")
    if 200 <= code <= 299:
        return Classification(Kind.TROUBLE, State.TROUBLE, False, "fire supervisory")
    if 300 <= code <= 399:
        kind = Kind.POWER if code in POWER_CODES else Kind.TROUBLE
        return Classification(kind, State.TROUBLE, False, "trouble")
    if code in TEST_CODES:
        return Classification(Kind.TEST, State.ALARM, True, "test")
    if 400 <= code <= 699:
        return None  # status: openings/closings, bypasses, logs, programming
    return Classification(Kind.TROUBLE, State.TROUBLE, False, "unmapped")


def to_event(msg: ContactIdMessage, zone_prefix: str = "cid", protocol: str = "contactid",
             ) -> PanelEvent | None:
    """The event for a message, or ``None`` for codes that are not alarms (4xx, 5xx...)."""
    cls = classify(msg.event_code)
    if cls is None:
        return None
    state = State.RESTORE if msg.qualifier == 3 else cls.state
    detail: dict[str, str | int | float | bool | None] = {
        "protocol": protocol, "account": msg.account, "event_code": msg.event_code,
        "event": DESCRIPTIONS.get(msg.event_code, "") if cls.category != "unmapped"
        else f"unmapped Contact ID code {msg.event_code:03d}", "qualifier": msg.qualifier,
        "group": msg.group, "zone": msg.zone, "message_type": msg.message_type,
        "category": cls.category,
    }
    zone = f"{zone_prefix}-{msg.account}-g{msg.group}-z{msg.zone}"
    return PanelEvent(cls.kind, state, zone, detail, cls.test, None)


class ContactIdDecoder(BaseDecoder):
    """Line-based stream decoder for Contact ID automation output. No replies.

    A line longer than 128 bytes is discarded up to its terminator; the buffer never
    holds more than that between calls.
    """

    name = "contactid"
    log = logger

    def __init__(self, *, zone_prefix: str = "cid") -> None:
        super().__init__()
        self.zone_prefix = zone_prefix
        self._buf = bytearray()
        self._skipping = False

    def reset(self) -> None:
        self._buf.clear()
        self._skipping = False

    def feed(self, data: bytes) -> list[Decoded]:
        """Consume ``data``; return one :class:`Decoded` per non-empty complete line."""
        buf = self._buf
        buf += data
        out: list[Decoded] = []
        start = 0
        search = _EOL.search
        while (m := search(buf, start)) is not None:
            end = m.start()
            line = bytes(buf[start:end])
            start = end + 1
            if self._skipping:
                self._skipping = False
                self.stats.discarded_bytes += len(line)
                continue
            text = line.strip(b" ")
            if not text:
                continue
            if len(line) > MAX_LINE:
                out.append(self.reject(f"line_too_long: {len(line)} bytes", line))
                continue
            out.append(self._line(text))
        del buf[:start]
        if len(buf) > MAX_LINE:
            out.append(self.reject("line_too_long: no line end", bytes(buf[:MAX_LINE])))
            self.stats.discarded_bytes += len(buf)
            buf.clear()
            self._skipping = True
        return out

    def _line(self, text: bytes) -> Decoded:
        try:
            msg = parse_message(text)
        except DecodeError as exc:
            return self.reject(str(exc), text)
        event = to_event(msg, self.zone_prefix)
        if event is None:
            self.stats.ignored[f"code_{msg.event_code}"] += 1
            return self.accept((), text, None, msg)
        return self.accept((event,), text, None, msg)
