"""Issue 3, line 4: unplugging the panel (closing and removing the pty) yields one
``trouble`` within the configured loss time; plugging it back in (a new pty behind the
same /dev/serial/by-id-style link) yields one ``restore``, with no agent restart."""

from __future__ import annotations

from pathlib import Path

from fixtures.mqtt import CentralStub
from helpers import wait_for
from serial_testkit import Made, agent_config, serial_input

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.panel_ports import PtyPort
from simulators.panel_scenario import PanelStep

LINK_ZONE = "fire-panel serial link"
LOSS_S = 1.0



def link_events(central: CentralStub) -> list[wire.Event]:
    """The serial link's trouble and restore events of the stub's device."""
    return [e for e in central.events() if e.zone == LINK_ZONE]


def test_unplug_is_one_trouble_and_replug_one_restore_without_restart(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_stub: CentralStub, made: Made) -> None:
    tty = tmp_path / "serial" / "by-id" / "usb-FTDI_FT232R-if00-port0"
    tty.parent.mkdir(parents=True)
    panel = made.panel("gb26875", link=tty)
    agent = made.agent(agent_config(tmp_path, shared_mosquitto, serial_input(
        tty, loss_trouble_s=LOSS_S, link_stable_s=0.5), device_id=isolated_device_id))
    assert panel.wait_peer(10)
    wait_for(lambda: agent.connected, what="agent connected")
    panel.send(PanelStep(at=0, flags=["fire"], description="2F east corridor"))
    wait_for(lambda: central_stub.events(isolated_device_id),
             what="the fire alarm before the unplug")

    panel.send(PanelStep(at=0, action="unplug"))  # master closed, link removed
    assert not tty.exists()
    (trouble,) = wait_for(lambda: link_events(central_stub), timeout=LOSS_S + 10,
                          what="link trouble after the unplug")
    assert (trouble.kind, trouble.state, trouble.source) == (
        wire.Kind.TROUBLE, wire.State.TROUBLE, wire.Source.SERIAL)
    assert "port lost" in str(trouble.detail["reason"])
    assert trouble.detail["port"] == str(tty)
    assert agent.input_states()[LINK_ZONE] == "trouble"
    assert agent.heartbeat().inputs[LINK_ZONE] == "trouble"

    panel.send(PanelStep(at=0, action="replug"))  # a NEW pty behind the same link
    assert isinstance(panel.port, PtyPort) and panel.port.plugged and tty.is_symlink()
    restore = wait_for(lambda: link_events(central_stub)[1:], what="link restore after replug")
    assert [(e.kind, e.state) for e in restore] == [(wire.Kind.TROUBLE, wire.State.RESTORE)]
    assert agent.input_states()[LINK_ZONE] == "normal"

    panel.send(PanelStep(at=0, flags=[], description="2F east corridor"))
    assert [a.kind for a in panel.answers] == ["confirm", "confirm"]
    wait_for(lambda: [e for e in central_stub.events(isolated_device_id)
                      if e.state == wire.State.RESTORE and e.zone != LINK_ZONE],
             what="the panel's restore after the replug")
    assert len(link_events(central_stub)) == 2  # one trouble, one restore: no flapping
    # no restart
    assert agent.running and central_stub.states(isolated_device_id).count("online") == 1
    assert agent.serial_links[0].stats()["losses"] == 1
