"""The alarmlink wire contract, version 1: every MQTT topic and payload shape.

This is the ONLY place a message shape is defined. The edge agent, central and
the simulators import these models and the codec; none of them builds a topic
string or a payload dict by hand.

Topics (``{prefix}`` defaults to ``alarmlink/v1``)::

    {prefix}/dev/{device_id}/event              device -> central  QoS 1            Event
    {prefix}/dev/{device_id}/status             device -> central  QoS 1, retained  Status
    {prefix}/dev/{device_id}/heartbeat          device -> central  QoS 0            Heartbeat
    {prefix}/dev/{device_id}/receipt            central -> device  QoS 1            Receipt
    {prefix}/dev/{device_id}/cmd                central -> device  QoS 1, never retained  Command
    {prefix}/dev/{device_id}/cmd/result         device -> central  QoS 1            CommandResult
    {prefix}/dev/{device_id}/snapshot/{event_id}  device -> central  QoS 1          JPEG bytes

A snapshot payload is a plain JPEG (starts ``FF D8 FF``). Its metadata, a
:class:`SnapshotMeta`, travels INSIDE the JPEG as a comment (COM) segment, so it
works on MQTT 3.1.1 (no user properties) and 5 alike, and the stored file keeps it
as evidence. :func:`encode_snapshot` and :func:`decode_snapshot` are the codec.

The codec is strict: unknown fields, wrong types, a wrong schema version and
payloads over :data:`MAX_PAYLOAD_BYTES` are rejected with a :class:`ContractError`
whose message names the problem.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from ulid import ULID

from alarmlink.config_base import describe_error_list

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "alarmlink/v1"
#: Largest JSON payload accepted on any JSON topic (bytes).
MAX_PAYLOAD_BYTES = 16 * 1024
#: Largest snapshot payload accepted (bytes), JPEG plus its metadata segment.
MAX_SNAPSHOT_BYTES = 512 * 1024
#: Every snapshot payload starts with these bytes (JPEG SOI + the next marker's FF).
JPEG_MAGIC = b"\xff\xd8\xff"
#: A JPEG comment (COM) segment starting with this tag holds the SnapshotMeta JSON.
SNAPSHOT_META_TAG = b"alarmlink-snapshot:"

#: Limits of an event's zone and ``detail`` map; codecs and the agent clip to these.
MAX_ZONE = 64
MAX_DETAIL_KEYS = 32
MAX_DETAIL_KEY = 64
MAX_DETAIL_STR = 512

DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"

DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
EventId = Annotated[str, StringConstraints(pattern=ULID_PATTERN)]
Zone = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ZONE)]
ShortText = Annotated[str, StringConstraints(max_length=256)]
DetailValue = str | int | float | bool | None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (use UTC, e.g. 2026-11-28T17:00:00Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def _small_detail(value: dict[str, DetailValue]) -> dict[str, DetailValue]:
    if len(value) > MAX_DETAIL_KEYS:
        raise ValueError(f"detail has more than {MAX_DETAIL_KEYS} keys")
    for key, item in value.items():
        if len(key) > MAX_DETAIL_KEY:
            raise ValueError(f"detail key {key[:20]!r}... is longer than {MAX_DETAIL_KEY} "
                             "characters")
        if isinstance(item, str) and len(item) > MAX_DETAIL_STR:
            raise ValueError(f"detail value for {key!r} is longer than {MAX_DETAIL_STR} "
                             "characters")
    return value


Detail = Annotated[dict[str, DetailValue], AfterValidator(_small_detail)]


class Kind(StrEnum):
    """What happened."""

    FIRE = "fire"
    SMOKE = "smoke"
    HEAT = "heat"
    PANIC = "panic"
    MEDICAL = "medical"
    TAMPER = "tamper"
    TROUBLE = "trouble"
    POWER = "power"
    TEST = "test"


class State(StrEnum):
    """Whether the zone went into alarm, came back to normal, or is faulty."""

    ALARM = "alarm"
    RESTORE = "restore"
    TROUBLE = "trouble"


class Source(StrEnum):
    GPIO = "gpio"
    SERIAL = "serial"
    CAMERA = "camera"
    SELF = "self"


class Availability(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # the retained last will
    STOPPED = "stopped"  # clean, deliberate exit


class Stage(StrEnum):
    """Receipt stages, in the order an alarm goes through them."""

    STORED = "stored"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    REAL_FIRE = "real_fire"
    FALSE_ALARM = "false_alarm"
    TEST = "test"
    MALICIOUS = "malicious"
    OTHER = "other"


class CommandName(StrEnum):
    SNAPSHOT = "snapshot"
    SELF_TEST = "self_test"
    SILENCE = "silence"
    RELOAD_CONFIG = "reload_config"
    REBOOT = "reboot"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Python construction is lax (strings become enums); decode() validates strictly.

    v: Literal[1] = Field(1, description="Schema version of the wire contract.")


class Event(_Message):
    """One alarm, trouble or restore from a device. Topic ``dev/{id}/event``, QoS 1."""

    event_id: EventId = Field(description="ULID; the same id on every resend.")
    device_id: DeviceId
    seq: int = Field(ge=0, le=2**53, description="Per-device counter, persisted across reboots.")
    ts: UtcDatetime = Field(description="Device clock at the moment of the event (UTC).")
    kind: Kind
    state: State
    zone: Zone
    source: Source
    test: bool = Field(False, description="Walk tests and simulations; never reach officers.")
    detail: Detail = Field(default_factory=dict, description="Decoded protocol fields.")


class Status(_Message):
    """Availability of a device. Topic ``dev/{id}/status``, QoS 1, retained."""

    state: Availability
    ts: UtcDatetime
    boot_id: Annotated[str, StringConstraints(max_length=64)] = ""
    version: Annotated[str, StringConstraints(max_length=32)] = ""
    config_hash: Annotated[str, StringConstraints(max_length=64)] = ""


class Heartbeat(_Message):
    """Periodic liveness. Topic ``dev/{id}/heartbeat``, QoS 0."""

    ts: UtcDatetime
    uptime_s: float = Field(ge=0)
    outbox_depth: int = Field(ge=0)
    inputs: dict[Zone, Annotated[str, StringConstraints(max_length=16)]] = Field(
        default_factory=dict, description="Zone -> normal | alarm | trouble."
    )
    temperature_c: float | None = None


class Receipt(_Message):
    """Central's answer about one event. Topic ``dev/{id}/receipt``, QoS 1."""

    event_id: EventId
    stage: Stage
    ts: UtcDatetime
    incident_id: int | None = None
    by: ShortText | None = Field(None, description="Who acted (an officer), for ack/resolve.")
    outcome: Outcome | None = None


class Command(_Message):
    """A command to a device. Topic ``dev/{id}/cmd``, QoS 1, never retained."""

    cmd_id: EventId
    name: CommandName
    expires_at: UtcDatetime
    by: ShortText
    args: Detail = Field(default_factory=dict)


class CommandResult(_Message):
    """The device's answer to a command. Topic ``dev/{id}/cmd/result``, QoS 1."""

    cmd_id: EventId
    ok: bool
    ts: UtcDatetime
    detail: Detail = Field(default_factory=dict)


class SnapshotPhase(StrEnum):
    """Where a snapshot sits relative to its event."""

    PRE = "pre"  # from the pre-alarm ring buffer: taken before the trigger
    ALARM = "alarm"  # the frame taken the moment the event was raised
    POST = "post"  # after the trigger, at the configured post-alarm rate
    LIVE = "live"  # asked for by central: live view or "snapshot now"


class SnapshotMeta(_Message):
    """One snapshot's metadata, carried in the JPEG's COM segment (see the module doc)."""

    event_id: EventId = Field(description="The event the frame belongs to; equals the topic's.")
    seq: int = Field(ge=0, le=2**53, description="Per-device snapshot counter, persisted.")
    ts: UtcDatetime = Field(description="When the camera captured the frame (device clock).")
    phase: SnapshotPhase
    camera: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    width: int = Field(ge=1, le=10000)
    height: int = Field(ge=1, le=10000)


class SnapshotRequest(BaseModel):
    """The ``args`` of a ``snapshot`` :class:`Command`: one frame now, a live view, or stop.

    Frames go to ``snapshot/{event_id}``. The device clamps ``live_s`` and ``fps`` to
    its own limits and reports what it granted in the ``CommandResult``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["now", "live", "stop"]
    event_id: EventId
    incident_id: int | None = Field(None, description="Live view stops when it is resolved.")
    live_s: int = Field(60, ge=1, le=3600, description="Live view duration (bounded).")
    fps: float = Field(1.0, gt=0, le=30, description="Requested live frame rate.")

    def to_args(self) -> dict[str, DetailValue]:
        return dict(self.model_dump(mode="json"))

    @classmethod
    def from_args(cls, args: dict[str, DetailValue]) -> SnapshotRequest:
        try:
            return cls.model_validate(args)
        except ValidationError as exc:
            raise ContractError(_describe(cls, exc)) from None


JSON_CHANNELS: dict[str, type[_Message]] = {
    "event": Event,
    "status": Status,
    "heartbeat": Heartbeat,
    "receipt": Receipt,
    "cmd": Command,
    "cmd/result": CommandResult,
}

M = TypeVar("M", bound=_Message)


class ContractError(ValueError):
    """A payload or topic that does not follow the wire contract. ``str()`` is the reason."""


def new_id() -> str:
    """A fresh ULID string, used for event ids and command ids."""
    return str(ULID())


def utcnow() -> datetime:
    return datetime.now(UTC)


def encode(message: _Message) -> bytes:
    """Serialise a contract model to compact UTF-8 JSON."""
    return message.model_dump_json(exclude_none=False).encode()


def decode(model: type[M], payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> M:
    """Parse and validate ``payload`` as ``model``. Raises :class:`ContractError`."""
    if len(payload) > max_bytes:
        raise ContractError(f"payload is {len(payload)} bytes, over the {max_bytes}-byte limit")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"payload is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ContractError(f"payload must be a JSON object, got {type(raw).__name__}")
    version = raw.get("v")
    if version != SCHEMA_VERSION:
        raise ContractError(
            f"unsupported schema version v={version!r}; this build speaks v={SCHEMA_VERSION}"
        )
    try:
        return model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        raise ContractError(_describe(model, exc)) from None


def _describe(model: type[BaseModel], exc: ValidationError) -> str:
    parts = describe_error_list(exc.errors()[:5], model)
    return f"invalid {model.__name__}: " + "; ".join(parts)


def encode_snapshot(meta: SnapshotMeta, jpeg: bytes) -> bytes:
    """The payload for ``snapshot/{event_id}``: ``jpeg`` with ``meta`` as a COM segment.

    The segment goes after SOI and any APPn segments (JFIF/EXIF stay first).
    """
    if not jpeg.startswith(JPEG_MAGIC):
        raise ContractError("not a JPEG (does not start with FF D8 FF)")
    body = SNAPSHOT_META_TAG + encode(meta)
    segment = b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and 0xE0 <= jpeg[pos + 1] <= 0xEF:
        pos += 2 + int.from_bytes(jpeg[pos + 2:pos + 4], "big")
    return jpeg[:pos] + segment + jpeg[pos:]


def decode_snapshot(payload: bytes, *, max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapshotMeta:
    """Check a snapshot payload and return its metadata. Raises :class:`ContractError`."""
    if len(payload) > max_bytes:
        raise ContractError(f"snapshot is {len(payload)} bytes, over the {max_bytes}-byte limit")
    if not payload.startswith(JPEG_MAGIC):
        raise ContractError("snapshot is not a JPEG (does not start with FF D8 FF)")
    if not payload.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ContractError("snapshot JPEG is truncated (no end-of-image marker FF D9)")
    pos = 2
    while pos + 4 <= len(payload):
        if payload[pos] != 0xFF:
            raise ContractError(f"snapshot JPEG is malformed: no marker at byte {pos}")
        marker = payload[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no metadata before it
            break
        length = int.from_bytes(payload[pos + 2:pos + 4], "big")
        body = payload[pos + 4:pos + 2 + length]
        if marker == 0xFE and body.startswith(SNAPSHOT_META_TAG):
            return decode(SnapshotMeta, body[len(SNAPSHOT_META_TAG):])
        pos += 2 + length
    raise ContractError("snapshot JPEG carries no alarmlink metadata (COM segment "
                        f"starting {SNAPSHOT_META_TAG.decode()!r})")


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

    def device(self, device_id: str, channel: str) -> str:
        if not re.match(DEVICE_ID_PATTERN, device_id):
            raise ContractError(f"device id {device_id!r} does not match {DEVICE_ID_PATTERN}")
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

    def snapshot(self, device_id: str, event_id: str) -> str:
        return self.device(device_id, f"snapshot/{event_id}")

    def all_devices(self, channel: str) -> str:
        """Subscription filter for one channel of every device, e.g. ``dev/+/event``."""
        return f"{self._dev}+/{channel}"

    def parse(self, topic: str) -> tuple[str, str, str | None]:
        """Split a device topic into ``(device_id, channel, event_id_or_None)``.

        ``channel`` is one of the keys of :data:`JSON_CHANNELS` or ``snapshot``.
        """
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
        raise ContractError(f"topic {topic!r} has an unknown channel {channel!r}")


def model_for(channel: str) -> type[_Message]:
    """The payload model of a JSON channel, e.g. ``model_for("event") is Event``."""
    try:
        return JSON_CHANNELS[channel]
    except KeyError:
        raise ContractError(f"channel {channel!r} carries no JSON payload") from None


def example_payloads() -> dict[str, dict[str, Any]]:
    """One example payload per JSON channel, as documented in the README."""
    ts = datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)
    eid = "01JDQ3ZK6N8Y4W2V7T5R3P1M0H"
    examples: list[tuple[str, _Message]] = [
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
    ]
    return {name: json.loads(encode(msg)) for name, msg in examples}
