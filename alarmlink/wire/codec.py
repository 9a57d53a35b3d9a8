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
