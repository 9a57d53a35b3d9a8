"""GB/T 26875.3-2011 codec tests (docs/protocols.md, section "GB/T 26875.3-2011")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from protocol_helpers import (
    GB_CONFIRM,
    GB_DENY,
    GB_EXAMPLE,
    all_events,
    check_contract,
    feed_chunks,
)

from alarmlink.codecs import DecodeError, make_decoder
from alarmlink.codecs.gb26875 import (
    MAX_FRAME,
    Gb26875Decoder,
    build_confirm,
    build_deny,
    compute_checksum,
    decode_frame,
    encode_frame,
    parse_header,
)
from alarmlink.codecs.gb26875_data import (
    AnalogValue,
    ComponentState,
    SystemOperation,
    SystemState,
    TimeLabel,
    UitdOperation,
    UitdState,
    decode_app_data,
    encode_app_data,
)
from alarmlink.codecs.gb26875_events import component_zone
from alarmlink.wire import Kind, State

UITD = bytes.fromhex("790300000000")
CENTRE = bytes.fromhex("385B01000000")
T_FRAME = TimeLabel(32, 58, 9, 26, 9, 12)
T_EVENT = TimeLabel(2, 58, 9, 26, 9, 12)
CENTRE_CLOCK = datetime(2012, 9, 26, 9, 58, 35)  # the time label of the published confirm


def decoder(**options: object) -> Gb26875Decoder:
    return Gb26875Decoder(clock=lambda: CENTRE_CLOCK, **options)  # type: ignore[arg-type]


def frame_of(*records: object, serial: int = 7, command: int = 2, checksum: str = "sum") -> bytes:
    return encode_frame(serial=serial, command=command, source=UITD, dest=CENTRE, time=T_FRAME,
                        data=encode_app_data(list(records)), checksum=checksum)  # type: ignore[arg-type]


def component(state: int, comp_type: int = 40, desc: str = "2F east corridor") -> ComponentState:
    return ComponentState(1, 1, comp_type, bytes.fromhex("0A000200"), state, desc, T_EVENT)


# --- the public example --------------------------------------------------------------------

def test_public_example_decodes_to_documented_fields() -> None:
    frame = decode_frame(GB_EXAMPLE)
    assert frame.serial == 1
    assert (frame.version_main, frame.version_user) == (1, 1)
    assert frame.time.to_datetime() == datetime(2012, 9, 26, 9, 58, 32)
    assert frame.source == UITD and frame.dest == CENTRE
    assert frame.command == 2 and len(frame.data) == 48
    assert GB_EXAMPLE[-3] == 0x46 == compute_checksum(GB_EXAMPLE, 48)
    app = decode_app_data(frame.data)
    assert (app.type_flag, app.object_count) == (2, 1)
    (rec,) = app.records
    assert isinstance(rec, ComponentState)
    assert (rec.sys_type, rec.sys_addr, rec.comp_type) == (1, 1, 40)
    assert rec.comp_addr == bytes.fromhex("0A000200")
    assert rec.state == 0x0002
    assert rec.description == ""  # 30 spaces and a NUL
    assert rec.time.to_datetime() == datetime(2012, 9, 26, 9, 58, 2)


def test_public_example_event_and_byte_identical_confirm() -> None:
    (result,) = decoder().feed(GB_EXAMPLE)
    assert result.error is None
    assert result.reply == GB_CONFIRM
    (ev,) = result.events
    assert (ev.kind, ev.state, ev.zone, ev.test, ev.ts) == (
        Kind.SMOKE, State.ALARM, "sys1-loop2-pt10", False, None)
    assert ev.detail["component_type"] == 40 and ev.detail["state"] == 2
    assert ev.detail["panel_time"] == "2012-09-26T09:58:02"
    assert ev.detail["test_bit"] is True  # b0 = 0, yet the standard calls it a fire alarm
    check_contract(result.events)


def test_public_example_confirm_and_deny_builders() -> None:
    label = TimeLabel.from_datetime(CENTRE_CLOCK)
    assert build_confirm(GB_EXAMPLE, label) == GB_CONFIRM
    assert build_deny(GB_EXAMPLE, label) == GB_DENY
    assert build_confirm(GB_EXAMPLE)[6:12] == GB_EXAMPLE[6:12]  # echo of the time label


def test_bad_checksum_gets_the_published_deny_and_no_event() -> None:
    bad = bytearray(GB_EXAMPLE)
    bad[-3] ^= 0x01
    dec = decoder()
    (result,) = dec.feed(bytes(bad))
    assert result.events == () and result.reply == GB_DENY
    assert result.error is not None and result.error.startswith("checksum")
    assert dec.stats.failures["checksum"] == 1


def test_honour_test_bit_and_echo_reply_time() -> None:
    (result,) = decoder(honour_test_bit=True, reply_time="echo").feed(GB_EXAMPLE)
    assert result.events[0].test is True
    assert result.reply is not None and result.reply[6:12] == GB_EXAMPLE[6:12]


def test_panel_time_zone_gives_aware_timestamps() -> None:
    cst = timezone(timedelta(hours=8))
    (result,) = decoder(tz=cst).feed(GB_EXAMPLE)
    assert result.events[0].ts == datetime(2012, 9, 26, 9, 58, 2, tzinfo=cst)
    check_contract(result.events)


# --- frames and checksums ----------------------------------------------------------------

@pytest.mark.parametrize("variant", ["sum", "sum-from-command", "xor"])
def test_checksum_variants(variant: str) -> None:
    raw = frame_of(component(0x03), checksum=variant)
    assert decode_frame(raw, variant).serial == 7  # type: ignore[arg-type]
    other = "xor" if variant != "xor" else "sum"
    if compute_checksum(raw, len(raw) - 30, other) != raw[-3]:
        with pytest.raises(DecodeError):
            decode_frame(raw, other)  # type: ignore[arg-type]
    (result,) = decoder(checksum=variant).feed(raw)
    assert result.error is None and len(result.events) == 1
    assert result.reply is not None and decode_frame(result.reply, variant).command == 3  # type: ignore[arg-type]


def test_decode_frame_errors_name_the_problem() -> None:
    with pytest.raises(DecodeError, match="shorter"):
        decode_frame(GB_EXAMPLE[:20])
    with pytest.raises(DecodeError, match="length field"):
        decode_frame(GB_EXAMPLE[:-1])
    with pytest.raises(DecodeError, match="##"):
        decode_frame(GB_EXAMPLE[:-1] + b"$")
    with pytest.raises(ValueError, match="unknown checksum"):
        Gb26875Decoder(checksum="crc")  # type: ignore[arg-type]


def test_unsupported_type_is_confirmed_without_events() -> None:
    raw = encode_frame(serial=3, command=2, source=UITD, dest=CENTRE, time=T_FRAME,
                       data=bytes([28, 1]) + bytes(T_FRAME))
    dec = decoder()
    (result,) = dec.feed(raw)
    assert result.events == () and result.error is None
    assert result.reply is not None and result.reply[26] == 3
    assert dec.stats.ignored["type_28"] == 1


def test_app_data_size_mismatch_is_denied() -> None:
    data = encode_app_data([component(3)])[:-1]
    raw = encode_frame(serial=3, command=2, source=UITD, dest=CENTRE, time=T_FRAME, data=data)
    (result,) = decoder().feed(raw)
    assert result.events == () and result.error is not None
    assert result.error.startswith("app_data") and result.reply is not None
    assert result.reply[26] == 6


def test_non_data_commands_get_no_reply() -> None:
    raw = build_confirm(GB_EXAMPLE)
    (result,) = decoder().feed(raw)
    assert result.events == () and result.reply is None and result.error is None
    assert parse_header(raw).command == 3


# --- mapping -------------------------------------------------------------------------------

@pytest.mark.parametrize(("comp_type", "kind"), [
    (40, Kind.SMOKE), (42, Kind.SMOKE), (44, Kind.SMOKE), (30, Kind.HEAT), (31, Kind.HEAT),
    (37, Kind.HEAT), (23, Kind.FIRE), (24, Kind.FIRE), (61, Kind.FIRE), (200, Kind.FIRE),
])
def test_component_type_table(comp_type: int, kind: Kind) -> None:
    (result,) = decoder().feed(frame_of(component(0x03, comp_type)))
    assert [(e.kind, e.state) for e in result.events] == [(kind, State.ALARM)]


def test_component_conditions_and_restores() -> None:
    dec = decoder()

    def states(state: int) -> list[tuple[Kind, State]]:
        return [(e.kind, e.state) for e in all_events(dec.feed(frame_of(component(state))))]

    assert states(0x0001) == [(Kind.SMOKE, State.RESTORE)]  # normal, nothing remembered
    assert states(0x0003) == [(Kind.SMOKE, State.ALARM)]
    assert states(0x0107) == [(Kind.SMOKE, State.ALARM), (Kind.TROUBLE, State.TROUBLE),
                              (Kind.POWER, State.TROUBLE)]
    assert states(0x0005) == [(Kind.TROUBLE, State.TROUBLE), (Kind.SMOKE, State.RESTORE),
                              (Kind.POWER, State.RESTORE)]
    assert states(0x0001) == [(Kind.TROUBLE, State.RESTORE)]
    assert states(0x0011) == [(Kind.TROUBLE, State.TROUBLE)]  # supervisory
    assert states(0x0009) == [(Kind.TROUBLE, State.RESTORE)]  # shielded only: not quiet
    assert states(0x0009) == []


def test_system_uitd_and_operation_records() -> None:
    dec = decoder()
    t = T_EVENT
    ev = all_events(dec.feed(frame_of(SystemState(1, 2, 0x0103, t))))
    assert [(e.kind, e.state, e.zone) for e in ev] == [
        (Kind.FIRE, State.ALARM, "sys2 panel"), (Kind.POWER, State.TROUBLE, "sys2 panel")]
    ev = all_events(dec.feed(frame_of(UitdState(0x11, t))))
    assert [(e.kind, e.state, e.zone) for e in ev] == [(Kind.POWER, State.TROUBLE, "uitd")]
    ev = all_events(dec.feed(frame_of(UitdState(0x23, t))))
    assert [(e.kind, e.state) for e in ev] == [
        (Kind.FIRE, State.ALARM), (Kind.TROUBLE, State.TROUBLE), (Kind.POWER, State.RESTORE)]
    ev = all_events(dec.feed(frame_of(UitdOperation(0x04, 9, t))))
    assert [(e.kind, e.state, e.zone, e.test) for e in ev] == [
        (Kind.FIRE, State.ALARM, "uitd", False)]
    assert ev[0].detail["operations"] == "manual_alarm" and ev[0].detail["operator"] == 9
    ev = all_events(dec.feed(frame_of(UitdOperation(0x44, 9, t))))
    assert ev[0].test is True
    ev = all_events(dec.feed(frame_of(SystemOperation(1, 2, 0x01, 3, t))))
    assert [(e.kind, e.state, e.zone) for e in ev] == [(Kind.FIRE, State.RESTORE, "sys2 panel")]
    assert all_events(dec.feed(frame_of(UitdOperation(0x32, 9, t)))) == []  # silence etc.
    assert all_events(dec.feed(frame_of(AnalogValue(1, 1, 31, b"\1\0\0\0", 3, -125, t)))) == []


def test_zone_is_clipped_to_64_characters() -> None:
    rec = ComponentState(255, 255, 40, b"\xff" * 4, 3, "x" * 31, T_EVENT)
    assert len(component_zone(rec)) <= 64
    long = rec._replace(sys_addr=255, description="走廊" * 7)
    zone = component_zone(long)
    assert zone.endswith("走廊") and 1 <= len(zone) <= 64


def test_gb18030_description() -> None:
    rec = component(3, desc="7楼02室会议室烟感")
    (result,) = decoder().feed(frame_of(rec))
    assert result.events[0].zone == "sys1-loop2-pt10 7楼02室会议室烟感"
    assert result.message.app.records[0].description == "7楼02室会议室烟感"  # type: ignore[attr-defined]


# --- framer --------------------------------------------------------------------------------

def test_stray_start_with_huge_length_does_not_hold_back_a_frame() -> None:
    dec = decoder()
    stray = b"@@" + bytes(22) + (1000).to_bytes(2, "little") + b"\x02"
    results = dec.feed(stray + GB_EXAMPLE)
    assert [e.kind for e in all_events(results)] == [Kind.SMOKE]
    assert results[-1].reply == GB_CONFIRM


def test_length_bound_and_buffer_bound() -> None:
    dec = decoder()
    over = b"@@" + bytes(22) + (1025).to_bytes(2, "little")
    results = dec.feed(over * 3)
    assert all(r.error and r.error.startswith("length") for r in results) and results
    dec.feed(b"@@" + bytes(22) + (1024).to_bytes(2, "little") + bytes(5000))
    assert len(dec._buf) <= MAX_FRAME
    for _ in range(50):
        dec.feed(b"@@" + bytes(3000))
        assert len(dec._buf) <= MAX_FRAME
    assert [e.kind for e in all_events(dec.feed(GB_EXAMPLE))] == [Kind.SMOKE]


def test_make_decoder_builds_gb26875() -> None:
    dec = make_decoder("gb26875", clock=lambda: CENTRE_CLOCK)
    assert [r.reply for r in dec.feed(GB_EXAMPLE)] == [GB_CONFIRM]


# --- property tests ------------------------------------------------------------------------

byte = st.integers(0, 255)
labels = st.builds(TimeLabel, st.integers(0, 59), st.integers(0, 59), st.integers(0, 23),
                   st.integers(1, 28), st.integers(1, 12), st.integers(0, 99))


def _gb18030_ok(text: str) -> bool:
    try:
        raw = text.encode("gb18030")
    except UnicodeEncodeError:
        return False
    return len(raw) <= 31 and text == text.rstrip(" \u3000") and "\0" not in text


descriptions = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                       max_size=15).filter(_gb18030_ok)
component_records = st.builds(ComponentState, byte, byte, byte, st.binary(min_size=4, max_size=4),
                              st.integers(0, 0xFFFF), descriptions, labels)
record_lists = st.one_of(
    st.lists(component_records, min_size=1, max_size=22),
    st.lists(st.builds(SystemState, byte, byte, st.integers(0, 0xFFFF), labels), min_size=1,
             max_size=40),
    st.lists(st.builds(AnalogValue, byte, byte, byte, st.binary(min_size=4, max_size=4), byte,
                       st.integers(-32768, 32767), labels), min_size=1, max_size=40),
    st.lists(st.builds(SystemOperation, byte, byte, byte, byte, labels), min_size=1, max_size=40),
    st.lists(st.builds(UitdState, byte, labels), min_size=1, max_size=40),
    st.lists(st.builds(UitdOperation, byte, byte, labels), min_size=1, max_size=40),
)
variants = st.sampled_from(["sum", "sum-from-command", "xor"])


@settings(deadline=None, max_examples=150)
@given(records=record_lists, serial=st.integers(0, 0xFFFF), variant=variants,
       cuts=st.lists(st.integers(0, 2000), max_size=6))
def test_round_trip(records: list, serial: int, variant: str, cuts: list[int]) -> None:
    raw = encode_frame(serial=serial, command=2, source=UITD, dest=CENTRE, time=T_FRAME,
                       data=encode_app_data(records), checksum=variant)  # type: ignore[arg-type]
    frame = decode_frame(raw, variant)  # type: ignore[arg-type]
    assert frame.serial == serial and frame.source == UITD and frame.time == T_FRAME
    app = decode_app_data(frame.data)
    assert list(app.records) == records
    results = feed_chunks(decoder(checksum=variant), raw, cuts)
    assert len(results) == 1 and results[0].error is None and results[0].raw == raw
    assert results[0].reply == build_confirm(raw, CENTRE_CLOCK, variant)  # type: ignore[arg-type]
    check_contract(results[0].events)


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(component_records, min_size=1, max_size=3),
       before=st.binary(max_size=300), after=st.binary(max_size=300),
       cuts=st.lists(st.integers(0, 2000), max_size=4))
def test_frame_in_garbage_is_found(records: list, before: bytes, after: bytes,
                                   cuts: list[int]) -> None:
    records = [r._replace(state=r.state | 0x02) for r in records]  # every record alarms
    raw = frame_of(*records)
    expected = [(e.kind, e.state, e.zone) for e in all_events(decoder().feed(raw))]
    assert expected
    results = feed_chunks(decoder(), before + raw + after, cuts)
    got = [(e.kind, e.state, e.zone) for e in all_events(results)]
    assert got == expected
    assert sum(r.reply == build_confirm(raw, CENTRE_CLOCK) for r in results) == 1


@settings(deadline=None, max_examples=300)
@given(records=st.lists(component_records, min_size=1, max_size=3), data=st.data())
def test_any_single_bit_flip_is_rejected(records: list, data: st.DataObject) -> None:
    """A one-bit error anywhere (markers, header, data, checksum) yields no events.

    The 8-bit sum catches every single-bit error inside its range, and a flipped checksum
    bit no longer matches. A flip of the length field moves the expected end: the frame
    is then incomplete or fails its end marker / checksum. (A length flip that lands on a
    '##' with a matching sum is possible in principle, about 2**-24 per frame; hypothesis
    does not aim for it.)
    """
    raw = frame_of(*[r._replace(state=r.state | 0x02) for r in records])
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    flipped = bytearray(raw)
    flipped[bit // 8] ^= 1 << (bit % 8)
    dec = decoder()
    results = dec.feed(bytes(flipped))
    assert all_events(results) == []
    if 2 <= bit // 8 < len(raw) - 2 and not 24 <= bit // 8 <= 25:
        assert any(r.reply is not None and r.reply[26] == 6 for r in results)  # deny


@settings(deadline=None, max_examples=300)
@given(chunks=st.lists(st.binary(max_size=600), max_size=12), variant=variants)
def test_arbitrary_bytes_never_raise(chunks: list[bytes], variant: str) -> None:
    dec = decoder(checksum=variant)
    for chunk in chunks:
        for result in dec.feed(chunk):
            check_contract(result.events)
        assert len(dec._buf) <= MAX_FRAME


@settings(deadline=None, max_examples=100)
@given(data=st.binary(min_size=4, max_size=1024), cmd=byte, serial=st.integers(0, 0xFFFF))
def test_arbitrary_app_data_with_valid_checksum_never_raises(data: bytes, cmd: int,
                                                            serial: int) -> None:
    assume(data[0] in (1, 2, 3, 4, 21, 24) or cmd != 2)
    raw = encode_frame(serial=serial, command=cmd, source=UITD, dest=CENTRE, time=T_FRAME,
                       data=data)
    (result,) = decoder().feed(raw)
    check_contract(result.events)


def test_utc_clock_year_out_of_range_falls_back_to_echo() -> None:
    dec = Gb26875Decoder(clock=lambda: datetime(1999, 1, 1, tzinfo=UTC))
    (result,) = dec.feed(GB_EXAMPLE)
    assert result.reply is not None and result.reply[6:12] == GB_EXAMPLE[6:12]


def test_noise_start_whose_length_spans_a_real_frame_does_not_swallow_it() -> None:
    # A stray "@@" whose length field ends exactly on the real frame's "##".
    head = b"@@" + bytes(22)
    length = 27 + len(GB_EXAMPLE) - 30  # the stray's "app data" covers the whole real frame
    stray = head + length.to_bytes(2, "little") + b"\x02"
    assert len(stray) + len(GB_EXAMPLE) == 30 + length
    results = decoder().feed(stray + GB_EXAMPLE)
    assert [e.kind for e in all_events(results)] == [Kind.SMOKE]
    assert [r.reply for r in results if r.reply] == [GB_CONFIRM]  # no deny for the noise
    assert results[0].error is not None and results[0].error.startswith("resync")
