"""The snapshot JPEG header check: the frame header (SOF) is read by a small bounded
parser, its picture size must be within the pixel cap and equal the metadata's."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from alarmlink import wire
from alarmlink.wire.codec import SOF_MARKERS

EVENT_ID = "01JDQ3ZK6N8Y4W2V7T5R3P1M0H"


def sof(width: int, height: int, marker: int = 0xC0) -> bytes:
    """A baseline frame header for a one-component picture of ``width`` x ``height``."""
    return (bytes([0xFF, marker, 0x00, 0x0B, 0x08]) + height.to_bytes(2, "big")
            + width.to_bytes(2, "big") + b"\x01\x01\x11\x00")


def header_only_jpeg(width: int, height: int) -> bytes:
    """SOI, a frame header, a start of scan, a little data and EOI: a few dozen bytes."""
    return b"\xff\xd8" + sof(width, height) + b"\xff\xda\x00\x02" + b"\x00" * 16 + b"\xff\xd9"


def meta(width: int, height: int) -> wire.SnapshotMeta:
    return wire.SnapshotMeta(event_id=EVENT_ID, seq=1, ts=wire.utcnow(),
                             phase=wire.SnapshotPhase.ALARM, camera="main", width=width,
                             height=height)


def real_jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, format="JPEG")
    return out.getvalue()


def test_real_jpeg_size_is_read_from_its_header() -> None:
    assert wire.jpeg_frame_size(real_jpeg(321, 123)) == (321, 123)
    payload = wire.encode_snapshot(meta(321, 123), real_jpeg(321, 123))
    assert wire.decode_snapshot(payload).width == 321


@pytest.mark.parametrize("marker", [0xC1, 0xC2, 0xCF])
def test_every_sof_kind_is_read(marker: int) -> None:
    jpeg = b"\xff\xd8" + sof(640, 480, marker) + b"\xff\xda\x00\x02\xff\xd9"
    assert wire.jpeg_frame_size(jpeg) == (640, 480)


def test_header_over_the_pixel_cap_is_refused_by_name() -> None:
    payload = wire.encode_snapshot(meta(64, 48), header_only_jpeg(60000, 60000))
    assert len(payload) < 1024
    with pytest.raises(wire.ContractError, match=r"60000x60000 = 3600000000 pixels, over the "
                                                 r"40000000-pixel cap"):
        wire.decode_snapshot(payload)


def test_header_that_disagrees_with_the_metadata_is_refused() -> None:
    payload = wire.encode_snapshot(meta(64, 48), real_jpeg(640, 480))
    with pytest.raises(wire.ContractError,
                       match="header declares 640x480 but its metadata says 64x48"):
        wire.decode_snapshot(payload)


@pytest.mark.parametrize(("jpeg", "reason"), [
    (b"\xff\xd8\xff\xda\x00\x02\xff\xd9", "no frame header"),
    (b"\xff\xd8\xff\xc0\x00\x04\x00\x00\xff\xda\x00\x02\xff\xd9", "too short"),
    (b"\xff\xd8\xff\xe0\x01\x00\x00\xff\xd9", "past the end"),
    (b"\xff\xd8\xff\xe0\x00\x01\x00\xff\xd9", "past the end"),
    (b"\xff\xd8\xff\xe0\x00\x02", "truncated"),
    (b"\xff\xd8\xff\xe0\x00\x02\x00\x00", "no marker at byte 6"),
])
def test_malformed_headers_are_contract_errors(jpeg: bytes, reason: str) -> None:
    with pytest.raises(wire.ContractError, match=reason):
        wire.jpeg_frame_size(jpeg)


class CountingBytes(bytes):
    """Bytes that fail the test on any index or slice past the end."""

    def __getitem__(self, key):  # type: ignore[no-untyped-def,override]
        if isinstance(key, int):
            assert -len(self) <= key < len(self), f"read at {key} of {len(self)}"
        else:
            assert key.stop is None or key.stop <= len(self), f"slice to {key.stop}"
        return bytes.__getitem__(self, key)


segments = st.lists(st.one_of(
    st.builds(lambda m, body: bytes([0xFF, m]) + (len(body) + 2).to_bytes(2, "big") + body,
              st.integers(0xC0, 0xFE), st.binary(max_size=24)),
    st.builds(lambda w, h, m: sof(w, h, m), st.integers(0, 65535), st.integers(0, 65535),
              st.sampled_from(sorted(SOF_MARKERS))),
    st.binary(max_size=8),
), max_size=8)


@settings(max_examples=400, deadline=None)
@given(segments, st.booleans())
def test_parser_never_raises_anything_but_the_contract_error(parts: list[bytes],
                                                             with_meta: bool) -> None:
    jpeg = b"\xff\xd8" + b"".join(parts) + b"\xff\xd9"
    payload = jpeg
    if with_meta and jpeg.startswith(wire.JPEG_MAGIC):
        payload = wire.encode_snapshot(meta(64, 48), jpeg)
    for candidate in (jpeg, payload):
        try:
            size = wire.jpeg_frame_size(CountingBytes(candidate))
        except wire.ContractError:
            pass
        else:
            assert all(0 <= n <= 65535 for n in size)
        try:
            wire.decode_snapshot(CountingBytes(candidate))
        except wire.ContractError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_arbitrary_bytes_after_soi_never_crash(tail: bytes) -> None:
    for payload in (b"\xff\xd8\xff" + tail, b"\xff\xd8\xff" + tail + b"\xff\xd9"):
        try:
            wire.jpeg_frame_size(CountingBytes(payload))
        except wire.ContractError:
            pass
        try:
            wire.decode_snapshot(CountingBytes(payload))
        except wire.ContractError:
            pass
