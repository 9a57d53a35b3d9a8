"""Ademco Contact ID tests (docs/protocols.md, section "Ademco Contact ID")."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from protocol_helpers import CID_EXAMPLE, CID_RESTORE, all_events, check_contract, feed_chunks

from alarmlink.codecs import DecodeError, make_decoder
from alarmlink.codecs.contactid import (
    MAX_LINE,
    ContactIdDecoder,
    checksum_digit,
    checksum_ok,
    encode_message,
    parse_message,
)
from alarmlink.wire import Kind, State


def test_public_example_and_restore() -> None:
    msg = parse_message(CID_EXAMPLE)
    assert (msg.account, msg.message_type, msg.qualifier, msg.event_code, msg.group,
            msg.zone, msg.checksum) == ("1234", "18", 1, 131, "01", "015", "8")
    assert checksum_digit(CID_EXAMPLE[:15]) == "8"
    assert checksum_digit(CID_RESTORE[:15]) == "6"
    assert parse_message("1234 18 1 131 01 015 8") == msg
    results = ContactIdDecoder().feed(f"{CID_EXAMPLE}\r\n{CID_RESTORE}\r\n".encode())
    events = all_events(results)
    assert [(e.kind, e.state, e.zone) for e in events] == [
        (Kind.TAMPER, State.ALARM, "cid-1234-g01-z015"),
        (Kind.TAMPER, State.RESTORE, "cid-1234-g01-z015"),
    ]
    assert events[0].detail["event_code"] == 131 and events[0].detail["category"] == "burglary"
    assert all(r.reply is None for r in results)
    check_contract(events)


def test_encoder_reproduces_the_examples() -> None:
    assert encode_message("1234", 131, 1, 1, 15) == CID_EXAMPLE
    assert encode_message("1234", 131, 3, "01", "015") == CID_RESTORE
    assert encode_message("1234", 131, 1, 1, 15, spaced=True) == "1234 18 1 131 01 015 8"
    with pytest.raises(ValueError):
        encode_message("12A4", 131)


@pytest.mark.parametrize(("text", "reason"), [
    ("1234181131010159", "checksum"),
    ("12341811310101", "syntax"),
    ("1234181131A10158", "syntax"),
    ("1234171131010158", "message_type"),
    ("1234182131010158", "qualifier"),
    ("1234 18 1 131 01 0158", "syntax"),
    ("1234  18 1 131 01 015 8", "syntax"),
    ("1234\t18 1 131 01 015 8", "syntax"),
])
def test_invalid_messages_name_the_reason(text: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=f"^{reason}"):
        parse_message(text)
    dec = ContactIdDecoder()
    (result,) = dec.feed(text.encode() + b"\r")
    assert result.events == () and result.error is not None
    assert dec.stats.failures[reason] == 1


@pytest.mark.parametrize(("code", "kind", "state", "test"), [
    (100, Kind.MEDICAL, State.ALARM, False),
    (110, Kind.FIRE, State.ALARM, False),
    (111, Kind.SMOKE, State.ALARM, False),
    (114, Kind.HEAT, State.ALARM, False),
    (115, Kind.FIRE, State.ALARM, False),
    (120, Kind.PANIC, State.ALARM, False),
    (121, Kind.PANIC, State.ALARM, False),
    (130, Kind.TAMPER, State.ALARM, False),
    (137, Kind.TAMPER, State.ALARM, False),
    (301, Kind.POWER, State.TROUBLE, False),
    (302, Kind.POWER, State.TROUBLE, False),
    (350, Kind.TROUBLE, State.TROUBLE, False),
    (373, Kind.TROUBLE, State.TROUBLE, False),
    (380, Kind.TROUBLE, State.TROUBLE, False),
    (602, Kind.TEST, State.ALARM, True),
])
def test_event_code_mapping(code: int, kind: Kind, state: State, test: bool) -> None:
    dec = ContactIdDecoder()
    text = encode_message("1234", code, 1, 1, 3) + "\r" + encode_message("1234", code, 3, 1, 3)
    events = all_events(dec.feed(text.encode() + b"\n"))
    assert [(e.kind, e.state, e.test) for e in events] == [
        (kind, state, test), (kind, State.RESTORE, test)]
    check_contract(events)


def test_still_present_and_unmapped_codes() -> None:
    dec = make_decoder("contactid")
    (ev,) = all_events(dec.feed((encode_message("1234", 110, 6) + "\n").encode()))
    assert ev.state == State.ALARM and ev.detail["qualifier"] == 6
    results = dec.feed((encode_message("1234", 401, 1, 1, 7) + "\n").encode())
    assert len(results) == 1 and results[0].events == () and results[0].error is None
    assert dec.stats.ignored["code_401"] == 1


def test_long_lines_are_dropped_and_the_buffer_is_bounded() -> None:
    dec = ContactIdDecoder()
    for _ in range(20):
        dec.feed(b"9" * 100)
        assert len(dec._buf) <= MAX_LINE
    results = dec.feed(b"999\r\n" + CID_EXAMPLE.encode() + b"\r\n")
    assert [e.event_code for e in [r.message for r in results if r.events]] == [131]  # type: ignore[attr-defined]
    assert dec.stats.failures["line_too_long"] >= 1
    (result,) = dec.feed(b"1" * (MAX_LINE + 1) + b"\n")
    assert result.error is not None and result.error.startswith("line_too_long")


# --- property tests ------------------------------------------------------------------------

digits = "0123456789BCDEF"
messages = st.builds(
    encode_message,
    account=st.text(digits, min_size=4, max_size=4),
    event_code=st.integers(0, 999),
    qualifier=st.sampled_from([1, 3, 6]),
    group=st.integers(0, 99),
    zone=st.integers(0, 999),
    message_type=st.sampled_from(["18", "98"]),
    spaced=st.booleans(),
)


@settings(deadline=None, max_examples=200)
@given(text=messages, cuts=st.lists(st.integers(0, 60), max_size=5),
       eol=st.sampled_from([b"\r", b"\n", b"\r\n"]))
def test_round_trip(text: str, cuts: list[int], eol: bytes) -> None:
    msg = parse_message(text)
    assert checksum_ok(text.replace(" ", ""))
    again = encode_message(msg.account, msg.event_code, msg.qualifier, msg.group, msg.zone,
                           msg.message_type, spaced=" " in text)
    assert again == text
    results = feed_chunks(ContactIdDecoder(), text.encode() + eol, cuts)
    assert len(results) == 1 and results[0].error is None and results[0].message == msg
    check_contract(results[0].events)


@settings(deadline=None, max_examples=150)
@given(text=messages.filter(lambda t: parse_message(t).event_code in range(100, 400)),
       before=st.binary(max_size=200), after=st.binary(max_size=200))
def test_message_in_garbage_is_found(text: str, before: bytes, after: bytes) -> None:
    """A line protocol: the message must be on its own line (CR/LF around it)."""
    assume(not all_events(ContactIdDecoder().feed(before + b"\r\n")))
    assume(not all_events(ContactIdDecoder().feed(b"\r\n" + after + b"\r\n")))
    expected = all_events(ContactIdDecoder().feed(text.encode() + b"\r\n"))
    got = all_events(ContactIdDecoder().feed(before + b"\r\n" + text.encode() + b"\r\n" + after))
    assert got == expected and len(got) == 1


@settings(deadline=None, max_examples=300)
@given(text=messages, data=st.data())
def test_single_bit_flip_is_rejected(text: str, data: st.DataObject) -> None:
    """Any one-bit error in the message or its CR yields no event.

    In ASCII a flip can turn a digit into another valid digit ('1' ^ 0x02 == '3'); the
    checksum catches it, since a single changed digit moves the sum by 1..14, never by a
    multiple of 15. A flipped space breaks the spaced layout; a flipped CR leaves a line
    that ends in a non-space byte. (Caveat: the mod-15 sum does NOT catch two swapped
    digits; nothing here can.)
    """
    raw = bytearray(text.encode() + b"\r")
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    results = ContactIdDecoder().feed(bytes(raw) + b"\n")
    assert results and all(r.error is not None for r in results)  # rejected, not just unmapped
    assert all_events(results) == []


@settings(deadline=None, max_examples=300)
@given(text=messages.filter(lambda t: " " not in t), pos=st.integers(0, 15),
       new=st.sampled_from(digits))
def test_any_single_digit_substitution_fails_the_checksum(text: str, pos: int, new: str) -> None:
    assume(text[pos] != new)
    assert not checksum_ok(text[:pos] + new + text[pos + 1:])


@settings(deadline=None, max_examples=300)
@given(chunks=st.lists(st.binary(max_size=300), max_size=10))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    dec = ContactIdDecoder()
    for chunk in chunks:
        check_contract(all_events(dec.feed(chunk)))
        assert len(dec._buf) <= MAX_LINE
