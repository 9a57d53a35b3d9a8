"""The strict codec: JSON payloads and snapshot JPEGs to and from the models."""


from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import (
    ValidationError,
)
from ulid import ULID

from alarmlink.wire.models import (
    JPEG_MAGIC,
    MAX_PAYLOAD_BYTES,
    MAX_SNAPSHOT_BYTES,
    MAX_SNAPSHOT_PIXELS,
    SCHEMA_VERSION,
    SNAPSHOT_META_TAG,
    ContractError,
    Message,
    SnapshotMeta,
    _describe,
)

M = TypeVar("M", bound=Message)


def new_id() -> str:
    """A fresh ULID string, used for event ids and command ids."""
    return str(ULID())


def utcnow() -> datetime:
    return datetime.now(UTC)


def encode(message: Message) -> bytes:
    """Serialise a contract model to compact UTF-8 JSON."""
    omit = {name for name in message.OMIT_IF_NONE if getattr(message, name) is None}
    return message.model_dump_json(exclude_none=False, exclude=omit or None).encode()


def decode(model: type[M], payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> M:
    """Parse and validate ``payload`` as ``model``. Raises :class:`ContractError`."""
    if len(payload) > max_bytes:
        raise ContractError(f"payload is {len(payload)} bytes, over the {max_bytes}-byte limit")
    try:  # the common case in one parse; what fails is parsed again for a precise reason
        message = model.model_validate_json(payload, strict=True)
    except ValidationError:
        pass
    else:
        if "v" in message.model_fields_set:  # an absent version must fail as below
            return message
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


#: Start-of-frame markers: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Markers without a length field (TEM, RST0-RST7); SOI, EOI and SOS end the scan.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _segments(payload: bytes) -> list[tuple[int, bytes]]:
    """``(marker, body)`` of each segment from after SOI up to SOS or EOI.

    Bounded: every step moves forward by at least two bytes and no slice reaches past
    the buffer; a malformed layout raises :class:`ContractError` naming the byte.
    """
    found: list[tuple[int, bytes]] = []
    pos = 2
    while pos + 2 <= len(payload):
        if payload[pos] != 0xFF:
            raise ContractError(f"snapshot JPEG is malformed: no marker at byte {pos}")
        marker = payload[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: the header is over
            return found
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > len(payload):
            break
        length = int.from_bytes(payload[pos + 2:pos + 4], "big")
        if length < 2 or pos + 2 + length > len(payload):
            raise ContractError(f"snapshot JPEG is malformed: segment FF {marker:02X} at byte "
                                f"{pos} has length {length}, past the end of the payload")
        found.append((marker, payload[pos + 4:pos + 2 + length]))
        pos += 2 + length
    raise ContractError("snapshot JPEG is truncated: its header ends before the image data")


def jpeg_frame_size(payload: bytes) -> tuple[int, int]:
    """``(width, height)`` from a JPEG's first start-of-frame (SOF) header.

    Reads only the header segments, never the image data. Raises :class:`ContractError`
    when the payload is not a JPEG, its header is malformed or truncated, or it has no
    frame header before the image data.
    """
    if not payload.startswith(JPEG_MAGIC):
        raise ContractError("not a JPEG (does not start with FF D8 FF)")
    for marker, body in _segments(payload):
        if marker in SOF_MARKERS:
            if len(body) < 5:
                raise ContractError(f"snapshot JPEG frame header (SOF) is {len(body)} bytes, "
                                    "too short to hold the picture size")
            height = int.from_bytes(body[1:3], "big")
            width = int.from_bytes(body[3:5], "big")
            return width, height
    raise ContractError("snapshot JPEG has no frame header (SOF) before its image data")


def _check_frame(payload: bytes, meta: SnapshotMeta) -> None:
    """The JPEG header's picture size is within :data:`MAX_SNAPSHOT_PIXELS` and equals
    the metadata's ``width`` x ``height``."""
    width, height = jpeg_frame_size(payload)
    if width * height > MAX_SNAPSHOT_PIXELS:
        raise ContractError(f"snapshot JPEG header declares {width}x{height} = "
                            f"{width * height} pixels, over the {MAX_SNAPSHOT_PIXELS}-pixel cap")
    if (width, height) != (meta.width, meta.height):
        raise ContractError(f"snapshot JPEG header declares {width}x{height} but its metadata "
                            f"says {meta.width}x{meta.height}")


def decode_snapshot(payload: bytes, *, max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapshotMeta:
    """Check a snapshot payload and return its metadata. Raises :class:`ContractError`.

    Checked: the size, the JPEG magic and end marker, a well-formed header with the
    alarmlink metadata (COM segment), and a frame header (SOF) whose picture size is
    within :data:`MAX_SNAPSHOT_PIXELS` and equals the metadata's.
    """
    if len(payload) > max_bytes:
        raise ContractError(f"snapshot is {len(payload)} bytes, over the {max_bytes}-byte limit")
    if not payload.startswith(JPEG_MAGIC):
        raise ContractError("snapshot is not a JPEG (does not start with FF D8 FF)")
    if not payload.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ContractError("snapshot JPEG is truncated (no end-of-image marker FF D9)")
    meta: SnapshotMeta | None = None
    for marker, body in _segments(payload):
        if marker == 0xFE and body.startswith(SNAPSHOT_META_TAG):
            meta = decode(SnapshotMeta, body[len(SNAPSHOT_META_TAG):])
            break
    if meta is None:
        raise ContractError("snapshot JPEG carries no alarmlink metadata (COM segment "
                            f"starting {SNAPSHOT_META_TAG.decode()!r})")
    _check_frame(payload, meta)
    return meta
