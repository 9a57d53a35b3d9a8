"""Issue 10's four decoder defects, each from a real-world message shape.

Each test failed on the code before the fix (see the issue): an alarm answered "DUH" and
dropped, a heartbeat denied, a water alarm acknowledged and ignored, a component address
shown byte-swapped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from protocol_helpers import GB_EXAMPLE, check_contract

from alarmlink.codecs.contactid import ContactIdMessage, to_event
from alarmlink.codecs.gb26875 import CMD_SEND, Gb26875Decoder, encode_frame
from alarmlink.codecs.gb26875_data import ComponentState, TimeLabel, encode_app_data
from alarmlink.codecs.sia_dc09 import SiaDc09Decoder, decode_frame, frame_body
from alarmlink.wire import Kind, State

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
UITD = bytes.fromhex("790300000000")
CENTRE = bytes.fromhex("385B01000000")


def test_dc09_data_block_without_account_is_an_alarm_and_acked() -> None:
    dec = SiaDc09Decoder(clock=lambda: NOW)
    sia = frame_body(b'"SIA-DCS"0007R1L0#1234[|Nri1/FA129]_03:04:05,01-02-2024')
    cid = frame_body(b'"ADM-CID"0008R1L0#1234[|1110 01 015]_03:04:05,01-02-2024')
    (r1,) = dec.feed(sia)
    (r2,) = dec.feed(cid)
    for result in (r1, r2):
        assert result.error is None and result.reply is not None
        assert decode_frame(result.reply).id == "ACK"
        (event,) = result.events
        assert (event.kind, event.state) == (Kind.FIRE, State.ALARM)
        assert event.detail["account"] == "1234"
        check_contract(result.events)
    assert r1.events[0].zone == "sia-1234-z129-a1"
    assert r2.events[0].zone == "cid-1234-g01-z015"


def test_gb_heartbeat_frame_is_confirmed_not_denied() -> None:
    dec = Gb26875Decoder()
    beat = encode_frame(serial=9, command=CMD_SEND, source=UITD, dest=CENTRE,
                        time=NOW.replace(tzinfo=None))
    (result,) = dec.feed(beat)
    assert result.error is None and result.events == ()
    assert result.reply is not None and result.reply[26] == 3  # confirm, not 6 deny
    assert result.reply[2:4] == beat[2:4]  # echoes the serial number
    assert dec.stats.ignored["heartbeat"] == 1 and dec.stats.failed == 0


def test_sia_water_alarm_raises_an_event_like_contact_id_154() -> None:
    dec = SiaDc09Decoder(clock=lambda: NOW)
    (alarm,) = dec.feed(frame_body(b'"SIA-DCS"0010L0#1234[#1234|Nri1/WA005]'))
    (restore,) = dec.feed(frame_body(b'"SIA-DCS"0011L0#1234[#1234|Nri1/WH005]'))
    cid = to_event(ContactIdMessage("1234", "18", 1, 154, "01", "005", ""))
    assert cid is not None
    assert (alarm.events[0].kind, alarm.events[0].state) == (cid.kind, cid.state)
    assert (restore.events[0].kind, restore.events[0].state) == (cid.kind, State.RESTORE)


def test_gb_component_address_is_loop_and_point() -> None:
    (result,) = Gb26875Decoder().feed(GB_EXAMPLE)  # address bytes 0A 00 02 00
    (event,) = result.events
    assert event.zone == "sys1-loop2-pt10"
    assert event.detail["component_addr"] == "0A000200"  # wire order kept for diagnosis
    assert (event.detail["component_loop"], event.detail["component_point"]) == (2, 10)
    rec = ComponentState(1, 1, 42, bytes.fromhex("D9000600"), 0x0003, "", TimeLabel(
        5, 4, 3, 2, 1, 24))
    frame = encode_frame(serial=2, command=CMD_SEND, source=UITD, dest=CENTRE,
                         time=NOW.replace(tzinfo=None), data=encode_app_data([rec]))
    (result,) = Gb26875Decoder().feed(frame)
    assert result.events[0].zone == "sys1-loop6-pt217"
