"""The alarmlink wire contract, version 1: every MQTT topic and payload shape.

This is the ONLY place a message shape is defined. The edge agent, central and
the simulators import these models and the codec; none of them builds a topic
string or a payload dict by hand.

Topics (``{prefix}`` defaults to ``alarmlink/v1``)::

    {prefix}/dev/{device_id}/event              device -> central  QoS 1            Event
    {prefix}/dev/{device_id}/status             device -> central  QoS 1, retained  Status
    {prefix}/dev/{device_id}/heartbeat          device -> central  QoS 0            Heartbeat
    {prefix}/dev/{device_id}/receipt            central -> device  QoS 0/1 (stored/other)  Receipt
    {prefix}/dev/{device_id}/cmd                central -> device  QoS 1, never retained  Command
    {prefix}/dev/{device_id}/cmd/result         device -> central  QoS 1            CommandResult
    {prefix}/dev/{device_id}/snapshot/{event_id}  device -> central  QoS 1          JPEG bytes
    {prefix}/dev/{device_id}/rtc                central -> device  QoS 1            RtcSignal
    {prefix}/dev/{device_id}/rtc/reply          device -> central  QoS 1            RtcSignal
    {prefix}/dev/{device_id}/rtc/rec/{session_id}  device -> central  QoS 1         RecChunk + bytes

A snapshot payload is a plain JPEG (starts ``FF D8 FF``). Its metadata, a
:class:`SnapshotMeta`, travels INSIDE the JPEG as a comment (COM) segment, so it
works on MQTT 3.1.1 (no user properties) and 5 alike, and the stored file keeps it
as evidence. :func:`encode_snapshot` and :func:`decode_snapshot` are the codec.

A live session's recording goes up after the session in chunks (one JSON header line,
a newline, at most :data:`REC_CHUNK_BYTES` of the file): :mod:`alarmlink.wire.recording`,
:func:`encode_rec_chunk` and :func:`decode_rec_chunk`.

Split by job: :mod:`~alarmlink.wire.models` (limits, types, payload models),
:mod:`~alarmlink.wire.codec` (JSON and snapshot payloads), :mod:`~alarmlink.wire.topics`
(topic strings, channel models, examples). Import from ``alarmlink.wire``.

The codec is strict: unknown fields, wrong types, a wrong schema version and
payloads over :data:`MAX_PAYLOAD_BYTES` are rejected with a :class:`ContractError`
whose message names the problem.
"""

from __future__ import annotations

from alarmlink.wire.codec import (
    decode,
    decode_snapshot,
    encode,
    encode_snapshot,
    jpeg_frame_size,
    new_id,
    utcnow,
)
from alarmlink.wire.failover_sms import decode_failover, encode_failover, is_failover
from alarmlink.wire.models import (
    DEFAULT_PREFIX,
    DEVICE_ID_PATTERN,
    JPEG_MAGIC,
    JSON_CHANNELS,
    MAX_DETAIL_KEY,
    MAX_DETAIL_KEYS,
    MAX_DETAIL_STR,
    MAX_PAYLOAD_BYTES,
    MAX_SDP,
    MAX_SNAPSHOT_BYTES,
    MAX_SNAPSHOT_PIXELS,
    MAX_ZONE,
    SCHEMA_VERSION,
    SNAPSHOT_META_TAG,
    ULID_PATTERN,
    Availability,
    Command,
    CommandName,
    CommandResult,
    ContractError,
    Detail,
    DetailValue,
    DeviceId,
    Event,
    EventId,
    Heartbeat,
    Kind,
    Message,
    Outcome,
    Receipt,
    RtcKind,
    RtcSignal,
    ShortText,
    SnapshotMeta,
    SnapshotPhase,
    SnapshotRequest,
    Source,
    Stage,
    State,
    Status,
    UtcDatetime,
    Zone,
)
from alarmlink.wire.recording import (
    MAX_RECORDING_BYTES,
    REC_CHUNK_BYTES,
    REC_MEDIA_TYPES,
    RecChunk,
    chunk_count,
    decode_rec_chunk,
    encode_rec_chunk,
    is_sha256,
)
from alarmlink.wire.topics import (
    Topics,
    example_payloads,
    model_for,
)

__all__ = [
    "SCHEMA_VERSION",
    "DEFAULT_PREFIX",
    "MAX_PAYLOAD_BYTES",
    "MAX_SDP",
    "MAX_SNAPSHOT_BYTES",
    "MAX_SNAPSHOT_PIXELS",
    "JPEG_MAGIC",
    "SNAPSHOT_META_TAG",
    "MAX_ZONE",
    "MAX_DETAIL_KEYS",
    "MAX_DETAIL_KEY",
    "MAX_DETAIL_STR",
    "DEVICE_ID_PATTERN",
    "ULID_PATTERN",
    "DeviceId",
    "EventId",
    "Zone",
    "ShortText",
    "DetailValue",
    "UtcDatetime",
    "Detail",
    "Kind",
    "State",
    "Source",
    "Availability",
    "Stage",
    "Outcome",
    "CommandName",
    "Message",
    "Event",
    "Status",
    "Heartbeat",
    "Receipt",
    "RtcKind",
    "RtcSignal",
    "Command",
    "CommandResult",
    "SnapshotPhase",
    "SnapshotMeta",
    "SnapshotRequest",
    "JSON_CHANNELS",
    "ContractError",
    "decode_failover",
    "encode_failover",
    "is_failover",
    "new_id",
    "utcnow",
    "encode",
    "decode",
    "encode_snapshot",
    "jpeg_frame_size",
    "decode_snapshot",
    "Topics",
    "MAX_RECORDING_BYTES",
    "REC_CHUNK_BYTES",
    "REC_MEDIA_TYPES",
    "RecChunk",
    "chunk_count",
    "decode_rec_chunk",
    "encode_rec_chunk",
    "is_sha256",
    "model_for",
    "example_payloads",
]
