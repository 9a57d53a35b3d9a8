"""SMS PDUs (3GPP TS 23.040 / 23.038): SUBMIT, DELIVER and STATUS-REPORT, pure, no I/O.

Text goes as GSM 7-bit when every character is in the basic alphabet's ASCII part,
otherwise as UCS2 (Chinese). A text longer than one SMS is split into parts with a
concatenation header (UDH IEI 0x00: reference, total, sequence): 153 septets or 67
UCS2 characters per part. The modem side (``encode_submit``) and the network/phone side
(``decode_submit``, ``encode_deliver``, used by the simulator) live here together so
that one definition serves both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

#: The ASCII characters of the GSM 03.38 basic alphabet that have the same code.
_GSM7_SAME = set(" !\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "abcdefghijklmnopqrstuvwxyz\n\r")
_GSM7_MAP = {"@": 0x00, "$": 0x02, "_": 0x11}
_GSM7_REV = {v: k for k, v in _GSM7_MAP.items()}
SINGLE_GSM7 = 160
SINGLE_UCS2 = 70
PART_GSM7 = 153
PART_UCS2 = 67
MAX_PARTS = 255


class PduError(ValueError):
    """A PDU that cannot be decoded (malformed hex, lengths that do not add up)."""


@dataclass(frozen=True)
class Submit:
    """An SMS-SUBMIT as the network sees it (decoded by the simulator)."""

    number: str
    text: str
    status_report: bool
    concat: tuple[int, int, int] | None  # (ref, total, seq)


@dataclass(frozen=True)
class Deliver:
    """An SMS-DELIVER as a modem reads it from its store."""

    sender: str
    text: str
    concat: tuple[int, int, int] | None


@dataclass(frozen=True)
class StatusReport:
    """A delivery report (``+CDS``): the message reference and TP-Status (0 = delivered)."""

    reference: int
    recipient: str
    status: int

    @property
    def delivered(self) -> bool:
        return self.status < 0x20 and self.status in (0, 1, 2)


def normalize_number(number: str) -> str:
    """Digits only, with a leading ``+`` kept; ``+86`` dropped for a Chinese mobile."""
    digits = "".join(c for c in number if c.isdigit())
    if number.strip().startswith("+86") and len(digits) == 13:
        return digits[2:]
    return ("+" + digits) if number.strip().startswith("+") else digits


def gsm7_ok(text: str) -> bool:
    return all(c in _GSM7_SAME or c in _GSM7_MAP for c in text)


def _septets(text: str) -> list[int]:
    return [_GSM7_MAP.get(c, ord(c)) for c in text]


def _pack7(septets: list[int], fill_bits: int) -> bytes:
    acc = 0
    nbits = fill_bits
    out = bytearray()
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits > 0:
        out.append(acc & 0xFF)
    return bytes(out)


def _unpack7(data: bytes, count: int, fill_bits: int) -> str:
    acc = int.from_bytes(data, "little")
    acc >>= fill_bits
    chars = []
    for i in range(count):
        s = (acc >> (7 * i)) & 0x7F
        chars.append(_GSM7_REV.get(s, chr(s)))
    return "".join(chars)


def _address(number: str) -> bytes:
    intl = number.startswith("+")
    digits = "".join(c for c in number if c.isdigit())
    if not digits:
        raise PduError(f"no digits in number {number!r}")
    padded = digits + ("F" if len(digits) % 2 else "")
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return bytes([len(digits), 0x91 if intl else 0x81]) + bytes.fromhex(swapped)


def _read_address(data: bytes, pos: int) -> tuple[str, int]:
    ndigits = _byte(data, pos)
    toa = _byte(data, pos + 1)
    nbytes = (ndigits + 1) // 2
    raw = _slice(data, pos + 2, nbytes).hex().upper()
    digits = "".join(raw[i + 1] + raw[i] for i in range(0, len(raw), 2))[:ndigits]
    if (toa & 0x70) == 0x50:  # alphanumeric sender: GSM7 packed
        return _unpack7(_slice(data, pos + 2, nbytes), ndigits * 4 // 7, 0), pos + 2 + nbytes
    if not digits.isdigit() and digits:
        raise PduError(f"bad address digits {digits!r}")
    return ("+" if (toa & 0x70) == 0x10 else "") + digits, pos + 2 + nbytes


def _byte(data: bytes, pos: int) -> int:
    if pos >= len(data):
        raise PduError("PDU ends early")
    return data[pos]


def _slice(data: bytes, pos: int, n: int) -> bytes:
    if pos + n > len(data):
        raise PduError("PDU ends early")
    return data[pos:pos + n]


def split_text(text: str) -> tuple[bool, list[str]]:
    """(ucs2, parts): the parts one text needs."""
    ucs2 = not gsm7_ok(text)
    single, part = (SINGLE_UCS2, PART_UCS2) if ucs2 else (SINGLE_GSM7, PART_GSM7)
    if len(text) <= single:
        return ucs2, [text]
    parts = [text[i:i + part] for i in range(0, len(text), part)]
    if len(parts) > MAX_PARTS:
        raise PduError(f"text of {len(text)} characters needs more than {MAX_PARTS} parts")
    return ucs2, parts


def _user_data(part: str, ucs2: bool, udh: bytes) -> tuple[int, bytes]:
    """(UDL, UD) with ``udh`` (including its length octet) in front."""
    if ucs2:
        body = part.encode("utf-16-be")
        return len(udh) + len(body), udh + body
    fill = (7 - (len(udh) * 8) % 7) % 7
    header_septets = (len(udh) * 8 + fill) // 7
    septets = _septets(part)
    packed = _pack7(septets, fill)
    return header_septets + len(septets), udh + packed


def _udh(concat: tuple[int, int, int] | None) -> bytes:
    if concat is None:
        return b""
    ref, total, seq = concat
    return bytes([5, 0x00, 3, ref & 0xFF, total, seq])


def encode_submit(number: str, text: str, *, reference: int = 0,
                  status_report: bool = True) -> list[tuple[int, str]]:
    """The SMS-SUBMIT PDUs for ``text``: ``(length for AT+CMGS, hex with SCA "00")``."""
    ucs2, parts = split_text(text)
    out = []
    for seq, part in enumerate(parts, start=1):
        concat = (reference, len(parts), seq) if len(parts) > 1 else None
        first = 0x01 | 0x10 | (0x20 if status_report else 0) | (0x40 if concat else 0)
        udl, ud = _user_data(part, ucs2, _udh(concat))
        tpdu = (bytes([first, 0x00]) + _address(number)
                + bytes([0x00, 0x08 if ucs2 else 0x00, 0xAA, udl]) + ud)
        out.append((len(tpdu), "00" + tpdu.hex().upper()))
    return out


def _skip_sca(data: bytes) -> int:
    return 1 + _byte(data, 0)


def _decode_ud(data: bytes, pos: int, dcs: int, udhi: bool
               ) -> tuple[str, tuple[int, int, int] | None]:
    udl = _byte(data, pos)
    ud = data[pos + 1:]
    concat = None
    header_len = 0
    if udhi:
        udhl = _byte(ud, 0)
        header = _slice(ud, 1, udhl)
        header_len = udhl + 1
        i = 0
        while i + 1 < len(header):
            iei, ielen = header[i], header[i + 1]
            value = _slice(header, i + 2, ielen)
            if iei == 0x00 and ielen == 3:
                concat = (value[0], value[1], value[2])
            elif iei == 0x08 and ielen == 4:
                concat = (value[0] << 8 | value[1], value[2], value[3])
            i += 2 + ielen
    alphabet = (dcs >> 2) & 0x03 if (dcs & 0xC0) == 0 else 0
    if alphabet == 2:  # UCS2
        body = _slice(ud, header_len, udl - header_len)
        if len(body) % 2:
            raise PduError("odd UCS2 length")
        try:
            return body.decode("utf-16-be"), concat
        except UnicodeDecodeError as exc:
            raise PduError(f"bad UCS2 text: {exc.reason}") from None
    if alphabet == 1:  # 8-bit data
        return _slice(ud, header_len, udl - header_len).decode("latin-1"), concat
    fill = (7 - (header_len * 8) % 7) % 7
    header_septets = (header_len * 8 + fill) // 7
    count = udl - header_septets
    if count < 0 or (udl * 7 + 7) // 8 > len(ud):
        raise PduError("user data length does not match the PDU")
    return _unpack7(ud[header_len:], count, fill), concat


def decode_submit(pdu_hex: str) -> Submit:
    """An SMS-SUBMIT with its SCA octet (what a modem writes after ``AT+CMGS``)."""
    data = _hex(pdu_hex)
    pos = _skip_sca(data)
    first = _byte(data, pos)
    if first & 0x03 != 0x01:
        raise PduError("not an SMS-SUBMIT")
    number, pos = _read_address(data, pos + 2)
    dcs = _byte(data, pos + 1)
    pos += 2
    vpf = (first >> 3) & 0x03
    pos += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    text, concat = _decode_ud(data, pos, dcs, bool(first & 0x40))
    return Submit(number, text, bool(first & 0x20), concat)


def _scts(at: datetime) -> bytes:
    at = at.astimezone(UTC)
    digits = at.strftime("%y%m%d%H%M%S") + "00"
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, 14, 2)))


def encode_deliver(sender: str, text: str, *, reference: int = 0,
                   at: datetime | None = None) -> list[str]:
    """SMS-DELIVER PDUs (with a zero SCA) as a phone's message arrives at a modem."""
    ucs2, parts = split_text(text)
    when = _scts(at or datetime.now(UTC))
    out = []
    for seq, part in enumerate(parts, start=1):
        concat = (reference, len(parts), seq) if len(parts) > 1 else None
        first = 0x04 | (0x40 if concat else 0)
        udl, ud = _user_data(part, ucs2, _udh(concat))
        tpdu = (bytes([first]) + _address(sender)
                + bytes([0x00, 0x08 if ucs2 else 0x00]) + when + bytes([udl]) + ud)
        out.append("00" + tpdu.hex().upper())
    return out


def decode_deliver(pdu_hex: str) -> Deliver:
    """An SMS-DELIVER with its SCA (what ``AT+CMGL``/``AT+CMGR`` print in PDU mode)."""
    data = _hex(pdu_hex)
    pos = _skip_sca(data)
    first = _byte(data, pos)
    if first & 0x03 != 0x00:
        raise PduError("not an SMS-DELIVER")
    sender, pos = _read_address(data, pos + 1)
    dcs = _byte(data, pos + 1)
    pos += 2 + 7  # PID, DCS, SCTS
    text, concat = _decode_ud(data, pos, dcs, bool(first & 0x40))
    return Deliver(sender, text, concat)


def encode_status_report(reference: int, recipient: str, status: int = 0) -> str:
    """A ``+CDS`` PDU (with zero SCA): message ``reference`` reached ``recipient``."""
    now = _scts(datetime.now(UTC))
    tpdu = bytes([0x06, reference & 0xFF]) + _address(recipient) + now + now + bytes([status])
    return "00" + tpdu.hex().upper()


def decode_status_report(pdu_hex: str) -> StatusReport:
    data = _hex(pdu_hex)
    pos = _skip_sca(data)
    first = _byte(data, pos)
    if first & 0x03 != 0x02:
        raise PduError("not an SMS-STATUS-REPORT")
    reference = _byte(data, pos + 1)
    recipient, pos = _read_address(data, pos + 2)
    status = _byte(data, pos + 14)
    return StatusReport(reference, recipient, status)


def reassemble(parts: list[Deliver]) -> list[Deliver]:
    """Join concatenated parts (same sender and reference, all present) into whole texts;
    single messages pass through; incomplete sets are kept back."""
    whole: list[Deliver] = []
    groups: dict[tuple[str, int, int], dict[int, str]] = {}
    for part in parts:
        if part.concat is None:
            whole.append(part)
            continue
        ref, total, seq = part.concat
        groups.setdefault((part.sender, ref, total), {})[seq] = part.text
    for (sender, _ref, total), texts in groups.items():
        if len(texts) == total and set(texts) == set(range(1, total + 1)):
            whole.append(Deliver(sender, "".join(texts[i] for i in range(1, total + 1)), None))
    return whole


def _hex(pdu_hex: str) -> bytes:
    try:
        return bytes.fromhex(pdu_hex.strip())
    except ValueError:
        raise PduError("PDU is not hexadecimal") from None
