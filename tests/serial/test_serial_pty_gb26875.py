"""Issue 3, line 3: over a pseudo-terminal, the real agent publishes a fire alarm, a
trouble and a restore from a GB/T 26875.3 stream, and answers every frame: a confirm for
each data frame, a deny for the frame with a bad checksum. Checked on the broker (a
central-side client, user central) and on the simulator's side of the line."""

from __future__ import annotations

from pathlib import Path

from fixtures.mqtt import CentralStub
from helpers import wait_for
from serial_testkit import SCENARIOS, Made, agent_config, serial_input

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.panel_scenario import load_panel_scenario


def test_gb26875_stream_over_a_pty_reaches_the_broker_and_every_frame_is_answered(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_stub: CentralStub, made: Made) -> None:
    tty = tmp_path / "ttyPANEL"
    panel = made.panel("gb26875", link=tty)
    agent = made.agent(agent_config(tmp_path, shared_mosquitto, serial_input(
        tty, timezone="Asia/Shanghai"), device_id=isolated_device_id))
    assert panel.wait_peer(10)
    wait_for(lambda: agent.connected, what="agent connected to the broker")

    scenario = load_panel_scenario(SCENARIOS / "panel-gb26875.toml")  # the shipped example
    for step in scenario.step:
        panel.send(step)  # in order, without the timeline's pauses

    # The line: one confirm per data frame (same serial), one deny for the corrupt one.
    data = sorted({s.ref for s in panel.sent if s.kind == "data"})
    (bad,) = [s.ref for s in panel.sent if s.kind == "corrupt"]
    answers = [(a.kind, a.ref) for a in panel.answers]
    assert sorted(ref for kind, ref in answers if kind == "confirm") == data
    assert answers.count(("deny", bad)) == 1 and bad not in data
    assert panel.unanswered == []

    # The broker: what the panel said, decoded, in order; nothing from noise or the
    # corrupt frame (component 0C000100, the manual call point).
    expected = [
        ("smoke", "alarm", "sys1-loop2-pt10 2F east corridor smoke detector"),
        ("trouble", "trouble", "sys1-loop3-pt11 三层客房走廊感烟探测器"),
        ("power", "trouble", "uitd"),
        ("trouble", "restore", "sys1-loop3-pt11 三层客房走廊感烟探测器"),
        ("power", "restore", "uitd"),
        ("smoke", "restore", "sys1-loop2-pt10 2F east corridor smoke detector"),
    ]
    events = wait_for(lambda: (lambda got: got if len(got) >= len(expected) else None)(
        central_stub.events(isolated_device_id)), what="six panel events at central")
    assert [(e.kind.value, e.state.value, e.zone) for e in events] == expected
    assert all(e.source == wire.Source.SERIAL and not e.test for e in events)
    fire = events[0].detail
    assert fire["description"] == "2F east corridor smoke detector"
    assert (fire["protocol"], fire["component_type"], fire["component_addr"]) == (
        "gb26875", 40, "0A000200")
    assert fire["flags"] == "fire" and fire["link"] == "fire-panel"
    assert events[0].ts.utcoffset() is not None  # the panel clock, zone Asia/Shanghai
    assert events[1].detail["description"] == "三层客房走廊感烟探测器"
    assert "0C000100" not in str([e.detail for e in events])
    wait_for(lambda: agent.outbox.depth() == 0, what="every event stored (receipts)")

    stats = agent.serial_links[0].stats()
    assert stats["failed_checksum"] == 1 and stats["discarded_bytes"] > 0
    report = agent.self_test()
    assert str(report["serial fire-panel"]).startswith(
        "normal open gb26875 frames=6 events=6 replies=7 failed=1")
    assert agent.input_states()["fire-panel serial link"] == "normal"
