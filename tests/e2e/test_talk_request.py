"""Issue 18, the venue's talk button: the one-key button's second press within
``talk_window_s`` asks the duty officer to talk. Real agent on gpiozero mock pins, real
Mosquitto, real central: the request is on the incident's timeline and reaches the
station's console (not another station's) as ``talk_request``, joins the incident's
kinds, and central answers the venue ``talk_received``."""

from __future__ import annotations

from pathlib import Path

from e2e.harness import button_only
from fixtures.central import CentralProcess
from helpers import wait_for

from alarmlink.broker import MosquittoBroker
from edge_agent.config import ButtonInput
from simulators.venue import VenueSimulator


def test_second_press_asks_to_talk_on_the_incident(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, console_for,
        tmp_path: Path) -> None:
    school_station = console_for("chengxiang")
    other_station = console_for("dading")
    config = button_only("school", fresh_mosquitto, tmp_path / "agent")
    button = config.inputs[0].model_dump(mode="json") | {"talk_window_s": 30}
    config = config.with_overrides({"inputs": [button]})
    sim = VenueSimulator(config, out=None)
    with sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        sim.press(button["zone"])
        incident = wait_for(lambda: next(iter(school_station.incidents()), None),
                            what="the alarm on the station's console")
        # the second press raises no alarm: press and release on the mock pin by hand
        item = sim._input(button["zone"], ButtonInput)
        sim._set_contact(item, item.pin, closed=not sim._rest_closed(item))
        talk = wait_for(lambda: [m for m in list(school_station.messages)
                                 if m["type"] == "talk_request"], timeout=15,
                        what="talk_request pushed to the station's console")
        sim._set_contact(item, item.pin, closed=sim._rest_closed(item))
        assert talk[0]["incident_id"] == incident["id"]
        assert talk[0]["zone"] == button["zone"]
        log = central_process.api("GET", f"/api/incidents/{incident['id']}")["log"]
        entries = [e for e in log if e["action"] == "talk_request"]
        assert len(entries) == 1 and entries[0]["actor"] == f"device:{config.device_id}"
        detail = central_process.api("GET", f"/api/incidents/{incident['id']}")
        assert len(detail["events"]) == 1, "the second press raised a second alarm"
        assert detail["incident"]["kinds"] == ["panic", "talk_request"]
        # central answered the venue: its talk LED and buzzer say the request arrived
        wait_for(lambda: sim.agent.live.talk_received == 1, what="talk_received at the venue")
        assert sim.agent.feedback.talk_stage == "received"
    assert not [m for m in other_station.messages if m["type"] == "talk_request"]
