"""The venue that can still call for help (line 8) and what central refuses (line 11).

Real central (child process), real Mosquitto, a real agent on MockFactory pins behind a
TCP proxy that loses the network, and two simulated GSM modems on pseudo-terminals (the
agent's and central's) joined by a simulated operator network.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.tcp_proxy import TcpProxy
from escalation_kit import OFFICER, Escalating, press, put_on_duty
from fixtures.agents import AgentSet
from fixtures.central import ALARMLINK, CentralProcess
from fixtures.mqtt import MqttTestClient
from gpiozero.pins.mock import MockPin
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.config import validate_config
from simulators.modem import FakeModem, GsmNetwork

Client = Callable[..., MqttTestClient]
STATION_NUMBER = "13800000110"  # central's modem: the station's alarm number
VENUE_NUMBER = "13800000120"    # the agent's modem
KEYHOLDER = "13900000099"
VILLAGE_TEAM = ["13800000031", "13800000032", "13800000033", "13800000034"]


@pytest.fixture
def network() -> GsmNetwork:
    return GsmNetwork()


@pytest.fixture
def fake_modem(network: GsmNetwork) -> Iterator[FakeModem]:
    """Central's modem (overrides the kit's): on the network, with the station's number."""
    modem = FakeModem(number=STATION_NUMBER, network=network).start()
    yield modem
    modem.stop()


@pytest.fixture
def venue_modem(network: GsmNetwork) -> Iterator[FakeModem]:
    modem = FakeModem(number=VENUE_NUMBER, network=network).start()
    yield modem
    modem.stop()


def failover_key(central: CentralProcess, device: str, out: Path) -> Path:
    done = subprocess.run([*ALARMLINK, "central", "failover-key", "--db", str(central.db_path),
                           "--device", device, "--out", str(out)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return out


def agent_config(tmp_path: Path, broker_url: str, modem_port: str, key: Path) -> Any:
    return validate_config({
        "device_id": "school-01", "venue": "城厢中心小学", "state_dir": str(tmp_path / "state"),
        "broker": {"url": broker_url, "username": "school-01", "password": "school-01-pw",
                   "reconnect_min_s": 1, "reconnect_max_s": 1},
        "inputs": [{"type": "button", "zone": "gate-button", "pin": 17, "kind": "fire"}],
        "modem": {"port": modem_port, "station_numbers": [STATION_NUMBER],
                  "keyholder_numbers": [KEYHOLDER], "key_file": str(key), "after_s": 2,
                  "sounder_pin": 5, "timeout_s": 2, "tick_s": 0.2},
    }, source="test.toml", base_dir=tmp_path)


def test_link_cut_alarm_reaches_central_by_sms_and_is_stored_once_when_the_link_returns(
        escalating_central: Escalating, fake_modem: FakeModem, venue_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, agent_set: AgentSet, tmp_path: Path) -> None:
    central = escalating_central(stages="0, 60, 70, 80")
    key = failover_key(central, "school-01", tmp_path / "failover.key")
    proxy = TcpProxy(fresh_mosquitto.host, int(fresh_mosquitto.url.rsplit(":", 1)[1]))
    proxy.blackhole()  # the venue's network is down from the start
    agent = agent_set.new(agent_config(tmp_path, proxy.url, venue_modem.path, key))
    assert agent.failover is not None and not agent.failover.sounding
    pin = agent.inputs["gate-button"].main.device.pin
    assert isinstance(pin, MockPin)
    pressed = time.monotonic()
    pin.drive_low()
    event = wait_for(lambda: agent.outbox.pending(), what="the alarm in the outbox")[0]

    incident = wait_for(lambda: central.api("GET", "/api/incidents"), timeout=30,
                        what="the incident opened from the failover SMS")[0]
    print(f"press -> incident by SMS: {time.monotonic() - pressed:.1f} s (after_s = 2)")
    assert not agent.connected
    stored = central.rows("SELECT event_id, detail, deliveries FROM events")
    assert [r["event_id"] for r in stored] == [event.event_id]
    assert '"via": "sms"' in stored[0]["detail"]
    assert incident["kind"] == "fire"
    assert venue_modem.messages_to(STATION_NUMBER)[0].startswith("AL1 school-01 ")
    keyholder_text = venue_modem.messages_to(KEYHOLDER)
    assert len(keyholder_text) == 1 and "火警" in keyholder_text[0]
    assert agent.failover.sounding
    # recorded just after the event is handed to ingest, so possibly after the incident
    accepted = wait_for(lambda: central.rows("SELECT sender, result FROM inbound_sms"),
                        what="the failover SMS in the inbound log")
    assert [(r["sender"], r["result"]) for r in accepted] == [(VENUE_NUMBER, "accepted")]

    proxy.restore()  # the link returns: the agent resends, central stores it once
    wait_for(lambda: agent.outbox.depth() == 0, timeout=30, what="the stored receipt")
    rows = central.rows("SELECT deliveries FROM events WHERE event_id = ?", (event.event_id,))
    assert len(rows) == 1 and rows[0]["deliveries"] >= 2
    assert len(central.rows("SELECT 1 FROM events")) == 1
    assert len(central.api("GET", "/api/incidents")) == 1
    assert len(venue_modem.messages_to(STATION_NUMBER)) == 1  # one SMS per event
    central.api("POST", f"/api/incidents/{incident['id']}/acknowledge", {})
    wait_for(lambda: not agent.failover.sounding, timeout=15,  # type: ignore[union-attr]
             what="the sounder off on the acknowledgement")


def _event_line(key: bytes) -> str:
    event = wire.Event(event_id=wire.new_id(), device_id="school-01", seq=9, ts=wire.utcnow(),
                       kind=wire.Kind.FIRE, state=wire.State.ALARM, zone="gate-button",
                       source=wire.Source.GPIO)
    return wire.encode_failover(event, key)


def test_forged_and_malformed_inbound_sms_are_rejected_with_a_reason_and_nothing_acts(
        escalating_central: Escalating, fake_modem: FakeModem, fresh_mosquitto: MosquittoBroker,
        mqtt_test_client: Client, tmp_path: Path) -> None:
    central = escalating_central(stages="0, 1, 60, 70")
    failover_key(central, "school-01", tmp_path / "failover.key")
    put_on_duty(central, "officer-zhang", "officer")
    press(mqtt_test_client, fresh_mosquitto)
    incident = wait_for(lambda: central.api("GET", "/api/incidents"), what="an incident")[0]
    wait_for(lambda: fake_modem.messages_to(OFFICER), timeout=15, what="stage 1 SMS")

    fake_modem.deliver("13700000001", _event_line(b"not-the-device-key-at-all"))  # forged
    fake_modem.deliver("13700000001", "AL1 school-01 garbage")                     # malformed
    fake_modem.deliver_pdus(["0791ZZ"])                                             # bad PDU
    fake_modem.deliver(OFFICER, "好的收到了吗")                                     # not an ack
    rows = wait_for(lambda: (r := central.rows("SELECT sender, result, reason FROM inbound_sms "
                                               "ORDER BY id")) and len(r) >= 4 and r,
                    timeout=15, what="four inbound SMS recorded")
    assert [r["result"] for r in rows] == ["rejected"] * 4
    reasons = " | ".join(r["reason"] for r in rows)
    assert "bad HMAC" in reasons and "malformed failover SMS" in reasons
    assert "unreadable SMS PDU" in reasons and "not an acknowledgement" in reasons
    dead = central.rows("SELECT topic, device_id, reason FROM dead_letters")
    assert {r["topic"] for r in dead} == {"sms/13700000001"}
    assert len(dead) == 2 and all(r["device_id"] == "school-01" for r in dead)
    assert len(central.rows("SELECT 1 FROM events")) == 1  # only the pressed one
    assert central.api("GET", f"/api/incidents/{incident['id']}")["incident"][
        "acknowledged_by"] is None
    assert central.api("GET", "/healthz")


def test_modem_reset_mid_queue_resumes_and_loses_nothing(
        escalating_central: Escalating, fake_modem: FakeModem, fresh_mosquitto: MosquittoBroker,
        mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 30, 40, 50")
    wait_for(lambda: "AT+CNMI=2,1,0,1,0" in fake_modem.commands, what="modem opened")
    fake_modem.reset_after(2)  # the third SMS is lost in a modem reset
    press(mqtt_test_client, fresh_mosquitto, device="village-01", zone="workshop-smoke")
    wait_for(lambda: all(fake_modem.messages_to(n) for n in VILLAGE_TEAM), timeout=30,
             what="every team member's SMS after the reset")
    wait_for(lambda: not central.rows("SELECT 1 FROM notifications WHERE channel = 'sms' "
                                      "AND state NOT IN ('sent', 'delivered')"),
             timeout=15, what="every SMS notification recorded as sent")
    assert all(len(fake_modem.messages_to(n)) == 1 for n in VILLAGE_TEAM)
    assert fake_modem.commands.count("AT+CMGF=0") >= 2  # opened and set up again
    attempts = central.rows("SELECT a.result, a.detail FROM notification_attempts a JOIN "
                            "notifications n ON n.id = a.notification_id WHERE n.channel = "
                            "'sms' ORDER BY a.id")
    errors = [r["detail"] for r in attempts if r["result"] == "error"]
    assert len(errors) == 1 and "no '>' prompt" in errors[0]
