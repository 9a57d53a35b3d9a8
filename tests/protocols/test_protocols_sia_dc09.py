"""SIA DC-09 tests (docs/protocols.md, section "SIA DC-09")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_helpers import DC09_EXAMPLE, all_events, check_contract, feed_chunks

from alarmlink.codecs import DecodeError, make_decoder
from alarmlink.codecs.sia_codes import adm_cid_data, parse_sia_data, sia_data
from alarmlink.codecs.sia_dc09 import (
    MAX_FRAME,
    SiaDc09Decoder,
    build_ack,
    build_nak,
    crc16_arc,
    decode_frame,
    encode_message,
    frame_body,
)
from alarmlink.wire import Kind, State

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def decoder() -> SiaDc09Decoder:
    return SiaDc09Decoder(clock=lambda: NOW)


def test_crc16_arc_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D


def test_public_example_validates_and_decodes() -> None:
    body = DC09_EXAMPLE[9:-1]
    assert crc16_arc(body) == 0xCE11 and len(body) == 0x32
    msg = decode_frame(DC09_EXAMPLE)
    assert (msg.id, msg.seq, msg.receiver, msg.line, msg.account) == (
        "SIA-DCS", "9876", "579BDF", "789ABC", "12345A")
    assert msg.data == "#12345A|NFA129" and not msg.encrypted and msg.timestamp is None
    (result,) = decoder().feed(DC09_EXAMPLE)
    (ev,) = result.events
    assert (ev.kind, ev.state, ev.zone) == (Kind.FIRE, State.ALARM, "sia-12345A-z129")
    assert ev.detail["event_code"] == "FA" and ev.detail["address"] == "129"
    assert result.reply == frame_body(b'"ACK"9876R579BDFL789ABC#12345A[]')
    check_contract(result.events)


def test_ack_and_nak_format() -> None:
    ack = build_ack(decode_frame(DC09_EXAMPLE))
    assert decode_frame(ack).id == "ACK" and decode_frame(ack).seq == "9876"
    nak = build_nak(NOW)
    assert nak == frame_body(b'"NAK"0000R0L0A0[]_03:04:05,01-02-2024')
    assert nak[0] == 0x0A and nak[-1] == 0x0D


@pytest.mark.parametrize(("raw", "reason"), [
    (DC09_EXAMPLE.replace(b"CE11", b"CE12"), "crc"),
    (DC09_EXAMPLE.replace(b"CE11", b"ce11"), "header"),
    (DC09_EXAMPLE.replace(b"0032", b"0033"), "length"),
    (DC09_EXAMPLE.replace(b"0032", b"1032"), "header"),
    (frame_body(b'"SIA-DCS"98R1L0#12345A[#12345A|NFA129]'), "syntax"),
    (frame_body(b'"SIA-DCS"9876L0#12345A[#12345A|NFA129]_1'), "syntax"),
])
def test_invalid_frames_are_nakked(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=f"^{reason}"):
        decode_frame(raw)
    dec = decoder()
    (result,) = dec.feed(raw)
    assert result.events == () and result.reply == build_nak(NOW)
    assert dec.stats.failures[reason] == 1


def test_encrypted_frame_without_a_key_is_nakked() -> None:
    raw = frame_body(b'"*SIA-DCS"0002R1L0#1234[89AB3C2D11]')
    (result,) = decoder().feed(raw)
    assert result.events == () and result.error is not None
    assert result.error.startswith("no_key")
    assert result.reply == build_nak(NOW)
    with pytest.raises(ValueError, match="32, 48 or 64 hex digits"):
        SiaDc09Decoder(key="00" * 15)


def test_null_message_is_acked_without_events() -> None:
    raw = encode_message(id="NULL", seq=5, account="1234", timestamp=NOW)
    (result,) = decoder().feed(raw)
    assert result.events == () and result.error is None
    assert result.reply is not None and decode_frame(result.reply).id == "ACK"


def test_unknown_id_gets_duh() -> None:
    (result,) = decoder().feed(encode_message(id="XYZ", seq=5, account="1234"))
    assert result.events == () and result.reply is not None
    assert decode_frame(result.reply).id == "DUH"


def test_timestamp_is_utc_and_an_invalid_one_keeps_the_event() -> None:
    raw = encode_message(seq=1, account="1234", data=sia_data("1234", "FA", 3), timestamp=NOW,
                         xdata=("Vfw1.2",))
    (result,) = decoder().feed(raw)
    assert result.events[0].ts == NOW and result.message.xdata == ("Vfw1.2",)  # type: ignore[attr-defined]
    bad = frame_body(b'"SIA-DCS"0001L0#1234[#1234|NFA3]_25:61:00,13-40-2024')
    (result,) = decoder().feed(bad)
    assert result.events[0].ts is None
    assert result.events[0].detail["panel_time"] == "25:61:00,13-40-2024"


@pytest.mark.parametrize(("code", "kind", "state", "test"), [
    ("FA", Kind.FIRE, State.ALARM, False), ("FR", Kind.FIRE, State.RESTORE, False),
    ("FH", Kind.FIRE, State.RESTORE, False), ("FT", Kind.TROUBLE, State.TROUBLE, False),
    ("FJ", Kind.TROUBLE, State.RESTORE, False), ("PA", Kind.PANIC, State.ALARM, False),
    ("HA", Kind.PANIC, State.ALARM, False), ("MA", Kind.MEDICAL, State.ALARM, False),
    ("KA", Kind.HEAT, State.ALARM, False), ("BA", Kind.TAMPER, State.ALARM, False),
    ("TA", Kind.TAMPER, State.ALARM, False), ("AT", Kind.POWER, State.TROUBLE, False),
    ("AR", Kind.POWER, State.RESTORE, False), ("YT", Kind.POWER, State.TROUBLE, False),
    ("YR", Kind.POWER, State.RESTORE, False), ("RP", Kind.TEST, State.ALARM, True),
])
def test_sia_code_mapping(code: str, kind: Kind, state: State, test: bool) -> None:
    raw = encode_message(seq=1, account="1234", data=sia_data("1234", code, 7, area=2))
    (result,) = decoder().feed(raw)
    (ev,) = result.events
    assert (ev.kind, ev.state, ev.test, ev.zone) == (kind, state, test, "sia-1234-z7-a2")
    check_contract(result.events)


def test_unmapped_sia_code_is_acked_and_counted() -> None:
    dec = decoder()
    (result,) = dec.feed(encode_message(seq=1, account="1234", data="#1234|NOP1/FA2"))
    assert [e.detail["event_code"] for e in result.events] == ["FA"]
    assert dec.stats.ignored["code_OP"] == 1 and decode_frame(result.reply).id == "ACK"  # type: ignore[arg-type]


def test_sia_data_parser() -> None:
    events = parse_sia_data("Nri1/ti10:30id7FA129^Kitchen^/BA3")
    assert [(e.code, e.address, e.area, e.text) for e in events] == [
        ("FA", "129", "1", "Kitchen"), ("BA", "3", "1", "")]
    with pytest.raises(DecodeError):
        parse_sia_data("N/12FA")


def test_adm_cid_reuses_contact_id_mapping() -> None:
    raw = encode_message(id="ADM-CID", seq=3, account="1234",
                         data=adm_cid_data("1234", 111, 1, 1, 15), timestamp=NOW)
    (result,) = decoder().feed(raw)
    (ev,) = result.events
    assert (ev.kind, ev.state, ev.zone, ev.ts) == (Kind.SMOKE, State.ALARM,
                                                   "cid-1234-g01-z015", NOW)
    assert ev.detail["event_code"] == 111 and ev.detail["protocol"] == "sia-dc09"
    (bad,) = decoder().feed(encode_message(id="ADM-CID", seq=3, account="1234",
                                           data="#1234|1110 1 15"))
    assert bad.events == () and bad.reply is not None and decode_frame(bad.reply).id == "DUH"


def test_make_decoder_and_buffer_bound() -> None:
    dec = make_decoder("sia-dc09", clock=lambda: NOW)
    dec.feed(b"\n" + b"A" * 10_000)
    assert len(dec._buf) <= MAX_FRAME  # type: ignore[attr-defined]
    assert [e.kind for e in all_events(dec.feed(DC09_EXAMPLE))] == [Kind.FIRE]


# --- property tests ------------------------------------------------------------------------

hexs = st.text("0123456789ABCDEF", min_size=1, max_size=6)
codes = st.sampled_from(["FA", "FR", "FT", "PA", "AT", "AR", "YT", "BA", "MA", "KA"])
frames = st.builds(
    lambda seq, acct, rcvr, line, code, zone, ts, cid: encode_message(
        seq=seq, account=acct, receiver=rcvr, line=line, timestamp=ts,
        id="ADM-CID" if cid else "SIA-DCS",
        data=adm_cid_data(acct, 110, 1, 1, zone) if cid else sia_data(acct, code, zone)),
    st.integers(0, 9999), st.text("0123456789ABCDEF", min_size=3, max_size=16),
    st.none() | hexs, st.none() | hexs, codes, st.integers(0, 999),
    st.none() | st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1),
                             timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0)),
    st.booleans(),
)


@settings(deadline=None, max_examples=200)
@given(raw=frames, cuts=st.lists(st.integers(0, 200), max_size=5))
def test_round_trip(raw: bytes, cuts: list[int]) -> None:
    msg = decode_frame(raw)
    assert encode_message(seq=msg.seq, account=msg.account, data=msg.data, id=msg.id,
                          receiver=msg.receiver, line=msg.line, xdata=msg.xdata,
                          timestamp=msg.timestamp) == raw
    results = feed_chunks(decoder(), raw, cuts)
    assert len(results) == 1 and results[0].error is None and len(results[0].events) == 1
    ack = decode_frame(results[0].reply)  # type: ignore[arg-type]
    assert (ack.id, ack.seq, ack.receiver, ack.account) == ("ACK", msg.seq, msg.receiver,
                                                          msg.account)
    check_contract(results[0].events)


@settings(deadline=None, max_examples=150)
@given(raw=frames, before=st.binary(max_size=300), after=st.binary(max_size=300),
       cuts=st.lists(st.integers(0, 900), max_size=5))
def test_frame_in_garbage_is_found(raw: bytes, before: bytes, after: bytes,
                                   cuts: list[int]) -> None:
    expected = all_events(decoder().feed(raw))
    results = feed_chunks(decoder(), before + raw + after, cuts)
    assert all_events(results) == expected
    assert sum(r.raw == raw for r in results) == 1


@settings(deadline=None, max_examples=300)
@given(raw=frames, data=st.data())
def test_any_single_bit_flip_is_rejected(raw: bytes, data: st.DataObject) -> None:
    """CRC-16 catches every single-bit error in the body; header fields must be upper-case
    hex (a 0x20 flip of 'A'..'F' would otherwise keep the value); a flipped LF or CR
    leaves no complete frame."""
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    flipped = bytearray(raw)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert all_events(decoder().feed(bytes(flipped))) == []


@settings(deadline=None, max_examples=300)
@given(chunks=st.lists(st.binary(max_size=400), max_size=10))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    dec = decoder()
    for chunk in chunks:
        check_contract(all_events(dec.feed(chunk)))
        assert len(dec._buf) <= MAX_FRAME
