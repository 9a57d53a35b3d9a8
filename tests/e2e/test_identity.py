"""One device's credentials cannot speak as central or as another device, and a device
whose identity looks shared raises one trouble. Real Mosquitto (the generated config),
real `alarmlink central serve`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from fixtures.central import CentralProcess
from fixtures.mqtt import MqttTestClient
from helpers import CENTRAL_USER, device_user, wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker

Connect = Callable[..., MqttTestClient]
TOPICS = wire.Topics()


def event(seq: int) -> wire.Event:
    return wire.Event(event_id=wire.new_id(), device_id="school-01", seq=seq, ts=wire.utcnow(),
                      kind="panic", state="alarm", zone="gate-button", source="gpio")


def identity_troubles(central: CentralProcess, device_id: str) -> list[dict[str, object]]:
    rows = central.rows("SELECT id, zones, kinds, station_id FROM incidents "
                        "WHERE category = 'trouble'")
    return [dict(r) for r in rows if f"identity:{device_id}" in json.loads(r["zones"])]


def test_device_credentials_cannot_take_over_central_or_another_device(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Connect) -> None:
    central_process.stop()  # its persistent session now queues for it at the broker
    hotel = mqtt_test_client(fresh_mosquitto.url, device_user("hotel-01"), client_id="hotel-01")
    device = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    sent = [event(seq) for seq in range(1, 6)]
    for item in sent:
        assert device.publish(TOPICS.event("school-01"), wire.encode(item)).is_published()
    # school-01's password, with central's client id (the configured one and the account's)
    # and with hotel-01's, clean start: before the binding, this wiped central's session
    for stolen in ("alarmlink-central", CENTRAL_USER.username, "hotel-01"):
        intruder = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"),
                                    client_id=stolen)
        assert intruder.accepted
        intruder.close()
    assert hotel.disconnects == [], "hotel-01 was pushed off by school-01's credentials"
    # the broker gave each intruder connection school-01's own id, never the stolen one
    log = fresh_mosquitto.log_tail(400)
    assert len(re.findall(r"as school-01 \(p5, c1, k60, u'school-01'\)", log)) >= 3, log
    assert not re.search(r"as (alarmlink-central|central|hotel-01) \([^)]*u'school-01'", log)
    assert "Client central already connected" not in log
    central_process.start()
    wanted = {item.event_id for item in sent}
    wait_for(lambda: {r["event_id"] for r in central_process.rows(
        "SELECT event_id FROM events")} == wanted, timeout=30,
        what="every alarm queued while central was down")
    assert hotel.disconnects == []


def online(ts: datetime | None = None) -> bytes:
    return wire.encode(wire.Status(state=wire.Availability.ONLINE, ts=ts or wire.utcnow(),
                                   boot_id="b1", version="t", config_hash="h"))


def test_flapping_device_raises_exactly_one_trouble(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Connect) -> None:
    """Eight reconnects, each with its online status, as two copies of one device
    fighting over the session would make: one trouble (the threshold is 6 in 10 min)."""
    for _ in range(8):
        client = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
        assert client.publish(TOPICS.status("school-01"), online()).is_published()
        client.close()
    (trouble,) = wait_for(lambda: identity_troubles(central_process, "school-01"),
                          what="the reconnect trouble")
    assert trouble["station_id"] == "chengxiang"
    assert "device_identity" in json.loads(str(trouble["kinds"]))
    logged = central_process.rows("SELECT action FROM incident_log WHERE incident_id = ?",
                                  (trouble["id"],))
    texts = [r["action"] for r in logged if "reconnects unusually often" in r["action"]]
    assert texts == ["device reconnects unusually often: 7 times in 10 min — duplicate "
                     "device or stolen credentials?"]
    # more reconnects while it is open raise nothing more
    for _ in range(8):
        client = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
        client.publish(TOPICS.status("school-01"), online())
        client.close()
    probe = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    beat = wire.Heartbeat(ts=wire.utcnow(), uptime_s=1, outbox_depth=0)
    probe.publish(TOPICS.heartbeat("school-01"), wire.encode(beat))
    wait_for(lambda: central_process.rows("SELECT 1 FROM device_state WHERE device_id = ? "
                                          "AND last_heartbeat IS NOT NULL", ("school-01",)),
             what="the marker heartbeat processed")
    assert len(identity_troubles(central_process, "school-01")) == 1
    assert len(central_process.rows("SELECT 1 FROM incident_log WHERE action LIKE "
                                    "'%reconnects unusually often%'")) == 1


def test_reconnects_spread_over_more_than_the_window_raise_nothing(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Connect) -> None:
    client = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    start = wire.utcnow() - timedelta(hours=2)
    for n in range(10):  # one every 15 minutes, by the statuses' own times
        client.publish(TOPICS.status("school-01"), online(start + timedelta(minutes=15 * n)))
    client.publish(TOPICS.heartbeat("school-01"), wire.encode(
        wire.Heartbeat(ts=wire.utcnow(), uptime_s=1, outbox_depth=0)))
    wait_for(lambda: central_process.rows("SELECT 1 FROM device_state WHERE device_id = ? "
                                          "AND last_heartbeat IS NOT NULL", ("school-01",)),
             what="the marker heartbeat processed")
    assert identity_troubles(central_process, "school-01") == []


def test_takeover_reported_by_the_agent_raises_one_trouble(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Connect) -> None:
    client = mqtt_test_client(fresh_mosquitto.url, device_user("hotel-01"))
    for uptime, takeovers in enumerate((0, 1, 1, 2)):
        beat = wire.Heartbeat(ts=wire.utcnow(), uptime_s=uptime, outbox_depth=0,
                              session_takeovers=takeovers)
        client.publish(TOPICS.heartbeat("hotel-01"), wire.encode(beat))
    wait_for(lambda: identity_troubles(central_process, "hotel-01"), what="the trouble")
    wait_for(lambda: central_process.rows("SELECT 1 FROM device_state WHERE device_id = ? "
                                          "AND uptime_s = 3", ("hotel-01",)),
             what="the last heartbeat processed")
    logged = central_process.rows("SELECT action FROM incident_log WHERE action LIKE "
                                  "'%taken over%'")
    assert [r["action"] for r in logged] == [
        "device reports its connection was taken over 1 time(s) by another connection with "
        "its credentials — duplicate device or stolen credentials?"]
    assert len(identity_troubles(central_process, "hotel-01")) == 1
