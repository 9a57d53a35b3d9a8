"""The failover SMS: an alarm a venue agent sends over its GSM modem when the broker
cannot be reached (issue 13). Central ingests it as the same :class:`Event`, so when the
MQTT path returns the event is stored once.

One line of GSM 7-bit characters, space separated, under 160 characters for the usual
zone names::

    AL1 <device_id> <event_id> <seq> <kind> <state> <zone> <ts> <flags> <mac>

* ``zone`` is percent-encoded UTF-8 (a Chinese zone name stays 7-bit);
* ``ts`` is the event time in whole UNIX seconds (UTC);
* ``flags`` is ``-`` or ``T`` (a test event) followed by the source's first letter
  (``g`` gpio, ``s`` serial, ``c`` camera, ``f`` self);
* ``mac`` is the first 24 hex digits of HMAC-SHA256 over everything before it (the
  space included), keyed with the device's failover key (a text file, stripped).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from pydantic import ValidationError

from alarmlink.wire.models import ContractError, Event, Source

PREFIX = "AL1"
MAC_HEX = 24
_SOURCES = {"g": Source.GPIO, "s": Source.SERIAL, "c": Source.CAMERA, "f": Source.SELF}
_LETTER = {value: key for key, value in _SOURCES.items()}
_LINE = re.compile(r"^AL1 (\S+) (\S+) (\d{1,16}) (\S+) (\S+) (\S+) (\d{1,12}) ([-T])([a-z]) "
                   r"([0-9a-f]{" + str(MAC_HEX) + r"})$")


def mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()[:MAC_HEX]


def encode_failover(event: Event, key: bytes) -> str:
    """The SMS text for ``event``, authenticated with ``key``."""
    flags = ("T" if event.test else "-") + _LETTER.get(event.source, "f")
    body = (f"{PREFIX} {event.device_id} {event.event_id} {event.seq} {event.kind.value} "
            f"{event.state.value} {quote(event.zone, safe='')} {int(event.ts.timestamp())} "
            f"{flags} ")
    return body + mac(key, body)


def is_failover(text: str) -> bool:
    """True when ``text`` claims to be a failover SMS (then it must verify or be rejected)."""
    return text.strip().startswith(PREFIX + " ")


def device_of(text: str) -> str | None:
    """The device id the SMS claims to come from (to look its key up), or None."""
    parts = text.strip().split(" ")
    return parts[1] if len(parts) > 2 and parts[0] == PREFIX else None


def decode_failover(text: str, key: bytes) -> Event:
    """The event a failover SMS carries. :class:`ContractError` says why it is refused:
    malformed, a bad MAC (forged or the wrong key), or fields the contract refuses."""
    line = text.strip()
    match = _LINE.match(line)
    if match is None:
        raise ContractError("malformed failover SMS: expected 'AL1 <device> <event> <seq> "
                            "<kind> <state> <zone> <ts> <flags> <mac>'")
    body, got = line[:-MAC_HEX], match.group(10)
    if not hmac.compare_digest(mac(key, body), got):
        raise ContractError("failover SMS has a bad HMAC: forged, altered, or the device's "
                            "failover key differs from central's")
    device, event_id, seq, kind, state, zone, ts, test, source = match.groups()[:9]
    try:
        return Event(event_id=event_id, device_id=device, seq=int(seq),
                     ts=datetime.fromtimestamp(int(ts), UTC), kind=kind, state=state,
                     zone=unquote(zone, errors="strict"), source=_SOURCES.get(source, "self"),
                     test=test == "T", detail={"via": "sms"})
    except (ValidationError, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise ContractError(f"failover SMS fields refused: {str(exc).splitlines()[0]}") from None
