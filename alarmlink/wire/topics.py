"""Topic strings for one prefix, the model of each JSON channel, example payloads."""


from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from alarmlink.wire.codec import (
    encode,
)
from alarmlink.wire.models import (
    DEFAULT_PREFIX,
    DEVICE_ID_PATTERN,
    JSON_CHANNELS,
    ULID_PATTERN,
    Availability,
    Command,
    CommandName,
    CommandResult,
    ContractError,
    Event,
    Heartbeat,
    Kind,
    Message,
    Receipt,
    RtcKind,
    RtcSignal,
    Source,
    Stage,
    State,
    Status,
)

#: Topics (and device ids) a :class:`Topics` remembers having parsed (checked); more
#: start the memory afresh. 10,000 devices' heartbeat and status topics fit.
MEMO_MAX = 65536


class Topics:
    """Builds and parses topic strings for one prefix.

    >>> t = Topics()
    >>> t.event("school-01")
    'alarmlink/v1/dev/school-01/event'
    >>> t.parse("alarmlink/v1/dev/school-01/cmd/result")
    ('school-01', 'cmd/result', None)
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix or prefix.endswith("/") or any(c in prefix for c in "+#"):
            raise ValueError(
                f"topic prefix {prefix!r} must be non-empty, without / at the end, + or #")
        self.prefix = prefix
        self._dev = f"{prefix}/dev/"
        #: What :meth:`parse` made of a JSON channel's topic, and the device ids checked
        #: (central parses and builds topics for every message; each device's are few).
        self._parsed: dict[str, tuple[str, str, str | None]] = {}
        self._checked: set[str] = set()

    def device(self, device_id: str, channel: str) -> str:
        if device_id not in self._checked:
            if not re.match(DEVICE_ID_PATTERN, device_id):
                raise ContractError(
                    f"device id {device_id!r} does not match {DEVICE_ID_PATTERN}")
            if len(self._checked) >= MEMO_MAX:
                self._checked.clear()
            self._checked.add(device_id)
        return f"{self._dev}{device_id}/{channel}"

    def event(self, device_id: str) -> str:
        return self.device(device_id, "event")

    def status(self, device_id: str) -> str:
        return self.device(device_id, "status")

    def heartbeat(self, device_id: str) -> str:
        return self.device(device_id, "heartbeat")

    def receipt(self, device_id: str) -> str:
        return self.device(device_id, "receipt")

    def cmd(self, device_id: str) -> str:
        return self.device(device_id, "cmd")

    def cmd_result(self, device_id: str) -> str:
        return self.device(device_id, "cmd/result")

    def rtc(self, device_id: str) -> str:
        return self.device(device_id, "rtc")

    def rtc_reply(self, device_id: str) -> str:
        return self.device(device_id, "rtc/reply")

    def rtc_rec(self, device_id: str, session_id: str) -> str:
        """Chunks of a live session's recording (:mod:`alarmlink.wire.recording`)."""
        return self.device(device_id, f"rtc/rec/{session_id}")

    def snapshot(self, device_id: str, event_id: str) -> str:
        return self.device(device_id, f"snapshot/{event_id}")

    def all_devices(self, channel: str) -> str:
        """Subscription filter for one channel of every device, e.g. ``dev/+/event``."""
        return f"{self._dev}+/{channel}"

    def parse(self, topic: str) -> tuple[str, str, str | None]:
        """Split a device topic into ``(device_id, channel, event_id_or_None)``.

        ``channel`` is one of the keys of :data:`JSON_CHANNELS`, ``snapshot`` (third item:
        the event id) or ``rtc/rec`` (third item: the session id).
        """
        found = self._parsed.get(topic)
        if found is not None:
            return found
        found = self._parse(topic)
        if found[2] is None:  # (a snapshot's or a recording's topic names it once)
            if len(self._parsed) >= MEMO_MAX:
                self._parsed.clear()
            self._parsed[topic] = found
        return found

    def _parse(self, topic: str) -> tuple[str, str, str | None]:
        if not topic.startswith(self._dev):
            raise ContractError(f"topic {topic!r} is not under {self._dev}")
        rest = topic[len(self._dev) :].split("/")
        device_id, parts = rest[0], rest[1:]
        if not re.match(DEVICE_ID_PATTERN, device_id):
            raise ContractError(f"topic {topic!r} has an invalid device id {device_id!r}")
        channel = "/".join(parts)
        if channel in JSON_CHANNELS:
            return device_id, channel, None
        if len(parts) == 2 and parts[0] == "snapshot" and re.match(ULID_PATTERN, parts[1]):
            return device_id, "snapshot", parts[1]
        if len(parts) == 3 and parts[:2] == ["rtc", "rec"] and re.match(ULID_PATTERN, parts[2]):
            return device_id, "rtc/rec", parts[2]
        raise ContractError(f"topic {topic!r} has an unknown channel {channel!r}")


def model_for(channel: str) -> type[Message]:
    """The payload model of a JSON channel, e.g. ``model_for("event") is Event``."""
    try:
        return JSON_CHANNELS[channel]
    except KeyError:
        raise ContractError(f"channel {channel!r} carries no JSON payload") from None


def example_payloads() -> dict[str, dict[str, Any]]:
    """One example payload per JSON channel, as documented in the README."""
    ts = datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)
    eid = "01JDQ3ZK6N8Y4W2V7T5R3P1M0H"
    examples: list[tuple[str, Message]] = [
        ("event", Event(event_id=eid, device_id="school-01", seq=42, ts=ts, kind=Kind.PANIC,
                        state=State.ALARM, zone="gate-button", source=Source.GPIO)),
        ("status", Status(state=Availability.ONLINE, ts=ts, boot_id="7f3c", version="0.1.0",
                          config_hash="9a0e1b")),
        ("heartbeat", Heartbeat(ts=ts, uptime_s=3600.0, outbox_depth=0,
                                inputs={"gate-button": "normal"}, temperature_c=48.5)),
        ("receipt", Receipt(event_id=eid, stage=Stage.ACKNOWLEDGED, ts=ts, incident_id=7,
                            by="officer-li")),
        ("cmd", Command(cmd_id="01JDQ40000000000000000000A", name=CommandName.SELF_TEST,
                        expires_at=ts, by="officer-li")),
        ("cmd/result", CommandResult(cmd_id="01JDQ40000000000000000000A", ok=True, ts=ts)),
        ("rtc", RtcSignal(session_id="01JDQ50000000000000000000B", kind=RtcKind.OFFER, ts=ts,
                          sdp="v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n...", incident_id=7,
                          by="officer-li", max_s=600, max_kbps=500, max_height=360)),
        ("rtc/reply", RtcSignal(session_id="01JDQ50000000000000000000B", kind=RtcKind.ANSWER,
                                ts=ts, sdp="v=0\r\no=- 3 4 IN IP4 192.168.1.20\r\n...")),
    ]
    return {name: json.loads(encode(msg)) for name, msg in examples}
