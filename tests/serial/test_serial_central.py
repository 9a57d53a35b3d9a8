"""Issue 3, line 5: Contact ID and SIA DC-09 events from the panel simulator reach central
(a real ``alarmlink central serve`` on the real broker) as incidents, with the decoded
zone and description."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fixtures.central import CentralProcess
from helpers import wait_for
from serial_testkit import DEVICE, Made, agent_config, serial_input

from alarmlink.broker import MosquittoBroker
from simulators.panel_scenario import PanelStep

CID_ZONE = "cid-1234-g01-z015 2F east corridor smoke"
SIA_ZONE = "sia-5678-z129"


def open_incident(central: CentralProcess, category: str, zone: str) -> dict[str, Any] | None:
    return next((i for i in central.api("GET", f"/api/incidents?category={category}")
                 if i["venue_id"] == DEVICE and zone in i["zones"]), None)


def test_contact_id_and_dc09_alarms_become_incidents_with_zone_and_description(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        made: Made) -> None:
    cid_tty, dc09_tty = tmp_path / "ttyCID", tmp_path / "ttyDC09"
    cid = made.panel("contactid", link=cid_tty)
    dc09 = made.panel("sia-dc09", link=dc09_tty)
    agent = made.agent(agent_config(
        tmp_path, fresh_mosquitto,
        serial_input(cid_tty, "contactid", name="annex-panel",
                     zone_names={"cid-1234-g01-z015": "2F east corridor smoke"}),
        serial_input(dc09_tty, "sia-dc09", name="transmitter")))
    assert cid.wait_peer(10) and dc09.wait_peer(10)
    wait_for(lambda: agent.connected, what="agent connected")

    cid.send(PanelStep(at=0, code=111, group=1, zone=15))                 # smoke
    dc09.send(PanelStep(at=0, code="FA", zone=129, account="5678",
                        text="3F kitchen heat and smoke"))              # fire, with text
    cid.send(PanelStep(at=0, code=301))                                   # AC loss
    assert [a.kind for a in dc09.answers] == ["ACK"]

    alarm = wait_for(lambda: (lambda i: i if i and SIA_ZONE in i["zones"] else None)(
        open_incident(central_process, "alarm", CID_ZONE)), timeout=15,
        what="one alarm incident holding both panel zones")
    assert alarm["station_id"] == "chengxiang" and alarm["status"] == "new"
    assert set(alarm["kinds"]) == {"smoke", "fire"}
    events = central_process.api("GET", f"/api/incidents/{alarm['id']}")["events"]
    by_zone = {e["zone"]: e for e in events}
    smoke, fire = by_zone[CID_ZONE], by_zone[SIA_ZONE]
    assert smoke["source"] == "serial" and fire["source"] == "serial"
    assert smoke["detail"]["description"] == "2F east corridor smoke"
    assert (smoke["detail"]["event_code"], smoke["detail"]["event"]) == (111, "smoke")
    assert fire["detail"]["text"] == "3F kitchen heat and smoke"
    assert (fire["detail"]["event_code"], fire["detail"]["event"]) == ("FA", "fire alarm")

    trouble = wait_for(lambda: open_incident(central_process, "trouble", "cid-1234-g00-z000"),
                       what="the AC loss as a separate trouble incident")
    assert trouble["kinds"] == ["power"]

    cid.send(PanelStep(at=0, code=111, qualifier=3, group=1, zone=15, spaced=True))
    wait_for(lambda: (open_incident(central_process, "alarm", CID_ZONE) or {}).get("zones", {})
             .get(CID_ZONE) == "restored", what="the Contact ID restore marks the zone")
