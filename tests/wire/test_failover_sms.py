"""The failover SMS codec: round trip, tampering refused, fuzzed input never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alarmlink import wire
from alarmlink.wire.failover_sms import decode_failover

KEY = b"0123456789abcdef0123456789abcdef"


def _event(zone: str = "大门 按钮", test: bool = False) -> wire.Event:
    return wire.Event(event_id=wire.new_id(), device_id="school-01", seq=42, ts=wire.utcnow(),
                      kind=wire.Kind.PANIC, state=wire.State.ALARM, zone=zone,
                      source=wire.Source.SERIAL, test=test)


def test_round_trip_keeps_what_deduplication_compares_and_fits_one_sms() -> None:
    event = _event()
    text = wire.encode_failover(event, KEY)
    assert text.isascii() and len(text) <= 160
    got = decode_failover(text, KEY)
    assert (got.event_id, got.seq, got.kind, got.state, got.zone, got.source, got.test) == (
        event.event_id, 42, event.kind, event.state, "大门 按钮", wire.Source.SERIAL, False)
    assert int(got.ts.timestamp()) == int(event.ts.timestamp())


@pytest.mark.parametrize("change", [("42", "43"), (" panic ", " fire  "), ("-s", "Ts")])
def test_any_change_or_another_key_is_refused(change: tuple[str, str]) -> None:
    text = wire.encode_failover(_event("gate"), KEY)
    with pytest.raises(wire.ContractError, match="HMAC|malformed"):
        decode_failover(text.replace(*change, 1), KEY)
    with pytest.raises(wire.ContractError, match="bad HMAC"):
        decode_failover(text, b"another key of the same length!")


@given(st.text(max_size=300))
def test_fuzzed_text_is_refused_with_a_contract_error_or_decoded(text: str) -> None:
    try:
        decode_failover(text, KEY)
    except wire.ContractError:
        pass
    try:
        decode_failover("AL1 " + text, KEY)
    except wire.ContractError:
        pass
