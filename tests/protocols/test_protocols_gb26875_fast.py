"""The GB/T 26875.3 fast path (type-2 records, cached per component) agrees with the
straightforward reference: ``decode_app_data`` + ``EventMapper.events`` on each record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from test_protocols_gb26875 import CENTRE, UITD, component_records, labels

from alarmlink.codecs.gb26875 import HEADER_SIZE, Gb26875Decoder, _byte_sum, encode_frame
from alarmlink.codecs.gb26875_data import ComponentState, decode_app_data, encode_app_data
from alarmlink.codecs.gb26875_events import EventMapper

CLOCK = datetime(2012, 9, 26, 9, 58, 35)
# Few components and states, so that records repeat (the fast path's cache is exercised).
addrs = st.sampled_from([bytes.fromhex("0A000200"), bytes.fromhex("01000100"), bytes(4)])
states = st.sampled_from([0x0000, 0x0001, 0x0002, 0x0003, 0x0004, 0x0010, 0x0100, 0x0106])
repeating = st.builds(ComponentState, st.just(1), st.sampled_from([1, 2]),
                      st.sampled_from([40, 31, 23]), addrs, states,
                      st.sampled_from(["", "2F east corridor", "7楼02室会议室烟感"]), labels)
records = st.one_of(component_records, repeating)


def reference(frames: list[bytes], tz: timezone | None, honour: bool) -> list[tuple]:
    mapper = EventMapper(tz, 4096, honour)
    out = []
    for raw in frames:
        base = {"protocol": "gb26875", "serial": raw[2] | raw[3] << 8,
                "uitd_addr": raw[12:18].hex().upper()}
        app = decode_app_data(raw[HEADER_SIZE:-3])
        out.append(tuple(mapper.events(app, base)))
    return out


@settings(deadline=None, max_examples=200)
@given(frames=st.lists(st.lists(records, min_size=1, max_size=4), min_size=1, max_size=8),
       tz=st.sampled_from([None, UTC, timezone(timedelta(hours=8))]), honour=st.booleans())
def test_fast_path_agrees_with_reference(frames: list[list[ComponentState]],
                                         tz: timezone | None, honour: bool) -> None:
    raws = [encode_frame(serial=i, command=2, source=UITD, dest=CENTRE, time=recs[0].time,
                         data=encode_app_data(recs)) for i, recs in enumerate(frames)]
    dec = Gb26875Decoder(clock=lambda: CLOCK, tz=tz, honour_test_bit=honour)
    results = [r for raw in raws for r in dec.feed(raw)]
    assert [r.error for r in results] == [None] * len(raws)
    expected = reference(raws, tz, honour)
    assert [r.events for r in results] == expected
    assert [[list(e.detail) for e in r.events] for r in results] == [  # same key order
        [list(e.detail) for e in events] for events in expected]
    for r, recs in zip(results, frames, strict=True):
        assert r.message.app.records == tuple(recs)  # type: ignore[union-attr]


@given(data=st.binary(max_size=300) | st.builds(lambda n: b"\xff" * n, st.integers(0, 300)))
def test_lane_byte_sum_equals_sum(data: bytes) -> None:
    assert _byte_sum(data) == sum(data) & 0xFF
