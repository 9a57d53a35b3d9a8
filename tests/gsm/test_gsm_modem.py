"""The AT modem client against the simulated modem on a pseudo-terminal; PDU round trips."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import wait_for
from hypothesis import given, settings
from hypothesis import strategies as st

from alarmlink.gsm import (
    AtModem,
    ModemError,
    PduError,
    decode_deliver,
    decode_submit,
    encode_deliver,
    encode_submit,
    reassemble,
)
from simulators.modem import FakeModem

CHINESE_200 = ("【报警】都安县城厢镇中心小学大门一键报警按钮被按下，请值班民警立即核实并出警。"
               "地址：学府路1号。回复1确认接警。") * 3
CHINESE_200 = (CHINESE_200 + "火" * 200)[:200]


@pytest.fixture
def fake_modem() -> Iterator[FakeModem]:
    modem = FakeModem().start()
    yield modem
    modem.stop()


@pytest.fixture
def at_modem(fake_modem: FakeModem) -> Iterator[AtModem]:
    modem = AtModem(fake_modem.path, timeout_s=1.0)
    modem.open()
    yield modem
    modem.close()


def test_chinese_200_chars_is_three_ucs2_parts_and_reassembles(fake_modem: FakeModem,
                                                               at_modem: AtModem) -> None:
    assert len(CHINESE_200) == 200
    sent = at_modem.send_sms("13800000001", CHINESE_200, reference=7)
    assert len(sent.references) == 3
    phone = fake_modem.phone("13800000001")
    assert len(phone.parts) == 3
    assert all(p.concat is not None and p.concat[1] == 3 for p in phone.parts)
    assert phone.messages == [CHINESE_200]
    reports = at_modem.poll(0.5).reports
    wait_for(lambda: reports or at_modem.poll(0.2).reports, what="delivery reports")


def test_delivery_report_names_the_reference(fake_modem: FakeModem, at_modem: AtModem) -> None:
    sent = at_modem.send_sms("+8613800000009", "ALARM school-01")
    got: list[int] = []
    wait_for(lambda: got.extend(r.reference for r in at_modem.poll(0.1).reports) or got,
             what="+CDS")
    assert got == sent.references
    assert fake_modem.messages_to("13800000009") == ["ALARM school-01"]


def test_error_and_silence_are_modem_errors(fake_modem: FakeModem, at_modem: AtModem) -> None:
    fake_modem.fault("error", 1)
    with pytest.raises(ModemError, match="answered ERROR"):
        at_modem.send_sms("13800000001", "x")
    fake_modem.fault("silent", 1)
    with pytest.raises(ModemError, match="no '>' prompt"):
        at_modem.send_sms("13800000001", "x")
    fake_modem.fault("no_network", 1)
    with pytest.raises(ModemError, match="CMS ERROR: 331"):
        at_modem.send_sms("13800000001", "x")
    fake_modem.fault("no_network", 0)
    at_modem.send_sms("13800000001", "back")
    assert fake_modem.messages_to("13800000001") == ["back"]


def test_inbound_sms_is_read_and_deleted(fake_modem: FakeModem, at_modem: AtModem) -> None:
    fake_modem.deliver("13800000001", "1")
    fake_modem.deliver("13800000002", "确认 ACK 12")
    wait_for(lambda: len(at_modem.poll(0.1).new_sms) > 0 or True, what="+CMTI")
    messages, bad = at_modem.read_inbox()
    assert [(m.sender, m.text) for m in messages] == [("13800000001", "1"),
                                                      ("13800000002", "确认 ACK 12")]
    assert bad == []
    assert at_modem.read_inbox() == ([], [])


def test_call_answered_with_dtmf(fake_modem: FakeModem, at_modem: AtModem) -> None:
    fake_modem.phone("13800000001").press = "1"
    result = at_modem.call("13800000001", ring_s=2, listen_s=2)
    assert result.answered and "1" in result.dtmf
    fake_modem.phone("13800000002").answer = False
    result = at_modem.call("13800000002", ring_s=0.5, listen_s=0.5)
    assert not result.answered


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=600), st.integers(0, 255))
def test_submit_and_deliver_round_trip(text: str, ref: int) -> None:
    text = text.replace("\x00", "")
    if not text or any(0xD800 <= ord(c) <= 0xDFFF or ord(c) > 0xFFFF for c in text):
        return
    parts = [decode_submit(pdu) for _, pdu in encode_submit("+8613800000001", text,
                                                             reference=ref)]
    assert "".join(p.text for p in parts) == text
    delivered = [decode_deliver(p) for p in encode_deliver("13800000001", text, reference=ref)]
    assert reassemble(delivered)[0].text == text


@given(st.text(alphabet="0123456789ABCDEF", max_size=200))
def test_garbage_pdus_raise_pdu_error_only(pdu: str) -> None:
    for decode in (decode_submit, decode_deliver):
        try:
            decode(pdu)
        except PduError:
            pass
