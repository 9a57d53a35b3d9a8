"""Issue 3, "Bad input": line noise and corrupt frames between valid ones never produce an
event and never stall the reader: every valid frame after them still arrives, answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import wait_for
from serial_testkit import Made, Recorder

from simulators.panel_scenario import PanelStep

SMOKE = "sys1-loop2-pt10 2F east corridor smoke detector"
FAULTY = "sys1-loop3-pt11 三层客房走廊感烟探测器"

#: (step, event it must produce or None) per protocol; corrupt steps produce nothing.
ROUNDS: dict[str, list[tuple[PanelStep, tuple[str, str, str] | None]]] = {
    "gb26875": [
        (PanelStep(at=0, flags=["fire"], address="0A000200",
                   description="2F east corridor smoke detector"), ("smoke", "alarm", SMOKE)),
        (PanelStep(at=0, action="corrupt", flags=["fire"], component_type=23,
                   address="0C000100"), None),
        (PanelStep(at=0, flags=["fault"], component_type=42, address="0B000300",
                   description="三层客房走廊感烟探测器"), ("trouble", "trouble", FAULTY)),
        (PanelStep(at=0, flags=[], component_type=42, address="0B000300",
                   description="三层客房走廊感烟探测器"), ("trouble", "restore", FAULTY)),
        (PanelStep(at=0, flags=[], address="0A000200",
                   description="2F east corridor smoke detector"), ("smoke", "restore", SMOKE)),
    ],
    "contactid": [
        (PanelStep(at=0, code=111, group=1, zone=15), ("smoke", "alarm", "cid-1234-g01-z015")),
        (PanelStep(at=0, action="corrupt", code=110, group=1, zone=16), None),
        (PanelStep(at=0, code=301), ("power", "trouble", "cid-1234-g00-z000")),
        (PanelStep(at=0, code=111, qualifier=3, group=1, zone=15, spaced=True),
         ("smoke", "restore", "cid-1234-g01-z015")),
        (PanelStep(at=0, code=301, qualifier=3), ("power", "restore", "cid-1234-g00-z000")),
    ],
    "sia-dc09": [
        (PanelStep(at=0, code="FA", zone=129), ("fire", "alarm", "sia-1234-z129")),
        (PanelStep(at=0, action="corrupt", code="FA", zone=130), None),
        (PanelStep(at=0, code="AT"), ("power", "trouble", "sia-1234")),
        (PanelStep(at=0, code=111, group=1, zone=16), ("smoke", "alarm", "cid-1234-g01-z016")),
        (PanelStep(at=0, code="AR"), ("power", "restore", "sia-1234")),
        (PanelStep(at=0, code="FH", zone=129), ("fire", "restore", "sia-1234-z129")),
    ],
}

#: Hand-made nastiness written between rounds, per protocol.
TRAPS: dict[str, list[bytes]] = {
    "gb26875": [
        b"@@" + bytes(22) + (1000).to_bytes(2, "little") + b"\x02",  # huge length: no wait
        b"@@" + bytes(22) + (2000).to_bytes(2, "little"),  # over the bound
        b"@@@@##\x00@",  # markers without a frame
    ],
    "contactid": [
        b"9" * 300 + b"\r\n",  # an overlong line
        b"1234181131010157\r\n",  # 16 digits, wrong checksum
        b"\x00\xff\r\n\r\n",
    ],
    "sia-dc09": [
        b"\n" + bytes(50),  # LF without CR
        b'\nFFFF0010"SIA-DCS"0001#1234[#1234|NFA1]\r',  # wrong CRC and length: NAK
        b"\r\r\n\r",
    ],
}


@pytest.mark.parametrize("protocol", ["gb26875", "contactid", "sia-dc09"])
def test_noise_and_corrupt_frames_never_alarm_and_never_stall(
        protocol: str, tmp_path: Path, made: Made) -> None:
    recorder = Recorder()
    tty = tmp_path / "ttyNOISE"
    panel = made.panel(protocol, link=tty, noise=0.5, corrupt_rate=0.3, seed=26875,
                       answer_timeout_s=1.0)
    link = made.link(tty, recorder, protocol)
    assert panel.wait_peer(10)
    expected = []
    for round_ in range(4):
        for step, event in ROUNDS[protocol]:
            panel.send(step)
            if event is not None:
                expected.append(event)
        panel.port.write(TRAPS[protocol][round_ % len(TRAPS[protocol])])
    last = ROUNDS[protocol][0]  # after the last trap, a valid frame still gets through
    panel.send(last[0])
    assert last[1] is not None
    expected.append(last[1])

    wait_for(lambda: len(recorder.events) >= len(expected), what="every valid event")
    assert recorder.triples() == expected  # nothing from noise, traps or corrupt frames
    assert all(e.kind != "trouble" or e.zone != link.zone for e in recorder.events)
    stats = link.stats()
    # A stray NAK (for a noise segment) makes the panel resend a frame: answered again,
    # counted as a duplicate, its events not raised twice (the triples above).
    assert stats["failed"] > 4 and stats["internal_errors"] == 0
    assert link.state == "normal" and link.is_open
    assert sum(1 for s in panel.sent if s.kind == "noise") > 0
    if protocol != "contactid":
        assert panel.unanswered == []
        denied = {a.ref for a in panel.answers if a.kind == "deny"}
        assert protocol == "sia-dc09" or denied >= {s.ref for s in panel.sent
                                                    if s.kind == "corrupt"}
