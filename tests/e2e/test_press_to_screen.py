"""Issue 2, line 1: a mock-pin press reaches the right station's console; the officer's
acknowledgement comes back to the venue's feedback LED."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.harness import venue_config
from fixtures.central import BOTH_BACKENDS, CentralProcess
from helpers import wait_for

from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator


@pytest.mark.parametrize("central_backend", BOTH_BACKENDS)
def test_press_appears_on_station_console_and_ack_lights_venue_led(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, console_for,
        tmp_path: Path) -> None:
    school_station = console_for("chengxiang")
    other_station = console_for("dading")
    assert school_station.messages[0] == {"type": "snapshot", "incidents": []}

    sim = VenueSimulator(venue_config("school", fresh_mosquitto, tmp_path / "agent"), out=None)
    with sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        event = sim.press("gate-button")

        incident = wait_for(lambda: next(iter(school_station.incidents()), None),
                            what="incident pushed to the school's station")
        assert incident["station_id"] == "chengxiang"
        assert incident["venue_name"] == "Chengxiang Central Primary School"
        assert "gate-button" in incident["zones"]
        assert "panic" in incident["kinds"]
        assert incident["status"] == "new"
        detail = central_process.api("GET", f"/api/incidents/{incident['id']}")
        assert [e["event_id"] for e in detail["events"]] == [event.event_id]

        wait_for(lambda: sim.stage == "stored", what="stored receipt at the venue")
        central_process.api("POST", f"/api/incidents/{incident['id']}/acknowledge",
                            {})
        wait_for(lambda: sim.stage == "acknowledged", what="acknowledged receipt at the venue")
        led = sim.agent.feedback.led
        assert led is not None
        wait_for(lambda: led.is_lit, what="the venue LED lit solid for 'acknowledged'")
        wait_for(lambda: "acknowledged" in [stage for eid, _zone, stage in sim.stage_changes
                                            if eid == event.event_id],
                 what="the simulator's LED line for 'acknowledged'")

        updated = wait_for(lambda: [i for i in school_station.incidents()
                                    if i["status"] == "acknowledged"],
                           what="acknowledged status pushed to the console")
        assert updated[-1]["id"] == incident["id"]
        log = central_process.api("GET", f"/api/incidents/{incident['id']}")["log"]
        assert any(entry["actor"] == "officer-li" and entry["action"] == "acknowledge"
                   for entry in log)
    assert other_station.incidents() == [], "another station saw the school's alarm"
