"""The SIA and Contact ID tables: every entry maps, and equivalent events agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_helpers import check_contract

from alarmlink.codecs.contactid import ContactIdMessage, classify, to_event
from alarmlink.codecs.sia_code_table import SIA_CODES, SIA_STATUS_CODES
from alarmlink.codecs.sia_dc09 import SiaDc09Decoder, encode_message
from alarmlink.wire import Kind, State

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

# (Contact ID code, qualifier) <-> SIA code: the same real-world event.
PAIRS = [
    ((110, 1), "FA"), ((110, 3), "FR"), ((110, 3), "FH"), ((113, 1), "SA"), ((114, 1), "KA"),
    ((114, 3), "KR"), ((100, 1), "MA"), ((101, 1), "QA"), ((120, 1), "PA"), ((120, 3), "PR"),
    ((122, 1), "HA"), ((130, 1), "BA"), ((130, 3), "BR"), ((131, 1), "BA"), ((137, 1), "TA"),
    ((137, 3), "TR"), ((140, 1), "UA"), ((144, 1), "TA"), ((151, 1), "GA"), ((151, 3), "GR"),
    ((154, 1), "WA"), ((154, 3), "WH"), ((159, 1), "ZA"), ((200, 1), "FS"), ((200, 3), "FV"),
    ((301, 1), "AT"), ((301, 3), "AR"), ((302, 1), "YT"), ((302, 3), "YR"), ((333, 1), "ET"),
    ((333, 3), "ER"), ((350, 1), "YC"), ((350, 3), "YK"), ((351, 1), "LT"), ((351, 3), "LR"),
    ((373, 1), "FT"), ((373, 3), "FJ"), ((380, 1), "UT"), ((601, 1), "RX"), ((602, 1), "RP"),
]


def cid_event(code: int, qualifier: int = 1) -> tuple[Kind, State, bool]:
    event = to_event(ContactIdMessage("1234", "18", qualifier, code, "01", "001", ""))
    assert event is not None
    return event.kind, event.state, event.test


def sia_event(code: str) -> tuple[Kind, State, bool]:
    raw = encode_message(seq=1, account="1234", data=f"#1234|N{code}001")
    (result,) = SiaDc09Decoder(clock=lambda: NOW).feed(raw)
    (event,) = result.events
    check_contract(result.events)
    return event.kind, event.state, event.test


@pytest.mark.parametrize(("cid", "sia"), PAIRS, ids=[f"{c[0]}q{c[1]}-{s}" for c, s in PAIRS])
def test_equivalent_codes_agree(cid: tuple[int, int], sia: str) -> None:
    assert cid_event(*cid) == sia_event(sia)


def test_every_sia_code_maps_to_a_kind_and_state() -> None:
    assert len(SIA_CODES) > 100
    for code, entry in SIA_CODES.items():
        assert len(code) == 2 and code.isupper()
        assert isinstance(entry.kind, Kind) and isinstance(entry.state, State)
        assert sia_event(code) == (entry.kind, entry.state, entry.test)


def test_every_contact_id_code_maps_or_is_status() -> None:
    for code in range(1000):
        cls = classify(code)
        if cls is None:
            assert 400 <= code <= 699, code  # openings/closings, bypasses, logs only
            continue
        assert isinstance(cls.kind, Kind) and isinstance(cls.state, State)


def test_status_codes_make_no_event_and_unknown_codes_a_trouble() -> None:
    dec = SiaDc09Decoder(clock=lambda: NOW)
    (result,) = dec.feed(encode_message(seq=1, account="1234", data="#1234|NOP1/QQ2"))
    (event,) = result.events  # OP (opening) is status, QQ is not in any table
    assert (event.kind, event.state) == (Kind.TROUBLE, State.TROUBLE)
    assert event.detail["event_code"] == "QQ" and "unmapped" in str(event.detail["event"])
    assert dec.stats.ignored["code_OP"] == 1
    assert "OP" in SIA_STATUS_CODES
    (kind, state, _test) = cid_event(750)
    assert (kind, state) == (Kind.TROUBLE, State.TROUBLE)


def test_a_bad_token_beside_an_alarm_never_loses_the_alarm() -> None:
    (result,) = SiaDc09Decoder(clock=lambda: NOW).feed(
        encode_message(seq=1, account="1234", data="#1234|NFA12/!!"))
    assert [(e.kind, e.state) for e in result.events] == [
        (Kind.FIRE, State.ALARM), (Kind.TROUBLE, State.TROUBLE)]
    assert result.error is None and b'"ACK"' in (result.reply or b"")


@settings(deadline=None, max_examples=300)
@given(code=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
       zone=st.integers(0, 9999))
def test_any_two_letter_code_is_acked_and_never_silent(code: str, zone: int) -> None:
    (result,) = SiaDc09Decoder(clock=lambda: NOW).feed(
        encode_message(seq=1, account="1234", data=f"#1234|N{code}{zone}"))
    assert result.error is None and b'"ACK"' in (result.reply or b"")
    assert len(result.events) == (0 if code in SIA_STATUS_CODES else 1)
    check_contract(result.events)
