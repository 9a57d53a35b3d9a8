"""The pure parts of :mod:`alarmlink.mqtt`: reason codes in words, the reconnect
backoff, and what (not) to log on every retry.

Nothing here talks to a broker, so it is unit-tested without one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Protocol

#: MQTT 5 DISCONNECT reason code "Session taken over": another connection logged in with
#: the same client id, which the broker binds to the account (the same credentials).
SESSION_TAKEN_OVER = 0x8E

#: MQTT 3.1.1 CONNACK return codes (1..5) as the MQTT 5 reason codes paho reports.
V311_CONNACK = {1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87}

#: CONNACK reason codes an operator meets, with what to check.
CONNECT_CAUSES = {
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version (try broker.protocol = \"mqttv311\")",
    0x85: "bad client id (the broker does not accept broker.client_id)",
    0x86: "bad user name or password (check broker.username and the password)",
    0x87: "not authorised (Mosquitto's answer to a bad password as well as to an account "
          "it does not allow: check broker.username and the password)",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned by the broker",
    0x8C: "bad authentication method",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9F: "connection rate exceeded",
}

#: SUBACK reason codes at or above 0x80 (3.1.1 knows only 0x80).
SUBSCRIBE_CAUSES = {
    0x80: "refused (Mosquitto answers an ACL denial with this)",
    0x83: "implementation specific error",
    0x87: "not authorised by the broker's ACL",
    0x8F: "topic filter invalid",
    0x91: "packet identifier in use",
    0x97: "quota exceeded",
    0x9E: "shared subscriptions not supported",
    0xA1: "subscription identifiers not supported",
    0xA2: "wildcard subscriptions not supported",
}


class _HasValue(Protocol):
    @property
    def value(self) -> int: ...


def _code(reason: _HasValue | int) -> int:
    return reason if isinstance(reason, int) else int(reason.value)


def connect_cause(reason: _HasValue | int, *, mqtt311: bool = False) -> str:
    """One readable line for a refused CONNACK (paho's ReasonCode, or a raw code).

    ``mqtt311=True`` reads a raw int as a 3.1.1 return code (1..5).
    """
    code = _code(reason)
    if mqtt311 and isinstance(reason, int):
        code = V311_CONNACK.get(code, code)
    text = CONNECT_CAUSES.get(code, "refused")
    return f"{text} [reason {code:#04x}]"


def subscribe_cause(reason: _HasValue | int) -> str:
    """One readable line for a refused subscription in a SUBACK."""
    code = _code(reason)
    return f"{SUBSCRIBE_CAUSES.get(code, 'refused')} [reason {code:#04x}]"


def check_suback(wanted: Sequence[tuple[str, int]],
                 codes: Sequence[_HasValue]) -> tuple[dict[str, str], list[str]]:
    """Match a SUBACK's reason codes to the ``(filter, qos)`` list of its SUBSCRIBE.

    Returns ``{filter: cause}`` of the refused ones and notes on lowered QoS grants.
    A filter without a reason code (a short SUBACK) counts as refused.
    """
    refused: dict[str, str] = {}
    notes: list[str] = []
    for index, (flt, qos) in enumerate(wanted):
        if index >= len(codes):
            refused[flt] = "no reason code in the SUBACK"
        elif is_refused(codes[index]):
            refused[flt] = subscribe_cause(codes[index])
        elif _code(codes[index]) < qos:
            notes.append(f"broker granted QoS {_code(codes[index])}, not {qos}, for {flt}")
    return refused, notes


def is_refused(reason: _HasValue | int) -> bool:
    """A SUBACK or CONNACK code at or above 0x80 is a refusal (MQTT 5 and 3.1.1 alike)."""
    return _code(reason) >= 0x80


#: Every wait (reconnects, heartbeats) is its nominal value times a random factor in
#: ``[1 - JITTER, 1 + JITTER]``, so a fleet that lost the broker together never stays in
#: step: neither on the first reconnect nor on the heartbeats after it.
JITTER = 0.2


def jittered(value: float, rng: random.Random | None = None, jitter: float = JITTER) -> float:
    """``value`` times a random factor in ``[1 - jitter, 1 + jitter]``."""
    return value * (rng or random).uniform(1.0 - jitter, 1.0 + jitter)


class Backoff:
    """Bounded exponential backoff with jitter between ``min_s`` and ``max_s``.

    Attempt *n* (from 0) waits a random time in ``[max(min_s, c/2), c]`` with
    ``c = min(max_s, min_s * 2**n)``, times a factor in ``[1 - JITTER, 1 + JITTER]``
    (±20 %), never longer than ``max_s``. The first retry comes after about ``min_s``
    (0.8 to 1.2 × ``min_s``), so that many devices dropped by a broker restart do not
    all come back in the same instant; later ones spread out further.
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError(f"need 0 < min_s <= max_s, got {min_s}, {max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self.attempts = 0
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        """The longest nominal wait of attempt ``attempt`` (0-based), before jitter."""
        if attempt >= 64:  # 2**64 * min_s is far past any max_s; avoid huge ints
            return self.max_s
        return float(min(self.max_s, self.min_s * 2 ** attempt))

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one more failure."""
        high = self.ceiling(self.attempts)
        low = max(self.min_s, high / 2)
        self.attempts += 1
        return min(self.max_s, jittered(self._rng.uniform(low, high), self._rng))

    def reset(self) -> None:
        """After an accepted connection: the next failure waits ``min_s`` again."""
        self.attempts = 0


def should_log(count: int) -> bool:
    """Log the 1st, 2nd, 4th, 8th... repeated failure, not every retry."""
    return count & (count - 1) == 0


class DropNoise(logging.Filter):
    """paho 2.2 logs "Client is not connected" at ERROR after every disconnect; our own
    disconnect and reconnect messages already say it, in words an operator can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")
