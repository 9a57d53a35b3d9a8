"""DC-09 encryption: AES-128/192/256 round trips, NAK for wrong key, replay, stale time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_helpers import check_contract

from alarmlink.codecs.dc09_crypto import decrypt_content, parse_key
from alarmlink.codecs.sia_dc09 import (
    SiaDc09Decoder,
    build_nak,
    decode_frame,
    encode_message,
    frame_body,
)
from alarmlink.wire import Kind, State

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
KEYS = {16: "00112233445566778899AABBCCDDEEFF", 24: "A1" * 24, 32: "5F" * 32}


def decoder(key: str) -> SiaDc09Decoder:
    return SiaDc09Decoder(keys={"1234": key}, clock=lambda: NOW)


@pytest.mark.parametrize("size", sorted(KEYS))
def test_encrypted_round_trip_for_each_key_length(size: int) -> None:
    key = KEYS[size]
    assert len(parse_key(key)) == size
    raw = encode_message(seq=17, account="1234", receiver="1", data="|Nri1/FA129",
                         timestamp=NOW, key=key, xdata=("X030E5555", "MAA:BB:CC:DD:EE:FF"))
    assert b'"*SIA-DCS"' in raw and b"FA129" not in raw
    (result,) = decoder(key).feed(raw)
    assert result.error is None
    (event,) = result.events
    assert (event.kind, event.state, event.zone, event.ts) == (
        Kind.FIRE, State.ALARM, "sia-1234-z129-a1", NOW)
    assert event.detail["encrypted"] is True and event.detail["x_mac"] == "AA:BB:CC:DD:EE:FF"
    check_contract(result.events)
    ack = decode_frame(result.reply or b"")
    assert (ack.id, ack.encrypted, ack.seq, ack.account) == ("ACK", True, "0017", "1234")
    plain = decrypt_content(parse_key(key), ack.data)
    assert plain == "]_03:04:05,01-02-2024"


def test_ascii_keys_are_accepted_as_their_bytes() -> None:
    key = "ABCDEFGHIJKLMNOP"
    raw = encode_message(seq=1, account="1234", data="|Nri1/FA1", timestamp=NOW, key=key)
    (result,) = decoder(key).feed(raw)
    assert [e.kind for e in result.events] == [Kind.FIRE]


def test_encrypted_null_link_test_is_acked_encrypted() -> None:
    raw = encode_message(id="NULL", seq=3, account="1234", data="", timestamp=NOW,
                         key=KEYS[16])
    (result,) = decoder(KEYS[16]).feed(raw)
    assert result.events == () and result.error is None
    assert decode_frame(result.reply or b"").encrypted


@pytest.mark.parametrize(("case", "reason"), [
    ("wrong_key", "decrypt"), ("replay", "replay"), ("ten_minutes_old", "stale"),
    ("future", "stale"), ("truncated", "decrypt"),
])
def test_bad_encrypted_messages_are_nakked(case: str, reason: str) -> None:
    ts = {"ten_minutes_old": NOW - timedelta(minutes=10),
          "future": NOW + timedelta(seconds=30)}.get(case, NOW)
    raw = encode_message(seq=5, account="1234", data="|Nri1/FA129", timestamp=ts,
                         key=KEYS[16])
    dec = decoder("F0" * 16 if case == "wrong_key" else KEYS[16])
    if case == "replay":
        (first,) = dec.feed(raw)
        assert first.events  # accepted once ...
    if case == "truncated":  # 8 hex digits lost: bad padding/length
        raw = frame_body(raw[9:-9])
    (result,) = dec.feed(raw)
    assert result.events == () and result.error is not None
    assert result.error.startswith(reason), result.error
    assert result.reply == build_nak(NOW)  # NAK with our timestamp, never a DUH


@settings(deadline=None, max_examples=200)
@given(blob=st.binary(min_size=0, max_size=200), account=st.sampled_from(["1234", "9999"]))
def test_random_ciphertext_never_makes_an_event(blob: bytes, account: str) -> None:
    raw = frame_body(f'"*SIA-DCS"0001L0#{account}['.encode() + blob.hex().upper().encode())
    (result,) = decoder(KEYS[16]).feed(raw)
    assert result.events == () and result.reply == build_nak(NOW)
