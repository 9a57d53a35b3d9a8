"""Recordings of live sessions, uploaded by the agent in chunks: ``dev/{id}/rtc/rec/{session_id}``.

A payload is one line of JSON (a :class:`RecChunk`), a newline (``0A``), then the
chunk's raw bytes. Chunk ``seq`` holds the file's bytes ``[seq * REC_CHUNK_BYTES,
min((seq + 1) * REC_CHUNK_BYTES, size))``: every chunk but the last is exactly
:data:`REC_CHUNK_BYTES` long, so a chunk's place and length follow from the header
alone. Every chunk repeats the whole file's ``size`` and ``sha256``; the receiver
stores a chunk once per ``(session_id, seq)`` (a resent chunk is ignored) and takes the
file as complete only when every chunk is in and the bytes hash to ``sha256``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints

from alarmlink.wire.codec import decode, encode
from alarmlink.wire.models import (
    MAX_PAYLOAD_BYTES,
    ContractError,
    EventId,
    Message,
    ShortText,
    UtcDatetime,
)

#: Bytes of the file in each chunk but the last (well under the broker's packet cap).
REC_CHUNK_BYTES = 256 * 1024
#: Largest recording accepted (a 2-hour session at the 8 Mbit/s cap would not fit; the
#: default 800 kbit/s for the longest 7200 s session does: about 720 MB).
MAX_RECORDING_BYTES = 1024 * 1024 * 1024
#: Media types a recording may carry (the agent writes WebM: VP8 video, Opus audio).
REC_MEDIA_TYPES = ("video/webm", "audio/webm")
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class RecChunk(Message):
    """The header of one chunk of a live session's recording (see the module doc)."""

    session_id: EventId = Field(description="The live session (RtcSignal.session_id); "
                                            "equals the topic's.")
    incident_id: int = Field(ge=1, description="The incident the session belonged to.")
    seq: int = Field(ge=0, description="Chunk number, from 0.")
    size: int = Field(ge=1, le=MAX_RECORDING_BYTES, description="The whole file's bytes.")
    sha256: Annotated[str, StringConstraints(pattern=SHA256_PATTERN)] = Field(
        description="SHA-256 of the whole file, lowercase hex.")
    media_type: str = Field(description="video/webm or audio/webm.")
    started: UtcDatetime = Field(description="When the recording started (agent clock).")
    ended: UtcDatetime = Field(description="When it ended (agent clock).")
    by: ShortText | None = Field(None, description="The officer who opened the session.")
    spoke_s: float = Field(0.0, ge=0, le=86_400,
                           description="Seconds of the officer's voice heard at the venue.")
    reason: ShortText | None = Field(None, description="Why the session ended.")

    @property
    def chunks(self) -> int:
        """How many chunks the whole file takes."""
        return chunk_count(self.size)

    def chunk_length(self) -> int:
        """The length this chunk's data must have."""
        return min(REC_CHUNK_BYTES, self.size - self.seq * REC_CHUNK_BYTES)


def chunk_count(size: int) -> int:
    return -(-size // REC_CHUNK_BYTES)


def encode_rec_chunk(header: RecChunk, data: bytes) -> bytes:
    """The payload of one chunk. Raises :class:`ContractError` when ``data`` is not the
    length the header's ``seq`` and ``size`` call for."""
    if header.seq >= header.chunks:
        raise ContractError(f"chunk {header.seq} is past the last chunk "
                            f"({header.chunks} for {header.size} bytes)")
    if len(data) != header.chunk_length():
        raise ContractError(f"chunk {header.seq} has {len(data)} bytes; "
                            f"{header.chunk_length()} expected")
    return encode(header) + b"\n" + data


def decode_rec_chunk(payload: bytes, topic_session: str | None = None) -> tuple[RecChunk, bytes]:
    """Split and check one chunk payload. Raises :class:`ContractError` with the reason."""
    if len(payload) > MAX_PAYLOAD_BYTES + REC_CHUNK_BYTES + 1:
        raise ContractError(f"recording chunk is {len(payload)} bytes, over the "
                            f"{MAX_PAYLOAD_BYTES + REC_CHUNK_BYTES + 1}-byte limit")
    end = payload.find(b"\n", 0, MAX_PAYLOAD_BYTES + 1)
    if end < 0:
        raise ContractError("recording chunk has no header line (JSON, then a newline)")
    header = decode(RecChunk, payload[:end])
    data = payload[end + 1:]
    if header.media_type not in REC_MEDIA_TYPES:
        raise ContractError(f"recording media type {header.media_type[:40]!r} is not one of "
                            f"{', '.join(REC_MEDIA_TYPES)}")
    if header.seq >= header.chunks:
        raise ContractError(f"chunk {header.seq} is past the last chunk "
                            f"({header.chunks} for {header.size} bytes)")
    if len(data) != header.chunk_length():
        raise ContractError(f"chunk {header.seq} has {len(data)} bytes; "
                            f"{header.chunk_length()} expected for a {header.size}-byte file")
    if header.ended < header.started:
        raise ContractError("recording ends before it starts")
    if topic_session is not None and header.session_id != topic_session:
        raise ContractError(f"chunk's session_id {header.session_id} does not match the "
                            f"topic's {topic_session[:32]}")
    return header, data


def is_sha256(value: str) -> bool:
    return re.match(SHA256_PATTERN, value) is not None
