"""The wire contract's limits, types and payload models (see :mod:`alarmlink.wire`)."""


from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    ValidationError,
)

from alarmlink.config_base import FrozenStrictModel, describe_error_list

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "alarmlink/v1"
#: Largest JSON payload accepted on any JSON topic (bytes).
MAX_PAYLOAD_BYTES = 16 * 1024
#: Largest snapshot payload accepted (bytes), JPEG plus its metadata segment.
MAX_SNAPSHOT_BYTES = 512 * 1024
#: Largest picture a snapshot's JPEG frame header (SOF) may declare, in pixels. A
#: decoder allocates by the header, not by the payload's size: 60000x60000 in a few
#: hundred bytes would ask for gigabytes.
MAX_SNAPSHOT_PIXELS = 40_000_000
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
    #: Central cannot accept the event (``reason`` says why): the device stops resending
    #: it and keeps it in its local list of rejected events. Not part of the stage order.
    REJECTED = "rejected"


class Outcome(StrEnum):
    """How an incident ended. The console offers them by category: a fire alarm
    real_fire/false_alarm/malicious/test, a panic or medical alarm real_emergency/
    false_alarm/malicious/test, a trouble repaired/device_fault/power/other."""

    REAL_FIRE = "real_fire"
    REAL_EMERGENCY = "real_emergency"
    FALSE_ALARM = "false_alarm"
    TEST = "test"
    MALICIOUS = "malicious"
    REPAIRED = "repaired"
    DEVICE_FAULT = "device_fault"
    POWER = "power"
    OTHER = "other"


class CommandName(StrEnum):
    SNAPSHOT = "snapshot"
    SELF_TEST = "self_test"
    SILENCE = "silence"
    RELOAD_CONFIG = "reload_config"
    REBOOT = "reboot"


class Message(FrozenStrictModel):
    """The base of every JSON payload: unknown fields rejected, instances frozen.

    Python construction is lax (strings become enums); :func:`decode` validates strictly.
    """

    v: Literal[1] = Field(1, description="Schema version of the wire contract.")
    #: Fields added to v1 later: left out of the JSON while unset, so a device or central
    #: of an earlier release (which rejects unknown fields) still reads the message.
    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()


class Event(Message):
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


class Status(Message):
    """Availability of a device. Topic ``dev/{id}/status``, QoS 1, retained."""

    state: Availability
    ts: UtcDatetime
    boot_id: Annotated[str, StringConstraints(max_length=64)] = ""
    version: Annotated[str, StringConstraints(max_length=32)] = ""
    config_hash: Annotated[str, StringConstraints(max_length=64)] = ""


class Heartbeat(Message):
    """Periodic liveness. Topic ``dev/{id}/heartbeat``, QoS 0."""

    ts: UtcDatetime
    uptime_s: float = Field(ge=0)
    outbox_depth: int = Field(ge=0)
    inputs: dict[Zone, Annotated[str, StringConstraints(max_length=16)]] = Field(
        default_factory=dict, description="Zone -> normal | alarm | trouble."
    )
    temperature_c: float | None = None
    session_takeovers: int = Field(
        0, ge=0, le=2**31,
        description="Times since the agent started that the broker disconnected it because "
                    "another connection with its credentials took over its session (MQTT 5 "
                    "reason code 0x8E): a duplicate device or stolen credentials.")


class Receipt(Message):
    """Central's answer about one event. Topic ``dev/{id}/receipt``: ``stored`` at QoS 0
    (a lost one makes the device resend, which central answers again), the later stages
    and ``rejected`` at QoS 1."""

    event_id: EventId
    stage: Stage
    ts: UtcDatetime
    incident_id: int | None = None
    by: ShortText | None = Field(None, description="Who acted (an officer), for ack/resolve.")
    outcome: Outcome | None = None
    reason: ShortText | None = Field(None, description="Why central refused the event "
                                     "(stage rejected only).")
    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"reason"})


class Command(Message):
    """A command to a device. Topic ``dev/{id}/cmd``, QoS 1, never retained."""

    cmd_id: EventId
    name: CommandName
    expires_at: UtcDatetime
    by: ShortText
    args: Detail = Field(default_factory=dict)


class CommandResult(Message):
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


class SnapshotMeta(Message):
    """One snapshot's metadata, carried in the JPEG's COM segment (see the module doc)."""

    event_id: EventId = Field(description="The event the frame belongs to; equals the topic's.")
    seq: int = Field(ge=0, le=2**53, description="Per-device snapshot counter, persisted.")
    ts: UtcDatetime = Field(description="When the camera captured the frame (device clock).")
    phase: SnapshotPhase
    camera: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    width: int = Field(ge=1, le=10000)
    height: int = Field(ge=1, le=10000)


class SnapshotRequest(FrozenStrictModel):
    """The ``args`` of a ``snapshot`` :class:`Command`: one frame now, a live view, or stop.

    Frames go to ``snapshot/{event_id}``. The device clamps ``live_s`` and ``fps`` to
    its own limits and reports what it granted in the ``CommandResult``.
    """

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


#: Longest SDP accepted in an :class:`RtcSignal` (aiortc's answer with host candidates
#: is about 2-4 kB; a browser offer with audio and video about 5-8 kB).
MAX_SDP = 12_000


class RtcKind(StrEnum):
    """What an :class:`RtcSignal` carries."""

    OFFER = "offer"    # central -> device: the console's SDP offer (ICE gathered, no trickle)
    ANSWER = "answer"  # device -> central: the agent's SDP answer (ICE gathered)
    BYE = "bye"        # either way: the session ended (officer closed, resolved, timeout)
    ERROR = "error"    # device -> central: the session could not start; ``reason`` says why
    #: central -> device: the session's recording arrived whole and its SHA-256 verified;
    #: the agent deletes its copy.
    REC_STORED = "rec_stored"
    #: central -> device: the recording was refused (``reason``); the agent keeps its copy.
    REC_REJECTED = "rec_rejected"
    #: device -> central: the venue asks the duty officer to talk (the one-key button's
    #: second press, or a ``kind = "talk"`` button); ``session_id`` is a new ULID that
    #: identifies the request, ``zone`` the input pressed. Central puts it on the venue's
    #: open alarm's timeline (or, with none open, opens a ``talk_request`` incident) and
    #: tells the station's consoles.
    TALK_REQUEST = "talk_request"
    #: central -> device: central has the talk request ``session_id`` (stored, on
    #: ``incident_id``, shown to the station); the venue's talk LED and buzzer say so.
    TALK_RECEIVED = "talk_received"


class RtcSignal(Message):
    """WebRTC signalling for one live audio/video session between a duty console and a
    venue agent, relayed by central. Topics ``dev/{id}/rtc`` (central -> device) and
    ``dev/{id}/rtc/reply`` (device -> central), QoS 1, never retained. One offer, one
    answer: ICE candidates are gathered before the SDP is sent (host candidates on the
    station network only; no STUN/TURN)."""

    session_id: EventId = Field(description="ULID of the live session, chosen by central.")
    kind: RtcKind
    ts: UtcDatetime
    sdp: Annotated[str, StringConstraints(max_length=MAX_SDP)] | None = Field(
        None, description="The SDP of an offer or answer, with its ICE candidates.")
    incident_id: int | None = Field(None, description="The incident the session belongs to.")
    by: ShortText | None = Field(None, description="The officer who opened it (offer).")
    max_s: int | None = Field(None, ge=1, le=7200,
                              description="Offer: the session ends by itself after this.")
    reason: ShortText | None = Field(None, description="bye/error: why.")
    zone: ShortText | None = Field(None, description="talk_request: the input pressed.")
    max_kbps: int | None = Field(None, ge=64, le=8000,
                                 description="Offer: the venue's video bitrate cap from the "
                                             "registry; the agent uses the lower of this and "
                                             "its own [rtc] max_kbps.")
    max_height: int | None = Field(None, ge=120, le=1080,
                                   description="Offer: the venue's video height cap (pixels) "
                                               "from the registry; the agent scales down to "
                                               "the lower of this and its [rtc] height.")


JSON_CHANNELS: dict[str, type[Message]] = {
    "event": Event,
    "status": Status,
    "heartbeat": Heartbeat,
    "receipt": Receipt,
    "cmd": Command,
    "cmd/result": CommandResult,
    "rtc": RtcSignal,
    "rtc/reply": RtcSignal,
}


class ContractError(ValueError):
    """A payload or topic that does not follow the wire contract. ``str()`` is the reason."""


def _describe(model: type[BaseModel], exc: ValidationError) -> str:
    parts = describe_error_list(exc.errors()[:5], model)
    return f"invalid {model.__name__}: " + "; ".join(parts)
