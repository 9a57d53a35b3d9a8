"""Issue 3, line 4: unplugging the panel (closing and removing the pty) yields one
``trouble`` within the configured loss time; plugging it back in (a new pty behind the
same /dev/serial/by-id-style link) yields one ``restore``, with no agent restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent.agent_testkit import CentralClient
from helpers import wait_for
from serial_testkit import DEVICE, Made, agent_config, serial_input

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.panel_ports import PtyPort
from simulators.panel_scenario import PanelStep

LINK_ZONE = "fire-panel serial link"
LOSS_S = 1.0


@pytest.fixture
def central(mosquitto: MosquittoBroker) -> Iterator[CentralClient]:
    client = CentralClient(mosquitto, auto_store=True)
    yield client
    client.close()


def link_events(central: CentralClient) -> list[wire.Event]:
    return [e for e in central.events(DEVICE) if e.zone == LINK_ZONE]


def test_unplug_is_one_trouble_and_replug_one_restore_without_restart(
        tmp_path: Path, mosquitto: MosquittoBroker, central: CentralClient,
        made: Made) -> None:
    tty = tmp_path / "serial" / "by-id" / "usb-FTDI_FT232R-if00-port0"
    tty.parent.mkdir(parents=True)
    panel = made.panel("gb26875", link=tty)
    agent = made.agent(agent_config(tmp_path, mosquitto, serial_input(
        tty, loss_trouble_s=LOSS_S, link_stable_s=0.5)))
    assert panel.wait_peer(10)
    wait_for(lambda: agent.connected, what="agent connected")
    panel.send(PanelStep(at=0, flags=["fire"], description="2F east corridor"))
    wait_for(lambda: central.events(DEVICE), what="the fire alarm before the unplug")

    panel.send(PanelStep(at=0, action="unplug"))  # master closed, link removed
    assert not tty.exists()
    (trouble,) = wait_for(lambda: link_events(central), timeout=LOSS_S + 10,
                          what="link trouble after the unplug")
    assert (trouble.kind, trouble.state, trouble.source) == (
        wire.Kind.TROUBLE, wire.State.TROUBLE, wire.Source.SERIAL)
    assert "port lost" in str(trouble.detail["reason"])
    assert trouble.detail["port"] == str(tty)
    assert agent.input_states()[LINK_ZONE] == "trouble"
    assert agent.heartbeat().inputs[LINK_ZONE] == "trouble"

    panel.send(PanelStep(at=0, action="replug"))  # a NEW pty behind the same link
    assert isinstance(panel.port, PtyPort) and panel.port.plugged and tty.is_symlink()
    restore = wait_for(lambda: link_events(central)[1:], what="link restore after replug")
    assert [(e.kind, e.state) for e in restore] == [(wire.Kind.TROUBLE, wire.State.RESTORE)]
    assert agent.input_states()[LINK_ZONE] == "normal"

    panel.send(PanelStep(at=0, flags=[], description="2F east corridor"))
    assert [a.kind for a in panel.answers] == ["confirm", "confirm"]
    wait_for(lambda: [e for e in central.events(DEVICE) if e.state == wire.State.RESTORE
                      and e.zone != LINK_ZONE], what="the panel's restore after the replug")
    assert len(link_events(central)) == 2  # one trouble, one restore: no flapping
    assert agent.running and central.states(DEVICE).count("online") == 1  # no restart
    assert agent.serial_links[0].stats()["losses"] == 1
