"""Shared types of the serial panel codecs: events, results, statistics, the decoder interface.

The codecs are pure: no I/O, no MQTT, no clock unless one is injected. A serial reader
feeds raw bytes to a :class:`StreamDecoder` and gets back :class:`Decoded` results. For
each result it writes ``reply`` (if any) back on the line and turns each
:class:`PanelEvent` into a wire ``Event`` (adding event_id, seq, device_id, source=serial).

Failures never raise out of ``feed()``: they are counted in :class:`DecoderStats`,
logged at DEBUG with the raw bytes in hex, and produce no events. Corrupt bytes never
raise an alarm. Frame formats: docs/protocols.md (sections "GB/T 26875.3-2011",
"Ademco Contact ID", "SIA DC-09").
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from alarmlink import wire

logger = logging.getLogger(__name__)

DetailValue = str | int | float | bool | None

#: Limits of the wire contract (alarmlink/wire/models.py: Zone, Detail).
MAX_ZONE = wire.MAX_ZONE
MAX_DETAIL_KEYS = wire.MAX_DETAIL_KEYS
MAX_DETAIL_KEY = wire.MAX_DETAIL_KEY
MAX_DETAIL_STR = wire.MAX_DETAIL_STR

PROTOCOLS = ("gb26875", "contactid", "sia-dc09")


class DecodeError(ValueError):
    """Bytes that do not form a valid frame or message. ``str()`` names the problem."""


@dataclass(frozen=True)
class PanelEvent:
    """One event decoded from a panel, before the agent gives it an id.

    ``ts`` is the panel's own time of the event when the protocol carries one and its
    time zone is known (always timezone-aware), else ``None``: the agent then stamps the
    event with its own clock. ``detail`` holds the decoded protocol fields.
    """

    kind: wire.Kind
    state: wire.State
    zone: str
    detail: dict[str, DetailValue] = field(default_factory=dict)
    test: bool = False
    ts: datetime | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.zone) <= MAX_ZONE:
            raise ValueError(f"zone must be 1..{MAX_ZONE} characters, got {len(self.zone)}")
        if self.ts is not None and self.ts.tzinfo is None:
            raise ValueError("ts must be timezone-aware or None")
        detail = self.detail
        if len(detail) > MAX_DETAIL_KEYS:
            raise ValueError(f"detail has {len(detail)} keys, over {MAX_DETAIL_KEYS}")
        for key, value in detail.items():
            if len(key) > MAX_DETAIL_KEY:
                raise ValueError(f"detail key {key[:20]!r}... is over {MAX_DETAIL_KEY} chars")
            if isinstance(value, str) and len(value) > MAX_DETAIL_STR:
                raise ValueError(f"detail value for {key!r} is over {MAX_DETAIL_STR} chars")


_new = object.__new__
_set = object.__setattr__


def trusted_event(
    kind: wire.Kind,
    state: wire.State,
    zone: str,
    detail: dict[str, DetailValue],
    test: bool = False,
    ts: datetime | None = None,
) -> PanelEvent:
    """A :class:`PanelEvent` built without the per-field checks of ``__post_init__``.

    For codec code whose zone and detail are bounded by construction (fixed keys,
    fixed-width fields, clipped text): it saves a few microseconds per event on the hot
    path. The protocol tests validate every event they see against the wire contract.
    """
    event = _new(PanelEvent)
    _set(event, "__dict__", {"kind": kind, "state": state, "zone": zone, "detail": detail,
                             "test": test, "ts": ts})
    return event


def clip_zone(text: str) -> str:
    """A zone string within the contract's 1..64 characters (never empty)."""
    text = text.strip()[:MAX_ZONE].rstrip()
    return text or "panel"


class Decoded(NamedTuple):
    """The outcome of one frame or message found in the byte stream.

    ``events`` is empty when the frame was rejected (then ``error`` names the reason) or
    carried nothing that maps to an event. ``reply`` holds the bytes to write back on the
    line (a GB 26875 confirm or deny, a DC-09 ACK/NAK/DUH), else ``None``. ``message`` is
    the protocol-level decoded object, for diagnostics. Treat ``detail`` dicts of the
    events as read-only: events of one record may share one.
    """

    events: tuple[PanelEvent, ...]
    raw: bytes
    reply: bytes | None = None
    message: object | None = None
    error: str | None = None


@dataclass
class DecoderStats:
    """Counters of one decoder. ``failures`` maps a reason to how often it happened."""

    frames: int = 0
    events: int = 0
    replies: int = 0
    discarded_bytes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def as_dict(self) -> dict[str, int]:
        """Flat counters, e.g. for a heartbeat or a log line."""
        out = {
            "frames": self.frames,
            "events": self.events,
            "replies": self.replies,
            "discarded_bytes": self.discarded_bytes,
            "failed": self.failed,
        }
        out.update({f"failed_{k}": v for k, v in sorted(self.failures.items())})
        out.update({f"ignored_{k}": v for k, v in sorted(self.ignored.items())})
        return out


class _Hex:
    """Formats bytes as hex only if a log record is actually emitted."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __str__(self) -> str:
        return self.data.hex(" ")


@runtime_checkable
class StreamDecoder(Protocol):
    """What the serial reader calls: feed it bytes as they arrive, act on the results."""

    name: ClassVar[str]
    stats: DecoderStats

    def feed(self, data: bytes) -> list[Decoded]:
        """Consume ``data``; return every frame completed by it. Never raises."""
        ...

    def reset(self) -> None:
        """Forget buffered partial input (e.g. after the serial port was reopened)."""
        ...


class BaseDecoder:
    """Bookkeeping shared by the concrete decoders (stats, rejection logging)."""

    name: ClassVar[str] = "base"
    log: ClassVar[logging.Logger] = logger

    def __init__(self) -> None:
        self.stats = DecoderStats()

    def reject(
        self, reason: str, raw: bytes, reply: bytes | None = None, message: Any = None
    ) -> Decoded:
        """Count and log a rejected frame; the result carries no events."""
        key = reason.split(":", 1)[0]
        self.stats.failures[key] += 1
        if reply is not None:
            self.stats.replies += 1
        self.log.debug("%s frame rejected (%s): %s", self.name, reason, _Hex(raw))
        return Decoded((), raw, reply, message, reason)

    def accept(
        self, events: tuple[PanelEvent, ...], raw: bytes, reply: bytes | None, message: Any
    ) -> Decoded:
        stats = self.stats
        stats.frames += 1
        stats.events += len(events)
        if reply is not None:
            stats.replies += 1
        return Decoded(events, raw, reply, message)
